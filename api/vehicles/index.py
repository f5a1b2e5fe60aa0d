"""GET, POST /api/vehicles."""

from lib import routes
from lib.endpoint import Endpoint


class handler(Endpoint):
    route = routes.VEHICLES
