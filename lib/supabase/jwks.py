"""Verification keys from a JWKS: the inline `SUPABASE_JWKS`, or the JWKS URL cached with a TTL.

Only public signing keys of a supported type and size are usable: EC P-256 (ES256) or
RSA of at least 2048 bits (RS256). An entry that publishes private-key members, or is
meant for anything but verifying signatures, is skipped; so is one python-jose cannot
construct. The rest of the set still works. lib.supabase.tokens verifies tokens with
these keys; `default_key_source` keeps one source per (hashable) Settings for the process.
"""

from __future__ import annotations

import base64
import contextlib
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lib.config import Settings

DEFAULT_JWKS_TTL_SECONDS = 600.0
DEFAULT_MIN_REFRESH_INTERVAL_SECONDS = 30.0

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
ALGORITHM_BY_KTY = {"EC": "ES256", "RSA": "RS256"}
# Private-key members of EC/RSA JWKs (RFC 7518 section 6): a JWKS that publishes
# one is misconfigured, and the entry is not used.
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_MIN_RSA_BITS = 2048


class InvalidToken(Exception):
    """The access token is not acceptable; the message is for logs and never contains the token."""


@dataclass(frozen=True)
class VerificationKey:
    """One usable JWKS entry: its kid, the single algorithm it verifies, and the python-jose key."""

    kid: str
    algorithm: str
    key: Any = field(repr=False)


def _b64url_int_bits(value: object) -> int:
    if not isinstance(value, str) or not _BASE64URL.fullmatch(value) or len(value) % 4 == 1:
        return 0
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    return int.from_bytes(raw, "big").bit_length()


def _jwk_algorithm(entry: Mapping[str, Any]) -> str | None:
    """ES256 or RS256 for a public signing JWK of a supported type and size, else None."""
    kty = entry.get("kty")
    algorithm = ALGORITHM_BY_KTY.get(kty) if isinstance(kty, str) else None
    if algorithm is None:
        return None
    key_ops = entry.get("key_ops")
    usable = (
        not (_PRIVATE_JWK_MEMBERS & entry.keys())
        and entry.get("use", "sig") == "sig"
        and entry.get("alg", algorithm) == algorithm
        and (key_ops is None or (isinstance(key_ops, list) and "verify" in key_ops))
        and (
            entry.get("crv") == "P-256"
            if algorithm == "ES256"
            else _b64url_int_bits(entry.get("n")) >= _MIN_RSA_BITS
        )
    )
    return algorithm if usable else None


def _load_key(entry: object) -> VerificationKey | None:
    """A verification key from one JWK, or None when the entry is not a usable public signing key."""
    if not isinstance(entry, Mapping):
        return None
    kid = entry.get("kid")
    algorithm = _jwk_algorithm(entry)
    if not isinstance(kid, str) or not kid or algorithm is None:
        return None

    from jose import jwk

    try:
        return VerificationKey(kid, algorithm, jwk.construct(dict(entry), algorithm))
    except Exception:
        # A malformed entry (bad coordinates, point not on the curve, ...) is skipped
        # like any other unusable one; the rest of the set still works.
        return None


def load_key_set(document: object) -> dict[str, VerificationKey]:
    """kid -> key for every usable entry; ValueError when the document is not a JWKS at all."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError('not a JSON object with a "keys" list')
    keys: dict[str, VerificationKey] = {}
    for entry in document["keys"]:
        key = _load_key(entry)
        # The first entry wins a duplicated kid, so a later one cannot shadow it.
        if key is not None and key.kid not in keys:
            keys[key.kid] = key
    return keys


def _http_fetcher(apikey: str) -> Callable[[str], Any]:
    def fetch(url: str) -> Any:
        # Imported here: the pool is only needed on the JWKS path.
        import json

        from lib.supabase.clients import upstream_pool

        headers = {"apikey": apikey, "Accept": "application/json"}
        response = upstream_pool().request("GET", url, headers=headers)
        if not response.is_success:
            # A redirect or an error is a failed fetch: the previous keys stay.
            raise ValueError(f"JWKS answered {response.status}")
        return json.loads(response.body)

    return fetch


class KeySource:
    """Verification keys by kid: inline JWKS from settings, or the JWKS URL cached with a TTL."""

    def __init__(
        self,
        settings: Settings,
        *,
        fetch: Callable[[str], Any] | None = None,
        ttl: float = DEFAULT_JWKS_TTL_SECONDS,
        min_refresh_interval: float = DEFAULT_MIN_REFRESH_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Inline `settings.jwks` is used as is (never fetched); else `fetch(settings.jwks_url)`."""
        self._url = settings.jwks_url
        self._fetch = fetch if fetch is not None else _http_fetcher(settings.publishable_key)
        self._ttl = ttl
        self._min_refresh_interval = min_refresh_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, VerificationKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._inline = settings.jwks is not None
        if settings.jwks is not None:
            # resolve_settings validated the shape; a hand-built Settings may not have,
            # and then no inline key is usable rather than every request failing oddly.
            with contextlib.suppress(ValueError):
                self._keys = load_key_set(settings.jwks)

    def get(self, kid: str) -> VerificationKey:
        """The key for `kid`, refetching when stale or kid is unknown (rate-limited); raises InvalidToken."""
        with self._lock:
            if not self._inline:
                now = self._clock()
                stale = self._fetched_at is None or now - self._fetched_at >= self._ttl
                if (stale or kid not in self._keys) and self._may_refresh(now):
                    # Fetched while holding the lock: concurrent requests for a new kid
                    # then wait for one fetch instead of each starting their own.
                    self._refresh(now)
            key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("unknown kid")
        return key

    def _may_refresh(self, now: float) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= self._min_refresh_interval

    def _refresh(self, now: float) -> None:
        self._attempted_at = now
        try:
            keys = load_key_set(self._fetch(self._url))
        except Exception as exc:
            # Any failure keeps the previous set: a JWKS outage must not log everyone out
            # while the keys they were issued with are still cached.
            from lib.http.log import log_event

            log_event("jwks_fetch_failed", level="warning", error=type(exc).__name__)
            return
        self._keys = keys
        self._fetched_at = now


_default_sources: dict[Settings, KeySource] = {}
_default_sources_lock = threading.Lock()


def default_key_source(settings: Settings) -> KeySource:
    """The process-wide KeySource for `settings` (one per distinct Settings); never raises."""
    # A dict under a lock rather than functools.cache: two requests racing on a cold
    # instance must share one KeySource (one fetch), not each build their own.
    with _default_sources_lock:
        found = _default_sources.get(settings)
        if found is None:
            found = _default_sources[settings] = KeySource(settings)
        return found
