"""Baseline (the usual way): `create_client` at import, the whole supabase package with it."""

import json
import os
from http.server import BaseHTTPRequestHandler

from supabase import create_client

client = create_client(os.environ["SUPABASE_URL"], os.environ["SUPABASE_PUBLISHABLE_KEY"])


class handler(BaseHTTPRequestHandler):  # noqa: N801 (Vercel's name)
    """GET: one PostgREST read through the client."""

    def do_GET(self) -> None:
        """One PostgREST call the publishable key may make (the health check; anon reads no table)."""
        rows = client.rpc("healthcheck", {}).execute().data
        body = json.dumps({"data": rows}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
