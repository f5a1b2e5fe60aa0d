"""devstack.vercel_check's rules, on hand-made Build Output trees (no CLI), and vercel.json itself."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack import vercel_check
from devstack.vercel_check import (
    Build,
    CheckError,
    check_build,
    requirement_pins,
    run_build,
    shipped_files,
)
from devstack.vercel_config import load_vercel_config, parse_vercel_config, route_table_problems

ROOT = Path(__file__).resolve().parent.parent.parent
ROUTES = ["api/health.py", "api/vehicles/[id]/index.py"]
CATCH_ALL = {"src": "^/api(?:/((?!(?:vehicles/[^/]+)$).*))?$", "dest": "/api/health?path=$1", "check": True}
DYNAMIC_ROUTE = {
    "src": "^/api/vehicles/([^/]+)(/|/index)?$",
    "dest": "/api/vehicles/[id]/index?id=$1",
    "check": True,
}
VERCEL_JSON: dict[str, Any] = {
    "functions": {
        "api/health.py": {"memory": 512, "maxDuration": 10},
        "api/**/*.py": {"memory": 1024, "maxDuration": 15},
    }
}


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


class FakeBuild:
    """A staged project with a `.vercel/output` as `vercel build` writes it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        write(root / "vercel.json", json.dumps(VERCEL_JSON))
        write(root / "requirements.txt", "# runtime\npython-jose[cryptography]==3.5.0\nsupabase==2.34.1\n")
        write(root / "public" / "robots.txt", "User-agent: *\n")
        write(root / ".vercel" / "output" / "static" / "robots.txt", "User-agent: *\n")
        for route in ROUTES:
            self.function(route.removesuffix(".py"))
        self.routes(CATCH_ALL, DYNAMIC_ROUTE)

    def routes(self, *after_filesystem: dict[str, Any]) -> None:
        """Write config.json's routing table as the CLI does: rewrites, then dynamic routes, then 404."""
        routes = [{"handle": "filesystem"}, *after_filesystem, {"src": "^/api(/.*)?$", "status": 404}]
        config = {"version": 3, "routes": [*routes, {"handle": "error"}]}
        write(self.root / ".vercel" / "output" / "config.json", json.dumps(config))

    def function(self, name: str, extra: dict[str, str] | None = None, **config: Any) -> None:
        """Write `<name>.func` bundling its entrypoint, lib/ and the pinned dependencies."""
        memory, duration = (512, 10) if name == "api/health" else (1024, 15)
        files = {
            f"{name}.py": "",
            "lib/__init__.py": "",
            "_vendor/python_jose-3.5.0.dist-info/METADATA": "",
            "_vendor/supabase-2.34.1.dist-info/METADATA": "",
            "_vendor/supabase/__init__.py": "x" * 1000,
            **(extra or {}),
        }
        for rel, text in files.items():
            write(self.root / rel, text)
        func = self.root / ".vercel" / "output" / "functions" / f"{name}.func"
        vc_config = {
            "handler": "vc__handler__python.vc_handler",
            "runtime": "python3.12",
            "memory": memory,
            "maxDuration": duration,
            "environment": {"PYTHONPATH": "_vendor", "PYTHONDONTWRITEBYTECODE": "1"},
            **config,
            "filePathMap": {rel: rel for rel in files},
        }
        write(func / ".vc-config.json", json.dumps(vc_config))
        write(func / "vc__handler__python.py", "")

    def check(self) -> list[str]:
        """The checker's verdict."""
        build = Build(self.root, 1.0, "58.10.0")
        return check_build(build, self.root, ["public/robots.txt"], routes=ROUTES)


@pytest.fixture
def fake(tmp_path: Path) -> FakeBuild:
    return FakeBuild(tmp_path)


def test_a_clean_build_passes(fake: FakeBuild) -> None:
    assert fake.check() == []


def test_a_helper_built_as_a_function_is_flagged(fake: FakeBuild) -> None:
    fake.function("api/utils")
    assert fake.check() == [
        "api/utils.py was built as a function, but no route in lib.contract.routes declares it"
    ]


def test_more_functions_than_the_hobby_plan_allows_are_flagged(
    fake: FakeBuild, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vercel_check, "HOBBY_FUNCTION_LIMIT", 1)
    assert fake.check() == [
        "2 functions: the Hobby plan refuses more than 1 per deployment; serve new routes from an"
        " existing function (its `routes = (...)` and a vercel.json rewrite)"
    ]


