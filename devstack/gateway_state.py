"""The local API gateway's rules and shared state: headers it drops, keys, CORS, upstreams, faults.

devstack.gateway's handler applies them; the rules are Supabase's (Kong's) as its docstring says.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
}
# Kong's open Auth routes: emailed links (auth-v1-open, /auth/v1/verify) are opened by a
# browser that has no API key.
PUBLIC_AUTH_PATHS = ("/auth/v1/.well-known/jwks.json", "/auth/v1/health", "/auth/v1/verify")
API_KEY_PREFIXES = ("sb_publishable_", "sb_secret_")

# Kong's cors plugin as Supabase configures it (no options: any origin, its
# default methods, the requested headers echoed). The listed headers are what
# supabase-js and supabase-py send, allowed even when a preflight does not ask.
CORS_ALLOW_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT"
CORS_ALLOW_HEADERS = (
    "apikey",
    "authorization",
    "x-client-info",
    "content-type",
    "accept",
    "accept-profile",
    "content-profile",
    "prefer",
    "range",
    "x-supabase-api-version",
)
# PostgREST's own list (its CORS middleware), so a page can read Content-Range counts.
CORS_EXPOSE_HEADERS = (
    "Content-Encoding, Content-Location, Content-Range, Content-Type, Date, Location, Server, "
    "Transfer-Encoding, Range-Unit"
)


@dataclass(frozen=True)
class Upstream:
    """One service behind the gateway."""

    prefix: str
    host: str
    port: int


@dataclass(frozen=True)
class ApiKeys:
    """The project's API keys and the role JWTs they stand for."""

    publishable_key: str
    secret_key: str
    anon_jwt: str
    service_role_jwt: str

    def role_jwt(self, key: str) -> str | None:
        """The JWT a presented key maps to, or None if it is not one of ours."""
        return {
            self.publishable_key: self.anon_jwt,
            self.anon_jwt: self.anon_jwt,
            self.secret_key: self.service_role_jwt,
            self.service_role_jwt: self.service_role_jwt,
        }.get(key)


@dataclass
class Fault:
    """A misbehaviour injected in front of one upstream.

    mode: `down` (answer as if the upstream were unreachable), `delay`
    (wait `seconds` before forwarding), `truncate` (cut the upstream's body in
    half), `html` (answer 502 with an HTML page), `drop` (forward, then close
    the client connection without answering), `status` (answer `status` with
    the JSON `body` instead of the upstream). `remaining` counts requests left
    (None: until cleared).
    """

    mode: str
    seconds: float = 0.0
    remaining: int | None = None
    match: str | None = None  # only requests whose path contains this
    status: int = 503
    body: Any = None


@dataclass
class GatewayState:
    """Counters and faults, shared by the gateway's threads."""

    counts: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    forwarded_for: Counter[str] = field(default_factory=Counter)  # "<prefix> <address>" -> requests
    faults: dict[str, Fault] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_fault(self, prefix: str, path: str) -> Fault | None:
        """Consume one use of the fault set for `prefix` that applies to `path`, if any."""
        with self.lock:
            fault = self.faults.get(prefix)
            if fault is None or (fault.match is not None and fault.match not in path):
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self.faults[prefix]
            return fault
