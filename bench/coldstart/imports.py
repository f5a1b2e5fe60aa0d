"""What a function's first request imports, by owner: a cold start run again under `-X importtime`.

The child marks on stderr where each request starts; every import logged between the
first and the second mark is the first request's. Each module's own (exclusive) time,
compiling included (no bytecode), is summed by its top-level package, so `lib` is the
API's own modules and `httpx`, `jose`, `pydantic` each library. One run per function,
after the measured rounds: `-X importtime` slows imports down, so only the shares and
the order matter, not the milliseconds.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.coldstart.child import MARK
from bench.coldstart.variants import Request, Variant

TOP = 8
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def first_request_owners(stderr: str) -> dict[str, float]:
    """Milliseconds of import time (exclusive) per top-level package during the first request."""
    owners: dict[str, float] = {}
    inside = False
    for line in stderr.splitlines():
        if line.startswith(MARK):
            inside = line == f"{MARK}0"
            continue
        match = _LINE.match(line)
        if inside and match:
            owner = match.group(4).split(".")[0]
            owners[owner] = owners.get(owner, 0.0) + int(match.group(1)) / 1000
    return owners


def summary(owners: Mapping[str, float]) -> dict[str, Any]:
    """The total and the TOP largest owners, largest first, in ms."""
    ranked = sorted(owners.items(), key=lambda item: item[1], reverse=True)
    return {
        "total_ms": round(sum(owners.values()), 1),
        "owners": [[name, round(ms, 1)] for name, ms in ranked[:TOP]],
        "other_ms": round(sum(ms for _, ms in ranked[TOP:]), 1),
    }


def profile_imports(
    python: Path, copy: Path, variant: Variant, env: Mapping[str, str], requests: Sequence[Request]
) -> dict[str, Any]:
    """One more cold start of `variant` under `-X importtime`; what its first request imported."""
    import json

    argv = [str(python), "-S", "-B", "-X", "importtime", str(copy / "bench_child.py"), str(copy)]
    argv += [variant.module, variant.file, json.dumps(list(requests))]
    result = subprocess.run(
        argv, cwd=copy, env=dict(env), capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        return {"error": result.stderr[-500:]}
    return summary(first_request_owners(result.stderr))
