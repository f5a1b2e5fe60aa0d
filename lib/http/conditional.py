"""ETags and the conditional request headers (If-None-Match, If-Match)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from lib.http.problems import HeaderFieldsTooLarge, PreconditionFailed
from lib.http.response import JSON, Response, empty_response

if TYPE_CHECKING:
    from lib.http.request import Request

# What version_etag makes, exactly: strong, `v`, a version without leading zeros. Ten digits cover
# every value MAX_VERSION allows; a longer number cannot be a version.
_VERSION_ETAG = re.compile(r'^"v([1-9]\d{0,9})"$')
# The largest version there can be: vehicles.version is a Postgres `integer`.
MAX_VERSION = 2**31 - 1
# The versions go into the update's query string: a longer list is refused, not sent upstream.
MAX_IF_MATCH_TAGS = 64


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


def conditional_response(
    request: Request,
    body: bytes,
    etag: str | None = None,
    *,
    content_type: str | None = JSON,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """200 with `body` and its ETag (`body_etag(body)` unless given), or 304 when If-None-Match lists it.

    Call it only once the caller may see the representation: authorisation comes before preconditions.
    """
    etag = etag or body_etag(body)
    if none_match(request.header("If-None-Match"), etag):
        return empty_response(304, {**(headers or {}), "ETag": etag})
    return Response(body=body, content_type=content_type, headers={**(headers or {}), "ETag": etag})


def required_versions(header: str | None) -> list[int] | None:
    """The versions If-Match accepts, ascending (None: absent or `*`, no condition).

    The condition holds when any listed tag matches (RFC 9110 13.1.1), compared strongly: a weak tag,
    a foreign tag or a version that cannot exist matches nothing. Raises PreconditionFailed when no
    listed tag can ever match, HeaderFieldsTooLarge when it lists more than MAX_IF_MATCH_TAGS.
    """
    if header is None or header.strip() == "*":
        return None
    tags = _tags(header)
    if len(tags) > MAX_IF_MATCH_TAGS:
        raise HeaderFieldsTooLarge(f"If-Match lists more than {MAX_IF_MATCH_TAGS} entity-tags")
    versions = {int(match.group(1)) for tag in tags if (match := _VERSION_ETAG.match(tag)) is not None}
    accepted = sorted(version for version in versions if version <= MAX_VERSION)
    if not accepted:
        raise PreconditionFailed("If-Match does not match the current version")
    return accepted
