"""Every built function, run under the Vercel Python runtime, answers as the dev server does.

Each request goes to the function as Vercel delivers it (a Lambda-style event to
`vc_handler`, dynamic segments appended as query parameters) and, where repeating
it is harmless, the same request goes to the dev server: status, headers and body
must match, apart from what differs between any two calls (Date, the rate-limit
counter, fresh tokens). Writes are checked by reading the result back through the
dev server. All functions run under the runtime the pinned CLI bundles;
test_runtimes.py covers the runtime contract under the PyPI runtime too.
"""

from __future__ import annotations

import re
import uuid

import psycopg
import pytest

from devstack.stack import Stack
from devstack.stack_settings import StackSettings
from devstack.vercel_check import HOBBY_FUNCTION_LIMIT, Build
from lib.contract.routes import ALL_ROUTES
from tests.deploy.functions import Answer, Deployment
from tests.deploy.support import (
    HONDA_VIN,
    Caller,
    World,
    assert_same,
    comparable,
    request_headers,
    with_params,
)
from tests.factories import create_user, north_american_vin

PASSWORD = "correct-horse-battery"

SOME_ID = str(uuid.UUID(int=1))
OTHER_ID = str(uuid.UUID(int=2))
# (function, a method it does not declare, its public path, the dynamic segments Vercel appends)
MISSING_METHODS = [
    ("api/health", "DELETE", "/api/health", {}),
    ("api/vin/[vin]", "POST", f"/api/vin/{HONDA_VIN}", {"vin": HONDA_VIN}),
    ("api/vehicles/index", "PUT", "/api/vehicles", {}),
    ("api/vehicles/[id]/index", "POST", f"/api/vehicles/{SOME_ID}", {"id": SOME_ID}),
    ("api/vehicles/[id]/maintenance", "DELETE", f"/api/vehicles/{SOME_ID}/maintenance", {"id": SOME_ID}),
    # The single-record route: a vercel.json rewrite to the same function.
    (
        "api/vehicles/[id]/maintenance",
        "DELETE",
        f"/api/vehicles/{SOME_ID}/maintenance/{OTHER_ID}",
        {"id": SOME_ID},
    ),
    ("api/me", "PATCH", "/api/me", {}),
    # The auth and admin routes: one function each, every path a vercel.json rewrite to it.
    ("api/auth", "GET", "/api/auth/signup", {}),
    ("api/auth", "GET", "/api/auth/login", {}),
    ("api/auth", "DELETE", "/api/auth/refresh", {}),
    ("api/auth", "GET", "/api/auth/logout", {}),
    ("api/admin", "POST", "/api/admin/users", {}),
    ("api/admin", "GET", f"/api/admin/users/{SOME_ID}/role", {"id": SOME_ID}),
    ("api/admin", "DELETE", "/api/admin/audit", {}),
    ("api/openapi", "POST", "/api/openapi.json", {}),
    ("api/docs", "PURGE", "/api/docs", {}),
]


CATCH_ALL = "api/health"  # the function vercel.json's last rewrite hands every other /api path


def test_the_build_routes_every_declared_path_to_its_function(vercel_build: Build) -> None:
    routed = vercel_build.route
    values = {"id": SOME_ID, "record_id": OTHER_ID, "vin": HONDA_VIN}
    for route in ALL_ROUTES:
        path = route.path.format(**values)
        target = routed(path)
        assert target is not None, f"the build answers {path} with 404"
        assert target.partition("?")[0] == route.vercel_file.removesuffix(".py"), path
    # The rewrite adds only the vehicle's id to the query; the function sees the path asked for.
    record = f"/api/vehicles/{SOME_ID}/maintenance/{OTHER_ID}"
    assert routed(record) == f"api/vehicles/[id]/maintenance?id={SOME_ID}"
    # Fixed paths are rewritten without a query; the role's :id, unused by the destination,
    # is appended to it as Vercel does for any named parameter the destination leaves out.
    for action in ("signup", "login", "refresh", "logout"):
        assert routed(f"/api/auth/{action}") == "api/auth"
    assert routed("/api/admin/users") == "api/admin"
    assert routed("/api/admin/audit") == "api/admin"
    assert routed(f"/api/admin/users/{SOME_ID}/role") == f"api/admin?id={SOME_ID}"
    # The merged functions' own URLs reach them, and they answer 404
    # (test_a_merged_functions_own_url_is_a_404_problem).
    assert routed("/api/auth") == "api/auth"
    assert routed("/api/admin") == "api/admin"


