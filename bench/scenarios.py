"""The scenarios: what each target is sent for each CRUD route and list page, and how answers are checked."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import psycopg

from bench import data, load
from bench.load import Answer, Call
from bench.profile import api_environment
from bench.world import World
from tests.factories import User, north_american_vin

TARGETS = ("api", "postgrest", "naive")
# The floor function (bench/peers/floor): one Python hop and nothing else, for GET one vehicle only.
FLOOR = "floor"
EXTRA_TARGETS = {"get_one": (FLOOR,)}

TARGET_LABELS = {
    "api": "our API",
    "postgrest": "direct PostgREST",
    "naive": "naive peer",
    FLOOR: "floor function (one Python hop, no checks)",
    "offset": "PostgREST, OFFSET",
    "offset_count": "PostgREST, OFFSET + count=exact",
}

CRUD = ("get_one", "list_first", "list_deep", "create", "patch")

CONCURRENCY = (1, 8)

PAGE_SIZE = 20


def scenario_targets(scenario: str) -> tuple[str, ...]:
    """The targets one CRUD scenario runs against: the three, plus the floor for GET one vehicle."""
    return TARGETS + EXTRA_TARGETS.get(scenario, ())


@dataclass
class Spec:
    """How one target runs one scenario."""

    script: load.Script
    expect: tuple[int, ...] = (200,)
    check: load.Check | None = None


def always(call: Call) -> load.Script:
    """A script that sends the same call for every worker and iteration."""
    return lambda _worker, _i: call


def signed_cursor(world: World, user: User, created_at: str, row_id: str) -> str:
    """The cursor the API would have issued for this position, signed in-process as the API signs it."""
    with api_environment(world.stack.settings.api_environment()):
        from lib.supabase.cursor import encode_cursor, list_context

        context = list_context("/api/vehicles", caller=user.id, sort="-created_at")
        return encode_cursor(context, [created_at, row_id])


@dataclass
class Position:
    """Where a page starts, as every target addresses it."""

    page: int
    cursor: str | None = None  # the API's signed cursor
    after: tuple[str, str] | None = None  # the RPC's p_after, p_after_id
    first_id: str | None = None  # the row the page must start with


def position(world: World, user: User, page: int, *, owner: str | None) -> Position:
    """Page `page` of `user`'s newest-first list (owner: restrict to that owner's rows, as RLS does)."""
    if page == 1:
        return Position(1)
    created_at, row_id, next_id = data.deep_position(
        world.dsn, owner=owner, rows_before=(page - 1) * PAGE_SIZE
    )
    return Position(page, signed_cursor(world, user, created_at, row_id), (created_at, row_id), next_id)


def list_calls(world: World, user: User, where: Position, *, count: bool = False) -> dict[str, Call]:
    """The same page from the API (cursor), PostgREST (the RPC the API calls) and the peers (OFFSET)."""
    api_path = "/api/vehicles"
    rpc = f"/rest/v1/rpc/list_vehicles?p_sort=-created_at&p_limit={PAGE_SIZE + 1}"
    if where.cursor is not None and where.after is not None:
        api_path += f"?cursor={quote(where.cursor)}"
        rpc += f"&p_after={quote(where.after[0])}&p_after_id={where.after[1]}"
    auth = {"Authorization": f"Bearer {user.token}"}
    naive = f"/api/vehicles?page={where.page}&per_page={PAGE_SIZE}"
    # What the naive peer's .order().range() sends PostgREST, sent directly so that the
    # query's cost is not hidden behind the peer's per-request create_client().
    offset = (
        f"/rest/v1/vehicles?select=*&order=created_at.desc,id.desc"
        f"&offset={(where.page - 1) * PAGE_SIZE}&limit={PAGE_SIZE}"
    )
    rest = world.rest_headers(user)
    return {
        "api": Call("GET", api_path, auth),
        "postgrest": Call("GET", rpc, rest),
        "naive": Call("GET", naive, auth),
        "offset": Call("GET", offset, rest),
        "offset_count": Call("GET", offset, {**rest, "Prefer": "count=exact"}),
    }


def first_row_id(target: str, answer: Answer) -> str | None:
    """The id of the first row of a list answer from any target."""
    body = answer.json()
    rows = body if isinstance(body, list) else body.get("data")
    return rows[0]["id"] if rows else None


def verify_page(world: World, calls: dict[str, Call], where: Position) -> None:
    """Every target must return the same first row for the page (and the API a next cursor)."""
    for target, call in calls.items():
        answer = world.target(target).send(call)
        if answer.status not in (200, 206):  # 206: PostgREST's answer to count=exact
            raise RuntimeError(f"{target} {call.path}: {answer.status} {answer.body[:300]!r}")
        got = first_row_id(target, answer)
        if where.first_id is not None and got != where.first_id:
            raise RuntimeError(f"{target} page {where.page} starts at {got}, expected {where.first_id}")


def verify_one(world: World, target: str, call: Call, vehicle: str) -> None:
    """The target must answer 200 with that vehicle (PostgREST and the floor: a one-row array).

    Raises RuntimeError otherwise.
    """
    answer = world.target(target).send(call)
    body = answer.json() if answer.status == 200 else None
    row = body[0] if isinstance(body, list) and len(body) == 1 else body
    if not isinstance(row, dict) or row.get("id") != vehicle:
        raise RuntimeError(f"{target} {call.path}: {answer.status} {answer.body[:300]!r}")


@dataclass
class PatchState:
    """One vehicle per client thread, its last known version and odometer."""

    rows: list[list[Any]]  # [id, version, odometer_km]
    lock: threading.Lock = field(default_factory=threading.Lock)


def _fleet_rows(world: World, count: int, offset: int) -> list[tuple[str, int, int]]:
    with psycopg.connect(world.dsn, autocommit=True) as db:
        rows = db.execute(
            "select id::text, version, odometer_km from public.vehicles where owner_id = %s"
            " order by created_at, id offset %s limit %s",
            (world.actors.fleet.id, offset, count),
        ).fetchall()
    return [(str(a), int(b), int(c)) for a, b, c in rows]


def crud_specs(world: World, deep_page: int) -> dict[str, dict[str, Spec]]:
    """scenario -> target -> Spec, all acting as the fleet member (RLS: own rows only)."""
    fleet = world.actors.fleet
    auth = {"Authorization": f"Bearer {fleet.token}"}
    rest = world.rest_headers(fleet)
    read_ids = [row[0] for row in _fleet_rows(world, 200, 0)]
    deep = position(world, fleet, deep_page, owner=fleet.id)
    first = Position(1)
    specs: dict[str, dict[str, Spec]] = {name: {} for name in CRUD}

    def get_one(target: str) -> load.Script:
        def script(worker: int, i: int) -> Call:
            vehicle = read_ids[(worker * 37 + i) % len(read_ids)]
            if target == "postgrest":
                return Call("GET", f"/rest/v1/vehicles?select=*&id=eq.{vehicle}", rest)
            return Call("GET", f"/api/vehicles/{vehicle}", auth)

        return script

    for target in scenario_targets("get_one"):
        specs["get_one"][target] = Spec(get_one(target))
        verify_one(world, target, get_one(target)(0, 0), read_ids[0])
    for target in TARGETS:
        for name, where in (("list_first", first), ("list_deep", deep)):
            calls = list_calls(world, fleet, where)
            verify_page(world, {t: c for t, c in calls.items() if t in TARGETS}, where)
            call = calls[target]
            specs[name][target] = Spec(always(call))

    def create(target: str) -> load.Script:
        def script(worker: int, i: int) -> Call:
            body = {
                "vin": north_american_vin("1HG"),
                "make": "Honda",
                "model": "Civic",
                "model_year": 2021,
                "color": "blue",
                "odometer_km": 10,
            }
            if target == "postgrest":
                return load.json_call(
                    "POST", "/rest/v1/vehicles", {**rest, "Prefer": "return=representation"}, body
                )
            return load.json_call("POST", "/api/vehicles", auth, body)

        return script

    for target in TARGETS:
        specs["create"][target] = Spec(create(target), expect=(201,))

    for index, target in enumerate(TARGETS):
        state = PatchState([list(row) for row in _fleet_rows(world, 8, 200 + 8 * index)])
        specs["patch"][target] = Spec(_patch_script(target, state, auth, rest), check=_patch_check(state))
    return specs


def _patch_script(target: str, state: PatchState, auth: dict[str, str], rest: dict[str, str]) -> load.Script:
    def script(worker: int, i: int) -> Call:
        with state.lock:
            vehicle, version, odometer = state.rows[worker]
        body = {"odometer_km": odometer + 1}
        if target == "postgrest":
            path = f"/rest/v1/vehicles?id=eq.{vehicle}&version=eq.{version}"
            return load.json_call("PATCH", path, {**rest, "Prefer": "return=representation"}, body)
        return load.json_call(
            "PATCH", f"/api/vehicles/{vehicle}", {**auth, "If-Match": f'"v{version}"'}, body
        )

    return script


def _patch_check(state: PatchState) -> load.Check:
    def check(worker: int, call: Call, answer: Answer) -> None:
        body = answer.json()
        row = body[0] if isinstance(body, list) else body
        with state.lock:
            state.rows[worker][1] = int(row["version"])
            state.rows[worker][2] = int(row["odometer_km"])

    return check
