"""Catalog checks: every table is under RLS, definer functions are pinned, private stays private.

These fail as soon as a new migration forgets one of the rules, without anyone
having to write a new test for the new object.
"""

from __future__ import annotations

from tests.db.conftest import Db, fetch_all

# private functions that RLS policies and the RPCs call as the querying role.
AUTHENTICATED_MAY_EXECUTE = {
    "authorize",
    "is_admin",
    "is_privileged",
    "idempotency_begin",  # create_vehicle/create_maintenance_record run as the caller
    "idempotency_complete",
    "vin_check_digit_ok",  # CHECK constraints run as the writer
    "text_ok",  # likewise
    "vehicles_matching",  # list_vehicles' indexed q search (applies the select policy itself)
}
# public functions anyone may call with the publishable key alone.
ANON_MAY_EXECUTE_IN_PUBLIC = {"healthcheck"}


def test_every_table_has_rls(db: Db) -> None:
    missing = fetch_all(
        db,
        "select n.nspname || '.' || c.relname as name from pg_class c"
        " join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname in ('public', 'private') and c.relkind in ('r', 'p') and not c.relrowsecurity"
        " order by 1",
    )
    assert missing == []


def test_every_public_table_has_a_policy(db: Db) -> None:
    missing = fetch_all(
        db,
        "select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'public' and c.relkind in ('r', 'p')"
        " and not exists (select 1 from pg_policy p where p.polrelid = c.oid) order by 1",
    )
    assert missing == []


def test_public_tables_exist_as_expected(db: Db) -> None:
    # Guards the two tests above against vacuous success (e.g. a wrong schema name).
    tables = {
        row["name"]
        for row in fetch_all(
            db,
            "select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'public' and c.relkind in ('r', 'p')",
        )
    }
    assert tables >= {
        "profiles",
        "user_roles",
        "role_permissions",
        "vehicles",
        "maintenance_records",
        "audit_log",
    }


def test_public_views_run_as_the_caller(db: Db) -> None:
    definer_views = fetch_all(
        db,
        "select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'public' and c.relkind in ('v', 'm')"
        " and not coalesce('security_invoker=true' = any(c.reloptions), false)",
    )
    assert definer_views == []


def test_security_definer_functions_pin_search_path(db: Db) -> None:
    unpinned = fetch_all(
        db,
        "select n.nspname || '.' || p.proname as name from pg_proc p"
        " join pg_namespace n on n.oid = p.pronamespace"
        " where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema')"
        " and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) c where c like 'search_path=%%')"
        " order by 1",
    )
    assert unpinned == []
    count = fetch_all(
        db,
        "select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
        " where p.prosecdef and n.nspname = 'private'",
    )
    assert len(count) >= 10  # the check above really looked at our definer functions


def definers_in_public(db: Db) -> set[str]:
    return {
        row["name"]
        for row in fetch_all(
            db,
            "select p.proname as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
            " where n.nspname = 'public' and p.prosecdef",
        )
    }


def test_no_security_definer_function_in_public(db: Db) -> None:
    assert definers_in_public(db) == set()


def test_definers_in_public_are_not_callable_by_api_users(db: Db) -> None:
    callable_definers = fetch_all(
        db,
        "select p.proname || ':' || r.role as name from pg_proc p"
        " join pg_namespace n on n.oid = p.pronamespace"
        " cross join (values ('anon'), ('authenticated')) as r(role)"
        " where n.nspname = 'public' and p.prosecdef and has_function_privilege(r.role, p.oid, 'execute')",
    )
    assert callable_definers == []


def executable_in_private(db: Db, role: str) -> set[str]:
    """Functions in `private` the role can really execute (schema usage and EXECUTE)."""
    return {
        row["name"]
        for row in fetch_all(
            db,
            "select p.proname as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
            " where n.nspname = 'private' and has_schema_privilege(%s, n.oid, 'usage')"
            " and has_function_privilege(%s, p.oid, 'execute')",
            (role, role),
        )
    }


def test_anon_executes_nothing_in_private(db: Db) -> None:
    assert executable_in_private(db, "anon") == set()


def test_authenticated_executes_only_the_policy_helpers_in_private(db: Db) -> None:
    assert executable_in_private(db, "authenticated") == AUTHENTICATED_MAY_EXECUTE


def test_no_private_function_is_executable_by_public(db: Db) -> None:
    granted = fetch_all(
        db,
        "select p.proname as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname = 'private' and exists ("
        "   select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a"
        "   where a.grantee = 0 and a.privilege_type = 'EXECUTE') order by 1",
    )
    assert granted == []


def test_private_tables_are_not_granted_to_api_roles(db: Db) -> None:
    granted = fetch_all(
        db,
        "select c.relname || ':' || r.role as name from pg_class c"
        " join pg_namespace n on n.oid = c.relnamespace"
        " cross join (values ('anon'), ('authenticated')) as r(role)"
        " where n.nspname = 'private' and c.relkind in ('r', 'p', 'v', 'm')"
        " and has_table_privilege(r.role, c.oid, 'select, insert, update, delete, truncate')",
    )
    assert granted == []


def test_anon_executes_only_the_health_check_in_public(db: Db) -> None:
    callable_by_anon = {
        row["name"]
        for row in fetch_all(
            db,
            "select p.proname as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
            " where n.nspname = 'public' and has_function_privilege('anon', p.oid, 'execute')",
        )
    }
    assert callable_by_anon == ANON_MAY_EXECUTE_IN_PUBLIC


def test_private_schema_is_not_exposed(db: Db) -> None:
    # PostgREST serves only `public`; `private` must never be added to the exposed schemas.
    assert fetch_all(db, "select has_schema_privilege('anon', 'private', 'usage') as usable") == [
        {"usable": False}
    ]


def test_api_roles_hold_only_what_postgrest_needs_on_public_tables(db: Db) -> None:
    # No TRUNCATE, REFERENCES or TRIGGER for anyone, and nothing at all for anon (docs/api.md §2.3).
    granted = fetch_all(
        db,
        "select c.relname || ':' || r.role || ':' || p.privilege as name from pg_class c"
        " join pg_namespace n on n.oid = c.relnamespace"
        " cross join (values ('anon'), ('authenticated'), ('service_role')) as r(role)"
        " cross join (values ('TRUNCATE'), ('REFERENCES'), ('TRIGGER')) as p(privilege)"
        " where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm')"
        " and has_table_privilege(r.role, c.oid, p.privilege)",
    )
    assert granted == []
    anon = fetch_all(
        db,
        "select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'S')"
        " and (has_table_privilege('anon', c.oid, 'select, insert, update, delete')"
        "      or (c.relkind = 'S' and has_sequence_privilege('anon', c.oid, 'usage, select, update')))",
    )
    assert anon == []
