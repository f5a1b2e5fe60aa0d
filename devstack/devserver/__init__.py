"""Local dev server that routes requests to the `api/` functions the way Vercel does.

Each request is routed from its request line alone, then handed to the function's own
`handler` class on the real client socket, so the handler parses headers and body itself
exactly as it does in Vercel's Python runtime.

- `files`: the api/ tree as Vercel maps files to URLs.
- `router`: where a request goes (redirects, file system, vercel.json rewrites, dynamic routes).
- `handlers`: the wrapped function handlers, the router's own answers, loading function modules.
- `server`: the socket server and `python -m devstack.devserver`.

vercel.json itself is read by devstack.vercel_config, shared with devstack.vercel_check.
"""

from __future__ import annotations

from devstack.devserver.files import Match, Route, RouteConflictError, RouteTable
from devstack.devserver.server import MAX_TARGET_BYTES, DevServer, main, make_server
from devstack.vercel_config import VercelConfig, load_vercel_config
from devstack.vercel_patterns import PathPattern

__all__ = [
    "MAX_TARGET_BYTES",
    "DevServer",
    "Match",
    "PathPattern",
    "Route",
    "RouteConflictError",
    "RouteTable",
    "VercelConfig",
    "load_vercel_config",
    "main",
    "make_server",
]
