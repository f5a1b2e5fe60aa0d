"""POST /api/auth/signup, login, refresh, logout, recover and verify.

One function for the six (Hobby's function limit): vercel.json rewrites each path to
/api/auth, and the function serves the route that the path the caller asked for
matches. /api/auth itself matches none of them: 404.
"""

from lib.contract.routes import LOGIN, LOGOUT, RECOVER, REFRESH, SIGNUP, VERIFY
from lib.http.endpoint import Endpoint


class handler(Endpoint):
    routes = (SIGNUP, LOGIN, REFRESH, LOGOUT, RECOVER, VERIFY)
