"""GET /api/me and PUT /api/me/password (vercel.json rewrites the second path here)."""

from lib.contract import routes
from lib.http.endpoint import Endpoint


class handler(Endpoint):
    routes = (routes.ME, routes.ME_PASSWORD)
