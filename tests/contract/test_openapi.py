"""The OpenAPI document (lib.contract.openapi) against the route table, the api/ tree and the spec."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from devstack.devserver import RouteTable
from devstack.vercel_check import HOBBY_FUNCTION_LIMIT
from devstack.vercel_config import file_url as vercel_file_url
from devstack.vercel_config import load_vercel_config, route_table_problems
from lib.contract.fields import VIN_INPUT_PATTERN
from lib.contract.openapi import build_document, docs_html, document_bytes, problem_codes
from lib.contract.routes import ALL_ROUTES
from lib.contract.routing import Route
from lib.http.problems import CATALOG

ROOT = Path(__file__).resolve().parents[2]
API_DIR = ROOT / "api"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ROUTES_BY_PATH = {route.path: route for route in ALL_ROUTES}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def resolve(document: dict[str, Any], value: Any) -> Any:
    """Follow a local $ref (one level at a time until a concrete object)."""
    while isinstance(value, dict) and isinstance(value.get("$ref"), str):
        target: Any = document
        for part in value["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        value = target
    return value


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


# --------------------------------------------------------------------------- the api/ tree


def _is_ignored(name: str) -> bool:
    # Vercel makes no function of files and folders starting with `_` or `.`.
    return name.startswith(("_", "."))


def api_files() -> list[Path]:
    """Every function file under api/, as Vercel sees them."""
    files = []
    for file in sorted(API_DIR.rglob("*.py")):
        parts = file.relative_to(API_DIR).parts
        if any(_is_ignored(part) for part in parts) or "__pycache__" in parts:
            continue
        files.append(file)
    return files


VERCEL = load_vercel_config(ROOT)


def file_url(file: Path) -> str:
    """The URL Vercel serves a function at: index.py is its folder, [param] is a parameter."""
    return vercel_file_url(str(file.relative_to(ROOT)))


def public_urls(file: Path) -> set[str]:
    """Every path a function serves: those vercel.json rewrites to it, and its own URL (see public_paths)."""
    return VERCEL.public_paths(str(file.relative_to(ROOT)))


def load_handler_routes(file: Path) -> tuple[Route, ...]:
    name = "api_under_test_" + re.sub(r"\W", "_", str(file.relative_to(API_DIR).with_suffix("")))
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    routes: tuple[Route, ...] = module.handler.routes
    return routes


def test_api_files_found() -> None:
    assert len(api_files()) >= 10
    assert public_urls(API_DIR / "openapi.py") == {"/api/openapi.json"}
    assert public_urls(API_DIR / "auth.py") == {
        "/api/auth/signup",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/auth/logout",
        "/api/auth/recover",
        "/api/auth/verify",
    }
    # Its own URL stays public next to a rewritten one: vercel.json says so with a rewrite to itself.
    assert public_urls(API_DIR / "me.py") == {"/api/me", "/api/me/password"}
    assert public_urls(API_DIR / "admin.py") == {
        "/api/admin/users",
        "/api/admin/users/{id}/role",
        "/api/admin/audit",
    }
    assert file_url(API_DIR / "vehicles" / "[id]" / "index.py") == "/api/vehicles/{id}"
    assert file_url(API_DIR / "vin" / "[vin].py") == "/api/vin/{vin}"
    assert public_urls(API_DIR / "vehicles" / "[id]" / "maintenance.py") == {
        "/api/vehicles/{id}/maintenance",
        "/api/vehicles/{id}/maintenance/{record_id}",
    }


def test_file_mapping_agrees_with_the_dev_server() -> None:
    scanned = {re.sub(r"\[(\w+)\]", r"{\1}", route.pattern) for route in RouteTable.scan(API_DIR).routes}
    assert scanned == {file_url(file) for file in api_files()}


def test_document_paths_equal_api_files(document: dict[str, Any]) -> None:
    from_files = {url for file in api_files() for url in public_urls(file)}
    documented = set(document["paths"])
    assert from_files - documented == set(), "api/ files whose route is not in the OpenAPI document"
    assert documented - from_files == set(), "documented routes without a file under api/"


@pytest.mark.parametrize("file", api_files(), ids=lambda file: str(file.relative_to(ROOT)))
def test_each_api_file_serves_its_table_entries(file: Path) -> None:
    served = load_handler_routes(file)
    urls = public_urls(file)
    for url in urls:
        assert url in ROUTES_BY_PATH, f"{file} serves {url}, which lib.contract.routes does not declare"
    assert sorted(route.path for route in served) == sorted(urls)
    for route in served:
        assert route is ROUTES_BY_PATH[route.path]
        assert route.vercel_file == str(file.relative_to(ROOT))


def test_route_table_vercel_files_exist() -> None:
    for route in ALL_ROUTES:
        assert (ROOT / route.vercel_file).is_file(), route.vercel_file
        assert route.path in public_urls(ROOT / route.vercel_file), f"no file or rewrite serves {route.path}"


def test_a_function_serves_several_routes_only_through_rewrites() -> None:
    # Each route either is its file's own URL or reaches the file through a vercel.json rewrite
    # (Hobby caps a deployment at 12 functions: a new path need not be a new function).
    by_file: dict[str, list[str]] = {}
    for route in ALL_ROUTES:
        by_file.setdefault(route.vercel_file, []).append(route.path)
    assert by_file["api/vehicles/[id]/maintenance.py"] == [
        "/api/vehicles/{id}/maintenance",
        "/api/vehicles/{id}/maintenance/{record_id}",
    ]
    assert by_file["api/auth.py"] == [
        "/api/auth/signup",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/auth/logout",
        "/api/auth/recover",
        "/api/auth/verify",
    ]
    assert by_file["api/me.py"] == ["/api/me", "/api/me/password"]
    assert by_file["api/admin.py"] == ["/api/admin/users", "/api/admin/users/{id}/role", "/api/admin/audit"]
    for file, paths in by_file.items():
        own = file_url(ROOT / file)
        for path in paths:
            assert path == own or (path, own) in VERCEL.route_rewrites(), (file, path)


def test_vercel_json_rewrites_agree_with_the_route_table() -> None:
    # The shared check (devstack.vercel_config; vercel_check runs it before every build):
    # each route reachable at its path, each rewrite serving a route, the catch-all last.
    assert route_table_problems(VERCEL, ALL_ROUTES) == []


def test_the_last_rewrite_is_the_catch_all() -> None:
    # Every /api path no route declares reaches an existing function (no new one: Hobby's
    # limit), which answers 404 problem+json instead of Vercel's own 404 page. On Vercel the
    # dynamic [param] routes come after the rewrites, so it must leave their paths alone.
    catch_all = VERCEL.rewrites[-1]
    source = catch_all.source
    assert catch_all.destination in {file_url(file) for file in api_files()}
    for path in ("/api", "/api/nope", "/api/nope/deeper", "/api/health/more", "/api/vehicles/x/y/z"):
        assert source.match(path) is not None, path
    for route in ALL_ROUTES:
        own = file_url(ROOT / route.vercel_file)
        if "{" in own:
            path = re.sub(r"\{\w+\}", "x1", own)
            assert source.match(path) is None, f"the catch-all takes {path} from {route.vercel_file}"
            assert source.match(path + "/more") is not None, path


def test_the_deployment_stays_within_the_hobby_plans_function_limit() -> None:
    # Every file under api/ is a function; tests/deploy checks the count of the real build too.
    files = [str(file.relative_to(ROOT)) for file in api_files()]
    assert len(files) <= HOBBY_FUNCTION_LIMIT, (
        f"{len(files)} function files under api/ ({', '.join(files)}): Vercel's Hobby plan refuses a"
        f" deployment with more than {HOBBY_FUNCTION_LIMIT} Serverless Functions. Serve a new route"
        " from an existing function instead: add it to that file's `routes = (...)`, give it the"
        " file's vercel_file in lib/contract/routes.py, and add a vercel.json rewrite from its path to the"
        " file's URL, as api/auth.py, api/admin.py and api/vehicles/[id]/maintenance.py do."
    )


# --------------------------------------------------------------------------- the document


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document)
    assert document["info"]["title"] == "Vehicle API"
    assert document["info"]["version"] == "1.0.0"
    assert document["servers"] == [{"url": "/"}]


def test_document_is_deterministic_and_json(document: dict[str, Any]) -> None:
    assert json.loads(document_bytes()) == document
    assert build_document() is document  # cached per process


def test_every_route_and_method_and_nothing_else(document: dict[str, Any]) -> None:
    expected: dict[str, set[str]] = {}
    for route in ALL_ROUTES:
        methods = {method.lower() for method in route.operations}
        if "get" in methods:
            methods.add("head")
        expected[route.path] = methods
    actual = {path: {m for m in item if m in METHODS} for path, item in document["paths"].items()}
    assert actual == expected


def test_operation_ids_are_unique_and_from_handlers(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    for route in ALL_ROUTES:
        for method, operation in route.operations.items():
            documented = document["paths"][route.path][method.lower()]
            assert documented["operationId"] == operation.handler.partition(":")[2]
            assert documented["summary"] == operation.summary
            assert documented["description"]
            assert documented["tags"] == list(operation.tags)


def test_every_operation_documents_405_and_500(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        for status in ("405", "500"):
            response = resolve(document, operation["responses"].get(status))
            assert response is not None, (method, path, status)
            schema = response["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}
            assert response["x-problem-codes"] == problem_codes(int(status))


def test_error_responses_list_their_codes(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        route = ROUTES_BY_PATH[path]
        declared = route.operation_for(method.upper())
        assert declared is not None
        for status in declared.errors:
            raw = operation["responses"].get(str(status))
            assert raw is not None, (method, path, status)
            response = resolve(document, raw)
            if status == 304:
                assert "content" not in response
                assert "ETag" in response["headers"]
            elif "application/problem+json" in response.get("content", {}):
                codes = [code for code, (code_status, _) in CATALOG.items() if code_status == status]
                assert codes, status
                for code in codes:
                    assert f"`{code}`" in response["description"]


def test_authed_operations_document_401_and_security(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["cookieAuth"]["type"] == "apiKey"
    assert schemes["cookieAuth"]["in"] == "cookie"
    assert schemes["cookieAuth"]["name"] == "sb-access-token"
    for route in ALL_ROUTES:
        for method, declared in route.operations.items():
            operation = document["paths"][route.path][method.lower()]
            if declared.auth == "required" or declared.handler == "lib.resources.account:logout":
                # Logout authenticates in its handler: the refresh cookie alone will do.
                assert operation["security"] == [{"bearerAuth": []}, {"cookieAuth": []}]
                assert "401" in operation["responses"]
            else:
                assert operation["security"] == []


def test_public_routes(document: dict[str, Any]) -> None:
    for path in ("/api/health", "/api/vin/{vin}", "/api/openapi.json", "/api/docs", "/api/auth/login"):
        for method, operation in document["paths"][path].items():
            assert operation["security"] == [], (method, path)


def test_request_bodies_reject_unknown_fields(document: dict[str, Any]) -> None:
    bodies = 0
    for path, method, operation in operations(document):
        body = operation.get("requestBody")
        if body is None:
            continue
        bodies += 1
        schema = resolve(document, body["content"]["application/json"]["schema"])
        assert schema["additionalProperties"] is False, (method, path)
        declared = ROUTES_BY_PATH[path].operation_for(method.upper())
        assert declared is not None
        assert body["required"] is not declared.body_optional
    assert bodies >= 8


def test_optional_bodies(document: dict[str, Any]) -> None:
    assert document["paths"]["/api/auth/logout"]["post"]["requestBody"]["required"] is False
    assert document["paths"]["/api/auth/refresh"]["post"]["requestBody"]["required"] is False
    assert document["paths"]["/api/vehicles"]["post"]["requestBody"]["required"] is True


def test_vehicle_create_schema(document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["VehicleCreate"]
    assert {"vin", "make", "model", "model_year"} <= set(schema["required"])
    assert "plate" not in schema["required"]
    assert set(schema["properties"]) == {
        "vin",
        "make",
        "model",
        "model_year",
        "plate",
        "color",
        "odometer_km",
        "status",
        "owner_id",
    }
    status = schema["properties"]["status"]
    # Optional with a default: `null` is accepted and means the default, and the document says so.
    assert status["anyOf"] == [
        {"type": "string", "enum": ["active", "maintenance", "retired"]},
        {"type": "null"},
    ]
    assert status["default"] == "active"
    odometer = schema["properties"]["odometer_km"]
    assert odometer["anyOf"] == [{"type": "integer", "minimum": 0, "maximum": 2_000_000}, {"type": "null"}]
    assert odometer["default"] == 0
    currency = document["components"]["schemas"]["MaintenanceCreate"]["properties"]["currency"]
    assert currency["anyOf"] == [{"type": "string", "pattern": "^[A-Z]{3}$"}, {"type": "null"}]
    assert currency["default"] == "USD"


def test_the_date_rules_are_stated_as_of_the_given_day() -> None:
    as_of = build_document(date(2031, 6, 17))
    schemas = as_of["components"]["schemas"]
    assert schemas["VehicleCreate"]["properties"]["model_year"]["maximum"] == 2033
    pattern = re.compile(schemas["MaintenanceCreate"]["properties"]["performed_at"]["pattern"])
    assert pattern.fullmatch("2031-06-17")
    assert not pattern.fullmatch("2031-06-18")
    assert build_document() != as_of  # the default is today, not the last day asked for


def test_login_takes_any_two_strings(document: dict[str, Any]) -> None:
    body = document["paths"]["/api/auth/login"]["post"]["requestBody"]["content"]["application/json"]
    schema = resolve(document, body["schema"])
    assert schema["required"] == ["email", "password"]
    assert schema["additionalProperties"] is False
    # None of sign-up's rules (address pattern, 8-72 characters): a wrong pair is the generic 401.
    fields = {
        name: {k: v for k, v in field.items() if k != "title"} for name, field in schema["properties"].items()
    }
    assert fields == {
        "email": {"type": "string", "minLength": 1, "maxLength": 320},
        "password": {"type": "string", "minLength": 1, "maxLength": 1024},
    }


def _parameters(document: dict[str, Any], path: str, method: str) -> dict[tuple[str, str], dict[str, Any]]:
    raw = document["paths"][path][method]["parameters"]
    resolved = [resolve(document, parameter) for parameter in raw]
    return {(parameter["in"], parameter["name"]): parameter for parameter in resolved}


def test_vehicle_list_query_parameters(document: dict[str, Any]) -> None:
    parameters = _parameters(document, "/api/vehicles", "get")
    query = {name for (where, name) in parameters if where == "query"}
    assert query == {
        "limit",
        "cursor",
        "sort",
        "q",
        "status",
        "make",
        "model",
        "model_year",
        "year_min",
        "year_max",
        "owner_id",
    }
    limit = parameters[("query", "limit")]
    assert limit["required"] is False
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    assert parameters[("query", "sort")]["schema"]["default"] == "-created_at"
    assert parameters[("query", "owner_id")]["schema"] == {"type": "string", "format": "uuid"}
    for parameter in parameters.values():
        assert parameter["description"], parameter["name"]
        assert "null" not in json.dumps(parameter["schema"])


def test_query_parameters_of_other_lists(document: dict[str, Any]) -> None:
    for path in ("/api/admin/users", "/api/vehicles/{id}/maintenance"):
        query = {name for (where, name) in _parameters(document, path, "get") if where == "query"}
        assert query == {"limit", "cursor"}, path
    audit = {name for (where, name) in _parameters(document, "/api/admin/audit", "get") if where == "query"}
    assert audit == {"limit", "cursor", "table", "record_id", "actor_id"}
    for path, method, operation in operations(document):
        declared = ROUTES_BY_PATH[path].operation_for(method.upper())
        assert declared is not None
        if declared.query is None:
            assert not any(resolve(document, p)["in"] == "query" for p in operation["parameters"]), path


def test_path_and_header_parameters(document: dict[str, Any]) -> None:
    vehicle = _parameters(document, "/api/vehicles/{id}", "get")
    assert vehicle[("path", "id")] == {
        "name": "id",
        "in": "path",
        "required": True,
        "description": vehicle[("path", "id")]["description"],
        "schema": {"type": "string", "format": "uuid"},
    }
    assert ("header", "If-None-Match") in vehicle
    assert _parameters(document, "/api/vin/{vin}", "get")[("path", "vin")]["schema"] == {
        "type": "string",
        "pattern": VIN_INPUT_PATTERN,
    }
    assert ("header", "If-Match") in _parameters(document, "/api/vehicles/{id}", "patch")
    assert ("header", "Idempotency-Key") in _parameters(document, "/api/vehicles", "post")
    assert ("header", "Idempotency-Key") in _parameters(document, "/api/vehicles/{id}/maintenance", "post")
    assert ("header", "X-CSRF-Token") in _parameters(document, "/api/vehicles", "post")
    assert ("header", "X-CSRF-Token") not in _parameters(document, "/api/auth/login", "post")
    for path, method, _operation in operations(document):
        parameters = _parameters(document, path, method)
        assert parameters[("header", "X-Request-Id")]["required"] is False
        for name in re.findall(r"\{(\w+)\}", path):
            assert parameters[("path", name)]["required"] is True


def _success(document: dict[str, Any], path: str, method: str) -> tuple[str, dict[str, Any]]:
    responses = document["paths"][path][method]["responses"]
    status = min(status for status in responses if status.startswith("2"))
    return status, resolve(document, responses[status])


def test_success_responses(document: dict[str, Any]) -> None:
    for route in ALL_ROUTES:
        for method, declared in route.operations.items():
            status, response = _success(document, route.path, method.lower())
            assert status == str(declared.success)
            assert "X-Request-Id" in response["headers"]
            if declared.success == 204:
                assert "content" not in response
            else:
                assert list(response["content"]) == [declared.content_type]
            if declared.response is not None:
                schema = response["content"][declared.content_type]["schema"]
                assert schema == {"$ref": f"#/components/schemas/{declared.response.__name__}"}
            if declared.rate_limit is not None:
                assert {"RateLimit", "RateLimit-Policy"} <= set(response["headers"])
            if declared.success == 201:
                # Sign-up creates an account, which has no URL: it sends no Location.
                assert ("Location" in response["headers"]) is (route.path != "/api/auth/signup")


def test_response_headers(document: dict[str, Any]) -> None:
    def headers(path: str, method: str) -> set[str]:
        return set(_success(document, path, method)[1]["headers"])

    assert "ETag" in headers("/api/vehicles/{id}", "get")
    assert "ETag" in headers("/api/vehicles/{id}", "patch")
    assert "ETag" in headers("/api/vehicles", "post")
    assert "ETag" in headers("/api/vehicles", "get")
    assert "ETag" not in headers("/api/health", "get")
    assert "Set-Cookie" in headers("/api/auth/login", "post")
    assert "Content-Security-Policy" in headers("/api/docs", "get")
    _, docs = _success(document, "/api/docs", "get")
    assert list(docs["content"]) == ["text/html"]
    assert "304" in document["paths"]["/api/vehicles/{id}"]["get"]["responses"]
    assert "content" not in resolve(
        document, document["paths"]["/api/vehicles/{id}"]["get"]["responses"]["304"]
    )
    for status in ("401", "429"):
        problem = resolve(document, document["paths"]["/api/vehicles"]["get"]["responses"][status])
        assert "application/problem+json" in problem["content"]
    assert "Retry-After" in resolve(document, {"$ref": "#/components/responses/Problem429"})["headers"]


def test_head_operations_have_no_success_body(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        if "get" in item:
            head = item["head"]
            assert head["operationId"] == item["get"]["operationId"] + "_head"
            assert "content" not in head["responses"]["200"]
            assert head["responses"]["200"]["headers"] == item["get"]["responses"]["200"]["headers"], path


def test_health_503_is_a_health_body(document: dict[str, Any]) -> None:
    response = document["paths"]["/api/health"]["get"]["responses"]["503"]
    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Health"}
    assert "Retry-After" in response["headers"]
    assert "Retry-After" not in document["paths"]["/api/health"]["get"]["responses"]["200"]["headers"]


def test_no_pydantic_leftovers(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    for key in ('"ge":', '"le":', '"gt":', '"lt":', "$defs"):
        assert key not in text, key


def test_docs_html_lists_every_operation(document: dict[str, Any]) -> None:
    page = docs_html()
    for route in ALL_ROUTES:
        for method in route.operations:
            assert f'data-operation="{method} {route.path}"' in page
    assert "<script" not in page
    assert "http://" not in page
    assert "https://" not in page
