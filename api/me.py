"""GET /api/me and PUT /api/me/password (vercel.json rewrites the second path here)."""

from lib import routes
from lib.endpoint import Endpoint


class handler(Endpoint):
    routes = (routes.ME, routes.ME_PASSWORD)
