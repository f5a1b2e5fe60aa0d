"""`python -m bench.scale10m` (`make bench-10m`): the list at 10k, 1M and 10M rows, in one run of its own.

    python -m bench.scale10m                                 # bench/results/scale-10m.json (~25 min, ~15 GB)
    python -m bench.scale10m --sizes 10000,100000,300000 --quick   # a smoke run into a temporary directory

It starts its own throwaway stack, as `python -m bench` does, loads 10k vehicles, times and
explains the list (the scale scenario of `bench.runs`: our API and direct PostgREST, with the
OFFSET baselines as far as they answer), grows the table to 1M and then to 10M and does the same
at each size, so the ratios 1M/10k and 10M/10k come from the same run. Its file is written after
every size (a failure keeps the sizes before it and says why) and is its own: `make bench`
never writes or deletes it, and the report shows the 10M row and plans from it, with its date.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Imported up front: a run takes half an hour, and the tree may change under it meanwhile.
from bench import data
from bench.__main__ import RESULTS, Phases, _git, _log, machine, versions, write_json
from bench.environment import bench_settings, create_actors, naive_peer
from bench.report_format import fmt_size
from bench.runs import Budget, run_scale
from bench.world import World
from devstack.stack import running_stack

NAME = "scale-10m"
SIZES = {"small": 10_000, "large": 1_000_000, "xlarge": 10_000_000}
PAGES = {"small": (1, 500), "large": (1, 500, 1000), "xlarge": (1, 500, 1000)}
QUICK_BUDGET = Budget(rounds=1, requests_c1=100, seconds=1.0)


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (the machine is shared), rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def parse_sizes(text: str) -> dict[str, int]:
    """ "10000,100000,300000" as the three sizes; raises ValueError unless they are rising and positive."""
    values = [int(part) for part in text.split(",")]
    if len(values) != 3 or not 0 < values[0] < values[1] < values[2]:
        raise ValueError(f"--sizes needs three rising row counts, got {text!r}")
    return dict(zip(SIZES, values, strict=True))


def check_disk(sizes: dict[str, int]) -> None:
    """Raise SystemExit at once when the temporary directory cannot hold the largest table."""
    needed = data.ROOM_GUESS_BYTES_PER_ROW * sizes["xlarge"] * data.ROOM_FACTOR + data.ROOM_MARGIN
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if free < needed:
        raise SystemExit(
            f"{sizes['xlarge']:,} rows need about {needed / 2**30:.0f} GiB under {tempfile.gettempdir()}; "
            f"{free / 2**30:.0f} GiB free"
        )


def _write(out: Path, results: dict[str, Any], phases: Phases) -> None:
    env = results["environment"]
    env["phases_s"] = phases.total()
    env["load_average"]["end"] = load_average()
    env["finished"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    write_json(out, NAME, results)


def measure(
    world: World, *, sizes: dict[str, int], budget: Budget, results: dict[str, Any], out: Path, phases: Phases
) -> None:
    """Load each size in turn, then time and explain the list there; the file is rewritten after each."""
    env = results["environment"]
    owners = data.Owners(world.actors.fleet.id, tuple(user.id for user in world.actors.others))
    loaded = 0
    for size, rows in sizes.items():
        room = data.ensure_room(world.dsn, world.stack.settings.data_dir, rows - loaded) if loaded else None
        _log(f"== COPY {rows - loaded:,} vehicles, to {fmt_size(rows)}")
        load = data.load(world.dsn, owners, loaded, rows, rebuild_indexes=bool(loaded), progress=_log)
        if room is not None:
            load["room"] = room
        env["loads"][size] = load
        loaded = rows
        phases.done(f"load {size}")
        results["scale"][size] = run_scale(world, fmt_size(rows), PAGES[size], budget, _log)
        phases.done(f"scale {size}")
        _write(out, results, phases)


def run(sizes: dict[str, int], quick: bool) -> Path:
    """The whole standalone run; returns the file it wrote. Exits 1 (after writing) when a size fails."""
    out = Path(tempfile.mkdtemp(prefix="bench-scale-quick-")) if quick else RESULTS
    budget = QUICK_BUDGET if quick else Budget()
    results: dict[str, Any] = {
        "environment": {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": _git("rev-parse", "--short", "HEAD"),
            "worktree_dirty": bool(_git("status", "--porcelain", "--", "lib", "api", "bench", "supabase")),
            "machine": machine(),
            "load_average": {"start": load_average()},
            "sizes": sizes,
            "pages": {size: list(PAGES[size]) for size in sizes},
            "budget": budget.__dict__,
            "quick": quick,
            "loads": {},
        },
        "scale": {},
    }
    phases = Phases()
    settings = bench_settings()
    _log(f"== starting a throwaway stack in {settings.data_dir} (load average {load_average()})")
    failed = None
    with running_stack(settings) as stack, naive_peer(settings) as peer:
        world = World(stack, create_actors(stack), peer)
        results["environment"]["versions"] = versions(stack)
        phases.done("stack start")
        try:
            measure(world, sizes=sizes, budget=budget, results=results, out=out, phases=phases)
        except Exception as error:  # the sizes measured so far stand; the file says what failed
            failed = repr(error)[:500]
            _log(f"== the scale run failed: {failed}")
            results["environment"]["failed"] = failed
        _write(out, results, phases)
    _log(f"== results in {out / (NAME + '.json')} (load average at the end {load_average()})")
    if failed:
        raise SystemExit(1)
    return out / f"{NAME}.json"


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale10m",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="one short round per page, into a temporary directory"
    )
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in SIZES.values()),
        help="the three table sizes, rising (default %(default)s); a smoke run: 10000,100000,300000",
    )
    args = parser.parse_args(argv)
    try:
        sizes = parse_sizes(args.sizes)
    except ValueError as error:
        parser.error(str(error))
    check_disk(sizes)
    run(sizes, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
