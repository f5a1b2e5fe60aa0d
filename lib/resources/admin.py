"""Admin routes: users and their roles, and the audit log — with the admin's own token."""

from __future__ import annotations

from typing import Any

from lib.contract.schemas import AuditQuery, PageQuery, RoleChange
from lib.http.conditional import conditional_response
from lib.http.problems import NotFound
from lib.http.request import Request
from lib.http.response import Response, encode_json, json_response
from lib.resources import representation
from lib.supabase import db_errors
from lib.supabase.caller import caller_of
from lib.supabase.clients import user_client
from lib.supabase.cursor import decode_position, list_context, next_page
from lib.supabase.upstream import expect_rows, upstream_call


def list_users(request: Request) -> Response:
    """GET /api/admin/users: every user with their role, oldest first; 304 when unchanged."""
    caller = caller_of(request)
    query = request.args(PageQuery)
    context = list_context("/api/admin/users", caller=caller.user_id)
    arguments: dict[str, Any] = {"p_limit": query.limit + 1}
    if query.cursor is not None:
        created_at, user_id = decode_position(context, query.cursor, (str, str))
        arguments.update({"p_after_created_at": created_at, "p_after_id": user_id})
    with upstream_call(db_errors.translate):
        result = user_client(caller.access_token).rpc("list_users", arguments).execute()
    rows = expect_rows(result.data)
    page, next_cursor = next_page(rows, query.limit, context, lambda last: [last["created_at"], last["id"]])
    body = encode_json(
        {"data": [representation.user_summary(row) for row in page], "next_cursor": next_cursor}
    )
    return conditional_response(request, body)


def set_role(request: Request) -> Response:
    """PUT /api/admin/users/{id}/role: 409 last_admin when it would leave no admin."""
    caller = caller_of(request)
    user_id = request.uuid_param("id")
    role = request.body(RoleChange).role
    client = user_client(caller.access_token)
    with upstream_call(db_errors.translate):
        result = client.from_("user_roles").update({"role": role}).eq("user_id", user_id).execute()
    if not expect_rows(result.data):
        raise NotFound()
    return json_response({"id": user_id, "role": role})


def list_audit(request: Request) -> Response:
    """GET /api/admin/audit: newest first, filtered by table, record_id and actor_id; 304 when unchanged."""
    caller = caller_of(request)
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
        at, entry_id = decode_position(context, query.cursor, (str, int))
        arguments.update({"p_after_at": at, "p_after_id": entry_id})
    if db_errors.matches_nothing(filters):
        rows: list[dict[str, Any]] = []
    else:
        with upstream_call(db_errors.translate):
            result = user_client(caller.access_token).rpc("list_audit", arguments).execute()
        rows = expect_rows(result.data)
    page, next_cursor = next_page(rows, query.limit, context, lambda last: [last["at"], last["id"]])
    body = encode_json(
        {"data": [representation.audit_entry(row) for row in page], "next_cursor": next_cursor}
    )
    return conditional_response(request, body)