@pytest.mark.parametrize(
    "path",
    [
        "/api",
        "/api/nope",
        "/api/health/more",
        "/api/vehicles/x/y/z",
        f"/api/vehicles/{SOME_ID}/maintenance/{OTHER_ID}/more",
        f"/api/vin/{HONDA_VIN}/more",
        "/api/auth/xyz",
        "/api/auth/login/more",
        "/api/admin/xyz",
        f"/api/admin/users/{SOME_ID}",
        f"/api/admin/users/{SOME_ID}/role/more",
    ],
)
def test_the_build_hands_undeclared_api_paths_to_the_catch_all(vercel_build: Build, path: str) -> None:
    # Without it Vercel answers them with its own 404 page (docs/api.md §1.2).
    target = vercel_build.route(path)
    assert target is not None, f"the build answers {path} with Vercel's own 404"
    assert target.partition("?")[0] == CATCH_ALL


def test_the_build_stays_within_the_hobby_plans_function_limit(vercel_build: Build) -> None:
    # tests/contract/test_openapi.py counts the api/ files; this counts what the CLI really built.
    built = sorted(function.name for function in vercel_build.functions())
    assert len(built) <= HOBBY_FUNCTION_LIMIT, (
        f"the build has {len(built)} functions ({', '.join(built)}); Vercel's Hobby plan allows"
        f" {HOBBY_FUNCTION_LIMIT}: serve new routes from existing functions (routes tuple + rewrite)"
    )


@pytest.fixture(scope="module")
def call(deployment: Deployment, stack: Stack) -> Caller:
    """Requests to every function (the CLI's bundled runtime) and to the dev server."""
    deployment.warm_all("bundled")
    return Caller(deployment, "bundled", stack)


# --------------------------------------------------------------------------- reads: identical answers


def test_health(call: Caller) -> None:
    headers = request_headers()
    answer = call.function("api/health").invoke("GET", "/api/health", headers)
    assert answer.status == 200, answer.body
    assert answer.json()["status"] == "ok"
    assert_same(answer, call.dev_server("GET", "/api/health", headers))


def test_head_has_the_get_headers_and_no_body(call: Caller) -> None:
    headers = request_headers()
    answer = call.function("api/health").invoke("HEAD", "/api/health", headers)
    assert answer.status == 200
    assert answer.body == b""
    assert_same(answer, call.dev_server("HEAD", "/api/health", headers))


def test_vin_dynamic_segment(call: Caller) -> None:
    headers = request_headers()
    path = f"/api/vin/{HONDA_VIN}"
    answer = call.function("api/vin/[vin]").invoke("GET", with_params(path, vin=HONDA_VIN), headers)
    assert answer.status == 200, answer.body
    assert answer.json()["vin"] == HONDA_VIN
    assert_same(answer, call.dev_server("GET", path, headers))


def test_vin_with_a_real_query_parameter_is_still_rejected(call: Caller) -> None:
    headers = request_headers()
    path = f"/api/vin/{HONDA_VIN}?debug=1"
    answer = call.function("api/vin/[vin]").invoke("GET", with_params(path, vin=HONDA_VIN), headers)
    assert answer.status == 400
    assert_same(answer, call.dev_server("GET", path, headers))


def test_vehicle_list(call: Caller, world: World) -> None:
    headers = request_headers(world.member)
    answer = call.function("api/vehicles/index").invoke("GET", "/api/vehicles?limit=5", headers)
    assert answer.status == 200, answer.body
    assert [v["id"] for v in answer.json()["data"]] == [world.vehicle["id"]]
    assert_same(answer, call.dev_server("GET", "/api/vehicles?limit=5", headers))


