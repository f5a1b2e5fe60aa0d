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

from lib.contract.routing import NO_STORE, Operation, Route

PUBLIC_CACHE = "public, max-age=3600, s-maxage=86400"

UPSTREAM = (502, 503, 504)
SIGNED_IN = (401, 429)
WITH_BODY = (400, 411, 413, 415, 422)

HEALTH = Route(
    "/api/health",
    {
        "GET": Operation(
            "lib.resources.health:check_health",
            "Liveness and database reachability",
            auth="none",
            # Every call reaches the database: limited per client IP like any anonymous read.
            rate_limit="read",
            response="Health",
            cache_control=NO_STORE,
            errors=(429, 503, 504),
            tags=("meta",),
            description=(
                "200 when the database answers through PostgREST, else 503 with status degraded and"
                " Retry-After."
            ),
        )
    },
    vercel_file="api/health.py",
)

VIN = Route(
    "/api/vin/{vin}",
    {
        "GET": Operation(
            "lib.resources.vin:lookup_vin",
            "Decode a VIN",
            auth="none",
            rate_limit="read",
            response="VinDecoded",
            cache_control=PUBLIC_CACHE,
            errors=(422, 429),
            tags=("vin",),
            description="Check digit (49 CFR 565) where it applies, maker, region, country, model year.",
        )
    },
    vercel_file="api/vin/[vin].py",
)

VEHICLES = Route(
    "/api/vehicles",
    {
        "GET": Operation(
            "lib.resources.vehicles:list_vehicles",
            "List the vehicles the caller may see",
            rate_limit="read",
            query="VehicleListQuery",
            response="VehiclePage",
            errors=(400, 304, *SIGNED_IN, *UPSTREAM),
            tags=("vehicles",),
            headers={"If-None-Match": "ETag of a previous page: 304 when unchanged"},
        ),
        "POST": Operation(
            "lib.resources.vehicles:create_vehicle",
            "Create a vehicle",
            rate_limit="write",
            body="VehicleCreate",
            response="Vehicle",
            success=201,
            errors=(*WITH_BODY, *SIGNED_IN, 403, 409, *UPSTREAM),
            tags=("vehicles",),
            headers={
                "Idempotency-Key": "1-255 printable ASCII characters; retries replay the first response"
            },
        ),
    },
    vercel_file="api/vehicles/index.py",
)

VEHICLE = Route(
    "/api/vehicles/{id}",
    {
        "GET": Operation(
            "lib.resources.vehicles:get_vehicle",
            "Read one vehicle",
            rate_limit="read",
            response="Vehicle",
            errors=(304, *SIGNED_IN, 404, *UPSTREAM),
            tags=("vehicles",),
            headers={"If-None-Match": "ETag from a previous read: 304 when unchanged"},
        ),
        "PATCH": Operation(
            "lib.resources.vehicles:update_vehicle",
            "Change a vehicle",
            rate_limit="write",
            body="VehicleUpdate",
            response="Vehicle",
            errors=(*WITH_BODY, *SIGNED_IN, 403, 404, 412, *UPSTREAM),
            tags=("vehicles",),
            headers={"If-Match": "ETag from a previous read: 412 and no change when stale"},
        ),
        "DELETE": Operation(
            "lib.resources.vehicles:delete_vehicle",
            "Delete a vehicle and its maintenance records",
            rate_limit="write",
            success=204,
            errors=(*SIGNED_IN, 403, 404, 412, *UPSTREAM),
            tags=("vehicles",),
            headers={"If-Match": "ETag from a previous read: 412 and no change when stale"},
        ),
    },
    vercel_file="api/vehicles/[id]/index.py",
)

MAINTENANCE = Route(
    "/api/vehicles/{id}/maintenance",
    {
        "GET": Operation(
            "lib.resources.maintenance:list_records",
            "List a vehicle's maintenance records, newest first",
            rate_limit="read",
            query="PageQuery",
            response="MaintenancePage",
            errors=(400, 304, *SIGNED_IN, 404, *UPSTREAM),
            tags=("maintenance",),
            headers={"If-None-Match": "ETag of a previous page: 304 when unchanged"},
        ),
        "POST": Operation(
            "lib.resources.maintenance:create_record",
            "Add a maintenance record",
            rate_limit="write",
            body="MaintenanceCreate",
            response="MaintenanceRecord",
            success=201,
            errors=(*WITH_BODY, *SIGNED_IN, 403, 404, 409, *UPSTREAM),
            tags=("maintenance",),
            headers={
                "Idempotency-Key": "1-255 printable ASCII characters; retries replay the first response"
            },
        ),
    },
    vercel_file="api/vehicles/[id]/maintenance.py",
)

