"""Who is calling: credentials from the request, verified into a Caller with a role."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from lib.config import Settings
from lib.problems import Forbidden, Unauthorized
from lib.request import Request

ACCESS_COOKIE = "sb-access-token"
REFRESH_COOKIE = "sb-refresh-token"
CSRF_COOKIE = "csrf-token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})

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


def caller_of(request: Request) -> Caller:
    """The authenticated caller of a request whose operation requires authentication."""
    caller = request.caller
    if not isinstance(caller, Caller):
        raise TypeError("the operation does not authenticate its caller")
    return caller


def _bearer(header: str) -> str:
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Use Authorization: Bearer <access token>")
    return token


def check_csrf(request: Request) -> None:
    """Cookie-authenticated unsafe requests must echo the csrf-token cookie. Raises Forbidden(csrf_failed)."""
    expected = request.cookies.get(CSRF_COOKIE, "")
    presented = request.header(CSRF_HEADER) or ""
    if not expected or not hmac.compare_digest(expected.encode(), presented.encode()):
        raise Forbidden("Send the csrf-token cookie's value in X-CSRF-Token", code="csrf_failed")


def request_token(request: Request) -> tuple[str, bool] | None:
    """The access token and whether it came from the cookie; the header wins over the cookie."""
    header = request.header("Authorization")
    if header is not None:
        return _bearer(header), False
    cookie = request.cookies.get(ACCESS_COOKIE)
    if cookie:
        return cookie, True
    return None


def authenticate(request: Request, settings: Settings) -> Caller:
    """Verify the caller's token (and CSRF for cookie writes). Raises Unauthorized or Forbidden."""
    from lib.tokens import InvalidToken, verify_access_token

    found = request_token(request)
    if found is None:
        raise Unauthorized("Sign in to use this endpoint")
    token, via_cookie = found
    try:
        claims = verify_access_token(token, settings)
    except InvalidToken:
        raise Unauthorized("The access token is invalid or expired") from None
    if via_cookie and request.method in UNSAFE_METHODS:
        check_csrf(request)
    return Caller(
        user_id=claims.sub,
        email=claims.email,
        role=claims.role,
        access_token=token,
        session_id=claims.session_id,
        via_cookie=via_cookie,
    )
