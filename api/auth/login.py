"""POST /api/auth/login."""

from lib import routes
from lib.endpoint import Endpoint


class handler(Endpoint):
    route = routes.LOGIN