def test_one_vehicle(call: Caller, world: World) -> None:
    headers = request_headers(world.member)
    path = f"/api/vehicles/{world.vehicle['id']}"
    answer = call.function("api/vehicles/[id]/index").invoke(
        "GET", with_params(path, id=world.vehicle["id"]), headers
    )
    assert answer.status == 200, answer.body
    assert answer.header("ETag") is not None
    assert_same(answer, call.dev_server("GET", path, headers))


@pytest.mark.parametrize("callers_first", [True, False], ids=["caller-first", "vercel-first"])
def test_a_callers_own_parameter_named_like_the_segment_is_refused(
    call: Caller, world: World, callers_first: bool
) -> None:
    # Vercel's copy of the segment is dropped; the caller's `?id=foo`, wherever it lands, is not.
    headers = request_headers(world.member)
    vehicle_id = world.vehicle["id"]
    path = f"/api/vehicles/{vehicle_id}"
    query = f"id=foo&id={vehicle_id}" if callers_first else f"id={vehicle_id}&id=foo"
    answer = call.function("api/vehicles/[id]/index").invoke("GET", f"{path}?{query}", headers)
    assert answer.status == 400, answer.body
    assert answer.json()["code"] == "invalid_query"
    assert_same(answer, call.dev_server("GET", f"{path}?id=foo", headers))


def test_unknown_vehicle_is_a_problem(call: Caller, world: World) -> None:
    headers = request_headers(world.member)
    missing = str(uuid.uuid4())
    path = f"/api/vehicles/{missing}"
    answer = call.function("api/vehicles/[id]/index").invoke("GET", with_params(path, id=missing), headers)
    assert answer.status == 404
    assert answer.header("Content-Type") == "application/problem+json"
    assert_same(answer, call.dev_server("GET", path, headers))


def test_maintenance_list(call: Caller, world: World) -> None:
    headers = request_headers(world.member)
    vehicle_id = world.vehicle["id"]
    path = f"/api/vehicles/{vehicle_id}/maintenance"
    function = call.function("api/vehicles/[id]/maintenance")
    answer = function.invoke("GET", with_params(path, id=vehicle_id), headers)
    assert answer.status == 200, answer.body
    assert [r["id"] for r in answer.json()["data"]] == [world.record["id"]]
    assert_same(answer, call.dev_server("GET", path, headers))


@pytest.mark.parametrize(
    "params",
    [{"id"}, {"id", "record_id"}],
    ids=["as-the-build-routes-it", "with-every-segment"],
)
def test_one_maintenance_record_through_the_rewrite(call: Caller, world: World, params: set[str]) -> None:
    headers = request_headers(world.member)
    vehicle_id, record_id = world.vehicle["id"], world.record["id"]
    path = f"/api/vehicles/{vehicle_id}/maintenance/{record_id}"
    segments = {"id": vehicle_id, "record_id": record_id}
    function = call.function("api/vehicles/[id]/maintenance")
    answer = function.invoke("GET", with_params(path, **{k: segments[k] for k in sorted(params)}), headers)
    assert answer.status == 200, answer.body
    assert answer.json()["id"] == record_id
    assert answer.header("ETag") is not None
    assert_same(answer, call.dev_server("GET", path, headers))
    etag = answer.header("ETag") or ""
    headers = request_headers(world.member, **{"if-none-match": etag})
    unchanged = function.invoke("GET", with_params(path, id=vehicle_id), headers)
    assert (unchanged.status, unchanged.body) == (304, b"")
    assert_same(unchanged, call.dev_server("GET", path, headers))


def test_unknown_maintenance_record_is_a_problem(call: Caller, world: World) -> None:
    headers = request_headers(world.member)
    vehicle_id = world.vehicle["id"]
    path = f"/api/vehicles/{vehicle_id}/maintenance/{uuid.uuid4()}"
    answer = call.function("api/vehicles/[id]/maintenance").invoke(
        "GET", with_params(path, id=vehicle_id), headers
    )
    assert answer.status == 404
    assert answer.json()["instance"] == path
    assert_same(answer, call.dev_server("GET", path, headers))


