"""`python -m devstack.vercel_check`: build with the real Vercel CLI, offline, and check what would ship.

The project is staged in a temporary directory exactly as Vercel receives it (the
files git would ship, minus `.vercelignore`), `.vercel/project.json` is written so
the CLI needs no account (with the settings Vercel's framework detection gives the
project on import: the "python" preset), and `vercel build --yes` runs with `uv` and
`python3.12` on PATH. The Build Output API result is then checked against the
repository: one function per route file and no more than the 12 the Hobby plan
allows, every declared path routed to its function and every other `/api` path to
some function (whose 404 is problem+json, not Vercel's own page), the runtime
and the limits vercel.json sets, nothing but `public/` as static files, no tooling
in any bundle, and dependencies well under Vercel's size limit.

The CLI is pinned in `devstack/vercel/package.json` and its lock, and installed
with `npm ci` into `devstack/vercel/node_modules` (git-ignored) on first use, apart
from the dev stack's own npm packages. `tests/deploy` reuses the same build
(`cached_build`) to run every function under the Vercel Python runtime.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parent.parent
CLI_DIR: Final = ROOT / "devstack" / "vercel"
CLI_BIN: Final = CLI_DIR / "node_modules" / ".bin" / "vercel"
CACHE_DIR: Final = CLI_DIR / "node_modules" / ".cache" / "vercel-check"
VENV_BIN: Final = ROOT / ".venv" / "bin"
FIND_PYTHON312: Final = ROOT / "devstack" / "bin" / "find-python312"

# The settings Vercel stores when the repository is imported: a root requirements.txt makes
# its framework detection pick the "python" preset (packages/frameworks), whose builder
# ignores api/*.py unless vercel.json overrides the preset with `"framework": null`.
# Building with empty settings would hide that, so the check builds with what import gives.
PROJECT_SETTINGS: Final = {
    "framework": "python",
    "buildCommand": None,
    "devCommand": None,
    "installCommand": None,
    "outputDirectory": None,
    "rootDirectory": None,
}
PROJECT_JSON: Final = {"projectId": "prj_local", "orgId": "team_local", "settings": PROJECT_SETTINGS}
RUNTIME: Final = "python3.12"
HANDLER: Final = "vc__handler__python.vc_handler"
VENDOR: Final = "_vendor"
# Our own budget; Vercel's limit is 250 MB unzipped per function.
MAX_DEPENDENCIES_MB: Final = 60.0
# Vercel's Hobby plan refuses a deployment with more Serverless Functions than this.
HOBBY_FUNCTION_LIMIT: Final = 12
MB: Final = 1024 * 1024
# Stands for every `{param}` / `[param]` segment when a route's path is routed through the build.
SAMPLE_SEGMENT: Final = "x1"
# Appended to a declared path to make one that no route declares.
UNKNOWN_SUFFIX: Final = "/vercel-check-unknown"
KEPT_BUILDS: Final = 2
MAX_LISTED: Final = 3
BUILD_TIMEOUT: Final = 900.0

# Top-level folders and files of the repository that must never be in a function.
TOOLING_ROOTS: Final = frozenset(
    {".ci", ".git", ".local", ".venv", "bench", "devstack", "docs", "supabase", "tests"}
)
# Static files the deployment must not publish (checked by name, on top of "only public/").
PRIVATE_STATIC: Final = ("lib/", "api/", "supabase/", "requirements.txt")
# Environment variables that would point the CLI at a real account or change the build.
CLI_ENV_DROP: Final = (
    "VERCEL_TOKEN",
    "VERCEL_ORG_ID",
    "VERCEL_PROJECT_ID",
    "VERCEL_PYTHON_COMPILEALL",
    "VERCEL_FIRST_DEPLOYMENT",
    "VERCEL_FRAMEWORK_DETECTION",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "PYTHONHOME",
)


class CheckError(Exception):
    """The build could not be made or inspected (as opposed to a violation found in it)."""


# --------------------------------------------------------------------------- what ships


def _git(root: Path, *args: str) -> list[str]:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=60
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = exc.stderr.strip() if isinstance(exc, subprocess.CalledProcessError) else str(exc)
        raise CheckError(f"git {' '.join(args)} failed in {root}: {detail}") from None
    return [line for line in result.stdout.split("\0") if line]


def shipped_files(root: Path = ROOT) -> list[str]:
    """Files Vercel receives: what git would ship (tracked or new, not ignored) minus `.vercelignore`."""
    listed = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    ignored: set[str] = set()
    if (root / ".vercelignore").is_file():
        for which in ("--cached", "--others"):
            ignored.update(_git(root, "ls-files", "-z", which, "--ignored", "--exclude-from=.vercelignore"))
    return sorted(p for p in set(listed) - ignored if (root / p).is_file() and not (root / p).is_symlink())


def stage(root: Path, dest: Path, files: Iterable[str]) -> None:
    """Copy `files` from `root` into `dest` and write the `.vercel/project.json` an offline build needs."""
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)
    (dest / ".vercel").mkdir(parents=True, exist_ok=True)
    (dest / ".vercel" / "project.json").write_text(json.dumps(PROJECT_JSON), encoding="utf-8")


# --------------------------------------------------------------------------- tools


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    # One npm install or build at a time per checkout, across concurrent test sessions.
    digest = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"vercel-check-{digest}-{name}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pinned_cli_version() -> str:
    """The exact `vercel` version devstack/vercel/package.json pins."""
    data = json.loads((CLI_DIR / "package.json").read_text(encoding="utf-8"))
    version = data.get("dependencies", {}).get("vercel")
    if not isinstance(version, str) or not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise CheckError("devstack/vercel/package.json must pin vercel to an exact version")
    return version


def _installed_cli_version() -> str | None:
    try:
        data = json.loads((CLI_DIR / "node_modules" / "vercel" / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = data.get("version")
    return version if isinstance(version, str) else None


def ensure_cli() -> Path:
    """The pinned Vercel CLI, installed with `npm ci` into devstack/vercel/node_modules if needed."""
    want = pinned_cli_version()
    with _locked("npm"):
        stamp = CLI_DIR / "node_modules" / ".installed"
        lock = CLI_DIR / "package-lock.json"
        fresh = stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime
        if not (fresh and CLI_BIN.exists() and _installed_cli_version() == want):
            print(
                f"vercel-check: installing vercel@{want} into {CLI_DIR.relative_to(ROOT)} (npm ci)",
                flush=True,
            )
            try:
                subprocess.run(
                    ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                    cwd=CLI_DIR,
                    check=True,
                    timeout=BUILD_TIMEOUT,
                )
            except (OSError, subprocess.SubprocessError) as exc:
                raise CheckError(f"npm ci in {CLI_DIR} failed: {exc}") from None
            stamp.touch()
    got = _installed_cli_version()
    if got != want:
        raise CheckError(f"devstack/vercel has vercel {got}, package.json pins {want}")
    return CLI_BIN


def python312() -> Path:
    """The real Python 3.12 interpreter (not a pyenv shim) that devstack/bin/find-python312 finds."""
    try:
        found = subprocess.run(
            [str(FIND_PYTHON312)], capture_output=True, text=True, check=True
        ).stdout.strip()
        real = subprocess.run(
            [found, "-c", "import os, sys; print(os.path.realpath(sys.executable))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise CheckError(f"no working Python 3.12 (devstack/bin/find-python312): {exc}") from None
    return Path(real)


def _uv_version() -> str:
    try:
        out = subprocess.run([str(VENV_BIN / "uv"), "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        raise CheckError(f"uv is not installed in {VENV_BIN} (run make deps)") from None
    return out.stdout.strip()


def build_environment(bin_dir: Path) -> dict[str, str]:
    """The CLI's environment: `.venv/bin` (uv) and `bin_dir` (python3.12) first on PATH, no account."""
    env = {k: v for k, v in os.environ.items() if k not in CLI_ENV_DROP}
    env["PATH"] = os.pathsep.join([str(VENV_BIN), str(bin_dir), env.get("PATH", "")])
    env["VERCEL_TELEMETRY_DISABLED"] = "1"
    env["NO_UPDATE_NOTIFIER"] = "1"
    env["FORCE_COLOR"] = "0"
    return env


