"""ETags and the conditional request headers (If-None-Match, If-Match)."""

from __future__ import annotations

import hashlib
import re

from lib.problems import PreconditionFailed

_VERSION_ETAG = re.compile(r'^(?:W/)?"v(\d{1,10})"$')


def version_etag(version: int) -> str:
    """The strong ETag of a resource revision."""
    return f'"v{version}"'


def body_etag(body: bytes) -> str:
    """A strong ETag for a representation without a version (lists)."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def none_match(header: str | None, etag: str) -> bool:
    """True when If-None-Match lists `etag` (weak comparison) or is `*`: answer 304."""
    if header is None:
        return False
    bare = etag.removeprefix("W/")
    return any(tag == "*" or tag.removeprefix("W/") == bare for tag in _tags(header))


def required_version(header: str | None) -> int | None:
    """The version If-Match demands (None: absent or `*`). Raises PreconditionFailed for foreign tags."""
    if header is None or header.strip() == "*":
        return None
    for tag in _tags(header):
        match = _VERSION_ETAG.match(tag)
        if match is not None and not tag.startswith("W/"):
            return int(match.group(1))
    # A weak or foreign tag can never match a strong comparison (RFC 9110 13.1.1).
    raise PreconditionFailed("If-Match does not match the current version")