def test_me(call: Caller, world: World) -> None:
    headers = request_headers(world.member)
    answer = call.function("api/me").invoke("GET", "/api/me", headers)
    assert answer.status == 200, answer.body
    assert answer.json()["id"] == world.member.id
    assert_same(answer, call.dev_server("GET", "/api/me", headers))


def test_unauthenticated_is_a_problem(call: Caller) -> None:
    headers = request_headers()
    answer = call.function("api/me").invoke("GET", "/api/me", headers)
    assert answer.status == 401
    assert_same(answer, call.dev_server("GET", "/api/me", headers))


def test_admin_users(call: Caller, world: World) -> None:
    headers = request_headers(world.admin)
    answer = call.function("api/admin").invoke("GET", "/api/admin/users?limit=3", headers)
    assert answer.status == 200, answer.body
    assert_same(answer, call.dev_server("GET", "/api/admin/users?limit=3", headers))


def test_admin_role_then_audit(
    call: Caller, world: World, stack: Stack, stack_settings: StackSettings
) -> None:
    with psycopg.connect(stack.postgres.dsn(), autocommit=True) as db:
        target = create_user(db, stack_settings, "member")
    path = f"/api/admin/users/{target.id}/role"
    headers = request_headers(world.admin)
    function = call.function("api/admin")
    answer = function.invoke("PUT", with_params(path, id=target.id), headers, json_body={"role": "manager"})
    assert answer.status == 200, answer.body
    assert answer.json() == {"id": target.id, "role": "manager"}
    # Setting the same role again is idempotent, so the dev server must answer identically.
    assert_same(answer, call.dev_server("PUT", path, headers, json_body={"role": "manager"}))

    audit = f"/api/admin/audit?record_id={target.id}"
    headers = request_headers(world.admin)
    answer = function.invoke("GET", audit, headers)
    assert answer.status == 200, answer.body
    assert answer.json()["data"], "the role change is audited"
    assert_same(answer, call.dev_server("GET", audit, headers))


@pytest.mark.parametrize("appended", [True, False], ids=["as-the-build-routes-it", "without-the-copy"])
def test_admin_role_through_the_rewrite(
    call: Caller, world: World, stack: Stack, stack_settings: StackSettings, appended: bool
) -> None:
    # The rewrite appends the path's id to the query; the function takes {id} from the path either way.
    with psycopg.connect(stack.postgres.dsn(), autocommit=True) as db:
        target = create_user(db, stack_settings, "member")
    path = f"/api/admin/users/{target.id}/role"
    headers = request_headers(world.admin)
    sent = with_params(path, id=target.id) if appended else path
    answer = call.function("api/admin").invoke("PUT", sent, headers, json_body={"role": "member"})
    assert answer.status == 200, answer.body
    assert answer.json() == {"id": target.id, "role": "member"}
    assert_same(answer, call.dev_server("PUT", path, headers, json_body={"role": "member"}))


@pytest.mark.parametrize("callers_first", [True, False], ids=["caller-first", "vercel-first"])
def test_a_callers_own_id_on_the_rewritten_role_route_is_refused(
    call: Caller, world: World, callers_first: bool
) -> None:
    # As on a dynamic file's route: Vercel's copy of the segment is dropped, the caller's `?id=foo` is not.
    headers = request_headers(world.admin)
    path = f"/api/admin/users/{SOME_ID}/role"
    query = f"id=foo&id={SOME_ID}" if callers_first else f"id={SOME_ID}&id=foo"
    body = {"role": "member"}
    answer = call.function("api/admin").invoke("PUT", f"{path}?{query}", headers, json_body=body)
    assert answer.status == 400, answer.body
    assert answer.json()["code"] == "invalid_query"
    assert_same(answer, call.dev_server("PUT", f"{path}?id=foo", headers, json_body=body))


