"""GET /api/vin/{vin}."""

from lib import routes
from lib.endpoint import Endpoint


class handler(Endpoint):
    route = routes.VIN
