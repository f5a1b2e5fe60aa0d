"""The route table: every path of the public contract, its methods and their declarations.

Each entry names the `api/` file that serves it (`vercel_file`). A file may
serve several entries, listed in its `routes = (...)`: a vercel.json rewrite
sends each path that is not the file's own URL to it. The maintenance function
serves the list and the single record, `api/auth.py` the six auth paths,
`api/me.py` /api/me and /api/me/password, and `api/admin.py` the three admin
paths: 10 functions, under the 12 the Hobby plan allows per deployment
(tests/contract/test_openapi.py fails past 12), so a new route joins an existing
function this way rather than adding an `api/` file. The OpenAPI document
is generated from the same entries, so a route cannot exist without being
documented. Models are named, not imported (lib.contract.routing.ModelField):
a function that never validates input never loads pydantic or the models (lib.contract.inputs, outputs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lib.contract.routing import NO_STORE, Operation, Route

if TYPE_CHECKING:
    from lib.config import RatePolicy

PUBLIC_CACHE = "public, max-age=3600, s-maxage=86400"

UPSTREAM = (502, 503, 504)
SIGNED_IN = (401, 429)
WITH_BODY = (400, 411, 413, 415, 422)

# Request headers operations document, each worded once.
IF_NONE_MATCH_PAGE = {"If-None-Match": "ETag of a previous page: 304 when unchanged"}
IF_NONE_MATCH_READ = {"If-None-Match": "ETag from a previous read: 304 when unchanged"}
IF_MATCH = {"If-Match": "ETag from a previous read: 412 and no change when stale"}
IDEMPOTENCY_KEY = {"Idempotency-Key": "1-255 printable ASCII characters; retries replay the first response"}


def _auth_route(
    path: str,
    handler: str,
    summary: str,
    *,
    rate_limit: RatePolicy,
    body: str,
    errors: tuple[int, ...],
    description: str,
    response: str | None = None,
    success: int = 200,
) -> Route:
    """One of the six auth routes: a POST that `api/auth.py` serves (vercel.json rewrites each path
    to /api/auth), anonymous (a handler that needs a session reads it itself, see logout), never
    cached (answers carry tokens), and answering `errors` besides the body's, 429 and upstream ones."""
    operation = Operation(
        handler,
        summary,
        auth="none",
        rate_limit=rate_limit,
        body=body,
        response=response,
        success=success,
        cache_control=NO_STORE,
        errors=(*WITH_BODY, *errors, 429, *UPSTREAM),
        tags=("auth",),
        description=description,
    )
    return Route(path, {"POST": operation}, vercel_file="api/auth.py")


# One operation reads as: its handler and summary; who may call it, how often, what it takes and
# answers; its errors, tags and documented headers; its description. Left to the formatter, each
# argument would take a line of its own and the table would run to twice its length.
# fmt: off
HEALTH = Route("/api/health", vercel_file="api/health.py", operations={
    "GET": Operation("lib.resources.health:check_health", "Liveness and database reachability",
        # Every call reaches the database: limited per client IP like any anonymous read.
        auth="none", rate_limit="read", response="Health", cache_control=NO_STORE,
        errors=(429, 503, 504), tags=("meta",),
        description="200 when the database answers through PostgREST, else 503 with status degraded and"
        " Retry-After."),
})

VIN = Route("/api/vin/{vin}", vercel_file="api/vin/[vin].py", operations={
    "GET": Operation("lib.resources.vin:lookup_vin", "Decode a VIN",
        auth="none", rate_limit="read", response="VinDecoded", cache_control=PUBLIC_CACHE,
        errors=(422, 429), tags=("vin",),
        description="Check digit (49 CFR 565) where it applies, maker, region, country, model year."),
})

VEHICLES = Route("/api/vehicles", vercel_file="api/vehicles/index.py", operations={
    "GET": Operation("lib.resources.vehicles:list_vehicles", "List the vehicles the caller may see",
        rate_limit="read", query="VehicleListQuery", response="VehiclePage",
        errors=(400, 304, *SIGNED_IN, *UPSTREAM), tags=("vehicles",), headers=IF_NONE_MATCH_PAGE),
    "POST": Operation("lib.resources.vehicles:create_vehicle", "Create a vehicle",
        rate_limit="write", body="VehicleCreate", response="Vehicle", success=201,
        errors=(*WITH_BODY, *SIGNED_IN, 403, 409, *UPSTREAM), tags=("vehicles",), headers=IDEMPOTENCY_KEY),
})