@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
@pytest.mark.parametrize(("name", "path"), [("api/auth", "/api/auth"), ("api/admin", "/api/admin")])
def test_a_merged_functions_own_url_is_a_404_problem(call: Caller, name: str, path: str, method: str) -> None:
    # The build hands the function its own URL, which none of its routes matches.
    headers = request_headers()
    answer = call.function(name).invoke(method, path, headers)
    assert answer.status == 404, answer.body
    assert answer.header("Content-Type") == "application/problem+json"
    assert (answer.json()["code"], answer.json()["instance"]) == ("not_found", path)
    assert_same(answer, call.dev_server(method, path, headers))


@pytest.mark.parametrize("path", ["/api", "/api/nope", "/api/vehicles/x/y/z", "/api/auth/xyz"])
def test_an_undeclared_path_is_a_404_problem_from_the_catch_all(
    call: Caller, vercel_build: Build, path: str
) -> None:
    # Delivered as the build routes it: to the catch-all's function, with the query it adds.
    target = vercel_build.route(path)
    assert target is not None
    name, _, query = target.partition("?")
    headers = request_headers()
    answer = call.function(name).invoke("GET", f"{path}?{query}" if query else path, headers)
    assert answer.status == 404, answer.body
    assert answer.header("Content-Type") == "application/problem+json"
    assert (answer.json()["code"], answer.json()["instance"]) == ("not_found", path)
    assert_same(answer, call.dev_server("GET", path, headers))


@pytest.mark.parametrize("path", ["/api/openapi.json", "/api/openapi"])
def test_openapi_under_its_public_url_and_the_rewrite_target(call: Caller, path: str) -> None:
    headers = request_headers()
    answer = call.function("api/openapi").invoke("GET", path, headers)
    assert answer.status == 200, answer.body
    assert answer.json()["openapi"].startswith("3.1")
    assert_same(answer, call.dev_server("GET", path, headers))


def test_docs(call: Caller) -> None:
    headers = request_headers()
    answer = call.function("api/docs").invoke("GET", "/api/docs", headers)
    assert answer.status == 200
    assert (answer.header("Content-Type") or "").startswith("text/html")
    assert_same(answer, call.dev_server("GET", "/api/docs", headers))


def test_options_lists_the_methods(call: Caller, world: World) -> None:
    headers = request_headers()
    path = f"/api/vehicles/{world.vehicle['id']}"
    function = call.function("api/vehicles/[id]/index")
    answer = function.invoke("OPTIONS", with_params(path, id=world.vehicle["id"]), headers)
    assert answer.status == 204
    assert answer.header("Allow") == "GET, HEAD, PATCH, DELETE, OPTIONS"
    assert_same(answer, call.dev_server("OPTIONS", path, headers))


# --------------------------------------------------------------------------- writes: read back


def test_create_update_delete_vehicle(call: Caller, world: World) -> None:
    vin = north_american_vin()
    body = {"vin": vin, "make": "Honda", "model": "Civic", "model_year": 2019}
    created = call.function("api/vehicles/index").invoke(
        "POST", "/api/vehicles", request_headers(world.member), json_body=body
    )
    assert created.status == 201, created.body
    vehicle = created.json()
    location = created.header("Location")
    assert location == f"/api/vehicles/{vehicle['id']}"
    read = call.dev_server("GET", location, request_headers(world.member))
    assert (read.status, read.json(), read.header("ETag")) == (200, vehicle, created.header("ETag"))

    function = call.function("api/vehicles/[id]/index")
    path = with_params(location, id=vehicle["id"])
    etag = created.header("ETag") or ""
    changed = function.invoke(
        "PATCH", path, request_headers(world.member, **{"if-match": etag}), json_body={"color": "blue"}
    )
    assert changed.status == 200, changed.body
    assert changed.json()["color"] == "blue"
    read = call.dev_server("GET", location, request_headers(world.member))
    assert (read.json(), read.header("ETag")) == (changed.json(), changed.header("ETag"))

    gone = function.invoke(
        "DELETE", path, request_headers(world.member, **{"if-match": changed.header("ETag") or ""})
    )
    assert (gone.status, gone.body) == (204, b"")
    assert call.dev_server("GET", location, request_headers(world.member)).status == 404