def test_a_route_without_a_function_is_flagged(fake: FakeBuild) -> None:
    func = fake.root / ".vercel/output/functions/api/vehicles/[id]/index.func"
    for file in func.iterdir():
        file.unlink()
    func.rmdir()
    assert fake.check() == ["api/vehicles/[id]/index.py is a route file, but no function was built for it"]


def test_unknown_api_paths_without_a_catch_all_are_flagged(fake: FakeBuild) -> None:
    # Vercel's own 404 page would answer them, not the API's problem+json.
    fake.routes(DYNAMIC_ROUTE)
    assert fake.check() == [
        "3 of 3 paths no route declares reach no function (/api, /api/health/vercel-check-unknown,"
        " /api/vehicles/x1/vercel-check-unknown): Vercel answers them with its own 404 page, not a"
        " problem+json 404; add a catch-all rewrite of /api/... to an existing function, last in"
        " vercel.json, that leaves the dynamic [param] routes' paths alone"
    ]


def test_a_catch_all_that_shadows_a_dynamic_route_is_flagged(fake: FakeBuild) -> None:
    # vercel.json rewrites come before the dynamic [param] routes in Vercel's routing table.
    fake.routes({**CATCH_ALL, "src": "^/api(?:/(.*))?$"}, DYNAMIC_ROUTE)
    assert fake.check() == ["/api/vehicles/x1 reaches api/health, but api/vehicles/[id]/index serves it"]


def test_runtime_and_limits_must_match_vercel_json(fake: FakeBuild) -> None:
    fake.function("api/health", runtime="python3.11", memory=1024)
    assert fake.check() == [
        "api/health.func: runtime is 'python3.11', expected 'python3.12'",
        "api/health.func: memory is 1024, vercel.json 'api/health.py' sets 512",
    ]


def test_limits_must_be_set_in_vercel_json(fake: FakeBuild) -> None:
    write(fake.root / "vercel.json", json.dumps({"functions": {"api/health.py": {"memory": 512}}}))
    problems = fake.check()
    assert "api/health.func: vercel.json 'api/health.py' sets no maxDuration" in problems
    assert (
        "api/vehicles/[id]/index.func: no vercel.json `functions` entry matches api/vehicles/[id]/index.py"
        in (problems)
    )


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("tests/test_x.py", "tests/ is local tooling"),
        ("devstack/stack.py", "devstack/ is local tooling"),
        ("bench/load.py", "bench/ is local tooling"),
        (".local/db/pg_hba.conf", ".local/ is local tooling"),
        ("supabase/seed.sql", "supabase/ is local tooling"),
        ("lib/node_modules/x.js", "node_modules"),
        (".env.local", "a dotenv file (secrets)"),
        ("lib/.env", "a dotenv file (secrets)"),
        (
            "lib/__pycache__/config.cpython-312.pyc",
            "bytecode: committed, or VERCEL_PYTHON_COMPILEALL was set",
        ),
    ],
)
def test_tooling_and_secrets_in_a_bundle_are_flagged(fake: FakeBuild, path: str, reason: str) -> None:
    fake.function("api/health", extra={path: ""})
    assert fake.check() == [f"api/health.func: bundles {path} ({reason})"]


def test_a_lib_module_left_out_of_a_function_is_flagged(fake: FakeBuild) -> None:
    # As a `supabase` line in .vercelignore does to lib/supabase/ (gitignore patterns match at any depth).
    write(fake.root / "lib/supabase/clients.py")
    assert fake.check() == [
        f"{name}.func: leaves out 1 lib/ module(s) (lib/supabase/clients.py):"
        " check .vercelignore and excludeFiles"
        for name in ("api/health", "api/vehicles/[id]/index")
    ]


def test_dependencies_missing_from_the_bundle_are_flagged(fake: FakeBuild) -> None:
    # What happens when a tool-only pyproject.toml ships: the CLI installs from it, not requirements.txt.
    write(fake.root / "requirements.txt", "supabase==2.34.1\npydantic==2.14.4\npython-jose==3.4.0\n")
    assert fake.check() == [
        "api/health.func: requirements.txt pins pydantic==2.14.4 (bundled: none)",
        "api/health.func: requirements.txt pins python_jose==3.4.0 (bundled: 3.5.0)",
        "api/vehicles/[id]/index.func: requirements.txt pins pydantic==2.14.4 (bundled: none)",
        "api/vehicles/[id]/index.func: requirements.txt pins python_jose==3.4.0 (bundled: 3.5.0)",
    ]


