"""What a direct caller of /rest/v1 can do to vehicles and maintenance records (issue #13, 3-5).

The publishable key is public: anyone who signs up can write through PostgREST with their own
token, skipping the API. Each rule the API enforces must therefore hold in the database:

3. maintenance history is append-only except for admins (deleting a vehicle still deletes its
   records, whoever may delete the vehicle);
4. ids are the database's: an insert never chooses one, an update never changes one (nor a
   record's vehicle_id or created_by);
5. text fields follow the API's text rule (lib.contract.validation), with the same strictness.
"""

from __future__ import annotations

import unicodedata
import uuid
from typing import Any

import pytest

from lib.contract.validation import FORBIDDEN_CLASS, TRIMMED_CLASS, text_ok
from tests.db.conftest import Actors, Db, fetch_all, fetch_one
from tests.db.rest import Rest, assert_error, rows
from tests.factories import User, create_record, create_vehicle, north_american_vin


def record_row(db: Db, record_id: Any) -> dict[str, Any] | None:
    return fetch_one(db, "select * from public.maintenance_records where id = %s", (record_id,))


def vehicle_row(db: Db, vehicle_id: Any) -> dict[str, Any] | None:
    return fetch_one(db, "select * from public.vehicles where id = %s", (vehicle_id,))


def records_of(db: Db, vehicle: dict[str, Any]) -> list[dict[str, Any]]:
    return fetch_all(db, "select * from public.maintenance_records where vehicle_id = %s", (vehicle["id"],))


def vehicle_body(**fields: Any) -> dict[str, Any]:
    return {"vin": north_american_vin(), "make": "Subaru", "model": "Outback", "model_year": 2022, **fields}


def record_body(vehicle: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "vehicle_id": str(vehicle["id"]),
        "performed_at": "2026-01-10",
        "odometer_km": 10,
        "kind": "service",
        **fields,
    }


# -- 3. maintenance history is append-only except for admins ---------------------------------------

# (actor, owner of the vehicle): every non-admin who could write the record before this rule.
NOT_ADMINS = [("owner", "owner"), ("manager", "owner"), ("manager", "manager")]


@pytest.mark.parametrize(("actor", "owner"), NOT_ADMINS)
def test_only_admins_update_maintenance_records(db: Db, actors: Actors, actor: str, owner: str) -> None:
    vehicle = create_vehicle(db, getattr(actors, owner), odometer_km=1000)
    record = create_record(db, vehicle, getattr(actors, owner), odometer_km=900)
    client = actors.client(getattr(actors, actor))
    for change in ({"description": "rewritten"}, {"odometer_km": 1}, {"cost_cents": 0}, {"kind": "other"}):
        assert rows(client.update("maintenance_records", change, {"id": f"eq.{record['id']}"})) == []
    # Raising a record's odometer would also have raised the vehicle's: neither happens.
    assert (
        rows(client.update("maintenance_records", {"odometer_km": 5000}, {"id": f"eq.{record['id']}"})) == []
    )
    assert record_row(db, record["id"]) == record
    assert vehicle_row(db, vehicle["id"]) == vehicle


@pytest.mark.parametrize(("actor", "owner"), NOT_ADMINS)
def test_only_admins_delete_maintenance_records(db: Db, actors: Actors, actor: str, owner: str) -> None:
    vehicle = create_vehicle(db, getattr(actors, owner))
    record = create_record(db, vehicle, getattr(actors, owner))
    client = actors.client(getattr(actors, actor))
    assert rows(client.delete("maintenance_records", {"id": f"eq.{record['id']}"})) == []
    assert rows(client.delete("maintenance_records", {"vehicle_id": f"eq.{vehicle['id']}"})) == []
    assert record_row(db, record["id"]) == record


@pytest.mark.parametrize("actor", ["admin", "service"])
def test_admins_and_the_service_role_still_correct_and_delete_records(
    db: Db, actors: Actors, actor: str
) -> None:
    vehicle = create_vehicle(db, actors.owner)
    record = create_record(db, vehicle, actors.owner)
    client = actors.client(actors.admin if actor == "admin" else "service")
    updated = rows(
        client.update("maintenance_records", {"description": "Corrected"}, {"id": f"eq.{record['id']}"})
    )
    assert [row["description"] for row in updated] == ["Corrected"]
    assert len(rows(client.delete("maintenance_records", {"id": f"eq.{record['id']}"}))) == 1
    assert record_row(db, record["id"]) is None


# Whoever may delete the vehicle: its owner (member or manager) or an admin. Its records, by the
# owner and by a manager, go with it (the foreign key's cascade, which row level security and the
# append-only rule must not block).
CASCADES = [("owner", "owner"), ("manager", "manager"), ("admin", "owner")]


