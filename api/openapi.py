"""GET /api/openapi.json."""

from lib.contract import routes
from lib.http.endpoint import Endpoint


class handler(Endpoint):
    route = routes.OPENAPI
