"""lib/ reads as layers: each module imports only from its own layer or those below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib"

# Bottom to top, as lib/__init__.py lists them; a module may import its own layer and below.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("lib.jsontext",),
    ("lib.settings_specs", "lib.config"),
    ("lib.http",),
    ("lib.contract",),
    ("lib.supabase",),
    ("lib.resources",),
    ("lib.pipeline",),
    ("lib.http.endpoint",),  # the adapter Vercel loads: on top of everything
)


def layer_of(module: str) -> int:
    """The index in LAYERS of the most specific prefix naming `module`."""
    best, length = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = index, len(prefix)
    assert best >= 0, f"{module} is in no layer: add it to LAYERS and lib/__init__.py"
    return best


def module_name(path: Path) -> str:
    """`lib/http/request.py` -> `lib.http.request` (a package's __init__ is the package)."""
    parts = path.relative_to(LIB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every lib module `path` imports, at the top or lazily inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("lib."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "lib":
                found.update(f"lib.{alias.name}" for alias in node.names)
            elif node.module.startswith("lib."):
                found.add(node.module)
    return found


MODULES = sorted(path for path in LIB.rglob("*.py") if path.name != "__init__.py")


@pytest.mark.parametrize("path", MODULES, ids=[module_name(path) for path in MODULES])
def test_imports_point_down(path: Path) -> None:
    own = layer_of(module_name(path))
    upward = sorted(target for target in imported(path) if layer_of(target) > own)
    assert upward == [], f"{module_name(path)} imports from a layer above it"
