"""POST /api/auth/signup, /api/auth/login, /api/auth/refresh and /api/auth/logout.

One function for the four (Hobby's function limit): vercel.json rewrites each path to
/api/auth, and the function serves the route that the path the caller asked for
matches. /api/auth itself matches none of them: 404.
"""

from lib.endpoint import Endpoint
from lib.routes import LOGIN, LOGOUT, REFRESH, SIGNUP


class handler(Endpoint):
    routes = (SIGNUP, LOGIN, REFRESH, LOGOUT)
