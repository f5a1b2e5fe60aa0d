"""bench.coldstart --against: discovering functions, pairing variants, the comparison and its table."""

from __future__ import annotations

from bench.coldstart.against import against_variants, api_functions, comparison
from bench.coldstart.deployment import pin_differences
from bench.coldstart.output import against_table
from bench.coldstart.variants import Samples, Variant


def test_api_functions_are_the_api_python_files_vercel_builds() -> None:
    files = [
        "api/health.py",
        "api/vehicles/[id]/index.py",
        "api/_shared.py",  # Vercel skips `_` and `.` prefixed paths
        "api/_private/x.py",
        "api/README.md",
        "lib/api/x.py",
    ]
    assert api_functions(files) == ["api/health.py", "api/vehicles/[id]/index.py"]


def test_each_function_in_both_trees_is_followed_by_its_twin_at_rev() -> None:
    current = [
        Variant("floor", "bench_floor.py", "bench_floor"),
        Variant("api/health", "api/health.py", "api.health"),
        Variant("api/new", "api/new.py", "api.new"),
    ]
    paired, only_now, only_rev = against_variants(current, ["api/health.py", "api/old.py", "lib/x.py"], "b32")
    assert [v.name for v in paired] == ["floor", "api/health", "api/health @b32", "api/new"]
    twin = paired[2]
    assert (twin.file, twin.module, twin.rev, twin.function) == (
        "api/health.py",
        "api.health",
        "b32",
        "api/health",
    )
    assert not twin.is_baseline
    assert paired[1].function == "api/health"
    assert only_now == ["api/new"]
    assert only_rev == ["api/old"]


def test_pin_differences_name_each_pin_that_differs() -> None:
    assert pin_differences({"a": "1", "b": "2"}, {"a": "1", "b": "2"}) == []
    assert pin_differences({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"}) == [
        "b: now 2, REV 3",
        "c: now -, REV 4",
    ]


def _samples(imports_ms: list[float], first_ms: float, warm_ms: float) -> Samples:
    n = len(imports_ms)
    return Samples(
        import_s=[v / 1000 for v in imports_ms],
        first_s=[first_ms / 1000] * n,
        warm_s=[warm_ms / 1000] * n,
        wall_s=[1.0] * n,
        statuses=[200] * (2 * n),
        modules=100,
    )


def test_comparison_ratios_spreads_and_table() -> None:
    samples = {
        "api/health": _samples([100, 110, 300], first_ms=500, warm_ms=50),  # cold 550, 560, 750
        "api/health @b32": _samples([100, 100, 100], first_ms=500, warm_ms=50),  # cold 550
        "api/me": _samples([200, 200, 200], first_ms=900, warm_ms=100),  # cold 1000
        "api/me @b32": _samples([100, 100, 100], first_ms=500, warm_ms=100),  # cold 500
    }
    rows = comparison(samples, [("api/health", "api/health @b32"), ("api/me", "api/me @b32")])
    health = rows["api/health"]
    assert health["import_ms"]["now"] == {"median": 110.0, "min": 100.0, "max": 300.0}
    assert health["import_ms"]["ratio"] == 1.1
    assert health["cold_cost_ms"]["now"]["median"] == 560.0
    assert health["cold_cost_ms"]["ratio"] == round(560 / 550, 3)
    assert health["within_limit"]  # 1.02x
    assert rows["api/me"]["cold_cost_ms"]["ratio"] == 2.0
    assert not rows["api/me"]["within_limit"]

    document = {
        "against": {"rev": "b32", "commit": "b32" + "0" * 37, "only_now": ["api/new"], "only_rev": []},
        "with_first_request": True,
        "runs_per_variant": 3,
        "functions": rows,
    }
    text = against_table(document)
    lines = text.splitlines()
    assert lines[0].startswith("| function | import now (ms) | import @b32 (ms) | now/b32 |")
    assert lines[2] == (
        "| `api/health` | 110 (100..300) | 100 (100..100) | 1.10x | 560 (550..750) | 550 (550..550) | 1.02x |"
    )
    assert lines[3].startswith("| `api/me` |")
    assert "Over 1.10x b32's cold cost: api/me." in text
    assert "Only in the working tree (not compared): api/new." in text


def test_without_requests_the_import_decides() -> None:
    now, then = _samples([105], 0, 0), _samples([100], 0, 0)
    now.first_s, now.warm_s, then.first_s, then.warm_s = [], [], [], []
    rows = comparison({"api/x": now, "api/x @r": then}, [("api/x", "api/x @r")])
    assert rows["api/x"]["cold_cost_ms"]["ratio"] is None
    assert rows["api/x"]["within_limit"]
