"""lib.resources.admin without a stack."""

from __future__ import annotations

import json

import pytest

from lib.contract.inputs import RoleChange
from lib.contract.queries import AuditQuery, PageQuery
from lib.contract.validation import validate_query
from lib.http.problems import NotFound
from lib.resources import admin
from tests.resources import fakes, rows
from tests.resources.fakes import FakeDatabase


def test_users_page_as_the_admin() -> None:
    page = [rows.user(), rows.user(role="admin")]
    database = FakeDatabase(lambda query: page)
    query = validate_query(PageQuery, {})
    response = admin.list_users(fakes.call(fakes.deps(database), query=query, role="admin"))
    body = json.loads(response.body)
    assert body["data"][1] == {
        "id": page[1]["id"],
        "email": "someone@example.com",
        "role": "admin",
        "created_at": rows.CREATED_UTC,
    }
    assert (database.queries[0].target, database.queries[0].payload) == ("rpc:list_users", {"p_limit": 21})


def test_audit_filters_and_the_table_column_renamed() -> None:
    entries = [rows.audit(9), rows.audit(8)]
    database = FakeDatabase(lambda query: entries)
    query = validate_query(AuditQuery, {"table": "vehicles", "limit": "1"})
    response = admin.list_audit(fakes.call(fakes.deps(database), query=query, role="admin"))
    body = json.loads(response.body)
    assert body["data"][0]["table"] == "vehicles"
    assert "table_name" not in body["data"][0]
    assert body["data"][0]["changes"] == {"odometer_km": [12000, 12500], "price": 12.5}
    assert database.queries[0].payload == {"p_limit": 2, "p_table": "vehicles"}
    query = validate_query(AuditQuery, {"table": "vehicles", "limit": "1", "cursor": body["next_cursor"]})
    admin.list_audit(fakes.call(fakes.deps(database), query=query, role="admin"))
    assert database.queries[1].payload["p_after_id"] == 9


def test_set_role_answers_the_assignment_and_404_for_no_such_user() -> None:
    user_id = "5F0C3A52-8D1E-4B7A-9C61-2E4F7A9B0D13"
    request = fakes.request("PUT", f"/api/admin/users/{user_id}/role", {"id": user_id})
    database = FakeDatabase(lambda query: [{"user_id": user_id.lower(), "role": "manager"}])
    change = RoleChange.model_validate({"role": "manager"})
    response = admin.set_role(fakes.call(fakes.deps(database), change, role="admin", req=request))
    assert json.loads(response.body) == {"id": user_id.lower(), "role": "manager"}
    assert database.queries[0].payload == {"role": "manager"}
    with pytest.raises(NotFound):
        admin.set_role(fakes.call(fakes.deps(FakeDatabase()), change, role="admin", req=request))
