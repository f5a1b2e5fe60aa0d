"""The local API gateway: Supabase's Kong in miniature.

Routes `/rest/v1/*` to PostgREST and `/auth/v1/*` to the Auth service and, like
Supabase's gateway:

- answers CORS preflights itself, before any key check (Kong's `cors` plugin
  runs before `key-auth`), and puts CORS headers on every answer, refusals
  included, so supabase-js works from a browser page;
- maps `sb_publishable_…`/`sb_secret_…` API keys to the anon/service_role JWTs,
  and refuses (401) an `sb_…` key in `Authorization: Bearer` unless it equals
  the `apikey` header: an API key is not a JWT and never stands in for another.

Like Supabase's, it passes `Sb-Forwarded-For` (the client IP a server forwards
for Auth's per-IP limits) only on requests made with the secret key, and drops
it otherwise.

Tests get four hooks under `/__devstack/`: request counters (to count database
round trips per API request), refusals (every 401 the key rules gave, by reason,
so a test can assert the API never sends a request Supabase would refuse), the
`Sb-Forwarded-For` addresses passed on (`forwarded-for`), and fault injection
(upstream down, slow, truncated or HTML answers, dropped connections, or any
status and JSON body, such as Auth's 429).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from devstack.gateway_state import (
    API_KEY_PREFIXES,
    CORS_ALLOW_HEADERS,
    CORS_ALLOW_METHODS,
    CORS_EXPOSE_HEADERS,
    HOP_BY_HOP,
    PUBLIC_AUTH_PATHS,
    ApiKeys,
    Fault,
    GatewayState,
    Upstream,
)


class _Pool(threading.local):
    connections: dict[tuple[str, int], http.client.HTTPConnection]

    def __init__(self) -> None:
        self.connections = {}


class GatewayHandler(BaseHTTPRequestHandler):
    """Proxy one request to its upstream."""

    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle and
    # delayed ACKs stall every kept-alive response by ~40 ms.
    disable_nagle_algorithm = True

    protocol_version = "HTTP/1.1"
    server_version = "devstack-gateway"
    sys_version = ""
    upstreams: ClassVar[tuple[Upstream, ...]]
    keys: ClassVar[ApiKeys]
    state: ClassVar[GatewayState]
    pool: ClassVar[_Pool]

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the API logs what matters."""

    def finish(self) -> None:
        """End the client's connection and close the upstream ones this thread pooled for it."""
        try:
            super().finish()
        finally:
            # One thread serves one client connection and its pool dies with it: close the
            # sockets here rather than leave them to the garbage collector.
            connections = self.pool.connections
            while connections:
                _, connection = connections.popitem()
                connection.close()

    def _send_json(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self._send_cors_headers()
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _is_routed(self) -> bool:
        return self._route() is not None

    def _send_cors_headers(self) -> None:
        # Kong's header_filter adds them to every answer of a route with the plugin,
        # its own 401s included, so a page can read why it was refused.
        if self._is_routed():
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS)

    def _is_preflight(self) -> bool:
        return self.command == "OPTIONS" and "Access-Control-Request-Method" in self.headers

    def _answer_preflight(self) -> None:
        """200 with Kong's preflight headers; no key needed and nothing forwarded."""
        requested = [
            name.strip().lower()
            for name in self.headers.get("Access-Control-Request-Headers", "").split(",")
            if name.strip()
        ]
        allowed = list(CORS_ALLOW_HEADERS) + [name for name in requested if name not in CORS_ALLOW_HEADERS]
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", CORS_ALLOW_METHODS)
        self.send_header("Access-Control-Allow-Headers", ",".join(allowed))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _refuse(self, reason: str, body: dict[str, str]) -> None:
        with self.state.lock:
            self.state.refusals[reason] += 1
        self._send_json(401, body)

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length))
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _control(self, body: bytes) -> None:
        state = self.state
        counters = {
            "/__devstack/stats": state.counts,
            "/__devstack/refusals": state.refusals,
            "/__devstack/forwarded-for": state.forwarded_for,
        }
        counter = counters.get(self.path)
        if counter is not None and self.command in ("GET", "DELETE"):
            with state.lock:
                if self.command == "DELETE":
                    counter.clear()
                self._send_json(200, dict(counter))
            return
        if self.path == "/__devstack/faults" and self.command == "PUT":
            spec = json.loads(body or b"{}")
            with state.lock:
                for prefix, fault in spec.items():
                    state.faults[prefix] = Fault(**fault)
            self._send_json(200, {})
            return
        if self.path == "/__devstack/faults" and self.command == "DELETE":
            with state.lock:
                state.faults.clear()
            self._send_json(200, {})
            return
        self._send_json(404, {"message": "unknown control endpoint"})

    def _route(self) -> tuple[Upstream, str] | None:
        for upstream in self.upstreams:
            if self.path == upstream.prefix or self.path.startswith(upstream.prefix + "/"):
                rest = self.path[len(upstream.prefix) :] or "/"
                if rest.startswith("?"):
                    rest = "/" + rest
                return upstream, rest
            if self.path.startswith(upstream.prefix + "?"):
                return upstream, "/" + self.path[len(upstream.prefix) :]
        return None

    def _admit(self, headers: dict[str, str]) -> bool:
        """Answer a CORS preflight, else apply Supabase's API key rules; False means answered (200 or 401)."""
        if self._is_preflight():
            # Before the key check, as Kong's cors plugin runs before key-auth: a
            # browser's preflight never carries the apikey header.
            self._answer_preflight()
            return False
        if self.path.split("?")[0] in PUBLIC_AUTH_PATHS:
            return True
        key = headers.pop("apikey", None)
        if key is None:
            self._refuse(
                "no_api_key",
                {
                    "message": "No API key found in request",
                    "hint": "No `apikey` request header or url param was found.",
                },
            )
            return False
        role_jwt = self.keys.role_jwt(key)
        if role_jwt is None:
            self._refuse(
                "invalid_api_key",
                {
                    "message": "Invalid API key",
                    "hint": "Double check your Supabase `anon` or `service_role` API key.",
                },
            )
            return False
        headers["apikey"] = key
        forwarded = headers.pop("sb-forwarded-for", None)
        if forwarded is not None and key == self.keys.secret_key:
            # Supabase honours it only next to a secret key: the publishable key is public,
            # and anyone could otherwise choose the address Auth limits them by.
            headers["sb-forwarded-for"] = forwarded
            upstream = self._route()
            prefix = upstream[0].prefix if upstream is not None else ""
            with self.state.lock:
                self.state.forwarded_for[f"{prefix} {forwarded}"] += 1
        authorization = headers.get("authorization", "")
        bearer = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
        if bearer.startswith(API_KEY_PREFIXES) and bearer != key:
            # Supabase's gateway: a publishable or secret key is not a JWT, and in
            # Authorization it must be the very key in `apikey` (which it then replaces);
            # anything else (another key, a secret key next to the publishable one) is 401.
            self._refuse(
                "api_key_in_authorization",
                {
                    "message": "Invalid API key in Authorization header",
                    "hint": "An sb_publishable_/sb_secret_ key in `Authorization: Bearer` must equal "
                    "the `apikey` header. Send the key in `apikey` only, or a user's access token.",
                },
            )
            return False
        if not bearer or bearer == key:
            # No bearer, or the API key itself: the request runs as the key's role.
            headers["authorization"] = f"Bearer {role_jwt}"
        return True

    def _forward(
        self, upstream: Upstream, path: str, headers: dict[str, str], body: bytes
    ) -> http.client.HTTPResponse:
        key = (upstream.host, upstream.port)
        for attempt in (1, 2):
            connection = self.pool.connections.get(key)
            reused = connection is not None
            if connection is None:
                connection = http.client.HTTPConnection(upstream.host, upstream.port, timeout=60)
                self.pool.connections[key] = connection
            try:
                connection.request(self.command, path, body=body or None, headers=headers)
                return connection.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                connection.close()
                del self.pool.connections[key]
                # A kept-alive connection the upstream had already closed: the
                # request never reached it, so one retry on a fresh one is safe.
                if not reused or attempt == 2:
                    raise
            except OSError:
                connection.close()
                self.pool.connections.pop(key, None)
                raise
        raise AssertionError("unreachable")

    def _request_headers(self, path: str) -> dict[str, str]:
        headers = {
            name.lower(): value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP
        }
        if "apikey" not in headers:
            values = parse_qs(urlsplit(path).query).get("apikey")
            if values:
                headers["apikey"] = values[0]
        return headers

    def _answer_fault(self, fault: Fault) -> bool:
        """Answer for the upstream when the fault replaces it; True if answered."""
        if fault.mode == "down":
            self._send_json(503, {"message": "name resolution failed"})
            return True
        if fault.mode == "html":
            page = b"<html><head><title>502 Bad Gateway</title></head><body>upstream error</body></html>"
            self.send_response(502)
            self.send_header("Content-Type", "text/html")
            self._send_cors_headers()
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return True
        if fault.mode == "status":
            self._send_json(fault.status, fault.body if fault.body is not None else {})
            return True
        if fault.mode == "delay":
            time.sleep(fault.seconds)
        return False

    def _proxy(self) -> None:
        body = self._read_body()
        if self.path.startswith("/__devstack/"):
            self._control(body)
            return
        routed = self._route()
        if routed is None:
            self._send_json(404, {"message": "no Route matched with those values"})
            return
        upstream, path = routed
        headers = self._request_headers(path)
        if not self._admit(headers):
            return
        with self.state.lock:
            self.state.counts[upstream.prefix] += 1
        fault = self.state.take_fault(upstream.prefix, path)
        if fault is not None and self._answer_fault(fault):
            return
        try:
            response = self._forward(upstream, path, headers, body)
            payload = response.read()
        except (OSError, http.client.HTTPException):
            self._send_json(503, {"message": "upstream unavailable"})
            return
        if fault is not None and fault.mode == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None and fault.mode == "truncate":
            payload = payload[: len(payload) // 2]
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            # The gateway's CORS headers replace the upstream's, as Kong's do.
            if name.lower() not in HOP_BY_HOP and not name.lower().startswith("access-control-"):
                self.send_header(name, value)
        self._send_cors_headers()
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _proxy  # noqa: N815


class Gateway(ThreadingHTTPServer):
    """The gateway server; `state` holds its counters and faults."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def make_gateway(
    host: str, port: int, upstreams: tuple[Upstream, ...], keys: ApiKeys
) -> tuple[Gateway, GatewayState]:
    """A gateway bound to host:port (not yet serving) and its state. Raises OSError if the port is taken."""
    state = GatewayState()
    handler = type(
        "BoundGatewayHandler",
        (GatewayHandler,),
        {"upstreams": upstreams, "keys": keys, "state": state, "pool": _Pool()},
    )
    return Gateway((host, port), handler), state


def main(argv: list[str] | None = None) -> int:
    """`python -m devstack.gateway --port P --rest HOST:PORT --auth HOST:PORT`; keys from GATEWAY_*."""
    import argparse
    import os

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rest", required=True, help="PostgREST host:port")
    parser.add_argument("--auth", required=True, help="Auth service host:port")
    args = parser.parse_args(argv)

    def upstream(prefix: str, address: str) -> Upstream:
        host, port = address.rsplit(":", 1)
        return Upstream(prefix, host, int(port))

    keys = ApiKeys(
        publishable_key=os.environ["GATEWAY_PUBLISHABLE_KEY"],
        secret_key=os.environ["GATEWAY_SECRET_KEY"],
        anon_jwt=os.environ["GATEWAY_ANON_JWT"],
        service_role_jwt=os.environ["GATEWAY_SERVICE_ROLE_JWT"],
    )
    server, _ = make_gateway(
        args.host,
        args.port,
        (upstream("/rest/v1", args.rest), upstream("/auth/v1", args.auth)),
        keys,
    )
    print(f"gateway on http://{args.host}:{args.port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
