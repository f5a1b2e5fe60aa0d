"""`--against REV`: pairing each function with its twin at REV, measuring both, comparing them."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.coldstart.deployment import checkout, deployment_copy, pin_differences
from bench.coldstart.measure import rounds
from bench.coldstart.results import cold_s, median_ms, ratio, results_document
from bench.coldstart.variants import ROOT, Samples, Variant, chosen_variants, log, name_matches, variants
from bench.coldstart.workload import Requests, maybe_stack

# --against: a function is "within" when its median is at most this times REV's.
AGAINST_LIMIT = 1.10


def api_functions(files: Iterable[str]) -> list[str]:
    """The function files among a tree's shipped files: `api/**/*.py` but `_`/`.`-prefixed paths."""
    found = []
    for file in files:
        parts = file.split("/")
        if parts[0] == "api" and file.endswith(".py") and not any(p[:1] in "_." for p in parts[1:]):
            found.append(file)
    return sorted(found)


def against_variants(
    current: Sequence[Variant], rev_files: Iterable[str], rev: str
) -> tuple[list[Variant], list[str], list[str]]:
    """`current`'s variants, each function present in `rev_files` followed by its " @rev" twin.

    Also returns the functions only the working tree has and those only REV has (not run).
    """
    at_rev = set(api_functions(rev_files))
    paired: list[Variant] = []
    only_now: list[str] = []
    for variant in current:
        paired.append(variant)
        if variant.is_baseline:
            continue
        if variant.file in at_rev:
            paired.append(Variant(f"{variant.name} @{rev}", variant.file, variant.module, rev))
        else:
            only_now.append(variant.name)
    now_files = {v.file for v in current}
    only_rev = sorted(f.removesuffix(".py") for f in at_rev - now_files)
    return paired, only_now, only_rev


def _spread_ms(values: Sequence[float]) -> dict[str, Any]:
    return {
        "median": median_ms(values),
        "min": round(min(values) * 1000, 1) if values else None,
        "max": round(max(values) * 1000, 1) if values else None,
    }


def comparison(samples: Mapping[str, Samples], pairs: Sequence[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """Per function (now, @REV name pairs): import and cold cost now and at REV, ratios now/REV, verdict."""
    rows: dict[str, dict[str, Any]] = {}
    for now_name, rev_name in pairs:
        now, then = samples[now_name], samples[rev_name]
        row: dict[str, Any] = {
            "import_ms": {"now": _spread_ms(now.import_s), "rev": _spread_ms(then.import_s)},
            "cold_cost_ms": {"now": _spread_ms(cold_s(now)), "rev": _spread_ms(cold_s(then))},
            "modules_loaded": {"now": now.modules, "rev": then.modules},
        }
        for key in ("import_ms", "cold_cost_ms"):
            row[key]["ratio"] = ratio(row[key]["now"]["median"], row[key]["rev"]["median"])
        # The criterion is the cold start: the cold cost when there were requests, else the import.
        decisive = row["cold_cost_ms"]["ratio"] if now.first_s else row["import_ms"]["ratio"]
        row["within_limit"] = decisive is not None and decisive <= AGAINST_LIMIT
        rows[now_name] = row
    return rows


def compare(
    runs: int, rev: str, *, with_requests: bool, only: Sequence[str] = (), bytecode: bool = False
) -> dict[str, Any]:
    """Measure the working tree's functions and REV's, interleaved in the same rounds; the --against document.

    Raises SystemExit when REV is unknown or pins other requirements (its _vendor would differ).
    """
    from devstack.vercel_check import python312, requirement_pins, shipped_files

    python = python312()
    with tempfile.TemporaryDirectory(prefix="coldstart-against-") as tmp:
        source = Path(tmp) / "source"
        commit = checkout(rev, source)
        differences = pin_differences(requirement_pins(ROOT), requirement_pins(source))
        if differences:
            raise SystemExit(
                f"coldstart: {rev}'s requirements.txt pins other versions; refusing to compare "
                "(the _vendor is the working tree's):\n  " + "\n  ".join(differences)
            )
        paired, only_now, only_rev = against_variants(variants(), shipped_files(source), rev)
        chosen = chosen_variants(paired, only)
        only_now, only_rev = ([f for f in names if name_matches(f, only)] for names in (only_now, only_rev))
        log(f"coldstart: {len(chosen)} variants, {rev} = {commit[:12]}")
        with maybe_stack(with_requests) as stack:
            copies = {
                "": deployment_copy(Path(tmp) / "now", bytecode=bytecode),
                rev: deployment_copy(Path(tmp) / "rev", bytecode=bytecode, root=source),
            }
            requests = Requests(stack) if stack is not None else None
            samples = rounds(python, chosen, copies, runs, requests)
    document = results_document(samples, runs, python, with_requests, bytecode)
    pairs = [(v.function, v.name) for v in chosen if v.rev]
    document["against"] = {"rev": rev, "commit": commit, "only_now": only_now, "only_rev": only_rev}
    document["limit_vs_rev"] = AGAINST_LIMIT
    document["functions"] = comparison(samples, pairs)
    document["all_within_limit"] = all(v["within_limit"] for v in document["functions"].values())
    return document
