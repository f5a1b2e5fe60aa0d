"""The deployment copies: what ships from the working tree or a git revision, and the pinned dependencies."""

from __future__ import annotations

import importlib.metadata
import io
import shutil
import subprocess
import tarfile
from collections.abc import Mapping
from pathlib import Path

from bench.coldstart.variants import BASELINES, ROOT, log

HERE = Path(__file__).resolve().parent
EXCLUDED = ("__pycache__", "*.pyc")


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
    for _, shipped, source, _ in BASELINES:
        shutil.copy2(HERE / source, dest / shipped)
    shutil.copy2(HERE / "child.py", dest / "bench_child.py")
    compiled = [p for p in dest.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]
    if compiled:
        raise SystemExit(f"coldstart: bytecode in the copy: {compiled[:3]}")
    if bytecode:
        from devstack.vercel_check import python312

        subprocess.run([str(python312()), "-m", "compileall", "-q", "-j", "0", str(dest)], check=True)
    log(f"coldstart: deployment copy in {dest} ({files} dependency files, bytecode: {bytecode})")
    return dest


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
