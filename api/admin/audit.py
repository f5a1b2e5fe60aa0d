"""GET /api/admin/audit."""

from lib import routes
from lib.endpoint import Endpoint


class handler(Endpoint):
    route = routes.ADMIN_AUDIT
