"""lib.http.conditional: which If-Match values name which versions, and If-None-Match (RFC 9110 13.1)."""

from __future__ import annotations

import pytest

from lib.http.conditional import (
    MAX_IF_MATCH_TAGS,
    MAX_VERSION,
    body_etag,
    none_match,
    required_versions,
    version_etag,
)
from lib.http.problems import HeaderFieldsTooLarge, PreconditionFailed


@pytest.mark.parametrize("header", [None, "*", " * "])
def test_no_condition(header: str | None) -> None:
    assert required_versions(header) is None


@pytest.mark.parametrize(
    ("header", "versions"),
    [
        ('"v1"', [1]),
        ('"v0", "v1"', [1]),  # any listed tag may match, not only the first
        ('"xyz", "v3"', [3]),
        ('"v3","v1" , "v2"', [1, 2, 3]),
        ('"v2", "v2"', [2]),
        ('W/"v1", "v4"', [4]),  # a weak tag never matches a strong comparison; the strong one still can
        (f'"v{MAX_VERSION}"', [MAX_VERSION]),
        (f'"v{MAX_VERSION + 1}", "v7"', [7]),
    ],
)
def test_the_versions_a_list_accepts(header: str, versions: list[int]) -> None:
    assert required_versions(header) == versions


@pytest.mark.parametrize(
    "header",
    [
        '"abc"',
        'W/"v1"',
        '"v0"',  # versions start at 1
        '"v01"',  # not what version_etag makes: a strong comparison is exact
        '"v-1"',
        "v1",  # unquoted
        f'"v{MAX_VERSION + 1}"',  # beyond the `integer` column: can never exist
        '"v9999999999"',
        '"v99999999999999999999999"',
        '"v' + "9" * 5000 + '"',  # longer than int() accepts: still only stale
        '"v2147483648", W/"v1", "x"',
        "",
        ",",
    ],
)
def test_tags_that_can_never_match_are_stale(header: str) -> None:
    with pytest.raises(PreconditionFailed):
        required_versions(header)


def test_version_etag_round_trips() -> None:
    for version in (1, 42, MAX_VERSION):
        assert required_versions(version_etag(version)) == [version]


def test_none_match_compares_weakly_and_takes_any_listed_tag() -> None:
    etag = body_etag(b"{}")
    assert none_match(etag, etag)
    assert none_match(f"W/{etag}", etag)
    assert none_match(f'"other", {etag}', etag)
    assert none_match("*", etag)
    assert not none_match('"other"', etag)
    assert not none_match(None, etag)


def test_a_list_longer_than_the_cap_is_refused_before_any_query() -> None:
    at_cap = ", ".join(f'"v{n}"' for n in range(1, MAX_IF_MATCH_TAGS + 1))
    assert required_versions(at_cap) == list(range(1, MAX_IF_MATCH_TAGS + 1))
    with pytest.raises(HeaderFieldsTooLarge):
        required_versions(at_cap + ', "v999"')
