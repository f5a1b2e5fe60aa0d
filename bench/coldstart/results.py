"""The results document: medians per variant, ratios to the naive baseline and the target."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.coldstart.variants import Samples

TARGET = 0.5


def median_ms(values: Sequence[float]) -> float | None:
    """The median of `values` (seconds) in milliseconds, or None when there are none."""
    return round(statistics.median(values) * 1000, 1) if values else None


def results_document(
    samples: Mapping[str, Samples], runs: int, python: Path, with_requests: bool, bytecode: bool
) -> dict[str, Any]:
    """The results document of a run: per variant medians and ratios to naive, and the verdict."""
    rows: dict[str, dict[str, Any]] = {}
    for name, s in samples.items():
        cold = cold_s(s)
        rows[name] = {
            "import_ms": median_ms(s.import_s),
            "first_request_ms": median_ms(s.first_s),
            "warm_request_ms": median_ms(s.warm_s),
            "cold_cost_ms": median_ms(cold),
            "process_wall_ms": median_ms(s.wall_s),
            "modules_loaded": s.modules,
            "statuses": sorted(set(s.statuses)),
            "samples_import_ms": [round(v * 1000, 1) for v in s.import_s],
            # Per round, in round order: the report takes per-round ratios to naive from these.
            "samples_cold_cost_ms": [round(v * 1000, 1) for v in cold],
        }
    naive = rows["naive"]
    for row in rows.values():
        row["import_vs_naive"] = ratio(row["import_ms"], naive["import_ms"])
        row["cold_cost_vs_naive"] = ratio(row["cold_cost_ms"], naive["cold_cost_ms"])
    # The target is about the working tree's functions, not --against's "@REV" twins.
    functions = {k: v for k, v in rows.items() if k.startswith("api/") and " @" not in k}
    worst = max((v["import_vs_naive"] for v in functions.values()), default=None)
    worst_cold = max((v["cold_cost_vs_naive"] or 0 for v in functions.values()), default=None)
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "interpreter": str(python),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "runs_per_variant": runs,
        "method": "fresh `python -S -B` per run, interleaved rounds, medians",
        "bytecode": bytecode,
        "with_first_request": with_requests,
        "target_import_vs_naive": TARGET,
        "worst_import_vs_naive": worst,
        "worst_cold_cost_vs_naive": worst_cold if with_requests else None,
        "target_met": worst is not None and worst <= TARGET,
        "variants": rows,
    }


def cold_s(s: Samples) -> list[float]:
    """Cold cost per round: import + first request - warm request."""
    return [i + f - w for i, f, w in zip(s.import_s, s.first_s, s.warm_s, strict=False)]


def ratio(value: float | None, base: float | None) -> float | None:
    """value / base rounded, or None when either is missing."""
    return round(value / base, 3) if value is not None and base else None
