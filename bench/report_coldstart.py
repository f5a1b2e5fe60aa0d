"""The cold-start rows of the targets table: cold cost per function against the naive one, by group."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bench.report_format import fmt_range, fmt_x, verdict

COLD_PROFILE_LINK = (
    "this run's `-X importtime` profile, [What the first request imports](#what-the-first-request-imports), "
    "and the levers in [What the first request still pays](coldstart.md#what-the-first-request-still-pays)"
)


@dataclass(frozen=True)
class Group:
    """Functions the issue gives one cold-cost target: a route prefix each, and the bound."""

    label: str
    prefixes: tuple[str, ...]
    target: float
    floor: str  # the baseline that measures what the design card forces on these functions
    floor_label: str
    # Functions whose representative request does another floor's work: (function, baseline, why).
    other_floors: tuple[tuple[str, str, str], ...] = ()

    def floor_of(self, function: str) -> str:
        """The baseline `function` is compared with."""
        return next((floor for name, floor, _ in self.other_floors if name == function), self.floor)

    def has(self, function: str) -> bool:
        """True when `function` ("api/vehicles/[id]/index") serves one of this group's routes."""
        return any(function == p or function.startswith(p + "/") for p in self.prefixes)


# Issue #16: the data functions at most half the naive function's cold cost each; auth and admin
# (sign-in, user admin: they load the Auth client too) at most 0.7x. docs and openapi are in neither.
# Each group's floor is a baseline of the same run (bench/coldstart/*_floor_function.py): a bare
# handler doing on its first request only what the fixed design forces on the group's functions.
DATA_FUNCTIONS = Group(
    "the functions that serve vehicles, maintenance, `/api/me`, health and VIN",
    ("api/vehicles", "api/me", "api/health", "api/vin"),
    0.5,
    "floor+card",
    "card floor (`floor+card`: a bare handler whose first request validates one pydantic model "
    "and verifies one HS256 token with python-jose, nothing else)",
)
AUTH_FUNCTIONS = Group(
    "the auth and admin functions",
    ("api/auth", "api/admin"),
    0.7,
    "floor+auth",
    "auth floor (`floor+auth`: a bare handler whose first request builds supabase_auth's client "
    "over an httpx.Client and makes one Auth call, nothing else)",
    # The user list reads PostgREST with the admin's token: no Auth client, models and a token.
    (("api/admin", "floor+card", "its user list loads no Auth client: against the card floor"),),
)
GROUPS = (DATA_FUNCTIONS, AUTH_FUNCTIONS)


def cold_ratio_rounds(variants: Mapping[str, Any], function: str, base: str = "naive") -> list[float]:
    """The function's cold cost / `base`'s in each round (empty when the run kept no samples)."""
    mine = variants[function].get("samples_cold_cost_ms") or []
    theirs = variants.get(base, {}).get("samples_cold_cost_ms") or []
    return [a / b for a, b in zip(mine, theirs, strict=False) if b]


def _imports_above_floor(imports: Mapping[str, Any], function: str, floor: str) -> str:
    """What `function`'s first request imports beyond its floor's, from the same run's -X importtime."""
    mine, theirs = imports.get(function), imports.get(floor)
    if not mine or not theirs:
        return ""
    own = dict(mine.get("owners") or [])
    lib = f", `lib` {own['lib']:.0f} ms of it" if "lib" in own else ""
    above = mine["total_ms"] - theirs["total_ms"]
    return (
        f" Its first request imports {mine['total_ms']:.0f} ms of modules (`-X importtime`, compiling "
        f"included) against the floor's {theirs['total_ms']:.0f} ms: {above:+.0f} ms{lib}."
    )


def floor_bound(
    variants: Mapping[str, Any],
    group: Group,
    measured: Mapping[str, float],
    ok: bool,
    imports: Mapping[str, Any] | None = None,
) -> str | None:
    """The group's floor against naive and each function against the floor, all from this run.

    When the target is not met, also which side of the target the floor is on. None when
    the run has no such floor (results from before the design card's floors).
    """
    floor = variants.get(group.floor, {})
    floor_ratio, floor_ms = floor.get("cold_cost_vs_naive"), floor.get("cold_cost_ms")
    if floor_ratio is None or not floor_ms:
        return None
    rounds = cold_ratio_rounds(variants, group.floor)
    above: dict[str, float] = {}
    for name in measured:
        own_ms = variants.get(group.floor_of(name), {}).get("cold_cost_ms")
        if own_ms:
            above[name] = variants[name]["cold_cost_ms"] / own_ms
    worst = max(measured, key=lambda name: measured[name])
    each = ", ".join(f"`{name}` {fmt_x(above[name])}" for name in sorted(above))
    others = "".join(f" (`{name}`: {why})" for name, _, why in group.other_floors if name in above)
    worst_above = f", {fmt_x(above[worst])} its floor" if worst in above else ""
    facts = (
        f"{group.floor_label}: **{fmt_x(floor_ratio)}** naive"
        + (f" (rounds {fmt_range(rounds)})" if rounds else "")
        + f"; worst function `{worst}` {fmt_x(measured[worst])}{worst_above}; "
        f"each function \u00f7 its floor: {each}{others}."
        + _imports_above_floor(imports or {}, worst, group.floor_of(worst))
    )
    if ok:
        return facts
    if floor_ratio > group.target:
        why = (
            f"The floor alone is over the {group.target}\u00d7 target: no function that uses what the "
            "design fixes can meet it, and what a function adds above the floor is its own first request."
        )
    else:
        why = (
            f"The floor is within the {group.target}\u00d7 target: what the worst function adds above "
            "it is its own first request (the modules it imports beyond the floor's, building the models "
            "it uses, its first upstream connections and the rate limiter's first batch)."
        )
    return f"{facts} {why}"


