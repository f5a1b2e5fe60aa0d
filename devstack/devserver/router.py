"""Where one request goes, decided from its request line alone, in the order Vercel's routing applies.

Redirects (cleanUrls, trailingSlash) first, then the file system (a fixed-path function, or a
`public/` file for GET and HEAD), then the vercel.json rewrites, then the dynamic `[param]`
functions; whatever is left is a 404.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, Literal
from urllib.parse import quote, unquote

from devstack.devserver.files import RouteTable
from devstack.vercel_config import VercelConfig
from lib.http.methods import READ_METHODS

# Everything printable in ASCII except space and the characters RFC 3986 never allows:
# rewrite destinations keep their structure and already-encoded parts.
_URL_SAFE: Final = "!#$%&'()*+,-./:;=?@[]_~"

PlanKind = Literal["function", "redirect", "static", "not_found", "failed", "external"]


@dataclass
class Plan:
    """What the server does with one request: its kind, the request target to hand on, and more."""

    kind: PlanKind
    target: str
    file: Path | None = None
    location: str = ""


class Router:
    """Routes request lines over one scan of api/ and one vercel.json."""

    def __init__(self, root: Path, table: RouteTable, config: VercelConfig) -> None:
        self.public = (root / "public").resolve()
        self.table = table
        self.config = config

    def route(self, method: str, target: str) -> tuple[Plan, list[tuple[str, str]]]:
        path, _, query = target.partition("?")
        headers = [h for rule in self.config.headers for h in rule.headers_for(path)]
        location = self._redirect(path)
        if location is not None:
            return Plan("redirect", target, location=_join_query(location, query)), headers
        plan = self._filesystem(method, path, query) or self._after_filesystem(method, path, query)
        return plan or Plan("not_found", target), headers

    def _redirect(self, path: str) -> str | None:
        cfg = self.config
        location: str | None = None
        if cfg.clean_urls and (m := re.fullmatch(r"/(?:(.+)/)?index(?:\.html)?/?", path)):
            location = "/" + (m.group(1) or "")
        elif cfg.clean_urls and (m := re.fullmatch(r"/(.*)\.html/?", path)):
            location = "/" + m.group(1)
        elif cfg.trailing_slash is False and path != "/" and path.endswith("/"):
            location = path[:-1]
        elif cfg.trailing_slash and not path.endswith("/") and "." not in path.rpartition("/")[2]:
            location = path + "/"
        if location is None:
            return None
        if cfg.trailing_slash and location != "/" and not location.endswith("/"):
            location += "/"
        # `//host` in Location is protocol-relative: never redirect off this origin.
        return "/" + location.lstrip("/")

    def _after_filesystem(self, method: str, path: str, query: str) -> Plan | None:
        """The rules Vercel's routing table puts after `handle: filesystem`, in its order.

        First the vercel.json rewrites: one whose destination is a file or a fixed-path
        function ends routing there; otherwise routing goes on with the rewritten path and
        query (`check: true`). Then the dynamic `[param]` routes, which the build appends
        after the rewrites: a rewrite whose source also matches a dynamic route's path wins.
        """
        requested = path
        for rewrite in self.config.rewrites:
            destination = rewrite.apply(path)
            if destination is None:
                continue
            if destination.startswith(("http://", "https://")):
                return Plan("external", destination)
            path, _, dest_query = quote(destination, safe=_URL_SAFE).partition("?")
            query = "&".join(q for q in (dest_query, query) if q)
            plan = self._filesystem(method, path, query)
            if plan is not None:
                return _as_requested(plan, path, requested)
        plan = self._function(path, query, dynamic=True)
        return _as_requested(plan, path, requested) if plan is not None else None

    def _filesystem(self, method: str, path: str, query: str) -> Plan | None:
        """A function at exactly this path (no `[param]`), or a public/ file."""
        if path == "/api" or path.startswith("/api/"):
            return self._function(path, query, dynamic=False)
        if method not in READ_METHODS:
            return None
        file = self._static_file(path)
        return Plan("static", _join_query(path, query), file=file) if file else None

    def _function(self, path: str, query: str, *, dynamic: bool) -> Plan | None:
        if not (path == "/api" or path.startswith("/api/")):
            return None
        # A trailing slash left here was either redirected already or is accepted
        # as-is (no trailingSlash setting, or trailingSlash: true).
        match = self.table.match(path.rstrip("/"))
        if match is None or match.route.is_dynamic != dynamic:
            return None
        target = _join_query(path, query)
        extra = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in match.params.items())
        return Plan("function", _join_query(target, extra), file=match.file)

    def _static_file(self, path: str) -> Path | None:
        rel = unquote(path).lstrip("/")
        if "\x00" in rel:
            return None
        if rel == "" or rel.endswith("/"):
            candidates = [rel + "index.html"]
        else:
            candidates = [
                rel,
                *([rel + ".html"] if self.config.clean_urls else []),
                rel + "/index.html",
            ]
        for candidate in candidates:
            file = (self.public / candidate).resolve()
            if file.is_relative_to(self.public) and file.is_file():
                return file
        return None


def _as_requested(plan: Plan, routed_path: str, requested: str) -> Plan:
    # Vercel routes by the rewritten path but hands the function the path the client
    # asked for (with the query the rewrites and the dynamic route added).
    if plan.kind == "function" and plan.target.startswith(routed_path):
        return replace(plan, target=requested + plan.target[len(routed_path) :])
    return plan


def _join_query(path: str, query: str) -> str:
    if not query:
        return path
    if "?" not in path:
        return f"{path}?{query}"
    return path + query if path.endswith(("?", "&")) else f"{path}&{query}"