@pytest.mark.parametrize(("actor", "owner"), CASCADES)
def test_deleting_a_vehicle_still_deletes_its_records(db: Db, actors: Actors, actor: str, owner: str) -> None:
    vehicle = create_vehicle(db, getattr(actors, owner))
    kept_vehicle = create_vehicle(db, getattr(actors, owner))
    create_record(db, vehicle, getattr(actors, owner))
    create_record(db, vehicle, actors.manager)
    create_record(db, vehicle, actors.admin)
    kept = create_record(db, kept_vehicle, getattr(actors, owner))
    deleted = rows(actors.client(getattr(actors, actor)).delete("vehicles", {"id": f"eq.{vehicle['id']}"}))
    assert [row["id"] for row in deleted] == [vehicle["id"]]
    assert vehicle_row(db, vehicle["id"]) is None
    assert records_of(db, vehicle) == []
    assert record_row(db, kept["id"]) == kept
    # The audit log names the caller for the cascaded deletes too.
    audited = fetch_all(
        db,
        "select actor_id::text from public.audit_log where table_name = 'maintenance_records'"
        " and action = 'delete' and changes -> 'vehicle_id' ->> 'old' = %s",
        (vehicle["id"],),
    )
    assert [row["actor_id"] for row in audited] == [getattr(actors, actor).id] * 3


# -- 4. ids are the database's ---------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["owner", "manager", "admin"])
def test_an_insert_cannot_choose_a_vehicle_id(db: Db, actors: Actors, actor: str) -> None:
    chosen = str(uuid.uuid4())
    body = vehicle_body(id=chosen)
    assert_error(actors.client(getattr(actors, actor)).insert("vehicles", body), 403, "42501")
    assert vehicle_row(db, chosen) is None
    assert fetch_one(db, "select 1 from public.vehicles where vin = %s", (body["vin"],)) is None


@pytest.mark.parametrize("actor", ["owner", "manager", "admin"])
def test_an_insert_cannot_choose_a_record_id(db: Db, actors: Actors, actor: str) -> None:
    user = getattr(actors, actor)
    vehicle = create_vehicle(db, user)
    chosen = str(uuid.uuid4())
    response = actors.client(user).insert("maintenance_records", record_body(vehicle, id=chosen))
    assert_error(response, 403, "42501")
    assert record_row(db, chosen) is None
    assert records_of(db, vehicle) == []


def test_an_upsert_cannot_reach_a_row_by_choosing_its_id(db: Db, actors: Actors) -> None:
    vehicle = create_vehicle(db, actors.owner)
    body = vehicle_body(id=vehicle["id"], vin=vehicle["vin"], make="Changed")
    response = actors.client(actors.owner).insert(
        "vehicles", body, headers={"Prefer": "return=representation,resolution=merge-duplicates"}
    )
    assert_error(response, 403, "42501")
    assert vehicle_row(db, vehicle["id"]) == vehicle


def test_without_an_id_inserts_still_work(db: Db, actors: Actors) -> None:
    created = rows(actors.client(actors.owner).insert("vehicles", vehicle_body()), 201)[0]
    assert uuid.UUID(created["id"])
    record = rows(actors.client(actors.owner).insert("maintenance_records", record_body(created)), 201)[0]
    assert uuid.UUID(record["id"])


def test_the_apis_create_functions_still_work_and_ignore_an_id(db: Db, actors: Actors) -> None:
    chosen = str(uuid.uuid4())
    client = actors.client(actors.owner)
    response = client.rpc("create_vehicle", {"p_vehicle": vehicle_body(id=chosen)})
    assert response.status_code == 200, response.text
    vehicle = response.json()["resource"]
    assert vehicle["id"] != chosen
    assert vehicle_row(db, chosen) is None
    response = client.rpc(
        "create_maintenance_record",
        {"p_vehicle_id": vehicle["id"], "p_record": record_body(vehicle, id=chosen)},
    )
    assert response.status_code == 200, response.text
    assert response.json()["resource"]["id"] != chosen
    assert len(records_of(db, vehicle)) == 1


def test_only_the_id_is_kept_from_direct_inserts(db: Db) -> None:
    # PostgREST inserts exactly the columns a body names: every other column stays insertable.
    columns = fetch_all(
        db,
        "select c.table_name, c.column_name,"
        " has_column_privilege('authenticated', format('public.%%I', c.table_name), c.column_name, 'INSERT')"
        "   as insertable"
        " from information_schema.columns c"
        " where c.table_schema = 'public' and c.table_name in ('vehicles', 'maintenance_records')",
    )
    refused = {(row["table_name"], row["column_name"]) for row in columns if not row["insertable"]}
    assert refused == {("vehicles", "id"), ("maintenance_records", "id")}
    assert len(columns) > 20


