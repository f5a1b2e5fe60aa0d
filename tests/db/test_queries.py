"""The list RPCs, called as read-only GET /rest/v1/rpc/... with each actor's token."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.db.conftest import Db, fetch_one
from tests.db.rest import Rest, assert_error, rows
from tests.factories import User, create_record, create_vehicle, north_american_vin

SORT_KEYS = ("created_at", "model_year", "make", "odometer_km")
SORTS = [key for name in SORT_KEYS for key in (name, "-" + name)]


def token() -> str:
    """A make value no other test uses (letters and digits only)."""
    return "Mk" + uuid.uuid4().hex[:12]


def list_vehicles(client: Rest, **args: Any) -> list[dict[str, Any]]:
    response = client.rpc("list_vehicles", {f"p_{name}": value for name, value in args.items()}, get=True)
    return rows(response)


def ids(found: list[dict[str, Any]]) -> list[str]:
    return [row["id"] for row in found]


def sort_value(row: dict[str, Any], column: str) -> Any:
    value = row[column]
    return dt.datetime.fromisoformat(value) if column == "created_at" else value


def expected_order(found: list[dict[str, Any]], sort: str) -> list[str]:
    column = sort.lstrip("-")
    ordered = sorted(
        found, key=lambda row: (sort_value(row, column), row["id"]), reverse=sort.startswith("-")
    )
    return ids(ordered)


# -- filters --------------------------------------------------------------------------------------


def test_filters(db: Db, owner: User, client: Rest) -> None:
    make = token()
    made = {
        "a": create_vehicle(db, owner, make=make, model="Alpha", model_year=2010, status="active"),
        "b": create_vehicle(db, owner, make=make, model="Beta", model_year=2015, status="retired"),
        "c": create_vehicle(db, owner, make=make, model="Beta", model_year=2020, status="maintenance"),
        "d": create_vehicle(db, owner, make=make, model="beta", model_year=2021, status="active"),
    }

    def names(**args: Any) -> set[str]:
        found = set(ids(list_vehicles(client, **args)))
        return {name for name, vehicle in made.items() if str(vehicle["id"]) in found}

    assert names(make=make) == {"a", "b", "c", "d"}
    assert names(make=make.upper()) == {"a", "b", "c", "d"}
    assert names(make=make.lower()) == {"a", "b", "c", "d"}
    assert names(make=make[:-1]) == set()  # exact, not a prefix
    assert names(make=make, status="retired") == {"b"}
    assert names(make=make, status="active") == {"a", "d"}
    assert names(make=make, model="Beta") == {"b", "c"}
    assert names(make=make, model_year=2015) == {"b"}
    assert names(make=make, year_min=2015) == {"b", "c", "d"}
    assert names(make=make, year_max=2015) == {"a", "b"}
    assert names(make=make, year_min=2015, year_max=2020) == {"b", "c"}
    assert names(make=make, year_min=2011, year_max=2014) == set()
    assert names(make=make, owner_id=owner.id) == {"a", "b", "c", "d"}
    assert names(make=make, owner_id=str(uuid.uuid4())) == set()
    assert names(make=make, q="ETA") == {"b", "c", "d"}
    assert names(make=make, q=make[2:8].upper()) == {"a", "b", "c", "d"}


def test_invalid_status_is_rejected(client: Rest) -> None:
    response = client.rpc("list_vehicles", {"p_status": "scrapped"}, get=True)
    assert_error(response, 400, "22P02")


def test_q_matches_plate_and_vin(db: Db, owner: User, client: Rest) -> None:
    make = token()
    plated = create_vehicle(db, owner, make=make, plate="QZX-9081")
    other = create_vehicle(db, owner, make=make)
    assert ids(list_vehicles(client, make=make, q="zx-90")) == [str(plated["id"])]
    assert ids(list_vehicles(client, make=make, q=other["vin"][3:12].lower())) == [str(other["id"])]


SPECIAL_MODELS = {
    "percent": "100% Electric",
    "underscore": "A_B",
    "backslash": "Back\\slash",
    "star": "Star*Car",
    "comma": "Comma,Car",
    "parens": "Paren(Car)",
    "quote": "Quote'Car",
    "dquote": 'Dbl"Car',
    "dot": "Dot.Car",
    "operator": "eq.Car",
    "plain": "Plain",
}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("%", {"percent"}),
        ("0%", {"percent"}),
        ("%%", set()),
        ("_", {"underscore"}),
        ("a_b", {"underscore"}),
        ("\\", {"backslash"}),
        ("\\s", {"backslash"}),
        ("*", {"star"}),
        ("r*c", {"star"}),
        (",", {"comma"}),
        ("(", {"parens"}),
        (")", {"parens"}),
        ("(car)", {"parens"}),
        ("'", {"quote"}),
        ('"', {"dquote"}),
        (".", {"dot", "operator"}),
        ("lain", {"plain"}),
        ("eq.", {"operator"}),
        ("eq.car", {"operator"}),
        ("like.*", set()),
    ],
)
def test_q_is_matched_literally(db: Db, owner: User, client: Rest, q: str, expected: set[str]) -> None:
    make = token()
    made = {name: create_vehicle(db, owner, make=make, model=model) for name, model in SPECIAL_MODELS.items()}
    wanted = {str(made[name]["id"]) for name in expected}
    # POST /rpc passes any value as an argument.
    assert set(ids(rows(client.rpc("list_vehicles", {"p_make": make, "p_q": q})))) == wanted
    get = client.rpc("list_vehicles", {"p_make": make, "p_q": q}, get=True)
    if q.split(".", 1)[0] in {"eq", "like"}:
        # PostgREST 12 reads a GET argument that looks like `operator.value` as a filter on the
        # result, not as the argument: callers must send such a q with POST.
        assert_error(get, 400, "42703")
    else:
        assert set(ids(rows(get))) == wanted


# -- sorting and keyset pages ---------------------------------------------------------------------


def sortable_fleet(db: Db, owner: User, connect: Callable[[], Db], make: str) -> None:
    """Nine vehicles with ties on every sort key (three share one created_at)."""
    specs = [
        ("A", 2010, 100),
        ("B", 2010, 100),
        ("A", 2015, 300),
        ("C", 2020, 200),
        ("B", 2015, 200),
        ("A", 2020, 100),
    ]
    for suffix, year, odometer in specs:
        create_vehicle(db, owner, make=make + suffix, model="Sort", model_year=year, odometer_km=odometer)
    conn = connect()
    with conn.transaction():  # one transaction: identical created_at
        for suffix, year, odometer in (("C", 2010, 300), ("B", 2020, 300), ("C", 2015, 100)):
            create_vehicle(
                conn, owner, make=make + suffix, model="Sort", model_year=year, odometer_km=odometer
            )


@pytest.mark.parametrize("sort", SORTS)
def test_every_sort_key_and_keyset_paging(
    db: Db, owner: User, client: Rest, connect: Callable[[], Db], sort: str
) -> None:
    make = token()
    sortable_fleet(db, owner, connect, make)
    everything = list_vehicles(client, q=make, sort=sort, limit=100)
    assert len(everything) == 9
    assert ids(everything) == expected_order(everything, sort)

    column = sort.lstrip("-")
    pages: list[list[dict[str, Any]]] = []
    after: dict[str, Any] = {}
    while True:
        page = list_vehicles(client, q=make, sort=sort, limit=2, **after)
        if not page:
            break
        pages.append(page)
        last = page[-1]
        after = {"after": str(last[column]), "after_id": last["id"]}
    assert [len(page) for page in pages] == [2, 2, 2, 2, 1]
    assert [row["id"] for page in pages for row in page] == ids(everything)


def test_default_sort_is_newest_first(db: Db, owner: User, client: Rest) -> None:
    make = token()
    made = [create_vehicle(db, owner, make=make) for _ in range(3)]
    assert ids(list_vehicles(client, make=make)) == [str(v["id"]) for v in reversed(made)]


@pytest.mark.parametrize(
    ("sort", "appears"),
    [("created_at", True), ("-created_at", False)],
)
def test_rows_inserted_between_pages_appear_only_after_the_cursor(
    db: Db, owner: User, client: Rest, sort: str, appears: bool
) -> None:
    make = token()
    made = [create_vehicle(db, owner, make=make) for _ in range(4)]
    first = list_vehicles(client, make=make, sort=sort, limit=2)
    late = create_vehicle(db, owner, make=make)
    cursor = {"after": first[-1]["created_at"], "after_id": first[-1]["id"]}
    rest_of_pages = ids(list_vehicles(client, make=make, sort=sort, limit=100, **cursor))
    assert (str(late["id"]) in rest_of_pages) is appears
    seen = ids(first) + rest_of_pages
    assert len(seen) == len(set(seen))
    assert {str(v["id"]) for v in made} <= set(seen)


def test_rows_inserted_between_pages_by_odometer(db: Db, owner: User, client: Rest) -> None:
    make = token()
    for odometer in (100, 200, 300, 400):
        create_vehicle(db, owner, make=make, odometer_km=odometer)
    first = list_vehicles(client, make=make, sort="odometer_km", limit=2)  # 100, 200
    before_cursor = create_vehicle(db, owner, make=make, odometer_km=150)
    after_cursor = create_vehicle(db, owner, make=make, odometer_km=250)
    following = list_vehicles(
        client,
        make=make,
        sort="odometer_km",
        limit=100,
        after=first[-1]["odometer_km"],
        after_id=first[-1]["id"],
    )
    assert [row["odometer_km"] for row in following] == [250, 300, 400]
    assert str(before_cursor["id"]) not in ids(following)
    assert str(after_cursor["id"]) in ids(following)


@pytest.mark.parametrize(
    "args",
    [
        {"sort": "vin"},
        {"sort": "Make"},
        {"sort": "make-"},
        {"sort": " make"},
        {"sort": "make;select 1"},
        {"sort": "id"},
        {"sort": ""},
        {"limit": 0},
        {"limit": 1001},
        {"after": "2020"},
        {"after_id": str(uuid.uuid4())},
        {"sort": "model_year", "after": "not a year", "after_id": str(uuid.uuid4())},
    ],
)
def test_invalid_arguments_raise(client: Rest, args: dict[str, Any]) -> None:
    response = client.rpc("list_vehicles", {f"p_{k}": v for k, v in args.items()}, get=True)
    body = assert_error(response, 400)
    assert body["code"] in {"22023", "22P02"}


@pytest.mark.parametrize("sort", ["--make", "---created_at"])
def test_repeated_minus_is_an_invalid_sort(client: Rest, sort: str) -> None:
    assert_error(client.rpc("list_vehicles", {"p_sort": sort}, get=True), 400, "22023")


# -- who sees what ----------------------------------------------------------------------------------


def test_members_see_only_their_own_even_with_another_owner_id(
    db: Db, make_user: Callable[..., User], rest: Callable[[User | str], Rest]
) -> None:
    make = token()
    member, other, manager = make_user("member"), make_user("member"), make_user("manager")
    mine = create_vehicle(db, member, make=make)
    theirs = create_vehicle(db, other, make=make)
    assert ids(list_vehicles(rest(member), make=make)) == [str(mine["id"])]
    assert list_vehicles(rest(member), make=make, owner_id=other.id) == []
    assert ids(list_vehicles(rest(member), make=make, owner_id=member.id)) == [str(mine["id"])]
    assert ids(list_vehicles(rest(other), make=make)) == [str(theirs["id"])]
    for privileged in (rest(manager), rest(make_user("admin")), rest("service")):
        assert set(ids(list_vehicles(privileged, make=make))) == {str(mine["id"]), str(theirs["id"])}
        assert ids(list_vehicles(privileged, make=make, owner_id=other.id)) == [str(theirs["id"])]


def test_anon_cannot_call_the_list_functions(rest: Callable[[User | str], Rest]) -> None:
    anon = rest("anon")
    for function, args in (
        ("list_vehicles", {}),
        ("list_maintenance", {"p_vehicle_id": str(uuid.uuid4())}),
        ("list_users", {}),
        ("list_audit", {}),
    ):
        assert_error(anon.rpc(function, args, get=True), 401, "42501")


def test_list_functions_are_read_only_gets(db: Db, owner: User, client: Rest) -> None:
    make = token()
    create_vehicle(db, owner, make=make)
    response = client.request("GET", "rpc/list_vehicles", params={"p_make": make})
    assert len(rows(response)) == 1
    volatile = fetch_one(
        db,
        "select string_agg(proname, ',') as names from pg_proc p"
        " join pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname = 'public' and proname like 'list\\_%%' and provolatile = 'v'",
    )
    assert volatile == {"names": None}


# -- list_maintenance -----------------------------------------------------------------------------


def test_list_maintenance_newest_first_with_paging(
    db: Db, owner: User, client: Rest, make_user: Callable[..., User], rest: Callable[[User | str], Rest]
) -> None:
    vehicle = create_vehicle(db, owner)
    dates = ["2026-01-05", "2026-03-01", "2025-12-31", "2026-03-01", "2026-02-14"]
    made = [create_record(db, vehicle, owner, performed_at=day) for day in dates]
    found = rows(client.rpc("list_maintenance", {"p_vehicle_id": str(vehicle["id"])}, get=True))
    expected = sorted(made, key=lambda r: (r["performed_at"], r["created_at"], str(r["id"])), reverse=True)
    assert ids(found) == [str(r["id"]) for r in expected]
    assert [row["performed_at"] for row in found] == sorted(dates, reverse=True)

    paged: list[str] = []
    after: dict[str, Any] = {}
    while True:
        page = rows(
            client.rpc(
                "list_maintenance", {"p_vehicle_id": str(vehicle["id"]), "p_limit": 2, **after}, get=True
            )
        )
        if not page:
            break
        paged += ids(page)
        last = page[-1]
        after = {
            "p_after_performed_at": last["performed_at"],
            "p_after_created_at": last["created_at"],
            "p_after_id": last["id"],
        }
    assert paged == ids(found)
    assert ids(
        rows(
            rest(make_user("manager")).rpc("list_maintenance", {"p_vehicle_id": str(vehicle["id"])}, get=True)
        )
    ) == ids(found)


def test_list_maintenance_of_an_invisible_vehicle_is_vn404(
    db: Db, owner: User, make_user: Callable[..., User], rest: Callable[[User | str], Rest]
) -> None:
    vehicle = create_vehicle(db, owner)
    create_record(db, vehicle, owner)
    stranger = rest(make_user("member"))
    assert_error(
        stranger.rpc("list_maintenance", {"p_vehicle_id": str(vehicle["id"])}, get=True), 400, "VN404"
    )
    assert_error(
        stranger.rpc("list_maintenance", {"p_vehicle_id": str(uuid.uuid4())}, get=True), 400, "VN404"
    )
    empty = create_vehicle(db, owner)
    assert rows(rest(owner).rpc("list_maintenance", {"p_vehicle_id": str(empty["id"])}, get=True)) == []


# -- list_users and list_audit ----------------------------------------------------------------------


def test_list_users_is_everyone_for_admin_and_only_self_otherwise(
    db: Db, make_user: Callable[..., User], rest: Callable[[User | str], Rest]
) -> None:
    member, manager, admin = make_user("member"), make_user("manager"), make_user("admin")
    for user in (member, manager):
        listed_for_user = rows(rest(user).rpc("list_users", {"p_limit": 1000}, get=True))
        assert [(row["id"], row["email"], row["role"]) for row in listed_for_user] == [
            (user.id, user.email, user.role)
        ]
    # The session's database holds every test's users, maybe more than a page of 1000: the
    # admin's page starts just before these three.
    profile = fetch_one(db, "select created_at from public.profiles where id = %s", (member.id,))
    assert profile is not None
    start = {
        "p_after_created_at": (profile["created_at"] - dt.timedelta(microseconds=1)).isoformat(),
        "p_after_id": str(uuid.UUID(int=0)),
    }
    listed = rows(rest(admin).rpc("list_users", {"p_limit": 1000, **start}, get=True))
    by_id = {row["id"]: row for row in listed}
    for user in (member, manager, admin):
        assert (by_id[user.id]["email"], by_id[user.id]["role"]) == (user.email, user.role)
    keys = [(dt.datetime.fromisoformat(row["created_at"]), row["id"]) for row in listed]
    assert keys == sorted(keys)
    # Keyset: the page after the member starts right after it.
    position = ids(listed).index(member.id)
    after = rows(
        rest(admin).rpc(
            "list_users",
            {"p_limit": 2, "p_after_created_at": listed[position]["created_at"], "p_after_id": member.id},
            get=True,
        )
    )
    assert ids(after) == ids(listed)[position + 1 : position + 3]


def test_list_audit_only_for_admin(
    db: Db, owner: User, client: Rest, make_user: Callable[..., User], rest: Callable[[User | str], Rest]
) -> None:
    body = {"vin": north_american_vin(), "make": "Opel", "model": "Astra", "model_year": 2000}
    vehicle = rows(client.insert("vehicles", body), 201)[0]
    rows(client.update("vehicles", {"color": "teal"}, {"id": f"eq.{vehicle['id']}"}))
    args = {"p_table": "vehicles", "p_record_id": vehicle["id"]}
    for user in (owner, make_user("manager")):
        assert rows(rest(user).rpc("list_audit", args, get=True)) == []
        assert rows(rest(user).rpc("list_audit", {"p_actor_id": owner.id}, get=True)) == []
    entries = rows(rest(make_user("admin")).rpc("list_audit", args, get=True))
    assert [entry["action"] for entry in entries] == ["update", "insert"]
    assert {entry["actor_id"] for entry in entries} == {owner.id}
    by_actor = rows(rest(make_user("admin")).rpc("list_audit", {"p_actor_id": owner.id}, get=True))
    assert ids(by_actor) == ids(entries)
    row = fetch_one(db, "select count(*) as n from public.audit_log where record_id = %s", (vehicle["id"],))
    assert row == {"n": 2}
