"""What every built function carries: the whole of lib/, whatever its folders are called."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from devstack.vercel_check import Build

ROOT = Path(__file__).resolve().parents[2]


def test_every_function_ships_every_lib_module(vercel_build: Build) -> None:
    # A bare name in .vercelignore matches at any depth: `supabase` (the migrations folder) once
    # dropped lib/supabase/ from every function, which then failed on its first request.
    tracked = subprocess.run(
        ["git", "ls-files", "lib"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    modules = {path for path in tracked if path.endswith(".py")}
    assert modules
    configs = sorted(vercel_build.root.glob(".vercel/output/functions/**/.vc-config.json"))
    assert configs
    for config in configs:
        shipped = set(json.loads(config.read_text(encoding="utf-8"))["filePathMap"])
        assert modules <= shipped, (config.parent.name, sorted(modules - shipped))
