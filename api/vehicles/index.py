"""GET, POST /api/vehicles."""

from lib.contract import routes
from lib.http.endpoint import Endpoint


class handler(Endpoint):
    route = routes.VEHICLES
