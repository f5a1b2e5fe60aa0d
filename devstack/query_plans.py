"""Query plans of every list the API serves, captured inside the list functions.

auto_explain logs the plan of the statement each RPC really runs (including
the dynamic SQL in public.list_vehicles); with client_min_messages = log the
plans arrive as notices on our own connection. Used by tests (a few thousand
rows) and by `python -m devstack.query_plans`, which loads 1,000,000 vehicles
and writes docs/query-plans.md.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

SCENARIOS: dict[str, str] = {
    "newest first (default)": "select * from public.list_vehicles(p_limit => 21)",
    "oldest first": "select * from public.list_vehicles(p_sort => 'created_at', p_limit => 21)",
    "by model year": "select * from public.list_vehicles(p_sort => 'model_year', p_limit => 21)",
    "by model year, descending": "select * from public.list_vehicles(p_sort => '-model_year', p_limit => 21)",
    "by make": "select * from public.list_vehicles(p_sort => 'make', p_limit => 21)",
    "by make, descending": "select * from public.list_vehicles(p_sort => '-make', p_limit => 21)",
    "by odometer": "select * from public.list_vehicles(p_sort => 'odometer_km', p_limit => 21)",
    "by odometer, descending": "select * from public.list_vehicles(p_sort => '-odometer_km', p_limit => 21)",
    "deep page (cursor)": (
        "select * from public.list_vehicles(p_sort => '-created_at', p_limit => 21,"
        " p_after => (select created_at::text from public.vehicles"
        " order by created_at desc, id desc offset 20000 limit 1),"
        " p_after_id => (select id from public.vehicles"
        " order by created_at desc, id desc offset 20000 limit 1))"
    ),
    "filter make (case-insensitive)": "select * from public.list_vehicles(p_make => 'honda', p_limit => 21)",
    "filter status": "select * from public.list_vehicles(p_status => 'retired', p_limit => 21)",
    "q substring": "select * from public.list_vehicles(p_q => 'zz9', p_limit => 21)",
}
ROLES = ("admin", "member")
# Nodes that mean "read the whole table" or "sort all matching rows".
FULL_SCAN_NODES = ("Seq Scan on vehicles", "Parallel Seq Scan on vehicles")


def load_vehicles(conn: psycopg.Connection[Any], owner_ids: list[str], rows: int, salt: str = "") -> None:
    """Bulk-insert `rows` synthetic vehicles over the owners (triggers bypassed), then ANALYZE."""
    conn.execute("set session_replication_role = replica")
    try:
        conn.execute(
            """
            insert into public.vehicles
              (vin, make, model, model_year, plate, color, odometer_km, status, owner_id,
               created_at, updated_at)
            select
              'W' || upper(substr(md5(%s || i), 1, 16)),
              (array['Honda','Ford','Toyota','Volkswagen','BMW','Tesla','Kia','Fiat'])[1 + i %% 8],
              (array['Civic','Focus','Corolla','Golf','320i','Model 3','Rio','Panda'])[1 + (i / 8) %% 8],
              1990 + i %% 36,
              case when i %% 3 = 0 then null else 'P' || (i %% 100000) end,
              'silver',
              (i::bigint * 7919 %% 2000000)::integer,
              (array['active','active','active','maintenance','retired'])[1 + i %% 5]::public.vehicle_status,
              (%s::uuid[])[1 + i %% cardinality(%s::uuid[])],
              now() - make_interval(secs => i),
              now() - make_interval(secs => i)
            from generate_series(1, %s) as i
            """,
            (salt, owner_ids, owner_ids, rows),
        )
    finally:
        conn.execute("reset session_replication_role")
    conn.execute("analyze public.vehicles")


def capture(conn: psycopg.Connection[Any], sql: str, claims: dict[str, Any]) -> str:
    """The plan(s) auto_explain logged while running `sql` as an authenticated user with `claims`."""
    notices: list[str] = []

    def collect(diagnostic: psycopg.errors.Diagnostic) -> None:
        if diagnostic.message_primary and "Query Text" in diagnostic.message_primary:
            notices.append(diagnostic.message_primary)

    conn.add_notice_handler(collect)
    try:
        conn.execute("load 'auto_explain'")
        conn.execute("set auto_explain.log_min_duration = 0")
        conn.execute("set auto_explain.log_nested_statements = on")
        conn.execute("set auto_explain.log_analyze = on")
        conn.execute("set auto_explain.log_timing = on")
        conn.execute("set client_min_messages = log")
        with conn.transaction():
            conn.execute("set local role authenticated")
            conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
            conn.execute(sql).fetchall()
            raise _Rollback
    except _Rollback:
        pass
    finally:
        conn.execute("set client_min_messages = notice")
        conn.remove_notice_handler(collect)
    inner = [
        text for text in notices if "from public.vehicles v" in text or "public.maintenance_records m" in text
    ]
    return "\n\n".join(inner or notices)


class _Rollback(Exception):
    """Leave the transaction without committing anything."""


def uses_index(plan: str) -> bool:
    """True when the vehicles table is read through an index, never scanned and sorted whole."""
    return not any(node in plan for node in FULL_SCAN_NODES) and "Index" in plan


def collect_plans(conn: psycopg.Connection[Any], users: dict[str, str]) -> dict[tuple[str, str], str]:
    """Plans for every scenario and role; `users` maps role -> user id."""
    plans = {}
    for role in ROLES:
        claims = {"sub": users[role], "role": "authenticated", "user_role": role, "aud": "authenticated"}
        for name, sql in SCENARIOS.items():
            plans[(name, role)] = capture(conn, sql, claims)
    return plans


def _markdown(plans: dict[tuple[str, str], str], rows: int, seconds: float) -> str:
    lines = [
        "# Query plans of the list endpoints",
        "",
        f"Captured by `python -m devstack.query_plans` on {rows:,} vehicles spread over 1,000 owners"
        f" ({time.strftime('%Y-%m-%d')}, load and capture took {seconds:.0f} s). Each plan is the statement"
        " `public.list_vehicles` really executes (auto_explain of the dynamic SQL), run as an admin"
        " (sees every row) and as a member (RLS: own rows only).",
        "",
        "| scenario | role | index scan | execution (ms) |",
        "|---|---|---|---|",
    ]
    for (name, role), plan in plans.items():
        milliseconds = sum(float(m) for m in re.findall(r"duration: ([0-9.]+) ms", plan))
        lines.append(f"| {name} | {role} | {'yes' if uses_index(plan) else '**no**'} | {milliseconds:.2f} |")
    for (name, role), plan in plans.items():
        lines += ["", f"## {name} — {role}", "", "```", plan.strip(), "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Start a throwaway database, load N vehicles, write the plans as Markdown."""
    import uuid

    from devstack.stack import Stack
    from devstack.stack_settings import ROOT, throwaway_settings

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "query-plans.md")
    args = parser.parse_args(argv)
    started = time.monotonic()
    settings = throwaway_settings("plans-")
    stack = Stack(settings, serve_api=False)
    stack.log_dir.mkdir(parents=True, exist_ok=True)
    stack.postgres.init()
    stack.postgres.start()
    try:
        stack.prepare_database(seed=False)
        with psycopg.connect(stack.postgres.dsn(), autocommit=True) as conn:
            owners = [str(uuid.uuid4()) for _ in range(1000)]
            conn.execute(
                "insert into auth.users (id, email, created_at) select u, u || '@example.test', now()"
                " from unnest(%s::uuid[]) as u",
                (owners,),
            )
            load_vehicles(conn, owners, args.rows)
            plans = collect_plans(conn, {"admin": owners[0], "member": owners[1]})
        args.out.write_text(_markdown(plans, args.rows, time.monotonic() - started))
    finally:
        stack.stop()
    bad = [key for key, plan in plans.items() if not uses_index(plan)]
    print(f"wrote {args.out}; {len(plans) - len(bad)}/{len(plans)} plans use an index")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
