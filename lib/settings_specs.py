"""The settings table: one `SettingSpec` per `Settings` field, with the parsers that type each value.

lib.config walks the tiers and builds `Settings` from this table; everything about a single
setting (its variable names, parser, defaults, whether it is secret or required) is here.
Parsers raise BadValueError with a reason that never quotes the value.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, cast, get_args
from urllib.parse import SplitResult, urlsplit

from lib.jsontext import JsonObject

Environment: TypeAlias = Literal["development", "preview", "production"]  # noqa: UP040 (get_args reads it)
ENVIRONMENTS: tuple[Environment, ...] = get_args(Environment)


# A hard ceiling: Vercel kills the function at its max duration anyway, and a longer
# timeout only hides an unhealthy upstream.
_MAX_TIMEOUT_SECONDS = 60.0


class BadValueError(ValueError):
    """A parser's reason for rejecting a value, written without the value in it."""


# Turns a raw value (and the variable it came from) into the typed value, or raises
# BadValueError; most parsers ignore the variable.
type Parser = Callable[[str, str], object]


def _text(value: str, _variable: str) -> str:
    return value


@dataclass(frozen=True)
class SettingSpec:
    """One row of the settings table: how to find, parse and default one `Settings` field."""

    field: str
    name: str
    aliases: tuple[str, ...] = ()
    parser: Parser = _text
    # Used in every environment; None means "no default" (the field is then None
    # unless the setting is required).
    default: object = None
    # The local stack's well-known credentials: only safe as defaults in development.
    dev_default: object = None
    # A default computed from settings resolved earlier in the table.
    derive: Callable[[Mapping[str, Any]], object] | None = None
    secret: bool = False
    required: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        """The canonical name followed by the aliases, in lookup order."""
        return (self.name, *self.aliases)


# --- parsers: each raises BadValueError with a reason that never quotes the value ----


def _environment(value: str, _variable: str) -> Environment:
    if value not in ENVIRONMENTS:
        raise BadValueError("is not one of development, preview, production")
    return value


