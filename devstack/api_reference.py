"""docs/api.md and docs/openapi.snapshot.json, generated from the route table, models, catalog and settings.

`python -m devstack.api_reference` rewrites docs/api.md; `--snapshot` also rewrites the snapshot
of the OpenAPI document and prints its digest and the breaking changes since the previous one;
`--check` only reports (exit 1) whether either file is out of date.

The document is built as of two pinned dates (`build_document(today)`) and every value that differs
between them (the rules that move with the date: `model_year` up to this year + 2, `performed_at`
not after today) is replaced by a placeholder, so neither file changes with the calendar. Only
stable interfaces are used: `build_document`, `CATALOG`, the settings table and a few constants;
everything else comes from the document itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from devstack.api_diff import breaking, classify
from devstack.api_diff_schema import Change
from devstack.api_reference_constants import cookies, problem_codes, rate_limits, roles, settings
from devstack.api_reference_tables import cache_control, problem_schema, route_summary, routes, schemas

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "api_reference_template.md"
API_MD = ROOT / "docs" / "api.md"
CHANGES_MD = ROOT / "docs" / "api-changes.md"
SNAPSHOT = ROOT / "docs" / "openapi.snapshot.json"
COMMAND = "python -m devstack.api_reference"

PINNED_DAY = date(2026, 12, 3)
OTHER_DAY = date(2031, 6, 17)  # another year, month and day: every date-dependent value differs
TODAY_PATTERN = "<YYYY-MM-DD, not after today (UTC)>"
DATE_DEPENDENT = "<depends on the date>"
# A changelog heading naming a snapshot: "## 2026-12-03 · snapshot `0123456789ab` · …".
SNAPSHOT_REFERENCE = re.compile(r"^##[^\n]*?snapshot\s+`?([0-9a-f]{12})\b", re.MULTILINE)


# --------------------------------------------------------------------------- the document


def document_as_of(day: date) -> dict[str, Any]:
    """The OpenAPI document as it would be built on `day` (UTC), bypassing the per-day cache."""
    from lib.contract import openapi

    build: Callable[[date], dict[str, Any]] = getattr(
        openapi.build_document, "__wrapped__", openapi.build_document
    )
    document: dict[str, Any] = json.loads(json.dumps(build(day)))  # a private deep copy
    return document


def _placeholder(first: Any, second: Any) -> Any:
    """What a value that differs between PINNED_DAY's and OTHER_DAY's documents stands for."""
    if isinstance(first, int) and isinstance(second, int):
        offset = first - PINNED_DAY.year
        if second - OTHER_DAY.year == offset:
            return f"<current UTC year {'+' if offset >= 0 else '-'} {abs(offset)}>"
    if isinstance(first, str) and isinstance(second, str):
        try:
            today = re.fullmatch(first, PINNED_DAY.isoformat()) is not None
            tomorrow = re.fullmatch(first, (PINNED_DAY + timedelta(days=1)).isoformat()) is not None
        except re.error:
            today = tomorrow = False
        if today and not tomorrow:
            return TODAY_PATTERN
    return DATE_DEPENDENT


def _merge(first: Any, second: Any, where: str = "") -> Any:
    if isinstance(first, dict) and isinstance(second, dict):
        if set(first) != set(second):
            raise ValueError(f"the document's shape depends on the date at {where or '/'}")
        return {key: _merge(first[key], second[key], f"{where}/{key}") for key in first}
    if isinstance(first, list) and isinstance(second, list) and len(first) == len(second):
        return [
            _merge(a, b, f"{where}/{index}") for index, (a, b) in enumerate(zip(first, second, strict=True))
        ]
    return first if first == second else _placeholder(first, second)


def normalised_document() -> dict[str, Any]:
    """The served document with its date-dependent values replaced by placeholders."""
    merged: dict[str, Any] = _merge(document_as_of(PINNED_DAY), document_as_of(OTHER_DAY))
    return merged


def digest(document: Mapping[str, Any]) -> str:
    """The short sha256 digest of a document (canonical JSON), as changelog headings cite it."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------- the snapshot


