"""The naive peer: the vehicle routes written the way typical Vercel + Supabase Python code is.

A `BaseHTTPRequestHandler` per route family, as in Vercel's Python quick start.
Each request builds a fresh `supabase.create_client(url, key)` with the caller's
token in its headers (so RLS still applies, as it should), reads the body with
`int(Content-Length)`, and lets the client library open its own connections:
nothing is reused between requests. Lists are paged with `.range()` (OFFSET),
optionally with `count="exact"` for a "page N of M" UI.

This is a baseline for the benchmark, not an example to follow: it validates
nothing beyond what PostgREST itself checks.

    python -m bench.peers.naive --port 8001   # SUPABASE_URL and SUPABASE_KEY from the environment
"""

from __future__ import annotations

import argparse
import json
import os
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from supabase import ClientOptions, create_client

SUPABASE_URL = os.environ.get("SUPABASE_URL", "")
SUPABASE_KEY = os.environ.get("SUPABASE_KEY", "")
ONE = re.compile(r"^/api/vehicles/([0-9a-fA-F-]{36})$")


class handler(BaseHTTPRequestHandler):  # noqa: N801 (Vercel's required name)
    """GET/POST /api/vehicles, GET/PATCH /api/vehicles/{id}."""

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _client(self) -> Any:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        return create_client(
            SUPABASE_URL,
            SUPABASE_KEY,
            options=ClientOptions(headers={"Authorization": f"Bearer {token}"}),
        )

    def _json(self, status: int, data: Any) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> Any:
        length = int(self.headers["Content-Length"])
        return json.loads(self.rfile.read(length))

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/health":
            self._json(200, {"status": "ok"})
            return
        try:
            if match := ONE.match(url.path):
                result = self._client().table("vehicles").select("*").eq("id", match.group(1)).execute()
                if not result.data:
                    self._json(404, {"error": "not found"})
                    return
                self._json(200, result.data[0])
                return
            if url.path == "/api/vehicles":
                args = {k: v[0] for k, v in parse_qs(url.query).items()}
                page = int(args.get("page", "1"))
                per_page = int(args.get("per_page", "20"))
                start = (page - 1) * per_page
                count = "exact" if args.get("count") == "exact" else None
                result = (
                    self._client()
                    .table("vehicles")
                    .select("*", count=count)
                    .order("created_at", desc=True)
                    .order("id", desc=True)
                    .range(start, start + per_page - 1)
                    .execute()
                )
                self._json(200, {"data": result.data, "page": page, "total": result.count})
                return
            self._json(404, {"error": "not found"})
        except Exception as error:
            self._json(500, {"error": str(error)})

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/api/vehicles":
            self._json(404, {"error": "not found"})
            return
        try:
            result = self._client().table("vehicles").insert(self._body()).execute()
            self._json(201, result.data[0])
        except Exception as error:
            self._json(400, {"error": str(error)})

    def do_PATCH(self) -> None:
        match = ONE.match(urlsplit(self.path).path)
        if match is None:
            self._json(404, {"error": "not found"})
            return
        try:
            query = self._client().table("vehicles").update(self._body()).eq("id", match.group(1))
            if_match = self.headers.get("If-Match")
            if if_match:
                query = query.eq("version", int(if_match.strip('"v')))
            result = query.execute()
            if not result.data:
                self._json(412, {"error": "version mismatch or not found"})
                return
            self._json(200, result.data[0])
        except Exception as error:
            self._json(400, {"error": str(error)})


class Server(ThreadingHTTPServer):
    """Thread per request, with the API dev server's listen backlog so bursts queue, not reset."""

    daemon_threads = True
    request_queue_size = 128


def main() -> None:
    """Serve on 127.0.0.1:--port until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    Server(("127.0.0.1", args.port), handler).serve_forever()


if __name__ == "__main__":
    main()