def _split_http_url(value: str) -> SplitResult:
    # urlsplit tolerates embedded whitespace and its own errors quote the input, so
    # both are checked here instead of surfacing its exceptions.
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise BadValueError("contains whitespace or control characters")
    try:
        parts = urlsplit(value)
        _ = parts.port  # validates the port; raises ValueError when malformed
    except ValueError:
        raise BadValueError("is not a well-formed URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise BadValueError("is not an http or https URL with a host")
    return parts


def _http_url(value: str, _variable: str) -> str:
    parts = _split_http_url(value)
    if "@" in parts.netloc:
        # Credentials in the URL would be shown by `python -m lib.config` and in logs.
        raise BadValueError("must not contain credentials")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise BadValueError("must not have a query or fragment")
    return value.rstrip("/")


def _publishable_key(value: str, _variable: str) -> str:
    if value.startswith("sb_secret_"):
        raise BadValueError("holds a secret key (sb_secret_...) where the public key belongs")
    if _jwt_role(value) == "service_role":
        raise BadValueError("holds a service_role JWT where the public anon key belongs")
    return value


def _jwt_role(value: str) -> object:
    # Legacy keys are JWTs; the role claim tells anon from service_role without
    # verifying the signature, which is all a misplacement check needs.
    parts = value.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except ValueError:
        return None
    return claims.get("role") if isinstance(claims, dict) else None


def _jwks(value: str, _variable: str) -> JsonObject:
    try:
        document = json.loads(value)
    except ValueError:
        raise BadValueError("is not valid JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise BadValueError('is not a JSON object with a "keys" list')
    if not all(isinstance(key, dict) for key in document["keys"]):
        raise BadValueError('has an entry in "keys" that is not a JSON object')
    return JsonObject(document)


def _origin(entry: str, position: int) -> str:
    try:
        parts = _split_http_url(entry)
    except BadValueError:
        parts = None
    if parts is None or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise BadValueError(
            f"has entry {position} that is not an origin "
            "(http or https, host and optional port, no path, not even a trailing slash)"
        )
    # Browsers send the Origin header with a lowercase scheme and host and without a
    # default port, so the configured value is brought to the same form.
    scheme = parts.scheme.lower()
    host = cast(str, parts.hostname)
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _origins(value: str, _variable: str) -> tuple[str, ...]:
    entries = [entry.strip() for entry in value.split(",")]
    return tuple(_origin(entry, position) for position, entry in enumerate(entries, start=1) if entry)


def _bool(value: str, _variable: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise BadValueError("is not a boolean (true/false, 1/0, yes/no)")


def _timeout(value: str, _variable: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise BadValueError("is not a number of seconds") from None
    if not (math.isfinite(seconds) and 0 < seconds <= _MAX_TIMEOUT_SECONDS):
        raise BadValueError(f"must be more than 0 and at most {_MAX_TIMEOUT_SECONDS:g} seconds")
    return seconds


@dataclass(frozen=True)
class RateLimit:
    """`limit` requests per `window` seconds."""

    limit: int
    window: int


# The one list of rate-limit policies: a route names one (lib.contract.routing), each has a
# RATE_LIMIT_<POLICY> setting, and RATE_LIMIT_FAIL_OPEN may list them.
RatePolicy: TypeAlias = Literal["login", "recover", "auth", "write", "read"]  # noqa: UP040 (get_args reads it)
RATE_POLICIES: tuple[RatePolicy, ...] = get_args(RatePolicy)
# A counter that is not a route's policy: login also counts per client IP, whatever the email
# (password spraying, one password over many accounts).
LOGIN_IP = "login_ip"
# Every counter's default limit: the settings rate_limit_<counter>, in table order.
RATE_LIMIT_DEFAULTS: Mapping[str, RateLimit] = {
    "login": RateLimit(5, 60),
    LOGIN_IP: RateLimit(30, 60),
    "recover": RateLimit(3, 3600),
    "auth": RateLimit(20, 60),
    "write": RateLimit(60, 60),
    "read": RateLimit(600, 60),
}


def _rate_limit(value: str, _variable: str) -> RateLimit:
    count, slash, seconds = value.partition("/")
    if not slash or not count.strip().isdigit() or not seconds.strip().isdigit():
        raise BadValueError("must look like 60/60 (requests per seconds)")
    limit, window = int(count), int(seconds)
    if not (1 <= limit <= 1_000_000 and 1 <= window <= 86_400):
        raise BadValueError("needs 1-1000000 requests per 1-86400 seconds")
    return RateLimit(limit, window)


def _policies(value: str, _variable: str) -> frozenset[str]:
    names = frozenset(name.strip() for name in value.split(",") if name.strip())
    if not names <= set(RATE_POLICIES):
        raise BadValueError(f"may only list {', '.join(RATE_POLICIES)}")
    return names


def _app_version(value: str, variable: str) -> str:
    # Vercel injects the full 40-character SHA; the short form is what people compare.
    return value[:7] if variable == "VERCEL_GIT_COMMIT_SHA" else value


def _default_jwks_url(resolved: Mapping[str, Any]) -> str | None:
    base = resolved.get("supabase_url")
    return None if base is None else f"{base}/auth/v1/.well-known/jwks.json"


# --- the table: one line per setting, in resolution order (derived ones last) --------

ENVIRONMENT_SPEC = SettingSpec(
    "environment", "APP_ENV", ("VERCEL_ENV",), parser=_environment, default="development"
)

SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "supabase_url",
        "SUPABASE_URL",
        ("NEXT_PUBLIC_SUPABASE_URL",),
        parser=_http_url,
        dev_default="http://127.0.0.1:54321",
        required=True,
    ),
    SettingSpec(
        "publishable_key",
        "SUPABASE_PUBLISHABLE_KEY",
        (
            "SUPABASE_ANON_KEY",
            "NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY",
            "NEXT_PUBLIC_SUPABASE_ANON_KEY",
        ),
        parser=_publishable_key,
        dev_default="sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH",
        required=True,
    ),
    SettingSpec(
        "secret_key",
        "SUPABASE_SECRET_KEY",
        ("SUPABASE_SERVICE_ROLE_KEY",),
        dev_default="sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz",
        secret=True,
        required=True,
    ),
    SettingSpec(
        "jwt_secret",
        "SUPABASE_JWT_SECRET",
        dev_default="super-secret-jwt-token-with-at-least-32-characters-long",
        secret=True,
    ),
    SettingSpec("jwks", "SUPABASE_JWKS", parser=_jwks),
    SettingSpec("jwks_url", "SUPABASE_JWKS_URL", parser=_http_url, derive=_default_jwks_url),
    SettingSpec("allowed_origins", "ALLOWED_ORIGINS", parser=_origins, default=()),
    SettingSpec("production_url", "SUPABASE_PRODUCTION_URL", parser=_http_url),
    SettingSpec(
        "allow_preview_on_production_db",
        "ALLOW_PREVIEW_ON_PRODUCTION_DB",
        parser=_bool,
        default=False,
    ),
    SettingSpec("vercel_url", "VERCEL_URL"),
    SettingSpec("vercel_branch_url", "VERCEL_BRANCH_URL"),
    SettingSpec("vercel_project_production_url", "VERCEL_PROJECT_PRODUCTION_URL"),
    SettingSpec(
        "app_version",
        "APP_VERSION",
        ("VERCEL_GIT_COMMIT_SHA",),
        parser=_app_version,
        default="dev",
    ),
    SettingSpec("upstream_connect_timeout", "UPSTREAM_CONNECT_TIMEOUT", parser=_timeout, default=3.0),
    SettingSpec("upstream_read_timeout", "UPSTREAM_READ_TIMEOUT", parser=_timeout, default=8.0),
    # Vercel sets VERCEL=1 in every function; only there do X-Forwarded-For and X-Real-IP come
    # from the platform (its edge overwrites whatever the client sent), so only there are they
    # the client's address (docs/api.md §6.1).
    SettingSpec("on_vercel", "VERCEL", parser=_bool, default=False),
    *(
        SettingSpec(
            f"rate_limit_{counter}", f"RATE_LIMIT_{counter.upper()}", parser=_rate_limit, default=limit
        )
        for counter, limit in RATE_LIMIT_DEFAULTS.items()
    ),
    # Which policies admit requests when the limiter's database call fails.
    SettingSpec(
        "rate_limit_fail_open", "RATE_LIMIT_FAIL_OPEN", parser=_policies, default=frozenset({"read"})
    ),
)
