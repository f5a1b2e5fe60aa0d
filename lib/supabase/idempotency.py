"""Idempotency-Key for POST creates: replay the first response, never create twice.

The create and the record of its outcome commit together in the database
(see the create_* functions in the migrations); this module validates the
header, fingerprints the request, and stores final client errors so that a
retry replays them byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lib.contract.routing import NO_STORE
from lib.http.problems import ApiError, BadRequest, problem_document
from lib.http.request import Request
from lib.http.response import PROBLEM_JSON, Response

if TYPE_CHECKING:
    from lib.supabase.rest import RestClient

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


@dataclass(frozen=True)
class Idempotency:
    """The caller's key and the fingerprint of the request it was sent with."""

    key: str
    request_hash: str


def from_request(request: Request) -> Idempotency | None:
    """The request's Idempotency-Key, if any. Raises BadRequest for a malformed key."""
    key = request.header(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not all(" " <= char <= "~" for char in key):
        raise BadRequest("Idempotency-Key must be 1-255 printable ASCII characters")
    canonical = json.dumps(request.json_body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(f"{request.method} {request.path}\n{canonical}".encode()).hexdigest()
    return Idempotency(key, digest)


def rpc_arguments(idempotency: Idempotency | None) -> dict[str, Any]:
    """The create functions' idempotency arguments."""
    if idempotency is None:
        return {}
    return {"p_idempotency_key": idempotency.key, "p_request_hash": idempotency.request_hash}


def replayed_failure(outcome: dict[str, Any]) -> Response | None:
    """The stored client error of a replayed outcome, as first sent; None for stored successes."""
    body = outcome.get("body")
    if not isinstance(body, str):
        return None
    status = outcome.get("status")
    return Response(
        status=int(status) if isinstance(status, int) else 400,
        body=body.encode(),
        content_type=PROBLEM_JSON,
        headers={REPLAYED: "true"},
        cache_control=NO_STORE,
    )


_NOT_FINAL = frozenset({"idempotency_in_progress", "rate_limited"})


@contextmanager
def remember_failures(
    request: Request,
    idempotency: Idempotency | None,
    user_id: str,
    store: Callable[[], RestClient],
) -> Iterator[None]:
    """Store a final client error (4xx) raised inside, so a retry with the same key replays it.

    `store` builds the client that writes it, the secret-key client: the bookkeeping is
    not callable with a user's token (anyone could fill it directly), so the API writes
    it for the caller it has verified (`user_id`), naming them.
    """
    try:
        yield
    except ApiError as error:
        # A 429 is not the request's outcome: a retry after the window executes it.
        if idempotency is not None and 400 <= error.status < 500 and error.code not in _NOT_FINAL:
            body = problem_document(error, instance=request.path, request_id=request.request_id)
            arguments: dict[str, Any] = {
                "p_user_id": user_id,
                "p_key": idempotency.key,
                "p_request_hash": idempotency.request_hash,
                "p_status": error.status,
                "p_body": body.decode(),
            }
            # Best effort: if storing fails, a retry re-executes and fails the same way.
            with suppress(Exception):
                store().rpc("idempotency_store", arguments).execute()
        raise
