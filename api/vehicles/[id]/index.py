"""GET, PATCH, DELETE /api/vehicles/{id}."""

from lib import routes
from lib.endpoint import Endpoint


class handler(Endpoint):
    route = routes.VEHICLE
