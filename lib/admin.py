"""Admin routes: users and their roles, and the audit log — with the admin's own token."""

from __future__ import annotations

from typing import Any

from lib import db_errors, representation
from lib.auth import Caller
from lib.clients import user_client
from lib.cursor import decode_cursor, encode_cursor, list_context
from lib.problems import BadRequest, NotFound
from lib.request import Request
from lib.response import Response, json_response
from lib.schemas import AuditQuery, PageQuery, RoleChange
from lib.upstream import expect_rows, upstream_call


def _caller(request: Request) -> Caller:
    caller: Caller = request.caller
    return caller


def _position(context: str, cursor: str, types: tuple[type, ...]) -> list[Any]:
    position = decode_cursor(context, cursor)
    if len(position) != len(types) or not all(
        isinstance(v, t) and not isinstance(v, bool) for v, t in zip(position, types, strict=True)
    ):
        raise BadRequest("The cursor is not valid for this list", code="invalid_cursor")
    return position


def list_users(request: Request) -> Response:
    """GET /api/admin/users: every user with their role, oldest first."""
    caller = _caller(request)
    query = request.args(PageQuery)
    context = list_context("/api/admin/users", caller=caller.user_id)
    arguments: dict[str, Any] = {"p_limit": query.limit + 1}
    if query.cursor is not None:
        created_at, user_id = _position(context, query.cursor, (str, str))
        arguments.update({"p_after_created_at": created_at, "p_after_id": user_id})
    with upstream_call(db_errors.translate):
        result = user_client(caller.access_token).rpc("list_users", arguments).execute()
    rows = expect_rows(result.data)
    page = rows[: query.limit]
    next_cursor = (
        encode_cursor(context, [page[-1]["created_at"], page[-1]["id"]]) if len(rows) > query.limit else None
    )
    return json_response(
        {"data": [representation.user_summary(row) for row in page], "next_cursor": next_cursor}
    )


def set_role(request: Request) -> Response:
    """PUT /api/admin/users/{id}/role: 409 last_admin when it would leave no admin."""
    caller = _caller(request)
    user_id = request.uuid_param("id")
    role = request.body(RoleChange).role
    client = user_client(caller.access_token)
    with upstream_call(db_errors.translate):
        result = client.from_("user_roles").update({"role": role}).eq("user_id", user_id).execute()
    if not expect_rows(result.data):
        raise NotFound()
    return json_response({"id": user_id, "role": role})


def list_audit(request: Request) -> Response:
    """GET /api/admin/audit: newest first, filtered by table, record_id and actor_id."""
    caller = _caller(request)
    query = request.args(AuditQuery)
    filters = {
        name: value
        for name, value in query.model_dump(mode="json", include={"table", "record_id", "actor_id"}).items()
        if value is not None
    }
    context = list_context("/api/admin/audit", caller=caller.user_id, **filters)
    arguments: dict[str, Any] = {
        "p_limit": query.limit + 1,
        **{f"p_{name}": value for name, value in filters.items()},
    }
    if query.cursor is not None:
        at, entry_id = _position(context, query.cursor, (str, int))
        arguments.update({"p_after_at": at, "p_after_id": entry_id})
    if db_errors.matches_nothing(filters):
        rows: list[dict[str, Any]] = []
    else:
        with upstream_call(db_errors.translate):
            result = user_client(caller.access_token).rpc("list_audit", arguments).execute()
        rows = expect_rows(result.data)
    page = rows[: query.limit]
    next_cursor = (
        encode_cursor(context, [page[-1]["at"], page[-1]["id"]]) if len(rows) > query.limit else None
    )
    return json_response(
        {"data": [representation.audit_entry(row) for row in page], "next_cursor": next_cursor}
    )
