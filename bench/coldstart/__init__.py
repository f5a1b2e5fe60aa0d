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
  floor  a bare BaseHTTPRequestHandler answering hello (nothing else imported)
  naive  `from supabase import create_client; client = create_client(...)` at import

Target: every function's import at most 0.5x the naive baseline's.
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
import importlib.metadata
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
HERE = Path(__file__).resolve().parent
RESULTS = ROOT / "bench" / "results" / "coldstart.json"
RESULTS_BYTECODE = ROOT / "bench" / "results" / "coldstart-bytecode.json"
RESULTS_AGAINST = ROOT / "bench" / "results" / "coldstart-against.json"
DOC = ROOT / "docs" / "performance.md"
TARGET = 0.5
# --against: a function is "within" when its median is at most this times REV's.
AGAINST_LIMIT = 1.10
DEFAULT_RUNS = 11
PASSWORD = "cold-start-password-1"
EXCLUDED = ("__pycache__", "*.pyc")

Request = dict[str, Any]


@dataclass(frozen=True)
class Variant:
    """One thing to cold-start: a function of the API or a baseline."""

    name: str  # "api/vehicles/[id]/index", "floor", "naive", "api/health @b32135b"
    file: str  # relative to the deployment copy
    module: str  # the module name Vercel's runtime gives it
    rev: str = ""  # the git revision whose copy it runs (--against), "" for the working tree

    @property
    def is_baseline(self) -> bool:
        """True for the floor and naive baselines."""
        return not self.name.startswith("api/")

    @property
    def function(self) -> str:
        """The name without " @REV": the same function, and the same request, in either tree."""
        return self.name.removesuffix(f" @{self.rev}") if self.rev else self.name


@dataclass
class Samples:
    """Measurements of one variant."""

    import_s: list[float] = field(default_factory=list)
    first_s: list[float] = field(default_factory=list)
    warm_s: list[float] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    modules: int = 0


def _log(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- the deployment copy


def variants() -> list[Variant]:
    """The two baselines, then every route file in lib.contract.routes."""
    from devstack.vercel_check import route_files

    found = [
        Variant("floor", "bench_floor.py", "bench_floor"),
        Variant("naive", "bench_naive.py", "bench_naive"),
    ]
    for file in route_files(ROOT):
        name = file.removesuffix(".py")
        found.append(Variant(name, file, name.replace("/", ".")))
    return found


def vendor(dest: Path) -> int:
    """Copy the pinned requirements' installed files (no bytecode) into `dest`; the number of files."""
    from devstack.vercel_check import requirement_pins

    copied = 0
    for name, version in sorted(requirement_pins(ROOT).items()):
        distribution = importlib.metadata.distribution(name)
        if distribution.version != version:
            raise SystemExit(
                f"coldstart: .venv has {name} {distribution.version}, requirements.txt pins {version}"
            )
        for file in distribution.files or ():
            parts = Path(file).parts
            if parts[0] == ".." or "__pycache__" in parts or file.name.endswith(".pyc"):
                continue  # console scripts and bytecode are not part of what Vercel bundles
            source = Path(str(distribution.locate_file(file)))
            if source.is_file():
                target = dest / file
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
                copied += 1
    return copied


def deployment_copy(dest: Path, *, bytecode: bool = False, root: Path = ROOT) -> Path:
    """What ships from `root`, `_vendor/`, the baselines and the probe; compiled only on request."""
    from devstack.vercel_check import shipped_files

    for rel in shipped_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)
    files = vendor(dest / "_vendor")
    shutil.copy2(HERE / "floor_function.py", dest / "bench_floor.py")
    shutil.copy2(HERE / "naive_function.py", dest / "bench_naive.py")
    shutil.copy2(HERE / "child.py", dest / "bench_child.py")
    compiled = [p for p in dest.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]
    if compiled:
        raise SystemExit(f"coldstart: bytecode in the copy: {compiled[:3]}")
    if bytecode:
        from devstack.vercel_check import python312

        subprocess.run([str(python312()), "-m", "compileall", "-q", "-j", "0", str(dest)], check=True)
    _log(f"coldstart: deployment copy in {dest} ({files} dependency files, bytecode: {bytecode})")
    return dest


