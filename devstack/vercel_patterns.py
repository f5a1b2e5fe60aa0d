"""The two pattern languages of vercel.json: path-to-regexp `source`s and minimatch `functions` globs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

_PARAM_NAME_RE: Final = re.compile(r"\w+")
_TEMPLATE_TOKEN_RE: Final = re.compile(r":(\w+)[*+?]?|\$(\w+)")


@dataclass(frozen=True)
class PathPattern:
    """A path-to-regexp style `source` (`/api/:id`, `/api/:rest*`, `/api/(.*)`)."""

    source: str
    regex: re.Pattern[str]
    names: tuple[str | None, ...]

    @classmethod
    def compile(cls, source: str) -> PathPattern:
        """Compile a vercel.json `source`; raises ValueError if it is not a valid pattern."""
        parts: list[str] = []
        names: list[str | None] = []
        i = 0
        while i < len(source):
            ch = source[i]
            if ch == "\\" and i + 1 < len(source):
                parts.append(re.escape(source[i + 1]))
                i += 2
                continue
            if ch == ":":
                m = _PARAM_NAME_RE.match(source, i + 1)
                if m is None:
                    raise ValueError(f"parameter without a name in {source!r}")
                names.append(m.group())
                i = m.end()
                pattern = "[^/]+"
                if i < len(source) and source[i] == "(":
                    pattern, i = _read_group(source, i)
            elif ch == "(":
                names.append(None)
                pattern, i = _read_group(source, i)
            else:
                parts.append(re.escape(ch))
                i += 1
                continue
            modifier = source[i] if i < len(source) and source[i] in "*+?" else ""
            i += len(modifier)
            parts.append(_param_regex(f"k{len(names) - 1}", pattern, modifier, parts))
        try:
            regex = re.compile("".join(parts))
        except re.error as exc:
            raise ValueError(f"invalid pattern {source!r}: {exc}") from exc
        return cls(source, regex, tuple(names))

    def match(self, path: str) -> list[str] | None:
        """Captured values in key order ('' for an absent optional), or None."""
        m = self.regex.fullmatch(path)
        if m is None:
            return None
        return [m.group(f"k{i}") or "" for i in range(len(self.names))]

    def substitute(self, template: str, values: Sequence[str]) -> str:
        """Replace `:name`, `$name` and `$1` references in `template` with `values`."""
        by_name = {n: v for n, v in zip(self.names, values, strict=True) if n is not None}

        def replace(m: re.Match[str]) -> str:
            if m.group(1) is not None:
                return by_name.get(m.group(1), m.group())
            ref = m.group(2)
            if ref.isdigit() and 1 <= int(ref) <= len(values):
                return values[int(ref) - 1]
            return by_name.get(ref, m.group())

        return _TEMPLATE_TOKEN_RE.sub(replace, template)


def _read_group(source: str, start: int) -> tuple[str, int]:
    depth = 0
    i = start
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return source[start + 1 : i], i + 1
        i += 1
    raise ValueError(f"unbalanced parenthesis in {source!r}")


def _param_regex(group: str, pattern: str, modifier: str, parts: list[str]) -> str:
    if modifier in ("*", "+"):
        pattern = f"{pattern}(?:/{pattern})*"
    captured = f"(?P<{group}>{pattern})"
    if modifier not in ("*", "?"):
        return captured
    # As in path-to-regexp, the `/` before an optional parameter is optional with it,
    # so `/api/:rest*` also matches `/api`.
    if parts and parts[-1] == "/":
        parts.pop()
        return f"(?:/{captured})?"
    return f"(?:{captured})?"


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a minimatch-style glob (`**`, `*`, `?`, `{a,b}`, `[...]`) as Vercel matches `functions`."""
    out: list[str] = []
    i = 0
    depth = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "{":
            depth += 1
            out.append("(?:")
        elif ch == "}" and depth:
            depth -= 1
            out.append(")")
        elif ch == "," and depth:
            out.append("|")
        elif ch == "[" and (end := pattern.find("]", i + 1)) > i + 1:
            out.append("[" + pattern[i + 1 : end].replace("!", "^", 1) + "]")
            i = end + 1
            continue
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out))