def snapshot_text(document: Mapping[str, Any], unacknowledged: list[str]) -> str:
    """The snapshot file: the document (sorted keys), its digest and the breaking changes not yet logged."""
    content = {
        "about": "GET /api/openapi.json, date-dependent values as placeholders."
        f" Refresh: {COMMAND} --snapshot."
        " Breaking changes need a docs/api-changes.md heading naming `digest`.",
        "digest": digest(document),
        "unacknowledged_breaking_changes": unacknowledged,
        "document": document,
    }
    return json.dumps(content, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def read_snapshot(path: Path = SNAPSHOT) -> dict[str, Any] | None:
    """The snapshot file's content, or None when there is none."""
    if not path.exists():
        return None
    content: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return content


def logged_digests(changelog: str) -> set[str]:
    """The snapshot digests the changelog's headings name."""
    return set(SNAPSHOT_REFERENCE.findall(changelog))


def next_snapshot(
    previous: Mapping[str, Any] | None, document: Mapping[str, Any], changelog: str
) -> tuple[str, list[Change]]:
    """The new snapshot file's text, and the breaking changes since the previous snapshot.

    Breaking changes not yet in the changelog carry over from the previous snapshot (when its digest
    is not logged), so refreshing twice cannot lose them.
    """
    changes: list[Change] = []
    carried: list[str] = []
    if previous is not None:
        changes = breaking(classify(previous["document"], document))
        if previous.get("digest") not in logged_digests(changelog):
            carried = list(previous.get("unacknowledged_breaking_changes", []))
    pending = [*carried, *(str(change) for change in changes if str(change) not in carried)]
    if digest(document) in logged_digests(changelog):
        pending = []
    return snapshot_text(document, pending), changes


def render(document: Mapping[str, Any]) -> str:
    """docs/api.md for `document` (the normalised one)."""
    from lib.http import cors
    from lib.http.cookies import CSRF_COOKIE, CSRF_HEADER
    from lib.http.request import MAX_BODY_BYTES, MAX_JSON_DEPTH, REQUEST_ID

    blocks: dict[str, Callable[[], str]] = {
        "max_body": lambda: f"{MAX_BODY_BYTES // 1024} KiB",
        "max_depth": lambda: str(MAX_JSON_DEPTH),
        "request_id_pattern": lambda: f"`{REQUEST_ID.pattern}`",
        "roles": roles,
        "schemas": lambda: schemas(document),
        "route_summary": lambda: route_summary(document),
        "routes": lambda: routes(document),
        "cookies": cookies,
        "csrf_header": lambda: f"`{CSRF_HEADER}`",
        "csrf_cookie": lambda: CSRF_COOKIE,
        "cors_allow_headers": lambda: cors.ALLOW_HEADERS,
        "cors_expose_headers": lambda: cors.EXPOSE_HEADERS,
        "cors_max_age": lambda: cors.MAX_AGE,
        "rate_limits": lambda: rate_limits(document),
        "settings": settings,
        "problem_schema": lambda: problem_schema(document),
        "problem_codes": problem_codes,
        "cache_control": lambda: cache_control(document),
    }
    template = TEMPLATE.read_text(encoding="utf-8")

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in blocks:
            raise KeyError(f"{TEMPLATE.name}: unknown block {{{{{name}}}}}")
        return blocks[name]()

    text = re.sub(r"\{\{([a-z_]+)\}\}", fill, template)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """Rewrite docs/api.md (and with --snapshot the snapshot); --check only reports. Exit 1 when stale."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--snapshot", action="store_true", help="also rewrite docs/openapi.snapshot.json")
    mode.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is out of date")
    args = parser.parse_args(argv)

    document = normalised_document()
    text = render(document)
    previous = read_snapshot()
    changelog = CHANGES_MD.read_text(encoding="utf-8") if CHANGES_MD.exists() else ""
    if args.check:
        stale = []
        if not API_MD.exists() or API_MD.read_text(encoding="utf-8") != text:
            stale.append(str(API_MD.relative_to(ROOT)))
        if previous is None or previous.get("document") != document:
            stale.append(str(SNAPSHOT.relative_to(ROOT)))
        for name in stale:
            print(f"{name} is out of date: run {COMMAND} --snapshot")
        return 1 if stale else 0

    API_MD.write_text(text, encoding="utf-8")
    print(f"wrote {API_MD.relative_to(ROOT)}")
    if args.snapshot:
        snapshot, changes = next_snapshot(previous, document, changelog)
        SNAPSHOT.write_text(snapshot, encoding="utf-8")
        print(f"wrote {SNAPSHOT.relative_to(ROOT)}: digest {digest(document)}")
        for change in changes:
            print(f"  {change}")
        pending = json.loads(snapshot)["unacknowledged_breaking_changes"]
        if pending:
            print(
                f"{len(pending)} breaking change(s): add an entry to {CHANGES_MD.relative_to(ROOT)} whose"
                f" heading names `snapshot {digest(document)}` (see the top of that file)."
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
