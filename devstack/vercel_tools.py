"""The tools the offline Vercel build runs with: the pinned Vercel CLI, Python 3.12 and uv.

The CLI is pinned in `devstack/vercel/package.json` and its lock, and installed with `npm ci`
into `devstack/vercel/node_modules` (git-ignored) on first use, apart from the dev stack's own
npm packages.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
CLI_DIR: Final = ROOT / "devstack" / "vercel"
CLI_BIN: Final = CLI_DIR / "node_modules" / ".bin" / "vercel"
VENV_BIN: Final = ROOT / ".venv" / "bin"
FIND_PYTHON312: Final = ROOT / "devstack" / "bin" / "find-python312"
BUILD_TIMEOUT: Final = 900.0
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


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    """Hold the checkout-wide lock `name` (one npm install or build at a time, across test sessions)."""
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
    with locked("npm"):
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


def uv_version() -> str:
    """`uv --version` of the uv in .venv/bin; CheckError when it is missing."""
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
