"""POST /api/auth/signup."""

from lib import routes
from lib.endpoint import Endpoint


class handler(Endpoint):
    route = routes.SIGNUP