# --------------------------------------------------------------------------- the local stack and requests


@dataclass(frozen=True)
class Actors:
    """One round's users: a member with a vehicle, and an admin."""

    member_email: str
    member: str
    vehicle: str
    admin: str


class Requests:
    """Representative requests against a throwaway local stack, with fresh users for every round.

    Each cold instance reserves its own first batch (4 units) of a user's shared read
    counter, and hundreds of cold starts a minute would spend a user's quota: each round of
    the benchmark gets its own users.
    """

    def __init__(self, stack: Any) -> None:
        import requests

        self.stack = stack
        self.http = requests.Session()
        self.api = stack.settings.api_url.rstrip("/")
        self._ips = (f"198.19.{n // 250 % 250}.{n % 250 + 1}" for n in count(1000))
        self._actors: dict[int, Actors] = {}

    def _ip(self) -> dict[str, str]:
        return {"X-Forwarded-For": next(self._ips)}

    def _post(self, path: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        headers = self._ip()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.http.post(f"{self.api}/{path}", json=body, headers=headers, timeout=30)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def _signup(self) -> tuple[str, str]:
        email = f"coldstart-{time.time_ns()}@example.test"
        data = self._post("auth/signup", {"email": email, "password": PASSWORD})
        return email, str(data["user"]["id"])

    def _login(self, email: str) -> dict[str, Any]:
        return self._post("auth/login", {"email": email, "password": PASSWORD})

    def actors(self, round_no: int) -> Actors:
        """The users of round `round_no`, created on first use."""
        if round_no not in self._actors:
            import psycopg

            member_email, _ = self._signup()
            member = self._login(member_email)["access_token"]
            admin_email, admin_id = self._signup()
            with psycopg.connect(self.stack.postgres.dsn(), autocommit=True) as db:
                db.execute("update public.user_roles set role = 'admin' where user_id = %s", (admin_id,))
            admin = self._login(admin_email)["access_token"]
            vin = "WVWZZZ3CZWE" + f"{round_no:06d}"
            vehicle = {"vin": vin, "make": "Volkswagen", "model": "Passat", "model_year": 2020}
            vehicle_id = self._post("vehicles", vehicle, token=member)["id"]
            self._actors[round_no] = Actors(member_email, member, vehicle_id, admin)
        return self._actors[round_no]

    def environment(self) -> dict[str, str]:
        """The API settings pointing at this stack."""
        return dict(self.stack.settings.api_environment())

    def for_variant(self, name: str, round_no: int) -> Request:
        """The request `name` serves in round `round_no`; a fresh session or email where it consumes one."""
        a = self.actors(round_no)
        member = {"Authorization": f"Bearer {a.member}"}
        admin = {"Authorization": f"Bearer {a.admin}"}
        vid = a.vehicle
        builders: dict[str, Callable[[], Request]] = {
            "floor": lambda: _get("/"),
            "naive": lambda: _get("/"),
            "api/health": lambda: _get("/api/health"),
            "api/vin/[vin]": lambda: _get("/api/vin/1HGCM82633A004352?vin=1HGCM82633A004352"),
            "api/vehicles/index": lambda: _get("/api/vehicles?limit=20", member),
            "api/vehicles/[id]/index": lambda: _get(f"/api/vehicles/{vid}?id={vid}", member),
            "api/vehicles/[id]/maintenance": lambda: _get(
                f"/api/vehicles/{vid}/maintenance?id={vid}", member
            ),
            "api/me": lambda: _get("/api/me", member),
            # One representative request per merged function: a sign-in, the user list.
            "api/auth": lambda: _post("/api/auth/login", {"email": a.member_email, "password": PASSWORD}),
            "api/admin": lambda: _get("/api/admin/users?limit=20", admin),
            "api/openapi": lambda: _get("/api/openapi.json"),
            "api/docs": lambda: _get("/api/docs"),
        }
        request = builders[name]()
        request["headers"] = {**self._ip(), **request["headers"]}
        return request


def _get(path: str, headers: Mapping[str, str] | None = None) -> Request:
    return {"method": "GET", "path": path, "headers": dict(headers or {})}


def _post(path: str, body: Any, headers: Mapping[str, str] | None = None) -> Request:
    request: Request = {"method": "POST", "path": path, "headers": dict(headers or {})}
    if body is not None:
        request["body"] = json.dumps(body)
        request["headers"]["Content-Type"] = "application/json"
    return request


# Statuses a representative request must get, so the run measures the path it means to
# (200 unless listed: api/auth's sign-in and api/admin's user list are 200s too).
EXPECTED: dict[str, int] = {}


# --------------------------------------------------------------------------- measuring


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
    chosen = _chosen(variants(), only)
    with tempfile.TemporaryDirectory(prefix="coldstart-") as tmp, _maybe_stack(with_requests) as stack:
        copy = deployment_copy(Path(tmp), bytecode=bytecode)
        requests = Requests(stack) if stack is not None else None
        samples = _rounds(python, chosen, {"": copy}, runs, requests)
    return _document(samples, runs, python, with_requests, bytecode)


def _chosen(found: Sequence[Variant], only: Sequence[str]) -> list[Variant]:
    return [v for v in found if v.is_baseline or _matches(v.name, only)]


def _matches(name: str, only: Sequence[str]) -> bool:
    return not only or any(o in name for o in only)


def _rounds(
    python: Path, chosen: Sequence[Variant], copies: Mapping[str, Path], runs: int, requests: Requests | None
) -> dict[str, Samples]:
    """Every variant `runs` times, once per round in a rotating order, each from its revision's copy."""
    env = _child_environment(requests)
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
        _log(f"coldstart: round {round_no + 1}/{runs} done")
    return samples


@contextmanager
def _maybe_stack(wanted: bool) -> Iterator[Any]:
    if not wanted:
        yield None
        return
    _log("coldstart: starting a throwaway local stack for the first requests")
    from devstack.stack import running_stack
    from devstack.stack_settings import throwaway_settings

    with running_stack(throwaway_settings("coldstart-stack-")) as stack:
        yield stack


def _child_environment(requests: Requests | None) -> dict[str, str]:
    if requests is not None:
        settings = requests.environment()
    else:
        from devstack.stack_settings import resolve_stack_settings

        environ = {k: v for k, v in os.environ.items() if not k.startswith("SUPABASE_")}
        settings = dict(resolve_stack_settings(environ=environ).api_environment())
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **settings}