VEHICLE = Route("/api/vehicles/{id}", vercel_file="api/vehicles/[id]/index.py", operations={
    "GET": Operation("lib.resources.vehicles:get_vehicle", "Read one vehicle",
        rate_limit="read", response="Vehicle",
        errors=(304, *SIGNED_IN, 404, *UPSTREAM), tags=("vehicles",), headers=IF_NONE_MATCH_READ),
    "PATCH": Operation("lib.resources.vehicles:update_vehicle", "Change a vehicle",
        rate_limit="write", body="VehicleUpdate", response="Vehicle",
        errors=(*WITH_BODY, *SIGNED_IN, 403, 404, 412, *UPSTREAM), tags=("vehicles",), headers=IF_MATCH),
    "DELETE": Operation("lib.resources.vehicles:delete_vehicle",
        "Delete a vehicle and its maintenance records",
        rate_limit="write", success=204,
        errors=(*SIGNED_IN, 403, 404, 412, *UPSTREAM), tags=("vehicles",), headers=IF_MATCH),
})

MAINTENANCE = Route("/api/vehicles/{id}/maintenance",
    vercel_file="api/vehicles/[id]/maintenance.py", operations={
    "GET": Operation("lib.resources.maintenance:list_records",
        "List a vehicle's maintenance records, newest first",
        rate_limit="read", query="PageQuery", response="MaintenancePage",
        errors=(400, 304, *SIGNED_IN, 404, *UPSTREAM), tags=("maintenance",), headers=IF_NONE_MATCH_PAGE),
    "POST": Operation("lib.resources.maintenance:create_record", "Add a maintenance record",
        rate_limit="write", body="MaintenanceCreate", response="MaintenanceRecord", success=201,
        errors=(*WITH_BODY, *SIGNED_IN, 403, 404, 409, *UPSTREAM), tags=("maintenance",),
        headers=IDEMPOTENCY_KEY),
})

# Served by the maintenance function: vercel.json rewrites this path to it (one function fewer).
MAINTENANCE_RECORD = Route("/api/vehicles/{id}/maintenance/{record_id}",
    vercel_file="api/vehicles/[id]/maintenance.py", operations={
    "GET": Operation("lib.resources.maintenance:get_record", "Read one maintenance record",
        rate_limit="read", response="MaintenanceRecord",
        errors=(304, *SIGNED_IN, 404, *UPSTREAM), tags=("maintenance",), headers=IF_NONE_MATCH_READ,
        description="The `Location` that `POST /api/vehicles/{id}/maintenance` answers with. `404` when the"
        " record does not exist, belongs to another vehicle, or the caller cannot see the vehicle"),
})

ME = Route("/api/me", vercel_file="api/me.py", operations={
    "GET": Operation("lib.resources.me:me", "Who am I",
        rate_limit="read", response="Me", errors=SIGNED_IN, tags=("auth",)),
})

# Served by the /api/me function: vercel.json rewrites this path to it.
ME_PASSWORD = Route("/api/me/password", vercel_file="api/me.py", operations={
    "PUT": Operation("lib.resources.me:change_password", "Change my password",
        rate_limit="write", body="PasswordChange", success=204, cache_control=NO_STORE,
        errors=(*WITH_BODY, *SIGNED_IN, 403, *UPSTREAM), tags=("auth",),
        description="`current_password` is required (wrong or missing: 403 current_password_invalid),"
        " except within 10 minutes of a `POST /api/auth/verify` of a recovery link that"
        " started this session. Every other session of the user is revoked; the caller's"
        " stays. With cookies, send X-CSRF-Token."),
})

# The six auth routes (_auth_route): each a POST that api/auth.py serves, anonymous, never cached.
SIGNUP = _auth_route("/api/auth/signup", "lib.resources.account:signup", "Create an account",
    rate_limit="auth", body="Credentials", response="SignupResult", success=201, errors=(409,),
    description="With email confirmation on (the hosted default) `session` is null and"
    " `confirmation_sent` true, also for an address that is already registered (the same"
    " answer, and no email reveals it). With confirmation off, a session and its cookies,"
    " and 409 for a registered address. `redirect_to` (an allowed origin's URL, else 422)"
    " is where the confirmation link leads.")

LOGIN = _auth_route("/api/auth/login", "lib.resources.account:login", "Sign in with email and password",
    rate_limit="login", body="LoginCredentials", response="Session", errors=(401, 403),
    description="Sets the sb-access-token, sb-refresh-token and csrf-token cookies. The Session's "
    "csrf_token is the session's CSRF token (also the csrf-token cookie's value). A wrong "
    "pair is one generic 401; the right password of an account whose email is not "
    "confirmed yet is 403 email_not_confirmed.")

