"""GET /api/admin/users, PUT /api/admin/users/{id}/role and GET /api/admin/audit.

One function for the three (Hobby's function limit): vercel.json rewrites each path to
/api/admin, and the function serves the route that the path the caller asked for
matches ({id} from the path). /api/admin itself matches none of them: 404.
"""

from lib.contract.routes import ADMIN_AUDIT, ADMIN_USER_ROLE, ADMIN_USERS
from lib.http.endpoint import Endpoint


class handler(Endpoint):
    routes = (ADMIN_USERS, ADMIN_USER_ROLE, ADMIN_AUDIT)