def test_create_maintenance_record(call: Caller, world: World) -> None:
    vehicle_id = world.vehicle["id"]
    path = f"/api/vehicles/{vehicle_id}/maintenance"
    body = {"performed_at": "2026-02-01", "odometer_km": 900, "kind": "repair", "description": "Brake pads"}
    created = call.function("api/vehicles/[id]/maintenance").invoke(
        "POST", with_params(path, id=vehicle_id), request_headers(world.member), json_body=body
    )
    assert created.status == 201, created.body
    listed = call.dev_server("GET", path + "?limit=1", request_headers(world.member)).json()["data"]
    assert listed == [created.json()]
    location = created.header("Location") or ""
    assert location == f"{path}/{created.json()['id']}"
    read = call.dev_server("GET", location, request_headers(world.member))
    assert (read.status, read.body) == (200, created.body)
    read = call.function("api/vehicles/[id]/maintenance").invoke(
        "GET", with_params(location, id=vehicle_id), request_headers(world.member)
    )
    assert (read.status, read.body) == (200, created.body)


def test_signup_login_refresh_logout(call: Caller) -> None:
    email = f"deploy-{uuid.uuid4().hex[:10]}@example.test"
    credentials = {"email": email, "password": PASSWORD}

    function = call.function("api/auth")
    signed_up = function.invoke("POST", "/api/auth/signup", request_headers(), json_body=credentials)
    assert signed_up.status == 201, signed_up.body
    assert signed_up.json()["user"]["email"] == email
    again = call.dev_server("POST", "/api/auth/signup", request_headers(), json_body=credentials)
    assert again.status == 409, "the function really created the account"

    logged_in = function.invoke("POST", "/api/auth/login", request_headers(), json_body=credentials)
    dev_login = call.dev_server("POST", "/api/auth/login", request_headers(), json_body=credentials)
    assert logged_in.status == dev_login.status == 200, logged_in.body
    assert set(logged_in.json()) == set(dev_login.json())
    assert cookie_shapes(logged_in) == cookie_shapes(dev_login)
    assert comparable(logged_in)["headers"].keys() == comparable(dev_login)["headers"].keys()

    session = logged_in.json()
    refreshed = function.invoke(
        "POST", "/api/auth/refresh", request_headers(), json_body={"refresh_token": session["refresh_token"]}
    )
    assert refreshed.status == 200, refreshed.body
    token = refreshed.json()["access_token"]
    me = call.dev_server("GET", "/api/me", request_headers(authorization=f"Bearer {token}"))
    assert (me.status, me.json()["email"]) == (200, email)

    # Two sessions signed out, one by the function and one by the dev server: same answer.
    dev_token = dev_login.json()["access_token"]
    out = function.invoke("POST", "/api/auth/logout", request_headers(authorization=f"Bearer {token}"))
    dev_out = call.dev_server(
        "POST", "/api/auth/logout", request_headers(authorization=f"Bearer {dev_token}")
    )
    assert out.status == 204, out.body
    assert comparable(out)["headers"].keys() == comparable(dev_out)["headers"].keys()
    assert (out.status, sorted(out.header_list("Set-Cookie"))) == (
        dev_out.status,
        sorted(dev_out.header_list("Set-Cookie")),
    )


def cookie_shapes(answer: Answer) -> list[str]:
    """Set-Cookie headers with their values blanked: names and attributes only."""
    return sorted(re.sub(r"^([^=]+)=[^;]*", r"\1=*", c) for c in answer.header_list("Set-Cookie"))


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(("name", "method", "path", "params"), MISSING_METHODS)
def test_undeclared_method_is_a_405_problem_not_the_runtimes_501(
    call: Caller, name: str, method: str, path: str, params: dict[str, str]
) -> None:
    headers = request_headers()
    answer = call.function(name).invoke(method, with_params(path, **params) if params else path, headers)
    assert answer.status == 405, (answer.status, answer.body[:200])
    assert answer.header("Content-Type") == "application/problem+json"
    assert answer.json()["code"] == "method_not_allowed"
    assert "OPTIONS" in (answer.header("Allow") or "")
    assert answer.json()["instance"] == path, "Vercel hands a rewritten request its original path"
    assert_same(answer, call.dev_server(method, path, headers))
