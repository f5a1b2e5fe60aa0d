"""Baseline (a data function's floor): a bare handler whose first request uses pydantic and python-jose.

The fixed design validates every body and model with pydantic and verifies every token
with python-jose. This handler does the least of that a data request can do: verify the
caller's HS256 token (SUPABASE_JWT_SECRET) and validate one small model, then answer it
as JSON. Both are imported on first use, as the API's functions import them: its cold
cost is what merely using the two libraries costs without bytecode.
"""

import os
from http.server import BaseHTTPRequestHandler


def _answer() -> type:
    # Imported and built on the first request (as the API's contract models are).
    from datetime import datetime
    from uuid import UUID

    from pydantic import BaseModel

    class Vehicle(BaseModel):
        id: UUID
        created_at: datetime
        make: str
        model_year: int

    return Vehicle


class handler(BaseHTTPRequestHandler):  # noqa: N801 (Vercel's name)
    """GET with a Bearer token: 401 when python-jose rejects it, else 200 and one validated model."""

    model: type | None = None

    def do_GET(self) -> None:
        """Verify the token, validate and serialise one model."""
        from jose import JWTError, jwt

        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(
                token, os.environ["SUPABASE_JWT_SECRET"], algorithms=["HS256"], audience="authenticated"
            )
        except JWTError:
            self._send(401, b'{"error":"invalid token"}')
            return
        if handler.model is None:
            handler.model = _answer()
        row = {
            "id": claims["sub"],
            "created_at": "2026-12-03T18:00:00Z",
            "make": "Volkswagen",
            "model_year": 2020,
        }
        body = handler.model.model_validate(row).model_dump_json().encode()  # type: ignore[attr-defined]
        self._send(200, body)

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
