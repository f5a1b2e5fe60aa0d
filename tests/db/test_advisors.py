"""Supabase's database advisors (the dashboard's Security and Performance Advisors): nothing above INFO."""

from __future__ import annotations

from pathlib import Path

from devstack import migrate
from devstack.stack import Stack


def test_the_advisors_report_nothing_above_info(stack: Stack, repo_root: Path) -> None:
    url = migrate.cli_db_url(port=stack.settings.db_port, password=stack.settings.cli_login_password)
    findings = migrate.advisors(url, repo_root)
    above_info = [f"{f['level']} {f['name']}: {f['detail']}" for f in findings if f["level"] != "INFO"]
    assert above_info == []
    # INFO findings are expected and harmless: indexes a fresh database has not used yet, and
    # private tables that are reached only through functions (RLS on, no policy, by design).
    assert {f["name"] for f in findings} <= {"unused_index", "rls_enabled_no_policy"}