REFRESH = _auth_route("/api/auth/refresh", "lib.resources.account:refresh",
    "Exchange a refresh token for a new session",
    rate_limit="auth", body="RefreshRequest", response="Session", errors=(401, 403),
    description="From the body, or from the refresh cookie with X-CSRF-Token.")

# Authenticated by the handler: the refresh cookie alone is enough, so that an expired access
# cookie does not strand a 30-day session (docs/api.md §5.1).
LOGOUT = _auth_route("/api/auth/logout", "lib.resources.account:logout",
    "Sign out: revoke the session and clear the cookies",
    rate_limit="auth", body="EmptyBody", success=204, errors=(401, 403),
    description="Revokes the session upstream and clears the sb-access-token, sb-refresh-token and "
    "csrf-token cookies. Send the access token as a Bearer token, or the session cookies: the "
    "access cookie, or the refresh cookie alone, either with X-CSRF-Token.")

RECOVER = _auth_route("/api/auth/recover", "lib.resources.account:recover", "Send a password-recovery email",
    rate_limit="recover", body="RecoverRequest", response="Accepted", success=202, errors=(),
    description="202 `{}` whether or not the address is registered. Supabase Auth emails a recovery"
    " link; its token hash goes to `POST /api/auth/verify` with `type` recovery."
    " `redirect_to` (an allowed origin's URL, else 422) is where the link leads.")

VERIFY = _auth_route("/api/auth/verify", "lib.resources.account:verify",
    "Exchange an email link's token hash for a session",
    rate_limit="auth", body="VerifyRequest", response="Session", errors=(401,),
    description="The `token_hash` and `type` of a Supabase Auth email link (signup confirmation,"
    " recovery, magic link, email change, invite): a Session and the session cookies, as"
    " login. Invalid, used or expired: 401. After `recovery`, `PUT /api/me/password`"
    " takes no `current_password` for 10 minutes. Under secure email change the first of"
    " the two links answers 202 `{}`.")

# The three admin routes are one function: vercel.json rewrites each path to /api/admin.
ADMIN_USERS = Route("/api/admin/users", vercel_file="api/admin.py", operations={
    "GET": Operation("lib.resources.admin:list_users", "List users and their roles",
        rate_limit="read", permission="users.manage", query="PageQuery", response="UserPage",
        errors=(400, 304, *SIGNED_IN, 403, *UPSTREAM), tags=("admin",), headers=IF_NONE_MATCH_PAGE),
})

ADMIN_USER_ROLE = Route("/api/admin/users/{id}/role", vercel_file="api/admin.py", operations={
    "PUT": Operation("lib.resources.admin:set_role", "Change a user's role",
        rate_limit="write", permission="users.manage", body="RoleChange", response="RoleAssignment",
        errors=(*WITH_BODY, *SIGNED_IN, 403, 404, 409, *UPSTREAM), tags=("admin",),
        description="Takes effect at the user's next token refresh; their sessions are revoked now."),
})

ADMIN_AUDIT = Route("/api/admin/audit", vercel_file="api/admin.py", operations={
    "GET": Operation("lib.resources.admin:list_audit", "Read the audit log, newest first",
        rate_limit="read", permission="audit.read", query="AuditQuery", response="AuditPage",
        errors=(400, 304, *SIGNED_IN, 403, *UPSTREAM), tags=("admin",), headers=IF_NONE_MATCH_PAGE),
})

OPENAPI = Route("/api/openapi.json", vercel_file="api/openapi.py", aliases=("/api/openapi",), operations={
    "GET": Operation("lib.contract.openapi:serve_document", "This API's OpenAPI 3.1 document",
        auth="none", cache_control=PUBLIC_CACHE, tags=("meta",)),
})

DOCS = Route("/api/docs", vercel_file="api/docs.py", operations={
    "GET": Operation("lib.contract.openapi:serve_docs", "Browsable API documentation (HTML)",
        auth="none", cache_control=PUBLIC_CACHE, tags=("meta",), content_type="text/html"),
})
# fmt: on

ALL_ROUTES: tuple[Route, ...] = (
    HEALTH,
    VIN,
    VEHICLES,
    VEHICLE,
    MAINTENANCE,
    MAINTENANCE_RECORD,
    ME,
    ME_PASSWORD,
    SIGNUP,
    LOGIN,
    REFRESH,
    LOGOUT,
    RECOVER,
    VERIFY,
    ADMIN_USERS,
    ADMIN_USER_ROLE,
    ADMIN_AUDIT,
    OPENAPI,
    DOCS,
)
