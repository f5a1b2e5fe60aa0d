"""The custom access token hook: a Postgres function run on every issued token."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from devstack.auth.errors import ApiError
from devstack.auth.protocol import json_type
from devstack.auth.store import Conn

_log = logging.getLogger("devstack.auth")


HOOK_TIMEOUT_MS = 2000  # GoTrue's default for Postgres hooks


# GoTrue's MinimumViableTokenSchema: what a hook's output claims must satisfy.
REQUIRED_CLAIMS = (
    "aud",
    "exp",
    "iat",
    "sub",
    "email",
    "phone",
    "role",
    "aal",
    "session_id",
    "is_anonymous",
)
CLAIM_TYPES: dict[str, tuple[str, ...]] = {
    "aud": ("string", "array"),
    "exp": ("integer",),
    "jti": ("string",),
    "iat": ("integer",),
    "iss": ("string",),
    "nbf": ("integer",),
    "sub": ("string",),
    "email": ("string",),
    "phone": ("string",),
    "app_metadata": ("object",),
    "user_metadata": ("object",),
    "role": ("string",),
    "aal": ("string",),
    "amr": ("array",),
    "session_id": ("string",),
    "client_id": ("string",),
}


def claims_problems(claims: Mapping[str, Any]) -> list[str]:
    """Violations of GoTrue's MinimumViableTokenSchema, worded like gojsonschema."""
    problems = [f"(root): {name} is required" for name in REQUIRED_CLAIMS if name not in claims]
    for name, allowed in CLAIM_TYPES.items():
        if name not in claims:
            continue
        given = json_type(claims[name])
        if given not in allowed:
            expected = "/".join(allowed)
            problems.append(f"{name}: Invalid type. Expected: {expected}, given: {given}")
    amr = claims.get("amr")
    if isinstance(amr, list):
        for index, item in enumerate(amr):
            if not isinstance(item, dict | str):
                problems.append(f"amr.{index}: Must validate at least one schema (anyOf)")
    return problems


def run_hook(
    conn: Conn, hook: str, user_id: uuid.UUID, claims: dict[str, Any], method: str
) -> dict[str, Any]:
    """Run the custom access token hook (as supabase_auth_admin, in the caller's transaction)."""
    present = conn.execute(
        "select to_regprocedure(%s) is not null as present", (f"{hook}(jsonb)",)
    ).fetchone()
    if not present or not present["present"]:
        return claims  # the migration that creates the hook is not applied yet
    schema, function = hook.split(".", 1)
    uri = f"pg-functions://postgres/{schema}/{function}"
    event = {"user_id": str(user_id), "claims": claims, "authentication_method": method}
    call = sql.SQL("select {}(%s::jsonb) as output").format(sql.Identifier(schema, function))
    try:
        # Postgres's timeout keeps a slow hook from hanging the request, as in GoTrue.
        conn.execute(sql.SQL("set local statement_timeout = {}").format(sql.Literal(HOOK_TIMEOUT_MS)))
        row = conn.execute(call, (Jsonb(event),)).fetchone()
        conn.execute("set local statement_timeout to default")
    except psycopg.Error as error:
        if conn.broken:
            raise
        _log.warning("hook %s failed: %s", uri, error.diag.message_primary)
        raise ApiError(500, "unexpected_failure", f"Error running hook URI: {uri}") from None
    output = row["output"] if row else None
    hook_error = output.get("error") if isinstance(output, dict) else None
    if isinstance(hook_error, dict) and hook_error.get("message"):
        code = hook_error.get("http_code")
        status = code if isinstance(code, int) and 400 <= code <= 599 else 500
        error_code = "unexpected_failure" if status == 500 else "unknown"
        raise ApiError(status, error_code, str(hook_error["message"]))
    if not isinstance(output, dict) or "claims" not in output:
        raise ApiError(500, "unexpected_failure", "output claims field is missing")
    new_claims = output["claims"]
    if not isinstance(new_claims, dict):
        raise ApiError(500, "unexpected_failure", "Error unmarshalling JSON output.")
    problems = claims_problems(new_claims)
    if problems:
        details = "".join(f"- {problem}\n" for problem in problems)
        raise ApiError(
            500,
            "unexpected_failure",
            f"output claims do not conform to the expected schema: \n{details}",
        )
    return new_claims
