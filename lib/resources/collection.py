"""The two shapes every collection shares: a keyset-paged list, and an idempotent create.

Each list is one RPC that takes `p_limit` and the previous page's last position; each
create one RPC that creates the row and records its outcome under the caller's
Idempotency-Key in the same transaction (lib.supabase.idempotency).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lib.contract.outputs import Output
from lib.http.conditional import conditional_response
from lib.http.response import Response
from lib.resources import representation
from lib.supabase import db_errors, idempotency
from lib.supabase.caller import Call
from lib.supabase.cursor import decode_position, list_context, next_page
from lib.supabase.upstream import expect_object, expect_rows, upstream_call

if TYPE_CHECKING:
    # annotations only, as in lib.resources.vehicles
    from lib.contract.queries import PageQuery


@dataclass(frozen=True)
class Keyset:
    """How one list pages: its RPC, the columns of a row's position and their RPC arguments."""

    rpc: str
    position: tuple[str, ...]  # the row's columns that order it, ending with its id
    after: tuple[str, ...]  # the RPC's arguments taking the previous page's last position
    types: tuple[type, ...]  # what a cursor's position must hold, column by column
    model: type[Output]  # one row of the page


def keyset_page(
    call: Call[Any, PageQuery],
    keyset: Keyset,
    path: str,
    *,
    arguments: Mapping[str, Any] | None = None,
    bound_to: Mapping[str, Any] | None = None,
    empty: bool = False,
) -> Response:
    """GET of a list: one page, with the signed cursor of the next (None on the last), 304 when unchanged.

    `arguments` are the RPC's own (filters), `bound_to` what a cursor is bound to besides the
    path and the caller (sort, filters); `empty` skips the database for filters that match
    nothing. Raises BadRequest(invalid_cursor) for a cursor not issued for this list.
    """
    query = call.query
    context = list_context(path, caller=call.caller.user_id, **(bound_to or {}))
    sent: dict[str, Any] = {"p_limit": query.limit + 1, **(arguments or {})}
    if query.cursor is not None:
        position = decode_position(context, query.cursor, keyset.types)
        sent.update(zip(keyset.after, position, strict=True))
    if empty:
        rows: list[dict[str, Any]] = []
    else:
        with upstream_call(db_errors.translate):
            result = call.deps.user_client(call.caller.access_token).rpc(keyset.rpc, sent).execute()
        rows = expect_rows(result.data)
    page, next_cursor = next_page(
        rows, query.limit, context, lambda last: [last[column] for column in keyset.position]
    )
    return conditional_response(call.request, representation.page(keyset.model, page, next_cursor))


Respond = Callable[[dict[str, Any], int, dict[str, str]], Response]


def idempotent_create(
    call: Call[Any, Any],
    rpc: str,
    arguments: Mapping[str, Any],
    location: Callable[[str], str],
    respond: Respond,
) -> Response:
    """POST of a create: 201 with Location, replaying the first outcome under an Idempotency-Key.

    `location` maps the new row's id to its URL, `respond` builds the 201 from the row (status
    and headers given). A replayed client error is sent as it was first. Raises BadRequest
    for a malformed key, or the problem the create fails with (stored for replay when final).
    """
    key = idempotency.from_request(call.request)
    client = call.deps.user_client(call.caller.access_token)
    with (
        idempotency.remember_failures(call.request, key, call.caller.user_id, call.deps.admin_client),
        upstream_call(db_errors.translate),
    ):
        result = client.rpc(rpc, {**arguments, **idempotency.rpc_arguments(key)}).execute()
    outcome = expect_object(result.data)
    replayed = outcome.get("replay") is True
    if replayed and (failure := idempotency.replayed_failure(outcome)) is not None:
        return failure
    row = expect_object(outcome.get("resource"))
    headers = {"Location": location(str(row.get("id")))}
    if replayed:
        headers[idempotency.REPLAYED] = "true"
    return respond(row, 201, headers)