def _median_ms(values: Sequence[float]) -> float | None:
    return round(statistics.median(values) * 1000, 1) if values else None


def _document(
    samples: Mapping[str, Samples], runs: int, python: Path, with_requests: bool, bytecode: bool
) -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {}
    for name, s in samples.items():
        cold = _cold_s(s)
        rows[name] = {
            "import_ms": _median_ms(s.import_s),
            "first_request_ms": _median_ms(s.first_s),
            "warm_request_ms": _median_ms(s.warm_s),
            "cold_cost_ms": _median_ms(cold),
            "process_wall_ms": _median_ms(s.wall_s),
            "modules_loaded": s.modules,
            "statuses": sorted(set(s.statuses)),
            "samples_import_ms": [round(v * 1000, 1) for v in s.import_s],
        }
    naive = rows["naive"]
    for row in rows.values():
        row["import_vs_naive"] = _ratio(row["import_ms"], naive["import_ms"])
        row["cold_cost_vs_naive"] = _ratio(row["cold_cost_ms"], naive["cold_cost_ms"])
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


def _cold_s(s: Samples) -> list[float]:
    return [i + f - w for i, f, w in zip(s.import_s, s.first_s, s.warm_s, strict=False)]


def _ratio(value: float | None, base: float | None) -> float | None:
    return round(value / base, 3) if value is not None and base else None


