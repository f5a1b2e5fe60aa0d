"""GET /api/docs."""

from lib import routes
from lib.endpoint import Endpoint


class handler(Endpoint):
    route = routes.DOCS
