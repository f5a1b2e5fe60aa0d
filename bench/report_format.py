"""Number formatting and result loading shared by the sections of docs/performance.md."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def load_result(results: Path, name: str) -> Any:
    """The parsed bench/results/<name>.json, or None when that run has not written it."""
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def fmt_ms(value: float) -> str:
    """Milliseconds for a table: 2 decimals below 100, 1 above; a dash for NaN or None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2013"
    return f"{value:.1f}" if value >= 100 else f"{value:.2f}"


def fmt_x(value: float) -> str:
    """A ratio for a table, as N.NN and a times sign; a dash for NaN or None."""
    if value is None or math.isnan(value):
        return "\u2013"
    return f"{value:.1f}\u00d7" if value >= 10 else f"{value:.2f}\u00d7"


def fmt_size(rows: int) -> str:
    """A row count as 20k or 1M."""
    return f"{rows // 1_000_000}M" if rows % 1_000_000 == 0 else f"{rows // 1000}k"


def verdict(ok: bool) -> str:
    """**met** or **not met**."""
    return "**met**" if ok else "**not met**"


def cell(run: dict[str, Any], key: str) -> float:
    """The median over rounds of `key` in one aggregated cell."""
    return float(run[key]["median"])


def per_round_ratio(
    crud: dict[str, Any], scenario: str, a: str, b: str, *, concurrency: str, key: str
) -> list[float]:
    """a / b of `key` in each round, at one concurrency (rounds where b is 0 left out)."""
    first = crud["runs"][scenario][a][concurrency]
    second = crud["runs"][scenario][b][concurrency]
    return [x[key] / y[key] for x, y in zip(first, second, strict=False) if y[key]]


def fmt_range(values: list[float]) -> str:
    """min to max of per-round ratios; a dash when there are none."""
    if not values:
        return "\u2013"
    return f"{fmt_x(min(values))}\u2013{fmt_x(max(values))}"
