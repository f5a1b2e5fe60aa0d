"""`python -m devstack.vercel_check`: build with the real Vercel CLI, offline, and check what would ship.

The project is built as Vercel would build it (devstack.vercel_build, with the pinned CLI
and Python of devstack.vercel_tools), and the Build Output API result is checked against the
repository: one function per route file and no more than the 12 the Hobby plan allows,
vercel.json's rewrites in step with the route table (devstack.vercel_config), every declared
path routed to its function and every other `/api` path to some function (whose 404 is
problem+json, not Vercel's own page), the runtime and the limits vercel.json sets, nothing
but `public/` as static files, no tooling in any bundle, and dependencies well under
Vercel's size limit. `tests/deploy` reuses the same build (`cached_build`) to run every
function under the Vercel Python runtime.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final

from devstack.vercel_build import (
    PROJECT_SETTINGS,
    VENDOR,
    Build,
    Function,
    assemble,
    cached_build,
    run_build,
    shipped_files,
)
from devstack.vercel_config import (
    UNKNOWN_SUFFIX,
    DeclaredRoute,
    VercelConfig,
    load_vercel_config,
    route_table_problems,
    sample_path,
)
from devstack.vercel_tools import ROOT, CheckError, pinned_cli_version, python312

RUNTIME: Final = "python3.12"
HANDLER: Final = "vc__handler__python.vc_handler"
# Our own budget; Vercel's limit is 250 MB unzipped per function.
MAX_DEPENDENCIES_MB: Final = 60.0
# Vercel's Hobby plan refuses a deployment with more Serverless Functions than this.
HOBBY_FUNCTION_LIMIT: Final = 12
MB: Final = 1024 * 1024
MAX_LISTED: Final = 3
# Top-level folders and files of the repository that must never be in a function.
TOOLING_ROOTS: Final = frozenset(
    {".ci", ".git", ".local", ".venv", "bench", "devstack", "docs", "supabase", "tests"}
)
# Static files the deployment must not publish (checked by name, on top of "only public/").
PRIVATE_STATIC: Final = ("lib/", "api/", "supabase/", "requirements.txt")


# --------------------------------------------------------------------------- checks


def declared_routes(root: Path = ROOT) -> Sequence[DeclaredRoute]:
    """lib.contract.routes' ALL_ROUTES, imported from `root`."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from lib.contract.routes import ALL_ROUTES

    return ALL_ROUTES


def route_files(root: Path = ROOT) -> list[str]:
    """The `api/` files that lib.contract.routes declares, each once: one function per file."""
    return sorted({route.vercel_file for route in declared_routes(root)})


def declared_paths(root: Path = ROOT) -> dict[str, str]:
    """A concrete path of each route lib.contract.routes declares -> the function that must serve it."""
    return {sample_path(route.path): route.vercel_file.removesuffix(".py") for route in declared_routes(root)}


def file_paths(route_files: Iterable[str]) -> dict[str, str]:
    """A concrete path at which each route file is its own URL -> its function."""
    paths: dict[str, str] = {}
    for file in route_files:
        parts = file.removesuffix(".py").split("/")
        url = parts[:-1] if parts[-1] == "index" else parts
        path = sample_path("/" + "/".join(url))
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


def check_function(
    function: Function, config: VercelConfig, pins: Mapping[str, str], modules: Sequence[str] = ()
) -> list[str]:
    """Violations in one built function; `modules` are the lib/ files every function needs."""
    label = function.name + ".func"
    return [
        f"{label}: {problem}"
        for problem in (
            *_config_problems(function, config),
            *_content_problems(function, modules),
            *_dependency_problems(function, pins),
        )
    ]


def _config_problems(function: Function, config: VercelConfig) -> Iterator[str]:
    for key, want in (("runtime", RUNTIME), ("handler", HANDLER)):
        if function.config.get(key) != want:
            yield f"{key} is {function.config.get(key)!r}, expected {want!r}"
    matched = config.function_config(function.entrypoint)
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


def _content_problems(function: Function, modules: Sequence[str]) -> Iterator[str]:
    # The handler imports lib lazily (cold starts), so a module left out (a .vercelignore line
    # or excludeFiles glob that also matches inside lib/) fails only the requests that need it.
    missing = [rel for rel in modules if rel not in function.files]
    if missing:
        listed = ", ".join(missing[:MAX_LISTED]) + (", …" if len(missing) > MAX_LISTED else "")
        yield f"leaves out {len(missing)} lib/ module(s) ({listed}): check .vercelignore and excludeFiles"
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
    config = load_vercel_config(root)
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
    if routes is None:
        problems.extend(
            f"vercel.json: {problem}" for problem in route_table_problems(config, declared_routes(root))
        )
    problems.extend(routing_problems(build, declared_paths(root) if routes is None else file_paths(routes)))
    pins = requirement_pins(root)
    modules = sorted(
        p.relative_to(root).as_posix() for p in (root / "lib").rglob("*.py") if "__pycache__" not in p.parts
    )
    for function in functions:
        problems.extend(check_function(function, config, pins, modules))
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


# Built and inspected in devstack.vercel_build (with the tools of devstack.vercel_tools); named
# here too, as this module is where tests, bench/ and `make` look for them.
__all__ = [
    "HOBBY_FUNCTION_LIMIT",
    "PROJECT_SETTINGS",
    "TOOLING_ROOTS",
    "VENDOR",
    "Build",
    "CheckError",
    "Function",
    "assemble",
    "cached_build",
    "check_build",
    "main",
    "python312",
    "requirement_pins",
    "route_files",
    "run_build",
    "shipped_files",
]


if __name__ == "__main__":
    sys.exit(main())