def test_a_shipped_pyproject_is_named_as_the_cause(fake: FakeBuild) -> None:
    write(fake.root / "requirements.txt", "".join(f"package-{n}==1.0\n" for n in range(6)))
    build = Build(fake.root, 1.0, "58.10.0")
    shipped = ["public/robots.txt", "pyproject.toml", "requirements.txt"]
    summary = (
        "6 of 6 pinned requirements are not bundled as pinned: package_0==1.0 (bundled: none),"
        " package_1==1.0 (bundled: none), package_2==1.0 (bundled: none), …"
    )
    assert check_build(build, fake.root, shipped, routes=ROUTES) == [
        "pyproject.toml ships next to requirements.txt: the Vercel CLI installs from pyproject.toml"
        " (here tool settings only); list it in .vercelignore",
        f"api/health.func: {summary}",
        f"api/vehicles/[id]/index.func: {summary}",
    ]


def test_runtime_dependency_installation_is_flagged(fake: FakeBuild) -> None:
    fake.function("api/health", extra={"_uv/_runtime_config.json": "{}"})
    assert fake.check() == [
        "api/health.func: dependencies would be installed at cold start (_uv/): the bundle is too large"
    ]


def test_dependencies_over_budget_are_flagged(fake: FakeBuild, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vercel_check, "MAX_DEPENDENCIES_MB", 0.0001)
    problems = fake.check()
    assert len(problems) == 2
    assert all("MB, over the 0 MB budget" in p for p in problems)


@pytest.mark.parametrize(
    ("path", "suffix"),
    [
        ("lib/config.py", " (private: source, schema or secrets)"),
        ("requirements.txt", " (private: source, schema or secrets)"),
        ("supabase/seed.sql", " (private: source, schema or secrets)"),
        (".env.production", " (private: source, schema or secrets)"),
        ("README.md", ""),
    ],
)
def test_static_output_must_be_public_only(fake: FakeBuild, path: str, suffix: str) -> None:
    write(fake.root / ".vercel/output/static" / path)
    assert fake.check() == [f"static output publishes {path}, which is not in public/{suffix}"]


def test_a_public_file_missing_from_the_static_output_is_flagged(fake: FakeBuild) -> None:
    (fake.root / ".vercel/output/static/robots.txt").unlink()
    assert fake.check() == ["public/robots.txt is missing from the static output"]


def test_function_config_first_match_wins_like_the_cli() -> None:
    config = parse_vercel_config(
        {
            "functions": {
                "api/{openapi,docs}.py": {"memory": 512},
                "api/vin/[vin].py": {"memory": 256},
                "api/**/*.py": {"memory": 1024},
            }
        }
    )
    assert config.function_config("api/docs.py") == ("api/{openapi,docs}.py", {"memory": 512})
    # An exact key matches before glob semantics, where [vin] would be a character class.
    assert config.function_config("api/vin/[vin].py") == ("api/vin/[vin].py", {"memory": 256})
    assert config.function_config("api/vehicles/[id]/index.py") == ("api/**/*.py", {"memory": 1024})
    assert config.function_config("lib/config.py") is None


@dataclass(frozen=True)
class Declared:
    """A route as route_table_problems sees it."""

    path: str
    vercel_file: str
    aliases: tuple[str, ...] = ()


TABLE = (
    Declared("/api/health", "api/health.py"),
    Declared("/api/vehicles/{id}", "api/vehicles/[id]/index.py"),
    Declared("/api/auth/login", "api/auth.py"),
    Declared("/api/openapi.json", "api/openapi.py", aliases=("/api/openapi",)),
)
LOGIN = {"source": "/api/auth/login", "destination": "/api/auth"}
OPENAPI = {"source": "/api/openapi.json", "destination": "/api/openapi"}
CATCH_ALL_REWRITE = {"source": "/api/:path((?!(?:vehicles/[^/]+)$).*)?", "destination": "/api/health"}


def table_problems(*rewrites: dict[str, str]) -> list[str]:
    return route_table_problems(parse_vercel_config({"rewrites": list(rewrites)}), TABLE)


def test_rewrites_in_step_with_the_route_table_pass() -> None:
    assert table_problems(LOGIN, OPENAPI, CATCH_ALL_REWRITE) == []


def test_a_route_without_its_rewrite_is_flagged() -> None:
    assert table_problems(OPENAPI, CATCH_ALL_REWRITE) == [
        "/api/auth/login is not /api/auth (api/auth.py) and no vercel.json rewrite leads there"
    ]


