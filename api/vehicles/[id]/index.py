"""GET, PATCH, DELETE /api/vehicles/{id}."""

from lib.contract import routes
from lib.http.endpoint import Endpoint


class handler(Endpoint):
    route = routes.VEHICLE
