"""GET /api/openapi.json."""

from lib import routes
from lib.endpoint import Endpoint


class handler(Endpoint):
    route = routes.OPENAPI
