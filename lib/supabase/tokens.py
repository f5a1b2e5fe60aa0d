"""Local verification of Supabase access tokens: HS256 (legacy JWT secret) or ES256/RS256 (JWKS by kid).

The algorithm is pinned to an allow-list and to the key that verifies it, never
taken from the token's header alone: HS256 only ever means the legacy JWT secret
(with or without a `kid`: a hosted project's shared-secret signing key names its
kid in the header but is never published in the JWKS), and ES256/RS256 only ever
mean the JWKS key the `kid` names, of that key's type. That is what blocks
`alg: none` and key-confusion attacks.

Error messages are for logs: they say what was wrong, never the token, a secret or
a key. python-jose's own messages can quote key material, so only the exception's
type name is kept and its chain is dropped.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn

from lib.jsontext import JsonTextError, parse_strict
from lib.supabase.jwks import (
    ALGORITHM_BY_KTY,
    InvalidToken,
    KeySource,
    default_key_source,
)

if TYPE_CHECKING:
    from lib.config import Settings

MAX_TOKEN_BYTES = 8192
AUDIENCE = "authenticated"
ROLES = frozenset({"admin", "manager", "member"})
DEFAULT_ROLE = "member"

# Supabase's clock and the function's clock are both NTP-synced; a few seconds
# cover the skew for a token used right after it was issued.
NOT_BEFORE_LEEWAY_SECONDS = 5
ISSUED_AT_LEEWAY_SECONDS = 60

_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
# Every algorithm a Supabase project signs access tokens with that this API accepts.
_ALLOWED_ALGORITHMS = frozenset({"HS256", *ALGORITHM_BY_KTY.values()})


@dataclass(frozen=True)
class Claims:
    """The verified facts of an access token that the API uses."""

    sub: str
    email: str | None
    role: str
    session_id: str | None
    expires_at: int
    # Out of repr (personal data in logs) and out of eq/hash (a mapping is unhashable).
    raw: Mapping[str, Any] = field(repr=False, compare=False)


def _reject(reason: str) -> NoReturn:
    # Callers reject outside their except blocks, and `from None` is a second guard:
    # a chained python-jose or json error may quote the token or a key.
    raise InvalidToken(reason) from None


# --- the token -----------------------------------------------------------------------


def _b64url_decode(segment: str) -> bytes:
    # Strict: base64url alphabet only, no padding, and canonical (re-encoding gives the
    # same text), unlike the stdlib decoder and python-jose, which skip junk.
    if not _SEGMENT.fullmatch(segment) or len(segment) % 4 == 1:
        _reject("a segment is not base64url")
    data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != segment:
        _reject("a segment is not canonical base64url")
    return data


def _strict_json_object(data: bytes, what: str) -> dict[str, Any]:
    """A JSON object under lib.jsontext's strict rules (no duplicate members...), or InvalidToken."""
    document: object = None
    # Rejected below, outside the handler, so that no exception (whose message may
    # quote the input) becomes the context.
    with contextlib.suppress(JsonTextError):
        document = parse_strict(data)
    if not isinstance(document, dict):
        _reject(f"the {what} is not a strict JSON object")
    return document


def _is_api_key(token: str, settings: Settings) -> bool:
    if token.startswith(("sb_publishable_", "sb_secret_")):
        return True
    presented = token.encode()
    return hmac.compare_digest(presented, settings.publishable_key.encode()) or hmac.compare_digest(
        presented, settings.secret_key.encode()
    )


def _parse(token: object, settings: Settings) -> dict[str, Any]:
    """The header of a structurally sound token; the payload is checked to be a strict JSON object."""
    if not isinstance(token, str):
        _reject("the token is not a string")
    if len(token) > MAX_TOKEN_BYTES:
        _reject("the token is larger than 8 KiB")
    if not token.isascii():
        _reject("the token is not ASCII")
    if _is_api_key(token, settings):
        _reject("an API key was presented as an access token")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        _reject("the token does not have three non-empty segments")
    header = _strict_json_object(_b64url_decode(parts[0]), "header")
    # python-jose parses the payload again with plain json; the strict parse first
    # means both see the same claims (no duplicate members to disagree about).
    _strict_json_object(_b64url_decode(parts[1]), "payload")
    _b64url_decode(parts[2])
    return header


@functools.lru_cache(maxsize=4)
def _hmac_key(secret: str) -> Any:
    # Cached: constructing the key (python-jose's PEM/SSH checks included) was a third
    # of the verification's cost on every request. A rejected secret raises and is not
    # cached, so it is rejected again each time, as before.
    from jose import jwk
    from jose.exceptions import JOSEError

    # A constructed key, not the secret string: python-jose would try to parse a
    # string key as JSON (a JWK or key set) before using it as an HMAC secret.
    key: Any = None
    with contextlib.suppress(JOSEError):
        # python-jose refuses secrets that look like PEM or SSH keys.
        key = jwk.construct(secret, "HS256")
    if key is None:
        _reject("SUPABASE_JWT_SECRET cannot be used as an HMAC key")
    return key


def _select_key(header: Mapping[str, Any], settings: Settings, keys: KeySource | None) -> tuple[str, Any]:
    """(algorithm, python-jose key): HS256 and the JWT secret, or the kid's JWKS key of its own type."""
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg or alg.strip().lower() == "none":
        _reject("alg is missing, not a string, or none")
    if alg not in _ALLOWED_ALGORITHMS:
        # Checked before any key lookup, so a made-up alg never triggers a JWKS fetch.
        _reject("alg is not an allowed algorithm")
    if "crit" in header:
        _reject("crit header parameters are not supported")
    kid = header.get("kid")
    if "kid" in header and (not isinstance(kid, str) or not kid):
        _reject("kid is not a non-empty string")
    if alg == "HS256":
        # The JWT secret whatever the kid: GoTrue names the shared secret's kid in the
        # header (its JWT_KEYS entry) but never serves HMAC keys from the JWKS, so no
        # kid lookup could find it. A JWKS key is never used as an HMAC secret.
        if settings.jwt_secret is None:
            _reject("an HS256 token needs SUPABASE_JWT_SECRET, which is not set")
        return "HS256", _hmac_key(settings.jwt_secret)
    if kid is None:
        _reject("an ES256/RS256 token needs a kid")
    key = (keys if keys is not None else default_key_source(settings)).get(kid)
    if alg != key.algorithm:
        _reject("alg does not match the key's type")
    return key.algorithm, key.key


