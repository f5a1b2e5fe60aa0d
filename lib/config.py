"""Settings for every function, resolved from the process environment, dotenv files, defaults.

Each setting is looked up tier by tier (process environment, then the dotenv files
`.env.<env>.local`, `.env.local`, `.env.<env>`, `.env`, then defaults); within a tier
by its canonical name first, then its aliases. The first non-empty value wins.

Error messages name settings, variables and tiers but never contain a value: they end
up in Vercel's build and function logs, which more people can read than the secrets.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast
from urllib.parse import SplitResult, urlsplit

type Environment = Literal["development", "preview", "production"]
ENVIRONMENTS: tuple[Environment, ...] = ("development", "preview", "production")

PROCESS_ENVIRONMENT = "process environment"
DEFAULT = "default"

# The repository root, where Vercel deploys the dotenv files next to `lib/`.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

# A hard ceiling: Vercel kills the function at its max duration anyway, and a longer
# timeout only hides an unhealthy upstream.
_MAX_TIMEOUT_SECONDS = 60.0


class ConfigError(Exception):
    """A setting is missing or malformed; the message never contains a setting's value."""


class _BadValueError(ValueError):
    """A parser's reason for rejecting a value, written without the value in it."""


@dataclass(frozen=True)
class Provenance:
    """Where a value came from: the tier label and the variable name (None for defaults)."""

    tier: str
    variable: str | None


# Turns a raw value (and the variable it came from) into the typed value, or raises
# _BadValueError; most parsers ignore the variable.
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


@dataclass(frozen=True)
class Settings:
    """The resolved, typed settings; `provenance` maps each field to where it came from."""

    environment: Environment
    supabase_url: str
    publishable_key: str
    # Kept out of repr so that logging or a traceback's locals never show them.
    secret_key: str = dataclasses.field(repr=False)
    jwt_secret: str | None = dataclasses.field(repr=False)
    jwks: dict[str, Any] | None
    jwks_url: str
    allowed_origins: tuple[str, ...]
    production_url: str | None
    allow_preview_on_production_db: bool
    vercel_url: str | None
    vercel_branch_url: str | None
    vercel_project_production_url: str | None
    app_version: str
    upstream_connect_timeout: float
    upstream_read_timeout: float
    on_vercel: bool
    rate_limit_login: RateLimit
    rate_limit_login_ip: RateLimit
    rate_limit_recover: RateLimit
    rate_limit_auth: RateLimit
    rate_limit_write: RateLimit
    rate_limit_read: RateLimit
    rate_limit_fail_open: frozenset[str]
    provenance: Mapping[str, Provenance] = dataclasses.field(repr=False, compare=False)


# --- parsers: each raises _BadValueError with a reason that never quotes the value ----


def _environment(value: str, _variable: str) -> Environment:
    if value not in ENVIRONMENTS:
        raise _BadValueError("is not one of development, preview, production")
    return value


