"""The hostile input corpus (tests/corpus/): every entry gets its 4xx, never a 5xx.

* cases.json: malformed, oversized and deeply nested JSON, invalid UTF-8 and lone surrogates,
  duplicate keys, huge numbers, bad Content-Length, wrong content types, header floods, long URLs,
  odd methods and request lines, each with the status (and problem code) it must get.
* injection.txt: PostgREST filter and SQL injection strings, sent in every query parameter of every
  list, `q` included: a 200 only ever shows the caller's own rows (and for `q`, rows that literally
  contain the string); anything else is a 400 problem.
* ids.txt: path traversal (plain and encoded), non-UUID and hostile ids in every `{id}` route.

Requests go over a raw socket, byte for byte, so nothing (no client library) tidies them up first.
Also proven elsewhere: tests/http/test_endpoint.py (framing and JSON rules on an in-process route),
tests/api/test_lists.py (operator-looking filter values, literal `q`, tampered cursors).
"""

from __future__ import annotations

import json
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import psycopg
import pytest

from devstack.stack import Stack
from devstack.stack_settings import StackSettings
from lib.contract.validation import text_ok
from tests.factories import User, create_user, create_vehicle
from tests.reliability.conftest import upstream_text_in

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
CASES: list[dict[str, Any]] = json.loads((CORPUS / "cases.json").read_text())["cases"]


def _lines(name: str) -> list[str]:
    text = (CORPUS / name).read_text(encoding="utf-8")
    return [line for line in text.split("\n") if line and not line.startswith("# ")]


INJECTIONS = _lines("injection.txt")
HOSTILE_IDS = _lines("ids.txt")


@dataclass
class RawResponse:
    """What came back on the socket."""

    status: int
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body)


def send_raw(host: str, port: int, data: bytes, timeout: float = 30.0) -> RawResponse:
    """Send `data` as-is, half-close, and read the whole answer (the server closes after one)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer and close before reading everything (413, 431)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1."), raw[:200]
    response = RawResponse(int(lines[0].split(" ")[1]), body=body)
    for line in lines[1:]:
        name, _, value = line.partition(":")
        response.headers.setdefault(name.strip().lower(), []).append(value.strip())
    return response


def _expand(value: str) -> str:
    """`@x70000` -> 70000 x's, `@c70000` -> a cookie header that long, `@cookies90` -> 90 cookies."""
    if value.startswith("@cookies"):
        return "; ".join(f"c{i}=v{i}" for i in range(int(value.removeprefix("@cookies"))))
    if value.startswith("@c"):
        return "c=" + "v" * int(value.removeprefix("@c"))
    if "@x" in value:
        before, _, count = value.partition("@x")
        return before + "x" * int(count)
    return value


def _body(case: dict[str, Any]) -> bytes | None:
    if "body_file" in case:
        path: Path = CORPUS / "bodies" / case["body_file"]
        return path.read_bytes()
    if "body_repeat" in case:
        prefix, unit, count, suffix = case["body_repeat"]
        text: str = prefix + unit * count + suffix
        return text.encode()
    if "body" in case:
        return str(case["body"]).encode("utf-8", "surrogatepass")
    return None


@dataclass
class Target:
    """Where the corpus is sent, and who sends it."""

    stack: Stack
    db: psycopg.Connection[Any]
    settings: StackSettings

    @property
    def address(self) -> tuple[str, int]:
        split = urlsplit(self.stack.settings.api_url)
        return split.hostname or "127.0.0.1", split.port or 80

    def user(self, role: str = "member") -> User:
        return create_user(self.db, self.settings, role)

    def send(
        self,
        method: str,
        path: str,
        headers: dict[str, Any] | None = None,
        body: bytes | None = None,
        *,
        flood: int = 0,
    ) -> RawResponse:
        host, port = self.address
        fields: dict[str, Any] = {"Host": f"{host}:{port}", "Connection": "close"}
        if body is not None:
            fields["Content-Type"] = "application/json"
            fields["Content-Length"] = str(len(body))
        fields.update(headers or {})
        target = path if path.startswith("/") else f"/api/{path}"
        lines = [f"{method} {target} HTTP/1.1"]
        for name, value in fields.items():
            for item in value if isinstance(value, list) else [value]:
                if item is not None:
                    lines.append(f"{name}: {item}")
        lines += [f"X-Flood-{i}: {i}" for i in range(flood)]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
        return send_raw(host, port, head + (body or b""))


@pytest.fixture(scope="module")
def target(stack: Stack, stack_settings: StackSettings) -> Any:
    with psycopg.connect(stack.postgres.dsn(), autocommit=True) as db:
        yield Target(stack, db, stack_settings)


def assert_no_upstream_text(response: RawResponse) -> None:
    text = response.body.decode("utf-8", "replace")
    assert not upstream_text_in(text), text[:500]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_case(case: dict[str, Any], target: Target) -> None:
    if "raw" in case:
        host, port = target.address
        response = send_raw(host, port, case["raw"].encode())
    else:
        user = target.user()
        path = case["path"]
        if "{vehicle}" in path:
            path = path.replace("{vehicle}", create_vehicle(target.db, user)["id"])
        headers = {
            name: value.replace("{token}", user.token) if isinstance(value, str) else value
            for name, value in case.get("headers", {}).items()
        }
        headers = {name: _expand(v) if isinstance(v, str) else v for name, v in headers.items()}
        response = target.send(
            case["method"], _expand(path), headers, _body(case), flood=case.get("header_flood", 0)
        )
    assert response.status in case["expect"], (response.status, response.body[:500])
    assert response.status < 500
    assert_no_upstream_text(response)
    if response.header("X-Request-Id") is not None and response.status >= 400:
        # The function answered (not the platform's router): a problem document.
        assert response.header("Content-Type") == "application/problem+json"
        problem = response.json()
        assert problem["status"] == response.status
        if "code" in case:
            assert problem["code"] == case["code"], problem
    elif "code" in case:
        pytest.fail(f"expected the API's {case['code']} problem, got the router's {response.status}")


