"""Baseline (the floor): a bare BaseHTTPRequestHandler that answers hello, importing nothing else."""

from http.server import BaseHTTPRequestHandler


class handler(BaseHTTPRequestHandler):  # noqa: N801 (Vercel's name)
    """GET: 200 hello."""

    def do_GET(self) -> None:
        """Answer hello."""
        body = b'{"hello":"world"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
