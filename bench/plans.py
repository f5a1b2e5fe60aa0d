"""EXPLAIN (ANALYZE, BUFFERS) of the statement `public.list_vehicles` runs for one page of the list.

The RPC builds its query as dynamic SQL, so `EXPLAIN select * from list_vehicles(...)` would
only show a function scan. auto_explain (`devstack.query_plans.capture`, with buffers on)
logs the plan of the statement the function really executes, as the user whose claims are
set, the way PostgREST runs it for their token. The call is made twice and the second,
warm, plan kept: the timed runs measure warm pages too.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import sql

from devstack.query_plans import capture
from tests.factories import User

PAGE_SQL = "select * from public.list_vehicles(p_sort => '-created_at', p_limit => {limit}{after})"
AFTER_SQL = ", p_after => {created_at}, p_after_id => {row_id}::uuid"
# A plan line with its estimates or actuals; the lines before it are auto_explain's preamble.
_NODE = re.compile(r"\((?:cost|actual)[= ]")


def page_statement(conn: psycopg.Connection[Any], limit: int, after: tuple[str, str] | None) -> str:
    """The RPC call for one page (`after`: the cursor's created_at text and id), as SQL text."""
    after_sql: sql.Composable = sql.SQL("")
    if after is not None:
        after_sql = sql.SQL(AFTER_SQL).format(created_at=sql.Literal(after[0]), row_id=sql.Literal(after[1]))
    return sql.SQL(PAGE_SQL).format(limit=sql.Literal(limit), after=after_sql).as_string(conn)


def claims(user: User) -> dict[str, Any]:
    """What PostgREST puts into `request.jwt.claims` for the user's token."""
    return {"sub": user.id, "role": "authenticated", "aud": "authenticated", "user_role": user.role}


def list_plan(dsn: str, user: User, limit: int, after: tuple[str, str] | None) -> dict[str, Any]:
    """The warm plan of one page as `user`: its text (short), execution time, index and buffers."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("load 'auto_explain'")
        conn.execute("set auto_explain.log_buffers = on")
        statement = page_statement(conn, limit, after)
        capture(conn, statement, claims(user))
        text = capture(conn, statement, claims(user))
    return summarise(text)


def summarise(text: str) -> dict[str, Any]:
    """The plan without the query text, and what the report shows of it."""
    lines = text.splitlines()
    first_node = next((i for i, line in enumerate(lines) if _NODE.search(line)), len(lines))
    duration = re.search(r"duration: ([0-9.]+) ms", text)
    head = [line.split("plan:")[0].strip() for line in lines[:1] if "duration" in line]
    plan = "\n".join([*head, *lines[first_node:]]).strip()
    scans = re.findall(
        r"((?:Index Only Scan|Index Scan|Seq Scan|Bitmap Heap Scan)(?: Backward)?) (?:using (\S+) )?on", text
    )
    buffers = re.search(r"Buffers: ([^\n]+)", "\n".join(lines[first_node:]))
    return {
        "plan": plan,
        "execution_ms": float(duration.group(1)) if duration else None,
        "scans": [f"{kind} using {index}" if index else kind for kind, index in scans],
        "buffers": buffers.group(1).strip() if buffers else None,
        "index_seek": bool(scans) and all(kind.startswith("Index") for kind, _ in scans),
    }
