"""What the benchmark cold-starts (the functions and the baselines) and what it records of each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent

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
        """True for the baselines (floor, the design card's floors, naive)."""
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


def log(message: str) -> None:
    """Print a progress line at once."""
    print(message, flush=True)


# The baselines in table order: name, the file it ships as in the deployment copy (its
# module is the file's stem), the source file in bench/coldstart/, and its label.
BASELINES: tuple[tuple[str, str, str, str], ...] = (
    ("floor", "bench_floor.py", "floor_function.py", "**floor** (bare handler)"),
    (
        "floor+card",
        "bench_floor_card.py",
        "card_floor_function.py",
        "**floor+card** (bare handler; first request: pydantic validates one model, "
        "python-jose verifies one HS256 token)",
    ),
    (
        "floor+auth",
        "bench_floor_auth.py",
        "auth_floor_function.py",
        "**floor+auth** (bare handler; first request: supabase_auth's client over httpx, one Auth call)",
    ),
    ("naive", "bench_naive.py", "naive_function.py", "**naive** (`create_client` at import)"),
)
# The design card's floors: what a function must pay because the fixed design says so.
# Their first requests are profiled like the functions' (what the floor is made of).
CARD_FLOOR = "floor+card"
AUTH_FLOOR = "floor+auth"


def variants() -> list[Variant]:
    """The baselines, then every route file in lib.contract.routes."""
    from devstack.vercel_check import route_files

    found = [Variant(name, file, file.removesuffix(".py")) for name, file, _, _ in BASELINES]
    for file in route_files(ROOT):
        name = file.removesuffix(".py")
        found.append(Variant(name, file, name.replace("/", ".")))
    return found


def chosen_variants(found: Sequence[Variant], only: Sequence[str]) -> list[Variant]:
    """The baselines, and the variants of `found` whose name matches `only`."""
    return [v for v in found if v.is_baseline or name_matches(v.name, only)]


def name_matches(name: str, only: Sequence[str]) -> bool:
    """True when `only` is empty or one of its strings is part of `name`."""
    return not only or any(o in name for o in only)