# -- injection strings in every query parameter -------------------------------------------------

LISTS: dict[str, tuple[str, tuple[str, ...]]] = {
    # path: (caller role, query parameters)
    "vehicles": (
        "member",
        (
            "q",
            "make",
            "model",
            "status",
            "model_year",
            "year_min",
            "year_max",
            "owner_id",
            "sort",
            "limit",
            "cursor",
        ),
    ),
    "vehicles/{vehicle}/maintenance": ("member", ("limit", "cursor")),
    "admin/users": ("admin", ("limit", "cursor")),
    "admin/audit": ("admin", ("table", "record_id", "actor_id", "limit", "cursor")),
}


def _sweep_one(target: Target, text: str) -> list[str]:
    """Send `text` in every query parameter of every list; the problems found."""
    member, admin = target.user(), target.user("admin")
    model = text.strip()
    usable = 1 <= len(model) <= 64 and text_ok(
        model
    )  # what a model can be (lib.contract.validation's text rule)
    mine = create_vehicle(target.db, member, model=model if usable else "Plain")
    problems = []
    for path, (role, parameters) in LISTS.items():
        caller = admin if role == "admin" else member
        for name in parameters:
            url = path.replace("{vehicle}", mine["id"]) + f"?{name}={quote(text, safe='')}"
            response = target.send("GET", url, caller.headers)
            where = f"GET /api/{url}"
            if response.status >= 500 or response.status not in (200, 400):
                problems.append(f"{where}: {response.status}")
                continue
            assert_no_upstream_text(response)
            body = response.json()
            if response.status == 400:
                if body["code"] not in ("invalid_query", "invalid_cursor"):
                    problems.append(f"{where}: 400 {body['code']}")
                continue
            if path == "vehicles":
                owners = {row["owner_id"] for row in body["data"]}
                if not owners <= {member.id}:
                    problems.append(f"{where}: listed others' vehicles {owners}")
                if name == "q":
                    ids = {row["id"] for row in body["data"]}
                    if usable and mine["id"] not in ids:
                        problems.append(f"{where}: q did not find the vehicle whose model is {model!r}")
                    for row in body["data"]:
                        haystack = " ".join(str(row.get(k) or "") for k in ("make", "model", "plate", "vin"))
                        if text.lower() not in haystack.lower():
                            problems.append(f"{where}: q matched {row['id']} without containing it")
    return problems


def test_filter_injection_in_every_query_parameter(target: Target) -> None:
    with ThreadPoolExecutor(8) as pool:
        problems = [p for found in pool.map(lambda text: _sweep_one(target, text), INJECTIONS) for p in found]
    assert not problems, "\n".join(problems)


# -- hostile ids in every {id} route ------------------------------------------------------------

ID_ROUTES: list[tuple[str, str, str, bytes | None]] = [
    # method, path template, caller role, body
    ("GET", "vehicles/{id}", "member", None),
    ("HEAD", "vehicles/{id}", "member", None),
    ("PATCH", "vehicles/{id}", "member", b'{"color": "red"}'),
    ("DELETE", "vehicles/{id}", "member", None),
    ("GET", "vehicles/{id}/maintenance", "member", None),
    (
        "POST",
        "vehicles/{id}/maintenance",
        "member",
        b'{"performed_at": "2026-01-02", "odometer_km": 1, "kind": "other"}',
    ),
    ("PUT", "admin/users/{id}/role", "admin", b'{"role": "admin"}'),
]


def _hostile_id(target: Target, hostile: str) -> list[str]:
    member, admin = target.user(), target.user("admin")
    create_vehicle(target.db, member)  # something the caller owns, which a traversal might reach
    problems = []
    for method, template, role, body in ID_ROUTES:
        caller = admin if role == "admin" else member
        path = template.replace("{id}", hostile)
        response = target.send(method, path, caller.headers, body)
        for _ in range(3):
            if response.status != 308:
                break
            # trailingSlash: false (vercel.json): the platform redirects, on this origin; follow it.
            location = response.header("Location") or ""
            assert location.startswith("/api/"), f"{method} /api/{path} redirected off the API: {location!r}"
            response = target.send(method, location, caller.headers, body)
        if not 400 <= response.status < 500:
            problems.append(f"{method} /api/{path}: {response.status} {response.body[:200]!r}")
        assert_no_upstream_text(response)
    return problems


def test_hostile_ids_in_every_id_route(target: Target) -> None:
    with ThreadPoolExecutor(8) as pool:
        problems = [p for found in pool.map(lambda h: _hostile_id(target, h), HOSTILE_IDS) for p in found]
    assert not problems, "\n".join(problems)


def test_an_unknown_but_well_formed_id_is_404_everywhere(target: Target) -> None:
    member, admin = target.user(), target.user("admin")
    missing = str(uuid.uuid4())
    for method, template, role, body in ID_ROUTES:
        caller = admin if role == "admin" else member
        response = target.send(method, template.replace("{id}", missing), caller.headers, body)
        assert response.status == 404, (method, template, response.status, response.body[:300])
