"""GET /api/health."""

from lib import routes
from lib.endpoint import Endpoint


class handler(Endpoint):
    route = routes.HEALTH
