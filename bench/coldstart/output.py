"""The Markdown tables of a results document and the files they are written to."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.coldstart.against import AGAINST_LIMIT
from bench.coldstart.results import TARGET
from bench.coldstart.variants import BASELINES, ROOT, log

RESULTS = ROOT / "bench" / "results" / "coldstart.json"
RESULTS_BYTECODE = ROOT / "bench" / "results" / "coldstart-bytecode.json"
RESULTS_AGAINST = ROOT / "bench" / "results" / "coldstart-against.json"
DOC = ROOT / "docs" / "performance.md"


def table(document: Mapping[str, Any]) -> str:
    """The Markdown table of a results document."""
    rows = document["variants"]
    with_requests = document["with_first_request"]
    head = "| function | import (ms) | vs naive |"
    rule = "|---|---:|---:|"
    if with_requests:
        head += " first request (ms) | warm request (ms) | cold cost (ms) | vs naive |"
        rule += "---:|---:|---:|---:|"
    lines = [head, rule]
    # Results from before the design card's floors have only floor and naive.
    labels = {name: label for name, _, _, label in BASELINES if name in rows}
    order = [*labels, *sorted(k for k in rows if k.startswith("api/"))]
    for name in order:
        row = rows[name]
        label = labels.get(name, f"`{name}`")
        line = f"| {label} | {_fmt(row['import_ms'])} | {_fmt(row['import_vs_naive'], 2)}x |"
        if with_requests:
            line += (
                f" {_fmt(row['first_request_ms'])} | {_fmt(row['warm_request_ms'])} |"
                f" {_fmt(row['cold_cost_ms'])} | {_fmt(row['cold_cost_vs_naive'], 2)}x |"
            )
        lines.append(line)
    verdict = "met" if document["target_met"] else "NOT met"
    cold = document.get("worst_cold_cost_vs_naive")
    lines += [
        "",
        f"Worst function import: {_fmt(document['worst_import_vs_naive'], 2)}x the naive baseline's "
        f"(target <= {TARGET}x: {verdict})"
        + (f"; worst cold cost: {_fmt(cold, 2)}x" if cold is not None else "")
        + f". Median of {document['runs_per_variant']} interleaved runs per row, "
        f"Python {document['python']} on {document['cpus']} CPUs, {document['generated_at']}"
        + (
            ", bytecode precompiled (not what Vercel ships)."
            if document.get("bytecode")
            else ", no bytecode."
        ),
    ]
    return "\n".join(lines)


def against_table(document: Mapping[str, Any]) -> str:
    """The Markdown table of an --against document: medians (min..max) now and at REV, and now/REV."""
    rev = document["against"]["rev"]
    with_requests = document["with_first_request"]
    head = f"| function | import now (ms) | import @{rev} (ms) | now/{rev} |"
    rule = "|---|---:|---:|---:|"
    if with_requests:
        head += f" cold cost now (ms) | cold cost @{rev} (ms) | now/{rev} |"
        rule += "---:|---:|---:|"
    lines = [head, rule]
    functions = document["functions"]
    for name in sorted(functions):
        row = functions[name]
        line = f"| `{name}` |"
        for key in ("import_ms", "cold_cost_ms") if with_requests else ("import_ms",):
            line += (
                f" {_spread(row[key]['now'])} | {_spread(row[key]['rev'])} | {_fmt(row[key]['ratio'], 2)}x |"
            )
        lines.append(line)
    against = document["against"]
    over = sorted(k for k, v in functions.items() if not v["within_limit"])
    measure_name = "cold cost" if with_requests else "import"
    lines += [
        "",
        f"Median (min..max) of {document['runs_per_variant']} interleaved runs per cell, "
        f"{rev} = {against['commit'][:12]}. "
        + (
            f"Every function's {measure_name} within {AGAINST_LIMIT:.2f}x of {rev}'s."
            if not over
            else f"Over {AGAINST_LIMIT:.2f}x {rev}'s {measure_name}: {', '.join(over)}."
        ),
    ]
    if against["only_now"]:
        lines.append(f"Only in the working tree (not compared): {', '.join(against['only_now'])}.")
    if against["only_rev"]:
        lines.append(f"Only at {rev} (not compared): {', '.join(against['only_rev'])}.")
    return "\n".join(lines)


def _spread(cell: Mapping[str, Any]) -> str:
    if cell["median"] is None:
        return "-"
    return f"{_fmt(cell['median'])} ({_fmt(cell['min'])}..{_fmt(cell['max'])})"


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def write(document: Mapping[str, Any], results: Path = RESULTS, doc: Path = DOC) -> None:
    """Write the JSON results, then re-render docs/performance.md, whose Cold start section shows them."""
    from bench import report

    write_json(document, results)
    doc.write_text(report.render(results.parent), encoding="utf-8")
    log(f"coldstart: wrote {doc.relative_to(ROOT)}")


def write_json(document: Mapping[str, Any], path: Path) -> None:
    """Write `document` to `path` as JSON, replacing it whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.tmp")
    partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
    log(f"coldstart: wrote {path.relative_to(ROOT)}")