# --------------------------------------------------------------------------- the build


@dataclass(frozen=True)
class Function:
    """One built function: its `.func` directory, config and the files Vercel would bundle."""

    name: str  # "api/vehicles/[id]/index"
    directory: Path
    config: Mapping[str, Any]  # .vc-config.json without filePathMap
    files: Mapping[str, Path]  # path inside the function -> file on disk

    @property
    def entrypoint(self) -> str:
        """The source file Vercel built it from, e.g. `api/vehicles/[id]/index.py`."""
        return self.name + ".py"

    @property
    def environment(self) -> dict[str, str]:
        """The environment Vercel sets for it (PYTHONPATH, PYTHONDONTWRITEBYTECODE)."""
        env = self.config.get("environment") or {}
        return {str(k): str(v) for k, v in env.items()}

    def size(self, prefix: str = "") -> int:
        """Bytes of the bundled files whose path starts with `prefix`."""
        return sum(path.stat().st_size for rel, path in self.files.items() if rel.startswith(prefix))


@dataclass(frozen=True)
class Build:
    """A staged project with `.vercel/output` written by `vercel build`."""

    root: Path
    seconds: float
    cli_version: str

    @property
    def output(self) -> Path:
        """The Build Output API directory."""
        return self.root / ".vercel" / "output"

    def functions(self) -> list[Function]:
        """Every `.func` in the output, sorted by name."""
        base = self.output / "functions"
        found: list[Function] = []
        for config_path in sorted(base.rglob(".vc-config.json")):
            directory = config_path.parent
            config: dict[str, Any] = json.loads(config_path.read_text(encoding="utf-8"))
            mapping: dict[str, str] = config.pop("filePathMap", {}) or {}
            files = {
                rel: (Path(src) if os.path.isabs(src) else self.root / src) for rel, src in mapping.items()
            }
            for own in directory.iterdir():
                if own.is_file():
                    files[own.name] = own
            name = directory.relative_to(base).as_posix().removesuffix(".func")
            found.append(Function(name, directory, config, files))
        return found

    def route(self, path: str) -> str | None:
        """The function (with the query the routing adds) that the build hands `path` to; None: 404.

        As Vercel routes: a function at exactly that path (or its folder's index) first, then
        the rules after `handle: filesystem` in order (vercel.json rewrites, then the dynamic
        `[param]` routes), each rewrite followed by another filesystem check. Rules before the
        filesystem (clean-URL and trailing-slash redirects) are not applied.
        """
        functions = {function.name for function in self.functions()}

        def function_at(path: str) -> str | None:
            name = path.strip("/")
            return next((f for f in (name, f"{name}/index") if f in functions), None)

        if (found := function_at(path)) is not None:
            return found
        rules: list[dict[str, Any]] = json.loads((self.output / "config.json").read_text(encoding="utf-8"))[
            "routes"
        ]
        query: list[str] = []
        for rule in rules[rules.index({"handle": "filesystem"}) + 1 :]:
            if "handle" in rule:
                break
            match = re.match(rule["src"], path)
            if match is None:
                continue
            if "dest" not in rule:
                return None
            dest = match.expand(re.sub(r"\$(\d+)", r"\\g<\1>", rule["dest"]))  # $1 -> \g<1>
            path, _, added = dest.partition("?")
            query += [added] if added else []
            if (found := function_at(path)) is not None:
                return found + ("?" + "&".join(query) if query else "")
        return None

    def static_files(self) -> list[str]:
        """Paths of the published static files, relative to the site root."""
        static = self.output / "static"
        if not static.is_dir():
            return []
        return sorted(p.relative_to(static).as_posix() for p in static.rglob("*") if p.is_file())


