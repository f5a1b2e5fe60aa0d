"""Vehicle routes over real HTTP: create, read, update, delete, conditional requests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from tests.api.conftest import Actors
from tests.factories import User, create_record, create_vehicle, european_vin, north_american_vin
from tests.support import ApiClient, assert_problem


def new_vehicle(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "vin": north_american_vin(),
        "make": "Honda",
        "model": "Accord",
        "model_year": 2003,
    }
    body.update(overrides)
    return body


def post(api: ApiClient, user: User, body: dict[str, Any], **headers: str) -> Any:
    return api.post("vehicles", json=body, headers={**user.headers, **headers})


# -- create ----------------------------------------------------------------


def test_create_returns_201_with_location_and_etag(api: ApiClient, actors: Actors) -> None:
    body = new_vehicle(plate=" abc-1234 ", color="silver", odometer_km=120500)
    body["vin"] = "  " + body["vin"].lower() + " "
    response = post(api, actors.member, body)
    assert response.status_code == 201, response.text
    vehicle = response.json()
    assert list(vehicle) == [
        "id", "vin", "make", "model", "model_year", "plate", "color", "odometer_km",
        "status", "owner_id", "version", "created_at", "updated_at",
    ]  # fmt: skip
    assert vehicle["vin"] == body["vin"].strip().upper()
    assert vehicle["plate"] == "ABC-1234"
    assert vehicle["owner_id"] == actors.member.id
    assert vehicle["status"] == "active"
    assert vehicle["version"] == 1
    assert vehicle["created_at"].endswith("Z")
    assert response.headers["Location"] == f"/api/vehicles/{vehicle['id']}"
    assert response.headers["ETag"] == '"v1"'
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_the_honda_example_vin_is_accepted(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    db.execute("delete from public.vehicles where vin = '1HGCM82633A004352'")
    response = post(api, actors.member, new_vehicle(vin="1HGCM82633A004352"))
    assert response.status_code == 201, response.text


def test_european_vin_needs_no_check_digit(api: ApiClient, actors: Actors) -> None:
    assert post(api, actors.member, new_vehicle(vin=european_vin())).status_code == 201


@pytest.mark.parametrize(
    ("vin", "code"),
    [
        ("1HGCM82633A00435", "vin_format"),
        ("1HGCM82633A0043521", "vin_format"),
        ("1HGCM8263IA004352", "vin_format"),
        ("1HGCM82633A004353", "vin_check_digit"),
        (12345678901234567, "type"),
    ],
)
def test_invalid_vins(api: ApiClient, actors: Actors, vin: object, code: str) -> None:
    body = assert_problem(post(api, actors.member, new_vehicle(vin=vin)), 422, "validation_error")
    assert body["errors"] == [{"field": "vin", "code": code, "message": body["errors"][0]["message"]}]


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("make", "", "too_short"),
        ("make", "   ", "too_short"),
        ("make", "x" * 65, "too_long"),
        ("make", "Hon\nda", "control_characters"),
        ("model", "Acc\x7ford", "control_characters"),
        ("model_year", 1980, "model_year_range"),
        ("model_year", datetime.now(UTC).year + 3, "model_year_range"),
        ("model_year", "2003", "type"),
        ("model_year", 2003.5, "type"),
        ("model_year", True, "type"),
        ("plate", "ABC_123", "plate_format"),
        ("plate", "A" * 17, "plate_format"),
        ("color", "", "too_short"),
        ("color", "c" * 33, "too_long"),
        ("odometer_km", -1, "too_small"),
        ("odometer_km", 2_000_001, "too_large"),
        ("odometer_km", "100", "type"),
        ("status", "sold", "not_allowed"),
        ("make", None, "type"),
        ("extra", 1, "unknown_field"),
    ],
)
def test_field_rules(api: ApiClient, actors: Actors, field: str, value: object, code: str) -> None:
    body = assert_problem(post(api, actors.member, new_vehicle(**{field: value})), 422, "validation_error")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, code)]


@pytest.mark.parametrize(("field", "default"), [("odometer_km", 0), ("status", "active")])
def test_null_for_an_optional_field_with_a_default_stores_the_default(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any], field: str, default: object
) -> None:
    response = post(api, actors.member, new_vehicle(**{field: None}))
    assert response.status_code == 201, response.text
    assert response.json()[field] == default
    stored = db.execute(
        "select odometer_km, status from public.vehicles where id = %s", (response.json()["id"],)
    ).fetchone()
    assert stored == (0, "active")


def test_null_for_optional_fields_without_defaults_stores_null(api: ApiClient, actors: Actors) -> None:
    response = post(api, actors.member, new_vehicle(plate=None, color=None))
    assert response.status_code == 201, response.text
    assert (response.json()["plate"], response.json()["color"]) == (None, None)


def test_patch_null_for_those_fields_stays_refused(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    url = f"vehicles/{create_vehicle(db, actors.member)['id']}"
    for field in ("odometer_km", "status"):
        body = assert_problem(
            api.patch(url, json={field: None}, headers=actors.member.headers), 422, "validation_error"
        )
        assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, "null_not_allowed")]


def test_model_year_bounds_are_inclusive(api: ApiClient, actors: Actors) -> None:
    for year in (1981, datetime.now(UTC).year + 2):
        assert post(api, actors.member, new_vehicle(model_year=year)).status_code == 201


def test_missing_fields_each_reported(api: ApiClient, actors: Actors) -> None:
    body = assert_problem(post(api, actors.member, {}), 422, "validation_error")
    assert {e["field"] for e in body["errors"]} == {"vin", "make", "model", "model_year"}
    assert body["detail"] == "4 fields are invalid"


def test_duplicate_vin_is_409(api: ApiClient, actors: Actors) -> None:
    body = new_vehicle()
    assert post(api, actors.member, body).status_code == 201
    problem = assert_problem(post(api, actors.other, body), 409, "duplicate_vin")
    assert "Key (vin)" not in str(problem)


def test_member_cannot_set_owner_even_their_own(api: ApiClient, actors: Actors) -> None:
    for owner in (actors.member.id, actors.other.id):
        assert_problem(post(api, actors.member, new_vehicle(owner_id=owner)), 403, "forbidden")


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_manager_and_admin_create_for_someone_else(api: ApiClient, actors: Actors, role: str) -> None:
    creator = getattr(actors, role)
    response = post(api, creator, new_vehicle(owner_id=actors.member.id))
    assert response.status_code == 201
    assert response.json()["owner_id"] == actors.member.id


def test_unknown_owner_is_422(api: ApiClient, actors: Actors) -> None:
    body = assert_problem(
        post(api, actors.manager, new_vehicle(owner_id=str(uuid.uuid4()))), 422, "validation_error"
    )
    assert body["errors"][0]["field"] == "owner_id"


def test_anonymous_create_is_401(api: ApiClient) -> None:
    response = api.post("vehicles", json=new_vehicle())
    assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# -- read ------------------------------------------------------------------


def test_get_with_etag_and_304(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    vehicle = create_vehicle(db, actors.member)
    response = api.get(f"vehicles/{vehicle['id']}", headers=actors.member.headers)
    assert response.status_code == 200
    assert response.json()["vin"] == vehicle["vin"]
    etag = response.headers["ETag"]
    again = api.get(f"vehicles/{vehicle['id']}", headers={**actors.member.headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "private, no-cache"
    assert again.headers["Vary"] == "Authorization, Cookie, Origin"
    weak = api.get(
        f"vehicles/{vehicle['id']}", headers={**actors.member.headers, "If-None-Match": f"W/{etag}"}
    )
    assert weak.status_code == 304


def test_invisible_and_missing_look_the_same(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    vehicle = create_vehicle(db, actors.member)
    hidden = api.get(f"vehicles/{vehicle['id']}", headers=actors.other.headers)
    missing = api.get(f"vehicles/{uuid.uuid4()}", headers=actors.other.headers)
    a, b = assert_problem(hidden, 404, "not_found"), assert_problem(missing, 404, "not_found")
    for body in (a, b):
        body.pop("request_id")
        body.pop("instance")
    assert a == b
    # Authorisation comes before preconditions: never a 304 for an invisible vehicle.
    etag_probe = api.get(
        f"vehicles/{vehicle['id']}", headers={**actors.other.headers, "If-None-Match": '"v1"'}
    )
    assert etag_probe.status_code == 404


def test_the_id_repeated_in_the_query_is_dropped_only_when_it_is_the_path_id(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    vehicle_id = create_vehicle(db, actors.member)["id"]
    url = f"vehicles/{vehicle_id}"
    # As Vercel hands the function a dynamic route: the segment repeated in the query.
    assert api.get(url, params={"id": vehicle_id}, headers=actors.member.headers).status_code == 200
    for params in ({"id": "foo"}, {"id": str(uuid.uuid4())}, {"id": vehicle_id.upper()}, {"id": ""}):
        response = api.get(url, params=params, headers=actors.member.headers)
        body = assert_problem(response, 400, "invalid_query")
        assert body["detail"] == "Unknown query parameters: id"
    both = api.get(f"{url}?id={vehicle_id}&id=foo", headers=actors.member.headers)
    assert_problem(both, 400, "invalid_query")
    patch = api.patch(url, params={"id": "foo"}, json={"color": "red"}, headers=actors.member.headers)
    assert_problem(patch, 400, "invalid_query")
    assert api.get(url, headers=actors.member.headers).json()["color"] == "silver"


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "..%2F..%2Fetc", "%00"])
def test_non_uuid_id_is_404(api: ApiClient, actors: Actors, bad_id: str) -> None:
    assert_problem(api.get(f"vehicles/{bad_id}", headers=actors.member.headers), 404, "not_found")


def test_manager_and_admin_read_any(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    vehicle = create_vehicle(db, actors.member)
    for reader in (actors.manager, actors.admin):
        assert api.get(f"vehicles/{vehicle['id']}", headers=reader.headers).status_code == 200


# -- update ----------------------------------------------------------------


def test_patch_changes_and_bumps_version(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    vehicle = create_vehicle(db, actors.member, odometer_km=1000)
    response = api.patch(
        f"vehicles/{vehicle['id']}", json={"odometer_km": 1500, "color": None}, headers=actors.member.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["odometer_km"] == 1500
    assert response.json()["color"] is None
    assert response.json()["version"] == 2
    assert response.headers["ETag"] == '"v2"'


def test_patch_with_stale_if_match_is_412_and_changes_nothing(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    vehicle = create_vehicle(db, actors.member)
    url = f"vehicles/{vehicle['id']}"
    ok = api.patch(url, json={"color": "red"}, headers={**actors.member.headers, "If-Match": '"v1"'})
    assert ok.status_code == 200
    stale = api.patch(url, json={"color": "blue"}, headers={**actors.member.headers, "If-Match": '"v1"'})
    assert_problem(stale, 412, "precondition_failed")
    current = api.get(url, headers=actors.member.headers).json()
    assert current["color"] == "red"
    assert current["version"] == 2
    garbage = api.patch(url, json={"color": "blue"}, headers={**actors.member.headers, "If-Match": '"abc"'})
    assert_problem(garbage, 412, "precondition_failed")


# Tags no vehicle can ever carry: versions beyond the `integer` column, 0, weak, foreign, unquoted.
NEVER_MATCHING = ['"v9999999999"', '"v2147483648"', '"v0"', 'W/"v1"', '"abc"', "v1", '"v9999999999", W/"v1"']


@pytest.mark.parametrize("tag", NEVER_MATCHING)
def test_if_match_that_can_never_match_is_412_after_lookup_and_authorisation(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any], tag: str
) -> None:
    vehicle = create_vehicle(db, actors.member)
    url = f"vehicles/{vehicle['id']}"
    member = {**actors.member.headers, "If-Match": tag}
    assert_problem(api.patch(url, json={"color": "red"}, headers=member), 412, "precondition_failed")
    assert_problem(api.delete(url, headers=member), 412, "precondition_failed")
    # Lookup and authorisation come first (docs/api.md §1.5).
    assert_problem(api.delete(f"vehicles/{uuid.uuid4()}", headers=member), 404, "not_found")
    other = {**actors.other.headers, "If-Match": tag}
    assert_problem(api.patch(url, json={"color": "red"}, headers=other), 404, "not_found")
    manager = {**actors.manager.headers, "If-Match": tag}
    assert_problem(api.delete(url, headers=manager), 403, "forbidden")
    current = api.get(url, headers=actors.member.headers).json()
    assert (current["color"], current["version"]) == (vehicle["color"], 1)


def test_if_match_holds_when_any_listed_tag_matches(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    vehicle = create_vehicle(db, actors.member)
    url = f"vehicles/{vehicle['id']}"

    def patch(color: str, if_match: str) -> Any:
        return api.patch(url, json={"color": color}, headers={**actors.member.headers, "If-Match": if_match})

    first = patch("red", '"v0", "v1"')
    assert (first.status_code, first.headers["ETag"]) == (200, '"v2"'), first.text
    second = patch("blue", '"xyz", W/"v2", "v9999999999", "v2"')
    assert (second.status_code, second.headers["ETag"]) == (200, '"v3"'), second.text
    # Every listed tag stale (or weak): nothing changes.
    assert_problem(patch("green", '"v1", "v2", W/"v3"'), 412, "precondition_failed")
    assert_problem(patch("green", 'W/"v3"'), 412, "precondition_failed")
    current = api.get(url, headers=actors.member.headers).json()
    assert (current["color"], current["version"]) == ("blue", 3)
    # `*` matches whatever version there is.
    starred = patch("green", "*")
    assert (starred.status_code, starred.json()["version"]) == (200, 4)
    stale_delete = api.delete(url, headers={**actors.member.headers, "If-Match": '"v1", "v2", "v3"'})
    assert_problem(stale_delete, 412, "precondition_failed")
    deleted = api.delete(url, headers={**actors.member.headers, "If-Match": '"v2147483648", "v3", "v4"'})
    assert deleted.status_code == 204
    gone = api.delete(url, headers={**actors.member.headers, "If-Match": "*"})
    assert_problem(gone, 404, "not_found")


def test_an_if_match_list_longer_than_64_tags_is_431_and_changes_nothing(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    vehicle = create_vehicle(db, actors.member)
    tags = ", ".join(f'"v{n}"' for n in range(1, 66))  # v1 matches, but the list is too long
    response = api.patch(
        f"vehicles/{vehicle['id']}",
        json={"color": "red"},
        headers={**actors.member.headers, "If-Match": tags},
    )
    assert_problem(response, 431, "header_fields_too_large")
    assert api.get(f"vehicles/{vehicle['id']}", headers=actors.member.headers).json()["version"] == 1


def test_odometer_never_decreases(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    vehicle = create_vehicle(db, actors.member, odometer_km=5000)
    response = api.patch(
        f"vehicles/{vehicle['id']}", json={"odometer_km": 4999}, headers=actors.member.headers
    )
    body = assert_problem(response, 422, "odometer_rollback")
    assert body["errors"][0]["field"] == "odometer_km"


def test_patch_needs_a_field_and_rejects_vin_and_nulls(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    url = f"vehicles/{create_vehicle(db, actors.member)['id']}"
    assert_problem(api.patch(url, json={}, headers=actors.member.headers), 422, "validation_error")
    vin = assert_problem(
        api.patch(url, json={"vin": north_american_vin()}, headers=actors.member.headers),
        422,
        "validation_error",
    )
    assert vin["errors"][0]["code"] == "unknown_field"
    null = assert_problem(
        api.patch(url, json={"make": None}, headers=actors.member.headers), 422, "validation_error"
    )
    assert null["errors"][0] == {
        "field": "make",
        "code": "null_not_allowed",
        "message": "May be omitted but not null",
    }


def test_only_admin_changes_owner(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    url = f"vehicles/{create_vehicle(db, actors.member)['id']}"
    for user in (actors.member, actors.manager):
        assert_problem(
            api.patch(url, json={"owner_id": actors.other.id}, headers=user.headers), 403, "forbidden"
        )
    moved = api.patch(url, json={"owner_id": actors.other.id}, headers=actors.admin.headers)
    assert moved.status_code == 200
    assert moved.json()["owner_id"] == actors.other.id


def test_patch_of_someone_elses_vehicle(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    url = f"vehicles/{create_vehicle(db, actors.member)['id']}"
    assert_problem(api.patch(url, json={"color": "red"}, headers=actors.other.headers), 404, "not_found")
    assert api.patch(url, json={"color": "red"}, headers=actors.manager.headers).status_code == 200


# -- delete ----------------------------------------------------------------


def test_delete_removes_vehicle_and_records(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    vehicle = create_vehicle(db, actors.member)
    create_record(db, vehicle, actors.member)
    response = api.delete(f"vehicles/{vehicle['id']}", headers=actors.member.headers)
    assert response.status_code == 204
    assert response.content == b""
    count = db.execute(
        "select count(*) from public.maintenance_records where vehicle_id = %s", (vehicle["id"],)
    )
    assert count.fetchone() == (0,)
    assert api.get(f"vehicles/{vehicle['id']}", headers=actors.member.headers).status_code == 404


def test_manager_deletes_only_own(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    theirs = create_vehicle(db, actors.member)
    own = create_vehicle(db, actors.manager)
    assert_problem(api.delete(f"vehicles/{theirs['id']}", headers=actors.manager.headers), 403, "forbidden")
    assert api.delete(f"vehicles/{own['id']}", headers=actors.manager.headers).status_code == 204
    assert api.delete(f"vehicles/{theirs['id']}", headers=actors.admin.headers).status_code == 204


def test_delete_with_stale_if_match(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    vehicle = create_vehicle(db, actors.member)
    url = f"vehicles/{vehicle['id']}"
    assert_problem(
        api.delete(url, headers={**actors.member.headers, "If-Match": '"v7"'}), 412, "precondition_failed"
    )
    assert api.get(url, headers=actors.member.headers).status_code == 200
    assert api.delete(url, headers={**actors.member.headers, "If-Match": '"v1"'}).status_code == 204


def test_member_cannot_delete_others(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    vehicle = create_vehicle(db, actors.member)
    assert_problem(api.delete(f"vehicles/{vehicle['id']}", headers=actors.other.headers), 404, "not_found")


def test_create_past_the_quota_is_403_quota_exceeded(
    api: ApiClient, db: psycopg.Connection[Any], actors: Actors
) -> None:
    # The quota lives in the database (it binds direct /rest/v1 callers too); lower it for this test.
    (saved,) = db.execute("select max_rows from private.quotas where name = 'vehicles'").fetchone() or (0,)
    db.execute("update private.quotas set max_rows = 1 where name = 'vehicles'")
    try:
        assert post(api, actors.member, new_vehicle()).status_code == 201
        refused = post(api, actors.member, new_vehicle())
        assert_problem(refused, 403, "quota_exceeded")
        assert "VQ403" not in refused.text
    finally:
        db.execute("update private.quotas set max_rows = %s where name = 'vehicles'", (saved,))
