"""GET, POST /api/vehicles/{id}/maintenance."""

from lib import routes
from lib.endpoint import Endpoint


class handler(Endpoint):
    route = routes.MAINTENANCE
