"""The functions under `api/` as Vercel maps files to URLs: `[param]`, `index.py`, static before dynamic."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import unquote

_DYNAMIC_SEGMENT_RE: Final = re.compile(r"\[([^\[\]/]+)\]")


class RouteConflictError(ValueError):
    """Two files under `api/` map to the same URL, which Vercel refuses to deploy."""


@dataclass(frozen=True)
class Route:
    """One function: its Vercel path pattern (e.g. `/api/vehicles/[id]`) and its file."""

    pattern: str
    file: Path
    segments: tuple[str, ...]

    @property
    def is_dynamic(self) -> bool:
        """Whether any segment is a `[param]`."""
        return any(_param_name(s) is not None for s in self.segments)

    def match(self, segments: Sequence[str]) -> dict[str, str] | None:
        """Params for decoded path `segments` if this route matches them, else None."""
        if len(segments) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for want, got in zip(self.segments, segments, strict=True):
            name = _param_name(want)
            if name is None:
                if want != got:
                    return None
            elif got:
                params[name] = got
            else:
                return None
        return params


@dataclass(frozen=True)
class Match:
    """A routed request: the route, its file and the decoded dynamic segment values."""

    route: Route
    params: dict[str, str]

    @property
    def file(self) -> Path:
        """The function file that handles the request."""
        return self.route.file


def _param_name(segment: str) -> str | None:
    m = _DYNAMIC_SEGMENT_RE.fullmatch(segment)
    return m.group(1) if m else None


def _specificity(route: Route) -> tuple[tuple[int, str], ...]:
    # Sorting static segments before dynamic ones, position by position, makes the first
    # matching route the one Vercel picks: `new.py` beats `[id]` at the same level.
    return tuple((1, "") if _param_name(s) is not None else (0, s) for s in route.segments)


def _is_ignored(name: str) -> bool:
    return name.startswith(("_", "."))


class RouteTable:
    """The functions under `api/`, ordered so that static routes win over dynamic ones."""

    def __init__(self, routes: Sequence[Route]) -> None:
        """Order `routes` by specificity; raises RouteConflictError if two share a URL."""
        seen: dict[tuple[str | None, ...], Route] = {}
        for route in routes:
            shape = tuple(None if _param_name(s) is not None else s for s in route.segments)
            other = seen.setdefault(shape, route)
            if other is not route:
                raise RouteConflictError(f"{other.file} and {route.file} both define {route.pattern}")
        self.routes: list[Route] = sorted(routes, key=_specificity)

    @classmethod
    def scan(cls, api_dir: Path) -> RouteTable:
        """Routes for every function file under `api_dir`; raises RouteConflictError."""
        routes: list[Route] = []
        base = api_dir.name
        for dirpath, dirnames, filenames in os.walk(api_dir):
            dirnames[:] = sorted(d for d in dirnames if not _is_ignored(d))
            rel_dir = Path(dirpath).relative_to(api_dir).parts
            for filename in sorted(filenames):
                if _is_ignored(filename) or not filename.endswith(".py"):
                    continue
                parts = [base, *rel_dir, filename[: -len(".py")]]
                if parts[-1] == "index":
                    parts.pop()
                file = Path(dirpath, filename)
                routes.append(Route("/" + "/".join(parts), file, tuple(parts)))
        return cls(routes)

    def match(self, path: str) -> Match | None:
        """The route for a raw URL path (query ignored), with percent-decoded params."""
        path = path.partition("?")[0]
        if not path.startswith("/"):
            return None
        segments = [unquote(s) for s in path[1:].split("/")]
        for route in self.routes:
            params = route.match(segments)
            if params is not None:
                return Match(route, params)
        return None