MAINTENANCE_RECORD = Route(
    "/api/vehicles/{id}/maintenance/{record_id}",
    {
        "GET": Operation(
            "lib.resources.maintenance:get_record",
            "Read one maintenance record",
            rate_limit="read",
            response="MaintenanceRecord",
            errors=(304, *SIGNED_IN, 404, *UPSTREAM),
            tags=("maintenance",),
            headers={"If-None-Match": "ETag from a previous read: 304 when unchanged"},
            description=(
                "The `Location` that `POST /api/vehicles/{id}/maintenance` answers with. `404` when the"
                " record does not exist, belongs to another vehicle, or the caller cannot see the vehicle"
            ),
        )
    },
    # Served by the maintenance function: vercel.json rewrites this path to it (one function fewer).
    vercel_file="api/vehicles/[id]/maintenance.py",
)

ME = Route(
    "/api/me",
    {
        "GET": Operation(
            "lib.resources.me:me",
            "Who am I",
            rate_limit="read",
            response="Me",
            errors=SIGNED_IN,
            tags=("auth",),
        )
    },
    vercel_file="api/me.py",
)

ME_PASSWORD = Route(
    "/api/me/password",
    {
        "PUT": Operation(
            "lib.resources.me:change_password",
            "Change my password",
            rate_limit="write",
            body="PasswordChange",
            success=204,
            cache_control=NO_STORE,
            errors=(*WITH_BODY, *SIGNED_IN, 403, *UPSTREAM),
            tags=("auth",),
            description=(
                "`current_password` is required (wrong or missing: 403 current_password_invalid),"
                " except within 10 minutes of a `POST /api/auth/verify` of a recovery link that"
                " started this session. Every other session of the user is revoked; the caller's"
                " stays. With cookies, send X-CSRF-Token."
            ),
        )
    },
    # Served by the /api/me function: vercel.json rewrites this path to it.
    vercel_file="api/me.py",
)

SIGNUP = Route(
    "/api/auth/signup",
    {
        "POST": Operation(
            "lib.resources.account:signup",
            "Create an account",
            auth="none",
            rate_limit="auth",
            body="Credentials",
            response="SignupResult",
            success=201,
            cache_control=NO_STORE,
            errors=(*WITH_BODY, 409, 429, *UPSTREAM),
            tags=("auth",),
            description=(
                "With email confirmation on (the hosted default) `session` is null and"
                " `confirmation_sent` true, also for an address that is already registered (the same"
                " answer, and no email reveals it). With confirmation off, a session and its cookies,"
                " and 409 for a registered address. `redirect_to` (an allowed origin's URL, else 422)"
                " is where the confirmation link leads."
            ),
        )
    },
    # The six auth routes are one function: vercel.json rewrites each path to /api/auth.
    vercel_file="api/auth.py",
)

LOGIN = Route(
    "/api/auth/login",
    {
        "POST": Operation(
            "lib.resources.account:login",
            "Sign in with email and password",
            auth="none",
            rate_limit="login",
            body="LoginCredentials",
            response="Session",
            cache_control=NO_STORE,
            errors=(*WITH_BODY, 401, 403, 429, *UPSTREAM),
            tags=("auth",),
            description=(
                "Sets the sb-access-token, sb-refresh-token and csrf-token cookies. The Session's "
                "csrf_token is the session's CSRF token (also the csrf-token cookie's value). A wrong "
                "pair is one generic 401; the right password of an account whose email is not "
                "confirmed yet is 403 email_not_confirmed."
            ),
        )
    },
    vercel_file="api/auth.py",
)

REFRESH = Route(
    "/api/auth/refresh",
    {
        "POST": Operation(
            "lib.resources.account:refresh",
            "Exchange a refresh token for a new session",
            auth="none",
            rate_limit="auth",
            body="RefreshRequest",
            response="Session",
            cache_control=NO_STORE,
            errors=(*WITH_BODY, 401, 403, 429, *UPSTREAM),
            tags=("auth",),
            description="From the body, or from the refresh cookie with X-CSRF-Token.",
        )
    },
    vercel_file="api/auth.py",
)