def run_build(root: Path, dest: Path, files: Sequence[str]) -> Build:
    """Stage `files` of `root` into `dest` and run the real `vercel build --yes` there."""
    cli = ensure_cli()
    stage(root, dest, files)
    interpreter = python312()
    with tempfile.TemporaryDirectory(prefix="vercel-check-bin-") as bin_dir:
        os.symlink(interpreter, Path(bin_dir) / "python3.12")
        started = time.monotonic()
        try:
            result = subprocess.run(
                [str(cli), "build", "--yes"],
                cwd=dest,
                env=build_environment(Path(bin_dir)),
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CheckError(f"vercel build did not finish in {BUILD_TIMEOUT:.0f} s") from None
        seconds = time.monotonic() - started
    log = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or not (dest / ".vercel" / "output" / "config.json").is_file():
        tail = "\n".join(log.splitlines()[-40:])
        raise CheckError(f"vercel build failed (exit {result.returncode}) in {dest}:\n{tail}")
    return Build(dest, seconds, pinned_cli_version())


def build_key(root: Path, files: Sequence[str]) -> str:
    """A digest of everything the build depends on: shipped files, CLI lock, Python and uv versions."""
    digest = hashlib.sha256()
    for rel in files:
        digest.update(rel.encode() + b"\0" + (root / rel).read_bytes() + b"\0")
    digest.update((CLI_DIR / "package-lock.json").read_bytes())
    digest.update(f"{python312()}|{sys.version}|{_uv_version()}".encode())
    return digest.hexdigest()[:20]


def cached_build(root: Path = ROOT) -> Build:
    """The build of the current files, reused when nothing it depends on changed since the last one."""
    files = shipped_files(root)
    key = build_key(root, files)
    final = CACHE_DIR / key
    with _locked("build"):
        meta = final / ".vercel-check.json"
        if meta.is_file():
            data = json.loads(meta.read_text(encoding="utf-8"))
            return Build(final, float(data["seconds"]), str(data["cli"]))
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="building-", dir=CACHE_DIR))
        try:
            built = run_build(root, work, files)
            (work / ".vercel-check.json").write_text(
                json.dumps({"seconds": built.seconds, "cli": built.cli_version}), encoding="utf-8"
            )
            work.rename(final)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        _prune_cache(keep=final)
    return Build(final, built.seconds, built.cli_version)


