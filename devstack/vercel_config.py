"""vercel.json, read once into a typed model: rewrites, headers, functions, trailingSlash, cleanUrls.

`make dev`'s router (devstack.devserver) routes with it, devstack.vercel_check matches the
built functions' limits against it, and `route_table_problems` holds it against the route
table (lib.contract.routes): every declared path is its file's own URL or has its rewrite to
that file, every rewrite serves a declared path, and the catch-all for undeclared `/api`
paths comes last without taking a dynamic route's paths.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from devstack.vercel_patterns import PathPattern, glob_regex

_HEADER_TOKEN_RE: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# A source without parameters or patterns: a rewrite from it renames the function it names.
_FIXED_PATH: Final = re.compile(r"^/[A-Za-z0-9._/-]*$")
# Stands for every `{param}` / `[param]` segment when a declared path is routed.
SAMPLE_SEGMENT: Final = "x1"
# Appended to a declared path to make one that no route declares.
UNKNOWN_SUFFIX: Final = "/vercel-check-unknown"


@dataclass(frozen=True)
class Rewrite:
    """A vercel.json rewrite from `source` to `destination`."""

    source: PathPattern
    destination: str

    def apply(self, path: str) -> str | None:
        """The destination (path and query) for a matching raw path, else None."""
        values = self.source.match(path)
        if values is None:
            return None
        dest_path, sep, dest_query = self.destination.partition("?")
        used = {m.group(1) for m in re.finditer(r":(\w+)", dest_path)}
        new_path = self.source.substitute(dest_path, values)
        query = [self.source.substitute(p, values) for p in dest_query.split("&") if p] if sep else []
        named = [(n, v) for n, v in zip(self.source.names, values, strict=True) if n]
        # Vercel passes the named params as query parameters when the destination path
        # uses none of them, unless the destination query already sets that key.
        if not used.intersection(n for n, _ in named):
            keys = {p.partition("=")[0] for p in query}
            query += [f"{n}={v}" for n, v in named if n not in keys]
        return new_path + ("?" + "&".join(query) if query else "")


@dataclass(frozen=True)
class HeaderRule:
    """A vercel.json `headers` entry: headers added to responses whose path matches."""

    source: PathPattern
    headers: tuple[tuple[str, str], ...]

    def headers_for(self, path: str) -> list[tuple[str, str]]:
        """The headers to add for a raw request path, in config order; [] if no match."""
        values = self.source.match(path)
        if values is None:
            return []
        return [
            (self.source.substitute(k, values), self.source.substitute(v, values)) for k, v in self.headers
        ]


@dataclass(frozen=True)
class FunctionRule:
    """A vercel.json `functions` entry: a glob over entrypoints and the settings it gives them."""

    pattern: str
    settings: Mapping[str, Any]

    def matches(self, entrypoint: str) -> bool:
        """Whether the CLI applies this entry to `entrypoint` (an exact key first, then the glob)."""
        return self.pattern == entrypoint or glob_regex(self.pattern).fullmatch(entrypoint) is not None


@dataclass(frozen=True)
class VercelConfig:
    """The parts of vercel.json that routing and the build depend on."""

    rewrites: tuple[Rewrite, ...] = ()
    headers: tuple[HeaderRule, ...] = ()
    trailing_slash: bool | None = None
    clean_urls: bool = False
    functions: tuple[FunctionRule, ...] = ()

    def function_config(self, entrypoint: str) -> tuple[str, Mapping[str, Any]] | None:
        """(pattern, settings) of the first `functions` entry matching `entrypoint`, as the CLI picks it."""
        for rule in self.functions:
            if rule.matches(entrypoint):
                return rule.pattern, rule.settings
        return None

    def public_paths(self, vercel_file: str) -> set[str]:
        """Every path the function `vercel_file` serves, `{name}` for parameters.

        Those vercel.json rewrites to it, and its own URL. A rewrite from a fixed path renames
        the function: its own URL is then no public path (api/openapi.py is /api/openapi.json;
        api/auth.py serves /api/auth/login and the other auth paths, while /api/auth itself is
        a 404), unless a rewrite to itself keeps it (api/me.py serves /api/me and /api/me/password).
        """
        url = file_url(vercel_file)
        sources = {source for source, destination in self.route_rewrites() if destination == url}
        renamed = any(_FIXED_PATH.match(source) for source in sources)
        return sources if renamed else {url, *sources}

    def route_rewrites(self) -> list[tuple[str, str]]:
        """The rewrites but the last (the catch-all) as (source, destination), `:name` written `{name}`."""
        return [(_template(r.source.source), _template(r.destination)) for r in self.rewrites[:-1]]


def parse_vercel_config(data: object) -> VercelConfig:
    """The model of a parsed vercel.json; raises ValueError, TypeError or KeyError if it is malformed."""
    if not isinstance(data, dict):
        raise TypeError("top level is not an object")
    return VercelConfig(
        rewrites=tuple(_parse_rewrite(r) for r in _rules(data, "rewrites")),
        headers=tuple(_parse_header_rule(h) for h in _rules(data, "headers")),
        trailing_slash=_optional_bool(data, "trailingSlash"),
        clean_urls=bool(_optional_bool(data, "cleanUrls")),
        functions=_functions(data),
    )


def load_vercel_config(root: Path) -> VercelConfig:
    """Read `root/vercel.json` (defaults if absent); raises ValueError if it is malformed."""
    path = root / "vercel.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return VercelConfig()
    try:
        return parse_vercel_config(json.loads(text))
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{path}: {exc}") from exc


def _rules(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    rules = data.get(key, [])
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise TypeError(f"{key} must be a list of objects")
    kept = []
    for rule in rules:
        if "has" in rule or "missing" in rule:
            # Conditional rules would apply unconditionally here, which is worse than not
            # at all; say so rather than silently diverge from production.
            print(f"vercel.json: ignoring conditional {key} rule {rule!r}", file=sys.stderr)
        else:
            kept.append(rule)
    return kept


def _optional_bool(data: dict[str, Any], key: str) -> bool | None:
    value = data.get(key)
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{key} must be a boolean")
    return value


def _string(rule: dict[str, Any], key: str) -> str:
    value = rule[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} must be a string in {rule!r}")
    return value


def _parse_rewrite(rule: dict[str, Any]) -> Rewrite:
    return Rewrite(PathPattern.compile(_string(rule, "source")), _string(rule, "destination"))


def _parse_header_rule(rule: dict[str, Any]) -> HeaderRule:
    entries = rule["headers"]
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise TypeError(f"headers must be a list of objects in {rule!r}")
    pairs = tuple((_string(e, "key"), _string(e, "value")) for e in entries)
    for key, value in pairs:
        # Config values go straight onto the wire; a CR or LF would split the response.
        if not _HEADER_TOKEN_RE.fullmatch(key) or "\r" in value or "\n" in value:
            raise ValueError(f"invalid header {key!r}: {value!r}")
    return HeaderRule(PathPattern.compile(_string(rule, "source")), pairs)


def _functions(data: dict[str, Any]) -> tuple[FunctionRule, ...]:
    functions = data.get("functions") or {}
    if not isinstance(functions, dict) or not all(isinstance(s, dict) for s in functions.values()):
        raise TypeError("functions must map globs to objects")
    return tuple(FunctionRule(pattern, settings) for pattern, settings in functions.items())


# --------------------------------------------------------------------------- the route table


class DeclaredRoute(Protocol):
    """What the check needs of a lib.contract.routing.Route."""

    @property
    def path(self) -> str: ...

    @property
    def aliases(self) -> tuple[str, ...]: ...

    @property
    def vercel_file(self) -> str: ...


def _template(path: str) -> str:
    return re.sub(r":([A-Za-z_]\w*)", r"{\1}", path)


def file_url(vercel_file: str) -> str:
    """The URL Vercel serves a function file at (`{name}` for a `[name]` segment; index.py is its folder)."""
    parts = vercel_file.removesuffix(".py").split("/")
    if parts[-1] == "index":
        parts.pop()
    return "/" + "/".join(re.sub(r"^\[([A-Za-z_][A-Za-z0-9_]*)\]$", r"{\1}", part) for part in parts)


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)))


def sample_path(path: str) -> str:
    """A concrete path for a `{name}` or `[name]` template (each parameter SAMPLE_SEGMENT)."""
    return re.sub(r"\{\w+\}|\[\w+\]", SAMPLE_SEGMENT, path)


def route_table_problems(config: VercelConfig, routes: Sequence[DeclaredRoute]) -> list[str]:
    """How vercel.json's rewrites and the route table disagree; empty when every route is reachable.

    Every route's path (and alias) is its file's own URL or the source of a rewrite to that
    file; every rewrite but the last serves a declared path of the file it names; the last is
    the catch-all: it takes every `/api` path no route declares to an existing function (so its
    404 is problem+json, not Vercel's own page) and leaves the dynamic routes' paths alone.
    """
    if not config.rewrites:
        return ["vercel.json has no rewrites: the catch-all for undeclared /api paths is missing"]
    problems: list[str] = []
    rewrites = config.route_rewrites()
    declared = {route.path: route for route in routes}
    for route in routes:
        own = file_url(route.vercel_file)
        if route.path not in config.public_paths(route.vercel_file):
            problems.append(
                f"{route.path} is not {own} ({route.vercel_file}) and no vercel.json rewrite leads there"
            )
        for alias in route.aliases:
            if alias != own and (alias, own) not in rewrites:
                problems.append(f"alias {alias} of {route.path} is neither {own} nor rewritten to it")
    for source, destination in rewrites:
        target = declared.get(source)
        if target is None:
            problems.append(
                f"vercel.json rewrites {source}, which no route declares (the catch-all must be last)"
            )
        elif file_url(target.vercel_file) != destination:
            problems.append(
                f"vercel.json rewrites {source} to {destination}, but {target.vercel_file} serves it"
            )
    problems.extend(_catch_all_problems(config.rewrites[-1], routes))
    return problems


def _catch_all_problems(catch_all: Rewrite, routes: Iterable[DeclaredRoute]) -> Iterable[str]:
    files = {route.vercel_file for route in routes}
    if catch_all.destination not in {file_url(file) for file in files}:
        yield f"the last rewrite leads to {catch_all.destination}, which no route file serves"
    unknown = [
        "/api",
        "/api" + UNKNOWN_SUFFIX,
        *(sample_path(route.path) + UNKNOWN_SUFFIX for route in routes),
    ]
    # A path a dynamic route serves (`/api/vehicles/` + anything) is its function's, not the catch-all's.
    dynamic = [_template_regex(file_url(file)) for file in files if "{" in file_url(file)]
    for path in unknown:
        if catch_all.source.match(path) is None and not any(d.fullmatch(path) for d in dynamic):
            yield f"the last rewrite, the catch-all, leaves {path} to Vercel's own 404 page"
    for file in sorted(files):
        own = file_url(file)
        if "{" in own and catch_all.source.match(sample_path(own)) is not None:
            yield f"the catch-all takes {sample_path(own)} from {file}"