def _decode(token: str, key: Any, algorithm: str, settings: Settings) -> dict[str, Any]:
    from jose import jwt
    from jose.exceptions import JOSEError

    options = {
        # python-jose checks exp and nbf against the wall clock (no way to pass `now`),
        # and require_exp would switch that check back on; both are checked in
        # _check_claims against the caller's clock instead.
        "verify_exp": False,
        "verify_nbf": False,
        "require_iat": True,
        "require_sub": True,
        "require_aud": True,
        "require_iss": True,
    }
    failure: str | None = None
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=AUDIENCE,
            issuer=f"{settings.supabase_url}/auth/v1",
            options=options,
        )
    except (JOSEError, TypeError, ValueError, KeyError, AttributeError, OverflowError, RecursionError) as exc:
        # ValueError also covers binascii.Error, UnicodeDecodeError and JSONDecodeError.
        # Only the type name is kept: python-jose's messages can quote keys and claims.
        failure = type(exc).__name__
    if failure is not None:
        _reject(f"python-jose rejected the token ({failure})")
    if not isinstance(claims, dict):
        _reject("the payload is not a JSON object")
    return claims


def _int_claim(claims: Mapping[str, Any], name: str) -> int:
    value = claims[name]
    # bool is an int subclass; floats and strings are not NumericDates here.
    if type(value) is not int:
        _reject(f"{name} is not a JSON integer")
    return value


def _check_claims(claims: Mapping[str, Any], settings: Settings, now: float) -> Claims:
    for name in ("exp", "iat", "sub", "aud", "iss", "role"):
        if name not in claims:
            _reject(f"the {name} claim is missing")
    expires_at = _int_claim(claims, "exp")
    if expires_at <= now:
        _reject("the token has expired")
    if _int_claim(claims, "iat") > now + ISSUED_AT_LEEWAY_SECONDS:
        _reject("the token is issued in the future")
    if "nbf" in claims and _int_claim(claims, "nbf") > now + NOT_BEFORE_LEEWAY_SECONDS:
        _reject("the token is not valid yet")
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub:
        _reject("sub is not a non-empty string")
    aud = claims["aud"]
    if aud != AUDIENCE and not (isinstance(aud, list) and AUDIENCE in aud):
        _reject("wrong audience")
    iss = claims["iss"]
    if not isinstance(iss, str) or iss != f"{settings.supabase_url}/auth/v1":
        _reject("wrong issuer")
    # anon and service_role JWTs (the legacy API keys) are signed with the same
    # secret but are not users.
    if claims["role"] != "authenticated":
        _reject("the token's role is not authenticated")

    # Only the hook's claim, never user_metadata or app_metadata; anything
    # unexpected gets the least privilege.
    user_role = claims.get("user_role")
    role = user_role if isinstance(user_role, str) and user_role in ROLES else DEFAULT_ROLE
    email = claims.get("email")
    session_id = claims.get("session_id")
    return Claims(
        sub=sub,
        email=email if isinstance(email, str) and email else None,
        role=role,
        session_id=session_id if isinstance(session_id, str) and session_id else None,
        expires_at=expires_at,
        raw=MappingProxyType(dict(claims)),
    )


@dataclass(frozen=True)
class _Verified:
    """A token whose structure and signature passed, with what they were checked against."""

    settings: Settings
    header: Mapping[str, Any]
    algorithm: str
    key: Any
    claims: Mapping[str, Any]


# Tokens verified by this instance. A caller sends the same token with every request until it
# refreshes, and parsing it (strictly, then again in python-jose) and checking its signature was
# about a sixth of a warm request's CPU. Only what does not depend on time is kept, and only for
# the same settings and the same key: the kid is looked up again on every call, so a rotated or
# revoked JWKS key misses, and exp, iat and nbf are checked against the clock every time.
_verified: dict[str, _Verified] = {}
_VERIFIED_MAX = 256


def verify_access_token(
    token: str,
    settings: Settings,
    *,
    now: float | None = None,
    keys: KeySource | None = None,
) -> Claims:
    """Verify a Supabase access token's signature and claims into Claims; raises only InvalidToken."""
    current = time.time() if now is None else now
    seen = _verified.get(token) if isinstance(token, str) else None
    if seen is not None and seen.settings is settings:
        algorithm, key = _select_key(seen.header, settings, keys)
        if algorithm == seen.algorithm and key is seen.key:
            return _check_claims(seen.claims, settings, current)
    header = _parse(token, settings)
    algorithm, key = _select_key(header, settings, keys)
    claims = _decode(token, key, algorithm, settings)
    verified = _check_claims(claims, settings, current)
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()  # a bound, not an LRU: a burst of new tokens costs one re-verification each
    _verified[token] = _Verified(settings, header, algorithm, key, claims)
    return verified


# InvalidToken, KeySource and default_key_source live in lib.supabase.jwks; importing them
# from here keeps the token API in one place for callers.
__all__ = [
    "MAX_TOKEN_BYTES",
    "Claims",
    "InvalidToken",
    "KeySource",
    "default_key_source",
    "verify_access_token",
]
