"""GET /api/docs."""

from lib.contract import routes
from lib.http.endpoint import Endpoint


class handler(Endpoint):
    route = routes.DOCS
