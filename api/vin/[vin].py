"""GET /api/vin/{vin}."""

from lib.contract import routes
from lib.http.endpoint import Endpoint


class handler(Endpoint):
    route = routes.VIN
