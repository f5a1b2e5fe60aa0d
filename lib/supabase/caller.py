"""Who is calling: credentials from the request, verified into a Caller with a role."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lib.config import Settings
from lib.http.cookies import ACCESS_COOKIE, CSRF_HEADER
from lib.http.methods import UNSAFE_METHODS
from lib.http.problems import Forbidden, Unauthorized
from lib.http.request import Request
from lib.supabase.deps import Deps

if TYPE_CHECKING:
    from lib.supabase.tokens import Claims

# In the contract's order; the database's role_permissions table holds the same
# grants (a test keeps the two in step).
PERMISSIONS = (
    "vehicles.read.any",
    "vehicles.write.any",
    "vehicles.delete.any",
    "users.manage",
    "audit.read",
)
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "member": frozenset(),
    "manager": frozenset({"vehicles.read.any", "vehicles.write.any"}),
    "admin": frozenset(PERMISSIONS),
}


@dataclass(frozen=True)
class Caller:
    """An authenticated user, as the verified access token describes them."""

    user_id: str
    email: str | None
    role: str
    access_token: str = field(repr=False)
    session_id: str | None = None
    via_cookie: bool = False

    @property
    def permissions(self) -> tuple[str, ...]:
        """The role's permissions, in the contract's order."""
        granted = ROLE_PERMISSIONS.get(self.role, frozenset())
        return tuple(name for name in PERMISSIONS if name in granted)

    def can(self, permission: str) -> bool:
        """True when the role grants `permission`."""
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())


@dataclass(frozen=True)
class Call[Body, Query]:
    """One call of an operation that authenticates its caller: what its handler receives.

    `body` and `query` are the validated models the route declares (None where it declares
    none); a test checks each handler's annotation against the route table. The fields are
    read-only, so the type parameters are inferred covariant: a Call[Sub, ...] is a Call[Base, ...].
    """

    request: Request
    caller: Caller
    body: Body
    query: Query
    deps: Deps


@dataclass(frozen=True)
class Anonymous[Body, Query]:
    """One call of an operation open to anyone (auth="none"): no caller, else as Call."""

    request: Request
    body: Body
    query: Query
    deps: Deps


def _bearer(header: str) -> str:
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Use Authorization: Bearer <access token>")
    return token


# Domain separation: the secret key also authenticates the API to Supabase, and a MAC made
# for one purpose must never verify for another.
_CSRF_CONTEXT = b"vehicle-api/csrf-token/v1\x00"


def csrf_token(session_id: str, settings: Settings) -> str:
    """The CSRF token of an Auth session: an HMAC of its session id under the server's secret key.

    Bound to the session, so a token chosen by an attacker (or issued for another session) is
    refused whatever cookie accompanies it; stable for the session's life, since refreshing keeps
    the session id, so a frontend holding it in memory needs no update after a refresh. Keyed with
    the secret key because it is the one server-only secret every environment must have (the
    legacy JWT secret is absent on projects signing with asymmetric keys); rotating the key
    invalidates the tokens, and cookie sessions then sign in again.
    """
    mac = hmac.new(settings.secret_key.encode(), _CSRF_CONTEXT + session_id.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def check_csrf(request: Request, session_id: str | None, settings: Settings) -> None:
    """X-CSRF-Token must be the CSRF token of `session_id`. Raises Forbidden(csrf_failed)."""
    presented = (request.header(CSRF_HEADER) or "").encode("utf-8", "surrogateescape")
    if session_id is None or not hmac.compare_digest(csrf_token(session_id, settings).encode(), presented):
        raise Forbidden(
            "Send this session's CSRF token (the csrf-token cookie, or the Session's csrf_token) "
            "in X-CSRF-Token",
            code="csrf_failed",
        )


def request_token(request: Request) -> tuple[str, bool] | None:
    """The access token and whether it came from the cookie; the header wins over the cookie."""
    header = request.header("Authorization")
    if header is not None:
        return _bearer(header), False
    cookie = request.cookies.get(ACCESS_COOKIE)
    if cookie:
        return cookie, True
    return None


def verified_claims(token: str, settings: Settings) -> Claims:
    """The claims of a valid access token. Raises Unauthorized when it is invalid or expired."""
    from lib.supabase.tokens import InvalidToken, verify_access_token

    try:
        return verify_access_token(token, settings)
    except InvalidToken:
        raise Unauthorized("The access token is invalid or expired") from None


def authenticate(request: Request, settings: Settings) -> Caller:
    """Verify the caller's token (and CSRF for cookie writes). Raises Unauthorized or Forbidden."""
    found = request_token(request)
    if found is None:
        raise Unauthorized("Sign in to use this endpoint")
    token, via_cookie = found
    claims = verified_claims(token, settings)
    if via_cookie and request.method in UNSAFE_METHODS:
        check_csrf(request, claims.session_id, settings)
    return Caller(
        user_id=claims.sub,
        email=claims.email,
        role=claims.role,
        access_token=token,
        session_id=claims.session_id,
        via_cookie=via_cookie,
    )
