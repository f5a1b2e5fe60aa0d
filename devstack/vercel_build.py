"""What ships to Vercel, the real `vercel build` of it, and the Build Output it leaves.

The project is staged in a temporary directory exactly as Vercel receives it (the files git
would ship, minus `.vercelignore`), `.vercel/project.json` is written so the CLI needs no
account (with the settings Vercel's framework detection gives the project on import: the
"python" preset), and `vercel build --yes` runs with `uv` and `python3.12` on PATH.
`cached_build` reuses the build of identical inputs (tests/deploy runs every function of it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from devstack.vercel_tools import (
    BUILD_TIMEOUT,
    CLI_DIR,
    ROOT,
    CheckError,
    build_environment,
    ensure_cli,
    locked,
    pinned_cli_version,
    python312,
    uv_version,
)

CACHE_DIR: Final = CLI_DIR / "node_modules" / ".cache" / "vercel-check"
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
VENDOR: Final = "_vendor"
KEPT_BUILDS: Final = 2


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
    digest.update(f"{python312()}|{sys.version}|{uv_version()}".encode())
    return digest.hexdigest()[:20]


def cached_build(root: Path = ROOT) -> Build:
    """The build of the current files, reused when nothing it depends on changed since the last one."""
    files = shipped_files(root)
    key = build_key(root, files)
    final = CACHE_DIR / key
    with locked("build"):
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