def group_row(cold: Mapping[str, Any] | None, group: Group) -> str:
    """One targets-table row: every function of `group`, its worst, the spread and the verdict."""
    head = (
        f"| cold cost (import + first request \u2212 warm; Vercel's default build, no bytecode) of "
        f"{group.label} \u2264 {group.target}\u00d7 the naive `create_client` function, each "
    )
    variants: Mapping[str, Any] = (cold or {}).get("variants", {})
    ratios = {
        name: row.get("cold_cost_vs_naive")
        for name, row in variants.items()
        if group.has(name) and " @" not in name
    }
    measured = {name: r for name, r in ratios.items() if r is not None}
    if cold is None or not measured:
        return head + "| not measured in this run (`python -m bench.coldstart`) | \u2013 | \u2013 |"
    worst = max(measured, key=lambda name: measured[name])
    within = sum(1 for r in measured.values() if r <= group.target)
    each = ", ".join(f"`{name}` {fmt_x(measured[name])}" for name in sorted(measured))
    rounds = cold_ratio_rounds(variants, worst)
    spread = f"; rounds {fmt_range(rounds)}" if rounds else "; spread over rounds not recorded in this run"
    missing = sorted(set(ratios) - set(measured))
    ok = within == len(measured) and not missing
    floor = floor_bound(variants, group, measured, ok, (cold or {}).get("first_request_imports"))
    if floor is not None:
        bound = f"{floor} See {COLD_PROFILE_LINK} |"
    elif ok:
        bound = "\u2013 |"
    else:
        bound = (
            "the first request compiles what it uses (the HTTP client, token verification, the "
            f"contract's models): {COLD_PROFILE_LINK} |"
        )
    return (
        head
        + f"| **{fmt_x(measured[worst])}** worst (`{worst}`{spread}), {within} of {len(measured)} within; "
        + each
        + (f"; not measured: {', '.join(missing)}" if missing else "")
        + f" | {verdict(ok)} | "
        + bound
    )


def others(cold: Mapping[str, Any] | None) -> list[str]:
    """Functions in no group (docs, openapi): reported in the Cold start table, not as a target."""
    variants: Mapping[str, Any] = (cold or {}).get("variants", {})
    return sorted(
        name
        for name in variants
        if name.startswith("api/") and " @" not in name and not any(g.has(name) for g in GROUPS)
    )


def imports_section(cold: Mapping[str, Any] | None) -> list[str]:
    """What each function's first request imported, by owner: the profile behind the cold-cost rows."""
    lines = ["### What the first request imports", ""]
    found: Mapping[str, Any] = (cold or {}).get("first_request_imports", {})
    if not found:
        return [*lines, "Not measured in this run (older results: no import profile recorded).", ""]
    lines += [
        "One more cold start of each function (and of the design card's floors) after the measured "
        "rounds, under `python -X importtime` "
        "(`bench/coldstart/imports.py`): the import time of everything its first request loads, "
        "compiling included (no bytecode), summed by top-level package over each module's own time, "
        "largest first. `-X importtime` slows imports, so read the shares, not the milliseconds.",
        "",
        "| function | group | imports in the first request (ms) | largest owners (share of that time) |",
        "|---|---|---:|---|",
    ]
    for name in sorted(found):
        row = found[name]
        group = _group_label(name)
        if "error" in row:
            lines.append(f"| `{name}` | {group} | failed | {row['error'][:80]!r} |")
            continue
        total = row["total_ms"] or 1.0
        owners = ", ".join(f"`{owner}` {ms / total:.0%}" for owner, ms in row["owners"])
        lines.append(
            f"| `{name}` | {group} | {row['total_ms']:.0f} | {owners}, others {row['other_ms'] / total:.0%} |"
        )
    return [*lines, ""]


def _group_label(name: str) -> str:
    """A function's target ("\u2264 0.5\u00d7"), a floor's ("floor of \u2264 0.5\u00d7"), or "no target"."""
    for group in GROUPS:
        if group.has(name):
            return f"\u2264 {group.target}\u00d7"
        if group.floor == name:
            return f"baseline: floor of \u2264 {group.target}\u00d7"
    return "no target"
