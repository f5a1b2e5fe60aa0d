"""docs/api.md and docs/openapi.snapshot.json are what devstack.api_reference generates now.

No stack needed: the document is built in-process, as of two pinned dates.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack import api_reference
from devstack.api_diff import breaking, classify, leaf_differences

REFRESH = "run `python -m devstack.api_reference --snapshot`"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return api_reference.normalised_document()


@pytest.fixture(scope="module")
def snapshot() -> dict[str, Any]:
    content = api_reference.read_snapshot()
    assert content is not None, f"docs/openapi.snapshot.json is missing: {REFRESH}"
    return content


def test_api_md_is_up_to_date(document: dict[str, Any]) -> None:
    expected = api_reference.render(document)
    actual = api_reference.API_MD.read_text(encoding="utf-8")
    assert actual == expected, "docs/api.md is out of date: run `python -m devstack.api_reference`"


def test_snapshot_matches_the_document(document: dict[str, Any], snapshot: dict[str, Any]) -> None:
    if snapshot["document"] == document:
        assert snapshot["digest"] == api_reference.digest(document), (
            f"the snapshot's digest is stale: {REFRESH}"
        )
        return
    changes = classify(snapshot["document"], document)
    listed = "\n".join(f"  {change}" for change in changes) or "  (no classified change)"
    others = list(leaf_differences(snapshot["document"], document))
    pytest.fail(
        f"/api/openapi.json differs from docs/openapi.snapshot.json: {REFRESH}.\n"
        f"{len(breaking(changes))} breaking change(s) need an entry in docs/api-changes.md whose heading"
        f" names the new snapshot's digest (`snapshot <digest>`).\nClassified:\n{listed}\n"
        f"{len(others)} differing value(s), e.g.: {', '.join(others[:5])}"
    )


def test_breaking_changes_are_in_the_changelog(snapshot: dict[str, Any]) -> None:
    pending = snapshot.get("unacknowledged_breaking_changes", [])
    logged = api_reference.logged_digests(api_reference.CHANGES_MD.read_text(encoding="utf-8"))
    if pending and snapshot["digest"] not in logged:
        pytest.fail(
            "docs/openapi.snapshot.json records breaking changes that docs/api-changes.md does not log:\n"
            + "\n".join(f"  {change}" for change in pending)
            + f"\nAdd an entry (newest first) whose heading names `snapshot {snapshot['digest']}`."
        )


def test_the_changelog_names_the_current_snapshot_or_an_older_one(snapshot: dict[str, Any]) -> None:
    """Every entry's digest is 12 hex digits; the newest entry is dated and comes first."""
    text = api_reference.CHANGES_MD.read_text(encoding="utf-8")
    digests = api_reference.SNAPSHOT_REFERENCE.findall(text)
    assert digests, "docs/api-changes.md has no entry naming a snapshot"
    dates = [line.split()[1] for line in text.splitlines() if line.startswith("## 2")]
    assert dates == sorted(dates, reverse=True), "docs/api-changes.md: newest entry first"


def test_the_snapshot_does_not_depend_on_the_date(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    assert api_reference.TODAY_PATTERN in text
    assert "<current UTC year + 2>" in text
    assert api_reference.DATE_DEPENDENT not in text, "a date-dependent value the generator cannot name"


def test_next_snapshot_carries_unlogged_breaking_changes(document: dict[str, Any]) -> None:
    digest = api_reference.digest(document)
    removed = {**document, "paths": {k: v for k, v in document["paths"].items() if k != "/api/me"}}
    first, changes = api_reference.next_snapshot({"document": document, "digest": digest}, removed, "")
    assert [str(change) for change in changes] == ["[breaking] /api/me: path removed"]
    after_first = json.loads(first)
    assert after_first["unacknowledged_breaking_changes"] == ["[breaking] /api/me: path removed"]

    # A second, non-breaking refresh before the entry is written keeps the pending change...
    second, _ = api_reference.next_snapshot(after_first, removed, "")
    assert (
        json.loads(second)["unacknowledged_breaking_changes"]
        == after_first["unacknowledged_breaking_changes"]
    )
    # ...and an entry naming the digest acknowledges it.
    logged = f"## 2027-01-01 · snapshot `{after_first['digest']}` · /api/me removed\n"
    third, _ = api_reference.next_snapshot(after_first, removed, logged)
    assert json.loads(third)["unacknowledged_breaking_changes"] == []


def test_sections_cited_by_code_exist() -> None:
    text = api_reference.API_MD.read_text(encoding="utf-8")
    for anchor in ("s1-1", "s1-5", "s2-3", "s3", "s4", "s5-2", "s5-4", "s6-1", "s7", "s8-2", "s9-4", "s10"):
        assert f'<a id="{anchor}"></a>' in text


def test_every_internal_link_has_its_anchor() -> None:
    import re

    text = api_reference.API_MD.read_text(encoding="utf-8")
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', text))
    missing = sorted(set(re.findall(r"\]\(#([^)]+)\)", text)) - anchors)
    assert not missing, f"docs/api.md links to missing anchors: {missing}"
