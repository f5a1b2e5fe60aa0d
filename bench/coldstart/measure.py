"""Measuring: one cold start in a fresh process, interleaved rounds of every variant, a whole run."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.coldstart.deployment import deployment_copy
from bench.coldstart.imports import profile_imports
from bench.coldstart.results import results_document
from bench.coldstart.variants import (
    AUTH_FLOOR,
    CARD_FLOOR,
    Request,
    Samples,
    Variant,
    chosen_variants,
    log,
    variants,
)
from bench.coldstart.workload import Requests, child_environment, maybe_stack


def measure(
    python: Path, copy: Path, variant: Variant, env: Mapping[str, str], requests: Sequence[Request]
) -> dict[str, Any]:
    """One cold start in a fresh `python -S -B` process, then `requests` served one after the other."""
    argv = [str(python), "-S", "-B", str(copy / "bench_child.py"), str(copy), variant.module, variant.file]
    if requests:
        argv.append(json.dumps(list(requests)))
    started = time.perf_counter()
    result = subprocess.run(
        argv, cwd=copy, env=dict(env), capture_output=True, text=True, timeout=120, check=False
    )
    wall = time.perf_counter() - started
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise SystemExit(f"coldstart: {variant.name} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    data: dict[str, Any] = json.loads(lines[-1])
    data["wall_s"] = wall
    return data


def run(
    runs: int, *, with_requests: bool, only: Sequence[str] = (), bytecode: bool = False
) -> dict[str, Any]:
    """Measure every variant `runs` times, interleaved; the results document."""
    from devstack.vercel_check import python312

    python = python312()
    chosen = chosen_variants(variants(), only)
    with tempfile.TemporaryDirectory(prefix="coldstart-") as tmp, maybe_stack(with_requests) as stack:
        copy = deployment_copy(Path(tmp), bytecode=bytecode)
        requests = Requests(stack) if stack is not None else None
        samples = rounds(python, chosen, {"": copy}, runs, requests)
        imports = first_request_imports(python, copy, chosen, requests, runs) if requests else {}
    document = results_document(samples, runs, python, with_requests, bytecode)
    if imports:
        document["first_request_imports"] = imports
    return document


def first_request_imports(
    python: Path, copy: Path, chosen: Sequence[Variant], requests: Requests, round_no: int
) -> dict[str, Any]:
    """Each function's and design-card floor's first-request imports by owner (`-X importtime`)."""
    env = child_environment(requests)
    found = {}
    for variant in chosen:
        if variant.is_baseline and variant.name not in (CARD_FLOOR, AUTH_FLOOR):
            continue
        pair = [requests.for_variant(variant.function, round_no) for _ in range(2)]
        found[variant.name] = profile_imports(python, copy, variant, env, pair)
    log("coldstart: first-request imports profiled")
    return found


def rounds(
    python: Path, chosen: Sequence[Variant], copies: Mapping[str, Path], runs: int, requests: Requests | None
) -> dict[str, Samples]:
    """Every variant `runs` times, once per round in a rotating order, each from its revision's copy."""
    env = child_environment(requests)
    samples = {v.name: Samples() for v in chosen}
    order = list(chosen)
    for round_no in range(runs):
        shift = round_no % len(order)
        for variant in order[shift:] + order[:shift]:
            pair = [requests.for_variant(variant.function, round_no) for _ in range(2)] if requests else []
            data = measure(python, copies[variant.rev], variant, env, pair)
            into = samples[variant.name]
            into.import_s.append(data["import_s"])
            into.wall_s.append(data["wall_s"])
            into.modules = int(data["modules"])
            if pair:
                first, warm = data["requests_s"]
                into.first_s.append(first)
                into.warm_s.append(warm)
                into.statuses.extend(int(s) for s in data["statuses"])
        log(f"coldstart: round {round_no + 1}/{runs} done")
    return samples
