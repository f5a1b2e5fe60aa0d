"""GET /api/admin/users."""

from lib import routes
from lib.endpoint import Endpoint


class handler(Endpoint):
    route = routes.ADMIN_USERS
