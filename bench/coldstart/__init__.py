"""Cold start of every function as Vercel runs it, against a floor and a naive baseline, in one run.

Vercel ships no bytecode (`PYTHONDONTWRITEBYTECODE=1`, `__pycache__` excluded), so each
cold start compiles from source everything the function imports. This reproduces that:
the function's code (the files that ship) and its installed dependencies (the pinned
requirements, copied from the virtualenv's RECORDs) go to a temporary directory without
any `__pycache__`; each measurement is a fresh `python -S -B` process that imports one
function module (what Vercel reports as the user init) and then, against a throwaway
local stack, serves a representative request in-process twice: the first pays the
lazy imports and new connections, the second is the same work warm. The cold cost is
import + first - warm: what being cold adds, without the server-side time (password
hashing, queries) that differs between functions. Runs are interleaved (every
variant once per round, rotating the order) and the median of each is reported.

Baselines, measured the same way in the same run:
  floor       a bare BaseHTTPRequestHandler answering hello (nothing else imported)
  floor+card  the same, whose first request verifies one HS256 token with python-jose and
              validates one pydantic model: what the design card forces on a data function
  floor+auth  the same, whose first request builds supabase_auth's client over httpx and
              makes one Auth call: what "supabase_auth is the Auth client" forces
  naive       `from supabase import create_client; client = create_client(...)` at import

Target: every function's import at most 0.5x the naive baseline's; issue #16's cold-cost
targets (per function group, against naive) are judged in docs/performance.md's Targets table.
After the rounds each function is cold-started once more under `-X importtime`, and what its
first request imported is recorded by package (bench/coldstart/imports.py): the profile
behind the cold cost.
Results: bench/results/coldstart.json and the Cold start table in docs/performance.md.

`--bytecode` measures the same with everything precompiled (what a build with
VERCEL_PYTHON_COMPILEALL=1 ships) into bench/results/coldstart-bytecode.json.

`--against REV` also copies what git revision REV shipped (its files minus its .vercelignore,
the same _vendor: REV must pin the same requirements) and runs every function present in
both trees twice per round, "<function>" and "<function> @REV", each with the same request;
per function it reports the medians now and at REV, their ratio and the spread over rounds,
into bench/results/coldstart-against.json (the normal results are left alone).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from bench.coldstart.against import compare
from bench.coldstart.measure import run
from bench.coldstart.output import RESULTS_AGAINST, RESULTS_BYTECODE, against_table, table, write, write_json
from bench.coldstart.variants import log
from bench.coldstart.workload import EXPECTED

DEFAULT_RUNS = 11


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, write, print; 1 when a function's import exceeds the target ratio."""
    parser = argparse.ArgumentParser(prog="python -m bench.coldstart", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=DEFAULT_RUNS, help=f"runs per variant (default {DEFAULT_RUNS})"
    )
    parser.add_argument("--import-only", action="store_true", help="no local stack, no first request")
    parser.add_argument("--only", action="append", default=[], help="functions whose name contains this")
    parser.add_argument(
        "--bytecode", action="store_true", help="precompile everything (not what Vercel ships)"
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--against",
        metavar="REV",
        help="also run each function as shipped at git revision REV, in the same rounds; compare",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.against:
        return _main_against(args)
    document = run(args.runs, with_requests=not args.import_only, only=args.only, bytecode=args.bytecode)
    print(table(document))
    if args.bytecode and not args.no_write:
        write_json(document, RESULTS_BYTECODE)
    elif not args.no_write and not args.only:
        write(document)
    if _bad_statuses(document):
        return 1
    return 0 if document["target_met"] else 1


def _main_against(args: argparse.Namespace) -> int:
    """--against REV: measure, print the comparison, write coldstart-against.json; 1 when over the limit."""
    document = compare(
        args.runs, args.against, with_requests=not args.import_only, only=args.only, bytecode=args.bytecode
    )
    print(against_table(document))
    if not args.no_write:
        write_json(document, RESULTS_AGAINST)
    if _bad_statuses(document):
        return 1
    return 0 if document["all_within_limit"] else 1


def _bad_statuses(document: Mapping[str, Any]) -> bool:
    bad = {
        k: v["statuses"]
        for k, v in document["variants"].items()
        if v["statuses"] and not _ok(k, v["statuses"])
    }
    if bad:
        log(f"coldstart: unexpected first-request statuses: {bad}")
    return bool(bad)


def _ok(name: str, statuses: Sequence[int]) -> bool:
    want = EXPECTED.get(name.partition(" @")[0], 200)
    return all(s == want for s in statuses)


if __name__ == "__main__":
    sys.exit(main())
