"""GET /api/vehicles: visibility, filters, sorting, keyset cursors, ETags."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from tests.api.conftest import Actors
from tests.factories import User, create_vehicle
from tests.support import ApiClient, assert_problem


def listing(api: ApiClient, user: User, **params: Any) -> Any:
    response = api.get("vehicles", params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def tag() -> str:
    """A make value unique to one test, so other tests' rows never interfere."""
    return "Make" + uuid.uuid4().hex[:10]


def test_members_see_only_their_own(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    make = tag()
    mine = create_vehicle(db, actors.member, make=make)
    create_vehicle(db, actors.other, make=make)
    assert [v["id"] for v in listing(api, actors.member, make=make)["data"]] == [mine["id"]]
    assert len(listing(api, actors.manager, make=make)["data"]) == 2
    assert len(listing(api, actors.admin, make=make)["data"]) == 2


def test_filtering_by_someone_elses_owner_id_is_empty(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    make = tag()
    create_vehicle(db, actors.other, make=make)
    assert listing(api, actors.member, make=make, owner_id=actors.other.id) == {
        "data": [],
        "next_cursor": None,
    }
    assert len(listing(api, actors.manager, make=make, owner_id=actors.other.id)["data"]) == 1


def test_filter_values_that_look_like_postgrest_operators(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    odd = "eq." + uuid.uuid4().hex[:6]
    vehicle = create_vehicle(db, actors.admin, make=odd, model="like.*")
    assert [v["id"] for v in listing(api, actors.admin, make=odd, model="like.*")["data"]] == [vehicle["id"]]


def test_filters(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    make = tag()
    a = create_vehicle(
        db, actors.admin, make=make, model="Civic", model_year=2010, status="active", plate="XY-1"
    )
    b = create_vehicle(db, actors.admin, make=make, model="Accord", model_year=2015, status="retired")
    c = create_vehicle(db, actors.admin, make=make, model="Accord", model_year=2020, status="active")

    def ids(**params: Any) -> set[str]:
        return {v["id"] for v in listing(api, actors.admin, make=make, **params)["data"]}

    assert ids() == {a["id"], b["id"], c["id"]}
    assert {v["id"] for v in listing(api, actors.admin, make=make.upper())["data"]} == ids()
    assert ids(status="retired") == {b["id"]}
    assert ids(model="Accord") == {b["id"], c["id"]}
    assert ids(model="accord") == set()  # the contract makes only `make` case-insensitive
    assert ids(model_year=2015) == {b["id"]}
    assert ids(year_min=2015) == {b["id"], c["id"]}
    assert ids(year_max=2015) == {a["id"], b["id"]}
    assert ids(year_min=2015, year_max=2015) == {b["id"]}
    assert ids(q="xy-") == {a["id"]}
    assert ids(q="ACCO") == {b["id"], c["id"]}
    assert ids(q=c["vin"][5:12].lower()) == {c["id"]}


@pytest.mark.parametrize(
    "needle",
    [
        "%",
        "_",
        "\\",
        "*",
        ",",
        "(",
        ")",
        "'",
        '"',
        ".eq.",
        "or=(",
        "a&b=c",
        "%25",
        "eq.x",
        "like.*",
        "not.is.null",
    ],
)
def test_q_is_matched_literally(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any], needle: str
) -> None:
    make = tag()
    plain = create_vehicle(db, actors.admin, make=make, model="Plain")
    special = create_vehicle(db, actors.admin, make=make, model=f"Odd{needle}Model")
    found = {v["id"] for v in listing(api, actors.admin, make=make, q=needle)["data"]}
    assert special["id"] in found
    assert plain["id"] not in found


@pytest.mark.parametrize(
    "sort",
    [
        "created_at",
        "-created_at",
        "model_year",
        "-model_year",
        "make",
        "-make",
        "odometer_km",
        "-odometer_km",
    ],
)
def test_paging_visits_every_row_once_in_order(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any], sort: str
) -> None:
    model = "Model" + uuid.uuid4().hex[:8]
    created = [
        create_vehicle(
            db, actors.admin, make=f"M{i % 3}", model=model, model_year=2000 + i % 4, odometer_km=i * 7 % 5
        )
        for i in range(11)
    ]
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"model": model, "sort": sort, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = listing(api, actors.admin, **params)
        seen.extend(page["data"])
        assert len(page["data"]) <= 3
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(v["id"] for v in seen) == sorted(v["id"] for v in created)
    key = sort.lstrip("-")
    if key != "created_at":
        values = [(v[key], v["id"]) for v in seen]
        assert values == sorted(values, reverse=sort.startswith("-"))


def test_default_order_is_newest_first(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    make = tag()
    first = create_vehicle(db, actors.admin, make=make)
    second = create_vehicle(db, actors.admin, make=make)
    assert [v["id"] for v in listing(api, actors.admin, make=make)["data"]] == [second["id"], first["id"]]


def test_rows_inserted_while_paging(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    make = tag()
    rows = [create_vehicle(db, actors.admin, make=make, odometer_km=i * 10) for i in range(4)]
    page = listing(api, actors.admin, make=make, sort="odometer_km", limit=2)
    assert [v["odometer_km"] for v in page["data"]] == [0, 10]
    create_vehicle(db, actors.admin, make=make, odometer_km=5)  # sorts before the cursor: never seen
    create_vehicle(db, actors.admin, make=make, odometer_km=25)  # sorts after: appears
    rest = listing(api, actors.admin, make=make, sort="odometer_km", limit=10, cursor=page["next_cursor"])
    assert [v["odometer_km"] for v in rest["data"]] == [20, 25, 30]
    assert len(rows) == 4


def test_tampered_and_transplanted_cursors(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    make = tag()
    for _ in range(3):
        create_vehicle(db, actors.admin, make=make)
    cursor = listing(api, actors.admin, make=make, limit=1)["next_cursor"]
    assert cursor
    payload, _, signature = cursor.partition(".")
    forged = [
        "garbage",
        payload + "." + signature[::-1],
        payload[:-2] + "AA." + signature,
        "." + signature,
        cursor + "x",
    ]
    for bad in forged:
        response = api.get(
            "vehicles", params={"make": make, "limit": 1, "cursor": bad}, headers=actors.admin.headers
        )
        assert_problem(response, 400, "invalid_cursor")
    for other_list in (
        {"make": make, "limit": 1, "sort": "make"},
        {"make": make + "x", "limit": 1},
        {"limit": 1},
    ):
        response = api.get("vehicles", params={**other_list, "cursor": cursor}, headers=actors.admin.headers)
        assert_problem(response, 400, "invalid_cursor")
    other_user = api.get(
        "vehicles", params={"make": make, "limit": 1, "cursor": cursor}, headers=actors.manager.headers
    )
    assert_problem(other_user, 400, "invalid_cursor")


@pytest.mark.parametrize("cursor", ["", "a" * 2049, "a.b" * 700])
def test_empty_and_overlong_cursors_are_invalid_cursors_on_every_list(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any], cursor: str
) -> None:
    vehicle_id = create_vehicle(db, actors.member)["id"]
    for path, user in (
        ("vehicles", actors.member),
        (f"vehicles/{vehicle_id}/maintenance", actors.member),
        ("admin/users", actors.admin),
        ("admin/audit", actors.admin),
    ):
        response = api.get(f"{path}?limit=5&cursor={cursor}", headers=user.headers)
        body = assert_problem(response, 400, "invalid_cursor")
        assert body["detail"] == "The cursor is not valid for this list", path
        assert "errors" not in body
    # Beside another bad parameter it is one of the invalid query parameters.
    both = assert_problem(
        api.get(f"vehicles?limit=0&cursor={cursor}", headers=actors.member.headers), 400, "invalid_query"
    )
    assert {e["field"]: e["code"] for e in both["errors"]} == {
        "limit": "too_small",
        "cursor": "invalid_cursor",
    }


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"limit": "1.5"},
        {"sort": "vin"},
        {"sort": "--make"},
        {"status": "sold"},
        {"model_year": "abc"},
        {"owner_id": "not-a-uuid"},
        {"color": "red"},
        {"select": "*"},
        {"order": "id.desc"},
    ],
)
def test_bad_query_parameters(api: ApiClient, actors: Actors, params: dict[str, str]) -> None:
    assert_problem(api.get("vehicles", params=params, headers=actors.member.headers), 400, "invalid_query")


def test_limit_bounds(api: ApiClient, actors: Actors) -> None:
    for limit in ("1", "100"):
        assert api.get("vehicles", params={"limit": limit}, headers=actors.member.headers).status_code == 200


def test_list_etag_and_304(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    make = tag()
    create_vehicle(db, actors.member, make=make)
    first = api.get("vehicles", params={"make": make}, headers=actors.member.headers)
    etag = first.headers["ETag"]
    again = api.get(
        "vehicles", params={"make": make}, headers={**actors.member.headers, "If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.headers["ETag"] == etag
    create_vehicle(db, actors.member, make=make)
    changed = api.get(
        "vehicles", params={"make": make}, headers={**actors.member.headers, "If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