def _split_http_url(value: str) -> SplitResult:
    # urlsplit tolerates embedded whitespace and its own errors quote the input, so
    # both are checked here instead of surfacing its exceptions.
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise _BadValueError("contains whitespace or control characters")
    try:
        parts = urlsplit(value)
        _ = parts.port  # validates the port; raises ValueError when malformed
    except ValueError:
        raise _BadValueError("is not a well-formed URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _BadValueError("is not an http or https URL with a host")
    return parts


def _http_url(value: str, _variable: str) -> str:
    parts = _split_http_url(value)
    if "@" in parts.netloc:
        # Credentials in the URL would be shown by `python -m lib.config` and in logs.
        raise _BadValueError("must not contain credentials")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise _BadValueError("must not have a query or fragment")
    return value.rstrip("/")


def _publishable_key(value: str, _variable: str) -> str:
    if value.startswith("sb_secret_"):
        raise _BadValueError("holds a secret key (sb_secret_...) where the public key belongs")
    if _jwt_role(value) == "service_role":
        raise _BadValueError("holds a service_role JWT where the public anon key belongs")
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


def _jwks(value: str, _variable: str) -> dict[str, Any]:
    try:
        document = json.loads(value)
    except ValueError:
        raise _BadValueError("is not valid JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise _BadValueError('is not a JSON object with a "keys" list')
    if not all(isinstance(key, dict) for key in document["keys"]):
        raise _BadValueError('has an entry in "keys" that is not a JSON object')
    return cast(dict[str, Any], document)


def _origin(entry: str, position: int) -> str:
    try:
        parts = _split_http_url(entry)
    except _BadValueError:
        parts = None
    if parts is None or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise _BadValueError(
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
    raise _BadValueError("is not a boolean (true/false, 1/0, yes/no)")


def _timeout(value: str, _variable: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise _BadValueError("is not a number of seconds") from None
    if not (math.isfinite(seconds) and 0 < seconds <= _MAX_TIMEOUT_SECONDS):
        raise _BadValueError(f"must be more than 0 and at most {_MAX_TIMEOUT_SECONDS:g} seconds")
    return seconds


@dataclass(frozen=True)
class RateLimit:
    """`limit` requests per `window` seconds."""

    limit: int
    window: int


RATE_POLICIES = ("login", "recover", "auth", "write", "read")


def _rate_limit(value: str, _variable: str) -> RateLimit:
    count, slash, seconds = value.partition("/")
    if not slash or not count.strip().isdigit() or not seconds.strip().isdigit():
        raise _BadValueError("must look like 60/60 (requests per seconds)")
    limit, window = int(count), int(seconds)
    if not (1 <= limit <= 1_000_000 and 1 <= window <= 86_400):
        raise _BadValueError("needs 1-1000000 requests per 1-86400 seconds")
    return RateLimit(limit, window)


def _policies(value: str, _variable: str) -> frozenset[str]:
    names = frozenset(name.strip() for name in value.split(",") if name.strip())
    if not names <= set(RATE_POLICIES):
        raise _BadValueError(f"may only list {', '.join(RATE_POLICIES)}")
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
    # the client's address (contract section 6).
    SettingSpec("on_vercel", "VERCEL", parser=_bool, default=False),
    SettingSpec("rate_limit_login", "RATE_LIMIT_LOGIN", parser=_rate_limit, default=RateLimit(5, 60)),
    # Per client IP whatever the email: password spraying, one password over many accounts.
    SettingSpec("rate_limit_login_ip", "RATE_LIMIT_LOGIN_IP", parser=_rate_limit, default=RateLimit(30, 60)),
    SettingSpec("rate_limit_recover", "RATE_LIMIT_RECOVER", parser=_rate_limit, default=RateLimit(3, 3600)),
    SettingSpec("rate_limit_auth", "RATE_LIMIT_AUTH", parser=_rate_limit, default=RateLimit(20, 60)),
    SettingSpec("rate_limit_write", "RATE_LIMIT_WRITE", parser=_rate_limit, default=RateLimit(60, 60)),
    SettingSpec("rate_limit_read", "RATE_LIMIT_READ", parser=_rate_limit, default=RateLimit(600, 60)),
    # Which policies admit requests when the limiter's database call fails.
    SettingSpec(
        "rate_limit_fail_open", "RATE_LIMIT_FAIL_OPEN", parser=_policies, default=frozenset({"read"})
    ),
)


# --- the tier walk -------------------------------------------------------------------


def dotenv_files(environment: str | None) -> tuple[str, ...]:
    """Dotenv file names for `environment`, most specific first (None: env-independent only)."""
    if environment is None:
        return (".env.local", ".env")
    return (f".env.{environment}.local", ".env.local", f".env.{environment}", ".env")


class _Sources:
    """The process environment and the dotenv files of one root, each file read at most once."""

    def __init__(self, environ: Mapping[str, str], root: Path) -> None:
        self._environ = environ
        self._root = root
        self._files: dict[str, Mapping[str, str | None]] = {}

    def _dotenv(self, name: str) -> Mapping[str, str | None]:
        if name not in self._files:
            self._files[name] = self._read(self._root / name)
        return self._files[name]

    @staticmethod
    def _read(path: Path) -> Mapping[str, str | None]:
        if not path.is_file():
            return {}
        # Imported only when a file exists: deployed functions normally have none,
        # and this runs on every cold start.
        from dotenv import dotenv_values

        try:
            # No interpolation: it would fall back to os.environ, making the result
            # depend on more than the mapping passed in, and mangle values with `${`.
            return dotenv_values(path, interpolate=False, encoding="utf-8")
        except UnicodeDecodeError:
            problem = "is not valid UTF-8"
        except OSError as exc:
            problem = f"could not be read ({exc.strerror})"
        raise ConfigError(f"{path} {problem}.")

    def lookup(self, names: Sequence[str], environment: str | None) -> tuple[str, Provenance] | None:
        tiers: list[tuple[str, Callable[[str], Mapping[str, str | None]]]] = [
            (PROCESS_ENVIRONMENT, lambda _name: self._environ)
        ]
        tiers += [(name, self._dotenv) for name in dotenv_files(environment)]
        for tier, source in tiers:
            values = source(tier)
            for name in names:
                # Surrounding whitespace is dropped because a pasted trailing newline
                # (easy to make in a dashboard) would otherwise break a key silently.
                value = (values.get(name) or "").strip()
                if value:
                    return value, Provenance(tier, name)
        return None


def lookup(
    names: Sequence[str],
    *,
    environ: Mapping[str, str] | None = None,
    root: Path | None = None,
    environment: str | None = None,
) -> tuple[str, Provenance] | None:
    """Raw tier walk without defaults: first non-empty value or None; ConfigError if unreadable."""
    sources = _Sources(os.environ if environ is None else environ, PROJECT_ROOT if root is None else root)
    return sources.lookup(names, environment)


# --- resolution ----------------------------------------------------------------------


def _tiers_searched(environment: str | None) -> str:
    return ", ".join((PROCESS_ENVIRONMENT, *dotenv_files(environment)))


def _resolve(
    spec: SettingSpec,
    sources: _Sources,
    environment: Environment | None,
    resolved: Mapping[str, Any],
) -> tuple[object, Provenance]:
    """One setting's typed value and provenance; raises ConfigError with a value-free message."""
    found = sources.lookup(spec.names, environment)
    # The environment itself is resolved before there is one to mention.
    in_environment = f" (environment: {environment})" if environment else ""
    if found is not None:
        raw, provenance = found
        try:
            return spec.parser(raw, cast(str, provenance.variable)), provenance
        except ValueError as exc:
            reason = str(exc) if isinstance(exc, _BadValueError) else "could not be parsed"
        # Raised outside the except block so the original exception, whose message
        # may quote the value, is not chained onto this one.
        raise ConfigError(
            f"{spec.name} is invalid{in_environment}: "
            f"{provenance.variable} from {provenance.tier} {reason}. The value is not shown."
        )

    default_tier = Provenance(DEFAULT, None)
    if spec.dev_default is not None and environment == "development":
        return spec.dev_default, default_tier
    if spec.default is not None:
        return spec.default, default_tier
    if spec.derive is not None:
        return spec.derive(resolved), default_tier
    if not spec.required:
        return None, default_tier
    no_default = "no default outside development" if spec.dev_default is not None else "no default"
    raise ConfigError(
        f"{spec.name} is not set{in_environment}. "
        f"Tried {', '.join(spec.names)} in: {_tiers_searched(environment)}; {no_default}."
    )


def _comparable_url(url: str) -> tuple[str, str, int | None, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port
    if (scheme, port) in (("http", 80), ("https", 443)):
        port = None
    return scheme, (parts.hostname or "").lower(), port, parts.path.rstrip("/")


def _check_preview_guard(settings: Settings) -> None:
    if (
        settings.environment != "preview"
        or settings.production_url is None
        or settings.allow_preview_on_production_db
        or _comparable_url(settings.supabase_url) != _comparable_url(settings.production_url)
    ):
        return
    url = settings.provenance["supabase_url"]
    production = settings.provenance["production_url"]
    raise ConfigError(
        "SUPABASE_URL points at the production project in a preview deployment: "
        f"{url.variable} from {url.tier} equals "
        f"{production.variable} from {production.tier}. "
        "A branch preview must not write production data; give previews their own "
        "Supabase project or branch, or set ALLOW_PREVIEW_ON_PRODUCTION_DB=true if "
        "this is deliberate."
    )


def resolve_settings(environ: Mapping[str, str] | None = None, root: Path | None = None) -> Settings:
    """Resolve all settings, uncached, no side effects; ConfigError lists every problem found."""
    sources = _Sources(os.environ if environ is None else environ, PROJECT_ROOT if root is None else root)
    # The environment picks the dotenv files, so it is resolved from the files that
    # do not depend on it.
    resolved_environment, environment_provenance = _resolve(ENVIRONMENT_SPEC, sources, None, {})
    environment = cast(Environment, resolved_environment)

    values: dict[str, Any] = {"environment": environment}
    provenance: dict[str, Provenance] = {"environment": environment_provenance}
    problems: list[str] = []
    for spec in SETTINGS:
        try:
            values[spec.field], provenance[spec.field] = _resolve(spec, sources, environment, values)
        except ConfigError as exc:
            # Collected so that one failed deploy reports everything there is to fix;
            # an unreadable dotenv file fails every lookup, but is reported once.
            if str(exc) not in problems:
                problems.append(str(exc))
    if problems:
        raise ConfigError("\n".join(problems))

    settings = Settings(**values, provenance=MappingProxyType(provenance))
    _check_preview_guard(settings)
    return settings


@functools.cache
def get_settings() -> Settings:
    """resolve_settings() once per process; a ConfigError is raised again on every call."""
    return resolve_settings()


# --- display -------------------------------------------------------------------------

_SECRET_FIELDS = frozenset(spec.field for spec in SETTINGS if spec.secret)


def _display(field: str, value: object) -> str:  # noqa: PLR0911 (one case per kind of value)
    if value is None:
        return "(not set)"
    if field in _SECRET_FIELDS:
        text = str(value)
        # The prefix tells the new key style from a legacy JWT without revealing it.
        return "sb_secret_****" if text.startswith("sb_secret_") else f"**** ({len(text)} chars)"
    if field == "jwks":
        count = len(cast(dict[str, Any], value)["keys"])
        return f"<{count} key>" if count == 1 else f"<{count} keys>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | frozenset):
        return ", ".join(sorted(value)) if value else "(none)"
    if isinstance(value, RateLimit):
        return f"{value.limit}/{value.window}s"
    return str(value)


def describe(settings: Settings) -> list[tuple[str, str, str, str]]:
    """Rows of (setting, value with secrets masked, tier, variable or "-"); never raises."""
    fields = ("environment", *(spec.field for spec in SETTINGS))
    rows: list[tuple[str, str, str, str]] = []
    for field in fields:
        # Settings built by hand (in tests) may carry no provenance.
        provenance = settings.provenance.get(field, Provenance("(unknown)", None))
        rows.append(
            (
                field,
                _display(field, getattr(settings, field)),
                provenance.tier,
                provenance.variable or "-",
            )
        )
    return rows


def main() -> int:
    """Print the settings table and return 0; on ConfigError print it to stderr, return 1."""
    try:
        settings = resolve_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    rows = [("setting", "value", "tier", "variable"), *describe(settings)]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        print("  ".join([*cells, row[3]]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