@pytest.mark.parametrize("actor", ["owner", "admin"])
def test_an_update_cannot_change_a_vehicle_id(db: Db, actors: Actors, actor: str) -> None:
    vehicle = create_vehicle(db, actors.owner)
    client = actors.client(getattr(actors, actor))
    response = client.update("vehicles", {"id": str(uuid.uuid4())}, {"id": f"eq.{vehicle['id']}"})
    assert assert_error(response, 400, "VV422")["hint"] == "id_immutable"
    assert vehicle_row(db, vehicle["id"]) == vehicle
    # Writing the same value changes nothing, as for the VIN.
    assert len(rows(client.update("vehicles", {"id": vehicle["id"]}, {"id": f"eq.{vehicle['id']}"}))) == 1


@pytest.mark.parametrize("column", ["id", "vehicle_id", "created_by"])
def test_an_update_cannot_change_a_records_id_vehicle_or_author(db: Db, actors: Actors, column: str) -> None:
    vehicle = create_vehicle(db, actors.owner)
    elsewhere = create_vehicle(db, actors.owner)
    record = create_record(db, vehicle, actors.owner)
    value = {"id": str(uuid.uuid4()), "vehicle_id": elsewhere["id"], "created_by": actors.admin.id}[column]
    response = actors.client(actors.admin).update(
        "maintenance_records", {column: value}, {"id": f"eq.{record['id']}"}
    )
    assert assert_error(response, 400, "VV422")["hint"] == f"{column}_immutable"
    assert record_row(db, record["id"]) == record


# -- 5. the text rule, with the API's strictness ----------------------------------------------------

# Values the API refuses (after trimming what it trims), for every free-text column.
BAD_TEXT = {
    "no-break space only": "\u00a0",
    "ideographic space only": "\u3000",
    "blank": "   ",
    "leading no-break space": "\u00a0Honda",
    "trailing em space": "Honda\u2003",
    "line separator": "Hon\u2028da",
    "paragraph separator": "Honda\u2029",
    "next line (C1 control)": "Hon\x85da",
    "CSI (C1 control)": "Hon\x9bda",
    "right-to-left override": "Hon\u202eda",
    "left-to-right embedding": "\u202aHonda",
    "first strong isolate": "Hon\u2068da",
    "pop directional isolate": "Honda\u2069",
    "zero width space": "Hon\u200bda",
    "zero width joiner": "Hon\u200dda",
    "word joiner": "Hon\u2060da",
    "byte order mark": "\ufeffHonda",
}
BAD_PLATES = {
    "blank": "   ",
    "leading space": " AB-12",
    "trailing space": "AB-12 ",
    "zero width space": "AB\u200b12",
    "no-break space": "AB\u00a012",
}
BAD_CURRENCIES = {
    "zero width space": "US\u200bD",
    "byte order mark": "\ufeffUSD",
    "no-break space": "US\u00a0",
}
VEHICLE_TEXT = [
    (field, label, value) for field in ("make", "model", "color") for label, value in BAD_TEXT.items()
] + [("plate", label, value) for label, value in BAD_PLATES.items()]
RECORD_TEXT = [("description", label, value) for label, value in BAD_TEXT.items()] + [
    ("currency", label, value) for label, value in BAD_CURRENCIES.items()
]


def ids(cases: list[tuple[str, str, str]]) -> list[str]:
    return [f"{field}: {label}" for field, label, _ in cases]


@pytest.mark.parametrize(("field", "label", "value"), VEHICLE_TEXT, ids=ids(VEHICLE_TEXT))
def test_vehicle_text_rule_on_insert(db: Db, client: Rest, field: str, label: str, value: str) -> None:
    body = vehicle_body(**{field: value})
    assert_error(client.insert("vehicles", body), 400, "23514")
    assert fetch_one(db, "select 1 from public.vehicles where vin = %s", (body["vin"],)) is None


@pytest.mark.parametrize(("field", "label", "value"), VEHICLE_TEXT, ids=ids(VEHICLE_TEXT))
def test_vehicle_text_rule_on_update(
    db: Db, owner: User, client: Rest, field: str, label: str, value: str
) -> None:
    vehicle = create_vehicle(db, owner)
    assert_error(client.update("vehicles", {field: value}, {"id": f"eq.{vehicle['id']}"}), 400, "23514")
    assert vehicle_row(db, vehicle["id"]) == vehicle


@pytest.mark.parametrize(("field", "label", "value"), RECORD_TEXT, ids=ids(RECORD_TEXT))
def test_record_text_rule_on_insert_and_update(
    db: Db, actors: Actors, field: str, label: str, value: str
) -> None:
    vehicle = create_vehicle(db, actors.owner)
    response = actors.client(actors.owner).insert(
        "maintenance_records", record_body(vehicle, **{field: value})
    )
    assert_error(response, 400, "23514")
    assert records_of(db, vehicle) == []
    record = create_record(db, vehicle, actors.owner)
    response = actors.client(actors.admin).update(
        "maintenance_records", {field: value}, {"id": f"eq.{record['id']}"}
    )
    assert_error(response, 400, "23514")
    assert record_row(db, record["id"]) == record


