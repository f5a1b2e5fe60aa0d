"""POST /api/auth/refresh."""

from lib import routes
from lib.endpoint import Endpoint


class handler(Endpoint):
    route = routes.REFRESH