# --------------------------------------------------------------------------- --against REV


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
        "median": _median_ms(values),
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
            "cold_cost_ms": {"now": _spread_ms(_cold_s(now)), "rev": _spread_ms(_cold_s(then))},
            "modules_loaded": {"now": now.modules, "rev": then.modules},
        }
        for key in ("import_ms", "cold_cost_ms"):
            row[key]["ratio"] = _ratio(row[key]["now"]["median"], row[key]["rev"]["median"])
        # The criterion is the cold start: the cold cost when there were requests, else the import.
        decisive = row["cold_cost_ms"]["ratio"] if now.first_s else row["import_ms"]["ratio"]
        row["within_limit"] = decisive is not None and decisive <= AGAINST_LIMIT
        rows[now_name] = row
    return rows


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


def checkout(rev: str, dest: Path) -> str:
    """Extract revision `rev` into `dest` with a git index of its files (for shipped_files); its commit.

    Raises SystemExit when `rev` is not a commit of this repository.
    """
    resolved = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if resolved.returncode != 0:
        raise SystemExit(f"coldstart: --against {rev}: not a commit of this repository")
    commit = resolved.stdout.strip()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit], capture_output=True, check=True
    )
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    # Every file of the archive is tracked at REV: index them all, whatever its .gitignore says.
    for args in (["init", "-q"], ["add", "-A", "-f"]):
        subprocess.run(["git", "-C", str(dest), *args], capture_output=True, check=True)
    return commit


def pin_differences(now: Mapping[str, str], rev: Mapping[str, str]) -> list[str]:
    """One line per requirement pinned differently (or only on one side); empty when the pins agree."""
    return [
        f"{name}: now {now.get(name, '-')}, REV {rev.get(name, '-')}"
        for name in sorted(set(now) | set(rev))
        if now.get(name) != rev.get(name)
    ]


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
        chosen = _chosen(paired, only)
        only_now, only_rev = ([f for f in names if _matches(f, only)] for names in (only_now, only_rev))
        _log(f"coldstart: {len(chosen)} variants, {rev} = {commit[:12]}")
        with _maybe_stack(with_requests) as stack:
            copies = {
                "": deployment_copy(Path(tmp) / "now", bytecode=bytecode),
                rev: deployment_copy(Path(tmp) / "rev", bytecode=bytecode, root=source),
            }
            requests = Requests(stack) if stack is not None else None
            samples = _rounds(python, chosen, copies, runs, requests)
    document = _document(samples, runs, python, with_requests, bytecode)
    pairs = [(v.function, v.name) for v in chosen if v.rev]
    document["against"] = {"rev": rev, "commit": commit, "only_now": only_now, "only_rev": only_rev}
    document["limit_vs_rev"] = AGAINST_LIMIT
    document["functions"] = comparison(samples, pairs)
    document["all_within_limit"] = all(v["within_limit"] for v in document["functions"].values())
    return document


# --------------------------------------------------------------------------- writing


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
    order = ["floor", "naive", *sorted(k for k in rows if k.startswith("api/"))]
    for name in order:
        row = rows[name]
        label = {"floor": "**floor** (bare handler)", "naive": "**naive** (`create_client` at import)"}.get(
            name, f"`{name}`"
        )
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


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def write(document: Mapping[str, Any], results: Path = RESULTS, doc: Path = DOC) -> None:
    """Write the JSON results, then re-render docs/performance.md, whose Cold start section shows them."""
    from bench import report

    _write_json(document, results)
    doc.write_text(report.render(results.parent), encoding="utf-8")
    _log(f"coldstart: wrote {doc.relative_to(ROOT)}")


def _write_json(document: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.tmp")
    partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
    _log(f"coldstart: wrote {path.relative_to(ROOT)}")


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
        _write_json(document, RESULTS_BYTECODE)
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
        _write_json(document, RESULTS_AGAINST)
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
        _log(f"coldstart: unexpected first-request statuses: {bad}")
    return bool(bad)


def _ok(name: str, statuses: Sequence[int]) -> bool:
    want = EXPECTED.get(name.partition(" @")[0], 200)
    return all(s == want for s in statuses)


if __name__ == "__main__":
    sys.exit(main())