def _prune_cache(keep: Path) -> None:
    entries = sorted(
        (p for p in CACHE_DIR.iterdir() if p.is_dir() and p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in entries[KEPT_BUILDS - 1 :]:
        shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------- vercel.json


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a minimatch-style glob (`**`, `*`, `?`, `{a,b}`, `[...]`) as Vercel matches `functions`."""
    out: list[str] = []
    i = 0
    depth = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "{":
            depth += 1
            out.append("(?:")
        elif ch == "}" and depth:
            depth -= 1
            out.append(")")
        elif ch == "," and depth:
            out.append("|")
        elif ch == "[" and (end := pattern.find("]", i + 1)) > i + 1:
            out.append("[" + pattern[i + 1 : end].replace("!", "^", 1) + "]")
            i = end + 1
            continue
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out))


def function_config(vercel_json: Mapping[str, Any], entrypoint: str) -> tuple[str, Mapping[str, Any]] | None:
    """(pattern, settings) of the first `functions` entry that matches `entrypoint`, as the CLI picks it."""
    functions: Mapping[str, Any] = vercel_json.get("functions") or {}
    for pattern, settings in functions.items():
        if pattern == entrypoint or _glob_regex(pattern).fullmatch(entrypoint):
            return pattern, settings
    return None


# --------------------------------------------------------------------------- checks


def route_files(root: Path = ROOT) -> list[str]:
    """The `api/` files that lib.contract.routes declares, each once: one function per file."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from lib.contract.routes import ALL_ROUTES

    return sorted({route.vercel_file for route in ALL_ROUTES})


def declared_paths(root: Path = ROOT) -> dict[str, str]:
    """A concrete path of each route lib.contract.routes declares -> the function that must serve it."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from lib.contract.routes import ALL_ROUTES

    return {
        re.sub(r"\{\w+\}", SAMPLE_SEGMENT, route.path): route.vercel_file.removesuffix(".py")
        for route in ALL_ROUTES
    }


def file_paths(route_files: Iterable[str]) -> dict[str, str]:
    """A concrete path at which each route file is its own URL -> its function."""
    paths: dict[str, str] = {}
    for file in route_files:
        parts = file.removesuffix(".py").split("/")
        url = parts[:-1] if parts[-1] == "index" else parts
        path = "/" + "/".join(SAMPLE_SEGMENT if re.fullmatch(r"\[\w+\]", p) else p for p in url)
        paths[path] = file.removesuffix(".py")
    return paths


def routing_problems(build: Build, declared: Mapping[str, str]) -> Iterator[str]:
    """Declared paths the build does not hand to their function; undeclared ones it answers itself."""
    built = {function.name for function in build.functions()}
    for path, want in sorted(declared.items()):
        if want not in built:
            continue  # reported as a route file without a function
        got = build.route(path)
        if got is None:
            yield f"{path} reaches no function in the build (Vercel answers 404)"
        elif got.partition("?")[0] != want:
            yield f"{path} reaches {got.partition('?')[0]}, but {want} serves it"
    unknown = ["/api", *(path + UNKNOWN_SUFFIX for path in sorted(declared))]
    unreached = [path for path in unknown if build.route(path) is None]
    if unreached:
        listed = ", ".join(unreached[:MAX_LISTED]) + (", …" if len(unreached) > MAX_LISTED else "")
        yield (
            f"{len(unreached)} of {len(unknown)} paths no route declares reach no function ({listed}):"
            " Vercel answers them with its own 404 page, not a problem+json 404; add a catch-all"
            " rewrite of /api/... to an existing function, last in vercel.json, that leaves the"
            " dynamic [param] routes' paths alone"
        )


def requirement_pins(root: Path = ROOT) -> dict[str, str]:
    """Normalised distribution name -> pinned version, from requirements.txt."""
    pins: dict[str, str] = {}
    for line in (root / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()  # noqa: PLW2901
        if match := re.fullmatch(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;]+)", line):
            pins[_normalise(match.group(1))] = match.group(2)
    return pins


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _forbidden_reason(path: str) -> str | None:
    parts = path.split("/")
    name = parts[-1]
    if parts[0] in TOOLING_ROOTS:
        return f"{parts[0]}/ is local tooling"
    if "node_modules" in parts:
        return "node_modules"
    if "__pycache__" in parts or name.endswith(".pyc"):
        return "bytecode: committed, or VERCEL_PYTHON_COMPILEALL was set"
    if name.startswith(".env"):
        return "a dotenv file (secrets)"
    return None


def check_function(function: Function, vercel_json: Mapping[str, Any], pins: Mapping[str, str]) -> list[str]:
    """Violations in one built function."""
    label = function.name + ".func"
    return [
        f"{label}: {problem}"
        for problem in (
            *_config_problems(function, vercel_json),
            *_content_problems(function),
            *_dependency_problems(function, pins),
        )
    ]


def _config_problems(function: Function, vercel_json: Mapping[str, Any]) -> Iterator[str]:
    for key, want in (("runtime", RUNTIME), ("handler", HANDLER)):
        if function.config.get(key) != want:
            yield f"{key} is {function.config.get(key)!r}, expected {want!r}"
    matched = function_config(vercel_json, function.entrypoint)
    if matched is None:
        yield f"no vercel.json `functions` entry matches {function.entrypoint}"
        return
    pattern, settings = matched
    for limit in ("memory", "maxDuration"):
        configured = settings.get(limit)
        built = function.config.get(limit)
        if configured is None:
            yield f"vercel.json {pattern!r} sets no {limit}"
        elif built != configured:
            yield f"{limit} is {built}, vercel.json {pattern!r} sets {configured}"


def _content_problems(function: Function) -> Iterator[str]:
    for rel in sorted(function.files):
        reason = _forbidden_reason(rel)
        if reason is not None:
            yield f"bundles {rel} ({reason})"
    if any(rel.startswith("_uv/") for rel in function.files):
        yield "dependencies would be installed at cold start (_uv/): the bundle is too large"


def _dependency_problems(function: Function, pins: Mapping[str, str]) -> Iterator[str]:
    vendored = {
        _normalise(m.group(1)): m.group(2)
        for rel in function.files
        if (m := re.fullmatch(rf"{VENDOR}/([^/]+)-([^-/]+)\.dist-info/METADATA", rel))
    }
    wrong = [
        f"{name}=={version} (bundled: {vendored.get(name, 'none')})"
        for name, version in sorted(pins.items())
        if vendored.get(name) != version
    ]
    if len(wrong) > MAX_LISTED:
        listed = ", ".join(wrong[:MAX_LISTED])
        yield f"{len(wrong)} of {len(pins)} pinned requirements are not bundled as pinned: {listed}, …"
    else:
        yield from (f"requirements.txt pins {entry}" for entry in wrong)
    deps_mb = function.size(VENDOR + "/") / MB
    if deps_mb > MAX_DEPENDENCIES_MB:
        yield f"dependencies are {deps_mb:.1f} MB, over the {MAX_DEPENDENCIES_MB:.0f} MB budget"


def check_build(
    build: Build, root: Path, shipped: Sequence[str], routes: Sequence[str] | None = None
) -> list[str]:
    """Every violation of the deployment rules in `build`; empty when it is what we mean to ship.

    `routes` are the route files expected as functions, each served at its own URL (default:
    lib.contract.routes' declarations, with the paths vercel.json rewrites to them).
    """
    problems: list[str] = []
    vercel_json: dict[str, Any] = json.loads((root / "vercel.json").read_text(encoding="utf-8"))
    functions = build.functions()
    built = {f.entrypoint for f in functions}
    expected = set(route_files(root) if routes is None else routes)
    for extra in sorted(built - expected):
        problems.append(f"{extra} was built as a function, but no route in lib.contract.routes declares it")
    for missing in sorted(expected - built):
        problems.append(f"{missing} is a route file, but no function was built for it")
    if len(functions) > HOBBY_FUNCTION_LIMIT:
        problems.append(
            f"{len(functions)} functions: the Hobby plan refuses more than {HOBBY_FUNCTION_LIMIT} per"
            " deployment; serve new routes from an existing function (its `routes = (...)` and a"
            " vercel.json rewrite)"
        )
    if "pyproject.toml" in shipped and "requirements.txt" in shipped:
        problems.append(
            "pyproject.toml ships next to requirements.txt: the Vercel CLI installs from pyproject.toml"
            " (here tool settings only); list it in .vercelignore"
        )
    problems.extend(routing_problems(build, declared_paths(root) if routes is None else file_paths(routes)))
    pins = requirement_pins(root)
    for function in functions:
        problems.extend(check_function(function, vercel_json, pins))
    public = {p.removeprefix("public/") for p in shipped if p.startswith("public/")}
    static = build.static_files()
    for path in static:
        if path not in public:
            private = any(path.startswith(p) for p in PRIVATE_STATIC) or path.split("/")[-1].startswith(
                ".env"
            )
            why = " (private: source, schema or secrets)" if private else ""
            problems.append(f"static output publishes {path}, which is not in public/{why}")
    for path in sorted(public - set(static)):
        problems.append(f"public/{path} is missing from the static output")
    return problems


def report(build: Build) -> str:
    """A table of the built functions: limits and sizes."""
    rows = [
        f"{'function':<34} {'memory':>6} {'maxDur':>6} {'deps MB':>8} {'total MB':>8} {'files':>6}",
    ]
    for f in build.functions():
        rows.append(
            f"{f.name:<34} {f.config.get('memory', '-')!s:>6} {f.config.get('maxDuration', '-')!s:>6} "
            f"{f.size(VENDOR + '/') / MB:>8.1f} {f.size() / MB:>8.1f} {len(f.files):>6}"
        )
    return "\n".join(rows)


# --------------------------------------------------------------------------- assembling a function


def assemble(function: Function, dest: Path) -> Path:
    """Lay `function` out as Vercel deploys it (Lambda's /var/task) in `dest`: hard links or copies."""
    for rel, source in function.files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
    return dest


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    """Build, check, print the functions table; 0 when everything passes, 1 on any violation."""
    parser = argparse.ArgumentParser(
        prog="python -m devstack.vercel_check", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--reuse", action="store_true", help="reuse the cached build of identical inputs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary build directory")
    args = parser.parse_args(argv)
    try:
        shipped = shipped_files(ROOT)
        print(
            f"vercel-check: {len(shipped)} files ship; building with vercel@{pinned_cli_version()}",
            flush=True,
        )
        if args.reuse:
            build = cached_build(ROOT)
            return _finish(build, shipped)
        work = Path(tempfile.mkdtemp(prefix="vercel-check-"))
        try:
            return _finish(run_build(ROOT, work, shipped), shipped)
        finally:
            if args.keep:
                print(f"vercel-check: build kept in {work}")
            else:
                shutil.rmtree(work, ignore_errors=True)
    except CheckError as exc:
        print(f"vercel-check: error: {exc}", file=sys.stderr)
        return 1


def _finish(build: Build, shipped: Sequence[str]) -> int:
    print(f"vercel-check: vercel build took {build.seconds:.1f} s", flush=True)
    print(report(build))
    print("static: " + ", ".join(build.static_files()))
    problems = check_build(build, ROOT, shipped)
    if problems:
        print(f"\nvercel-check: FAILED, {len(problems)} violation(s):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"vercel-check: OK ({len(build.functions())} functions, runtime {RUNTIME})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