LOGOUT = Route(
    "/api/auth/logout",
    {
        "POST": Operation(
            "lib.resources.account:logout",
            "Sign out: revoke the session and clear the cookies",
            # Authenticated by the handler: the refresh cookie alone is enough, so that an
            # expired access cookie does not strand a 30-day session (docs/api.md §5.1).
            auth="none",
            rate_limit="auth",
            body="EmptyBody",
            success=204,
            cache_control=NO_STORE,
            errors=(*WITH_BODY, 401, 403, 429, *UPSTREAM),
            tags=("auth",),
            description=(
                "Revokes the session upstream and clears the sb-access-token, sb-refresh-token and "
                "csrf-token cookies. Send the access token as a Bearer token, or the session cookies: the "
                "access cookie, or the refresh cookie alone, either with X-CSRF-Token."
            ),
        )
    },
    vercel_file="api/auth.py",
)

RECOVER = Route(
    "/api/auth/recover",
    {
        "POST": Operation(
            "lib.resources.account:recover",
            "Send a password-recovery email",
            auth="none",
            rate_limit="recover",
            body="RecoverRequest",
            response="Accepted",
            success=202,
            cache_control=NO_STORE,
            errors=(*WITH_BODY, 429, *UPSTREAM),
            tags=("auth",),
            description=(
                "202 `{}` whether or not the address is registered. Supabase Auth emails a recovery"
                " link; its token hash goes to `POST /api/auth/verify` with `type` recovery."
                " `redirect_to` (an allowed origin's URL, else 422) is where the link leads."
            ),
        )
    },
    vercel_file="api/auth.py",
)

VERIFY = Route(
    "/api/auth/verify",
    {
        "POST": Operation(
            "lib.resources.account:verify",
            "Exchange an email link's token hash for a session",
            auth="none",
            rate_limit="auth",
            body="VerifyRequest",
            response="Session",
            cache_control=NO_STORE,
            errors=(*WITH_BODY, 401, 429, *UPSTREAM),
            tags=("auth",),
            description=(
                "The `token_hash` and `type` of a Supabase Auth email link (signup confirmation,"
                " recovery, magic link, email change, invite): a Session and the session cookies, as"
                " login. Invalid, used or expired: 401. After `recovery`, `PUT /api/me/password`"
                " takes no `current_password` for 10 minutes. Under secure email change the first of"
                " the two links answers 202 `{}`."
            ),
        )
    },
    vercel_file="api/auth.py",
)

ADMIN_USERS = Route(
    "/api/admin/users",
    {
        "GET": Operation(
            "lib.resources.admin:list_users",
            "List users and their roles",
            rate_limit="read",
            permission="users.manage",
            query="PageQuery",
            response="UserPage",
            errors=(400, 304, *SIGNED_IN, 403, *UPSTREAM),
            tags=("admin",),
            headers={"If-None-Match": "ETag of a previous page: 304 when unchanged"},
        )
    },
    # The three admin routes are one function: vercel.json rewrites each path to /api/admin.
    vercel_file="api/admin.py",
)

ADMIN_USER_ROLE = Route(
    "/api/admin/users/{id}/role",
    {
        "PUT": Operation(
            "lib.resources.admin:set_role",
            "Change a user's role",
            rate_limit="write",
            permission="users.manage",
            body="RoleChange",
            response="RoleAssignment",
            errors=(*WITH_BODY, *SIGNED_IN, 403, 404, 409, *UPSTREAM),
            tags=("admin",),
            description="Takes effect at the user's next token refresh; their sessions are revoked now.",
        )
    },
    vercel_file="api/admin.py",
)

ADMIN_AUDIT = Route(
    "/api/admin/audit",
    {
        "GET": Operation(
            "lib.resources.admin:list_audit",
            "Read the audit log, newest first",
            rate_limit="read",
            permission="audit.read",
            query="AuditQuery",
            response="AuditPage",
            errors=(400, 304, *SIGNED_IN, 403, *UPSTREAM),
            tags=("admin",),
            headers={"If-None-Match": "ETag of a previous page: 304 when unchanged"},
        )
    },
    vercel_file="api/admin.py",
)

OPENAPI = Route(
    "/api/openapi.json",
    {
        "GET": Operation(
            "lib.contract.openapi:serve_document",
            "This API's OpenAPI 3.1 document",
            auth="none",
            cache_control=PUBLIC_CACHE,
            tags=("meta",),
        )
    },
    vercel_file="api/openapi.py",
    aliases=("/api/openapi",),
)

DOCS = Route(
    "/api/docs",
    {
        "GET": Operation(
            "lib.contract.openapi:serve_docs",
            "Browsable API documentation (HTML)",
            auth="none",
            cache_control=PUBLIC_CACHE,
            tags=("meta",),
            content_type="text/html",
        )
    },
    vercel_file="api/docs.py",
)

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
