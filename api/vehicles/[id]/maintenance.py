"""GET, POST /api/vehicles/{id}/maintenance and GET /api/vehicles/{id}/maintenance/{record_id}.

vercel.json rewrites the single-record path to this function, which sees the path the
caller asked for and serves the route it matches.
"""

from lib.contract.routes import MAINTENANCE, MAINTENANCE_RECORD
from lib.http.endpoint import Endpoint


class handler(Endpoint):
    routes = (MAINTENANCE, MAINTENANCE_RECORD)