def test_a_rewrite_to_another_file_is_flagged() -> None:
    problems = table_problems({**LOGIN, "destination": "/api/health"}, OPENAPI, CATCH_ALL_REWRITE)
    assert "vercel.json rewrites /api/auth/login to /api/health, but api/auth.py serves it" in problems


def test_the_catch_all_must_come_last() -> None:
    problems = table_problems(CATCH_ALL_REWRITE, LOGIN, OPENAPI)
    assert any("which no route declares" in problem for problem in problems)
    assert any("leaves /api to Vercel's own 404 page" in problem for problem in problems)


def test_a_catch_all_taking_a_dynamic_routes_paths_is_flagged() -> None:
    greedy = {"source": "/api/:path*", "destination": "/api/health"}
    assert table_problems(LOGIN, OPENAPI, greedy) == [
        "the catch-all takes /api/vehicles/x1 from api/vehicles/[id]/index.py"
    ]


def test_no_rewrites_at_all_is_flagged() -> None:
    assert table_problems() == [
        "vercel.json has no rewrites: the catch-all for undeclared /api paths is missing"
    ]


def test_requirement_pins(tmp_path: Path) -> None:
    write(
        tmp_path / "requirements.txt",
        "# c\nPython-Jose[cryptography]==3.5.0  # x\n\ntyping_extensions==4.16.0\n",
    )
    assert requirement_pins(tmp_path) == {"python_jose": "3.5.0", "typing_extensions": "4.16.0"}


def test_shipped_files_are_git_files_minus_vercelignore(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    write(tmp_path / ".gitignore", ".venv/\n*.pyc\n")
    write(tmp_path / ".vercelignore", "tests\n.env*\nREADME.md\n")
    for rel in (
        "api/health.py",
        "lib/config.py",
        "tests/test_x.py",
        "README.md",
        ".env",
        ".venv/x.py",
        "lib/a.pyc",
    ):
        write(tmp_path / rel)
    git("add", "api", "lib/config.py", "README.md", ".gitignore", ".vercelignore")
    write(tmp_path / "lib" / "new.py")  # untracked, not ignored: `vercel deploy` would upload it
    assert shipped_files(tmp_path) == [
        ".gitignore",
        ".vercelignore",
        "api/health.py",
        "lib/config.py",
        "lib/new.py",
    ]


# --------------------------------------------------------------------------- the real configuration


def test_every_route_file_has_limits_in_vercel_json() -> None:
    config = load_vercel_config(ROOT)
    for route in vercel_check.route_files(ROOT):
        matched = config.function_config(route)
        assert matched is not None, route
        _, settings = matched
        assert 128 <= settings["memory"] <= 3009, route
        assert 1 <= settings["maxDuration"] <= 60, route


def test_the_cli_is_pinned_exactly_with_its_lock() -> None:
    package = json.loads((ROOT / "devstack/vercel/package.json").read_text())
    lock = json.loads((ROOT / "devstack/vercel/package-lock.json").read_text())
    assert package["dependencies"] == {"vercel": "58.10.0"}
    assert lock["packages"][""]["dependencies"] == {"vercel": "58.10.0"}
    assert lock["packages"]["node_modules/vercel"]["version"] == "58.10.0"


def test_tooling_never_ships() -> None:
    shipped = shipped_files(ROOT)
    assert not [p for p in shipped if p.split("/")[0] in vercel_check.TOOLING_ROOTS]
    assert "pyproject.toml" not in shipped, "its [tool] tables would replace requirements.txt in the build"
    assert {"requirements.txt", "vercel.json", ".python-version"} <= set(shipped)


def test_vercel_json_overrides_the_python_preset_that_import_detects(tmp_path: Path) -> None:
    # A root requirements.txt makes Vercel's detection pick the "python" preset, whose builder
    # ignores api/*.py; the check builds with that preset, so only `"framework": null` passes.
    assert vercel_check.PROJECT_SETTINGS["framework"] == "python"
    files = shipped_files(ROOT)
    assert "requirements.txt" in files
    config = json.loads((ROOT / "vercel.json").read_text())
    assert "framework" in config
    assert config["framework"] is None
    del config["framework"]
    project = tmp_path / "project"
    for rel in files:
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, project / rel)
    write(project / "vercel.json", json.dumps(config))
    with pytest.raises(CheckError, match="No python entrypoint found"):
        run_build(project, tmp_path / "build", files)