GOOD_TEXT = ["Citroën", "Mercedes\u00a0Benz", "Škoda", "日本", "🚗", "M", "A\u2003B"]


@pytest.mark.parametrize("value", GOOD_TEXT)
def test_text_the_api_accepts_is_accepted_directly(db: Db, actors: Actors, value: str) -> None:
    client = actors.client(actors.owner)
    vehicle = rows(client.insert("vehicles", vehicle_body(make=value, model=value, color=value)), 201)[0]
    assert (vehicle["make"], vehicle["model"], vehicle["color"]) == (value, value, value)
    record = rows(client.insert("maintenance_records", record_body(vehicle, description=value)), 201)[0]
    assert record["description"] == value


def code_points_to_compare() -> list[int]:
    """Every code point of the Basic Multilingual Plane, and beyond it every control, format,
    separator or whitespace character, and each plane's first and last: every class the rule names.
    Postgres text holds neither U+0000 nor surrogates, which the API refuses too."""
    beyond = [
        cp
        for cp in range(0x10000, 0x110000)
        if unicodedata.category(chr(cp)) in {"Cc", "Cf", "Zs", "Zl", "Zp"}
        or chr(cp).isspace()
        or cp & 0xFFFF in {0x0000, 0xFFFF}
    ]
    return [cp for cp in range(1, 0x10000) if not 0xD800 <= cp <= 0xDFFF] + beyond


def test_the_database_and_the_api_agree_on_every_class_of_code_point(db: Db) -> None:
    # Each character alone (refused when blank or forbidden) and between two letters (refused when
    # forbidden): what private.text_ok decides, against lib.contract.validation.text_ok.
    compared = code_points_to_compare()
    answers = fetch_all(
        db,
        "select cp, private.text_ok(chr(cp)) as alone, private.text_ok('a' || chr(cp) || 'a') as inside"
        " from unnest(%s::integer[]) as cp",
        (compared,),
    )
    database = {row["cp"]: (row["alone"], row["inside"]) for row in answers}
    python = {cp: (text_ok(chr(cp)), text_ok("a" + chr(cp) + "a")) for cp in compared}
    assert database == python
    assert sum(1 for alone, _ in python.values() if not alone) > 60  # the comparison saw the rule
    assert fetch_all(db, "select private.text_ok('') as ok, private.text_ok(null) as null_ok") == [
        {"ok": False, "null_ok": None}
    ]


def test_the_database_uses_the_apis_character_classes(db: Db) -> None:
    # Generated from the one list in lib.contract.validation: the migration spells each character.
    definition = fetch_one(db, "select pg_get_functiondef('private.text_ok(text)'::regprocedure) as body")
    assert definition is not None
    assert f"!~ '[{FORBIDDEN_CLASS}]'" in definition["body"]
    assert f"~ '^[^{TRIMMED_CLASS}]'" in definition["body"]
    assert f"~ '[^{TRIMMED_CLASS}]$'" in definition["body"]


def test_text_ok_is_an_immutable_pinned_function_for_writers_only(db: Db) -> None:
    function = fetch_one(
        db,
        "select p.provolatile, p.prosecdef, p.proconfig,"
        " has_function_privilege('authenticated', p.oid, 'execute') as authenticated,"
        " has_function_privilege('service_role', p.oid, 'execute') as service_role,"
        " has_function_privilege('anon', p.oid, 'execute') as anon"
        " from pg_proc p where p.oid = 'private.text_ok(text)'::regprocedure",
    )
    assert function == {
        "provolatile": "i",
        "prosecdef": False,
        "proconfig": ['search_path=""'],
        "authenticated": True,
        "service_role": True,
        "anon": False,
    }


TEXT_CONSTRAINTS = {
    "vehicles_make_check",
    "vehicles_model_check",
    "vehicles_plate_format",
    "vehicles_color_check",
    "maintenance_description_text",
}


def test_the_seed_and_every_stored_row_satisfy_the_text_rule(db: Db) -> None:
    constraints = fetch_all(
        db,
        "select conname, convalidated, pg_get_constraintdef(oid) as definition from pg_constraint"
        " where conrelid in ('public.vehicles'::regclass, 'public.maintenance_records'::regclass)"
        " and contype = 'c'",
    )
    uses_text_ok = {row["conname"] for row in constraints if "text_ok" in row["definition"]}
    assert uses_text_ok == TEXT_CONSTRAINTS
    assert all(row["convalidated"] for row in constraints)
    seeded = fetch_one(
        db,
        "select count(*) as n from public.vehicles where owner_id = '00000000-0000-4000-8000-00000000a003'",
    )
    assert seeded is not None
    assert seeded["n"] > 0
