"""PUT /api/admin/users/{id}/role."""

from lib import routes
from lib.endpoint import Endpoint


class handler(Endpoint):
    route = routes.ADMIN_USER_ROLE
