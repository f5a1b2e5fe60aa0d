"""Admin routes: users and their roles, and the audit log — with the admin's own token."""

from __future__ import annotations

from lib.contract.inputs import RoleChange
from lib.contract.outputs import AuditEntry, Output, RoleAssignment, UserSummary
from lib.contract.queries import AuditQuery, PageQuery
from lib.http.problems import NotFound
from lib.http.response import Response, json_response
from lib.resources import representation
from lib.resources.collection import Keyset, keyset_page
from lib.supabase import db_errors
from lib.supabase.caller import Call
from lib.supabase.upstream import expect_rows, upstream_call


def _keyset(rpc: str, model: type[Output], **position: type) -> Keyset:
    """The list `rpc` pages, ordered by the `position` columns (ending with id) of these types;
    its RPC takes the previous page's last position as p_after_<column>."""
    after = tuple(f"p_after_{column}" for column in position)
    return Keyset(rpc, position=tuple(position), after=after, types=tuple(position.values()), model=model)


USERS = _keyset("list_users", UserSummary, created_at=str, id=str)
AUDIT = _keyset("list_audit", AuditEntry, at=str, id=int)
_AUDIT_FILTERS = {"table", "record_id", "actor_id"}


def list_users(call: Call[None, PageQuery]) -> Response:
    """GET /api/admin/users: every user with their role, oldest first; 304 when unchanged."""
    return keyset_page(call, USERS, "/api/admin/users")


def set_role(call: Call[RoleChange, None]) -> Response:
    """PUT /api/admin/users/{id}/role: 409 last_admin when it would leave no admin."""
    user_id = call.request.uuid_param("id")
    role = call.body.role
    client = call.deps.user_client(call.caller.access_token)
    with upstream_call(db_errors.translate):
        result = client.from_("user_roles").update({"role": role}).eq("user_id", user_id).execute()
    if not expect_rows(result.data):
        raise NotFound()
    return json_response(representation.one(RoleAssignment, {"id": user_id, "role": role}))


def list_audit(call: Call[None, AuditQuery]) -> Response:
    """GET /api/admin/audit: newest first, filtered by table, record_id and actor_id; 304 when unchanged."""
    filters = {
        name: value
        for name, value in call.query.model_dump(mode="json", include=_AUDIT_FILTERS).items()
        if value is not None
    }
    return keyset_page(
        call,
        AUDIT,
        "/api/admin/audit",
        arguments={f"p_{name}": value for name, value in filters.items()},
        bound_to=filters,
        empty=db_errors.matches_nothing(filters),
    )
