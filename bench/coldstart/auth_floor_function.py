"""Baseline (the Auth client's floor): a bare handler whose first request uses supabase_auth.

The fixed design keeps supabase_auth (over an httpx.Client) as the Auth client. This
handler does the least of that an auth request can do: build one SyncGoTrueClient over
an httpx.Client, as lib.supabase.clients does, and make one cheap Auth call (get_user
with the caller's token). Both are imported on first use: its cold cost is what merely
using the Auth client costs without bytecode.
"""

import json
import os
from http.server import BaseHTTPRequestHandler


def _client() -> object:
    # Imported and built on the first request (as the API's auth flows do). HTTP/2 is not
    # something the design forces: `import h2` is refused while httpcore loads, as
    # lib/supabase/auth_pool.py does, so the floor pays for no more than the API must.
    import sys

    refuse_h2 = "h2" not in sys.modules
    if refuse_h2:
        sys.modules["h2"] = None  # type: ignore[assignment]
    try:
        import httpcore  # noqa: F401
        import httpx
    finally:
        if refuse_h2:
            del sys.modules["h2"]
    from supabase_auth import SyncGoTrueClient

    return SyncGoTrueClient(
        url=f"{os.environ['SUPABASE_URL']}/auth/v1",
        headers={"apikey": os.environ["SUPABASE_SECRET_KEY"]},
        auto_refresh_token=False,
        persist_session=False,
        http_client=httpx.Client(timeout=10.0, follow_redirects=False),
    )


class handler(BaseHTTPRequestHandler):  # noqa: N801 (Vercel's name)
    """GET with a Bearer token: 200 and the user's id from Auth."""

    client: object | None = None

    def do_GET(self) -> None:
        """One Auth call (GET /auth/v1/user) through supabase_auth."""
        if handler.client is None:
            handler.client = _client()
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        user = handler.client.get_user(token)  # type: ignore[attr-defined]
        body = json.dumps({"id": user.user.id if user else None}).encode()
        self.send_response(200 if user else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
