"""Settings for every function, resolved from the process environment, dotenv files, defaults.

Each setting is looked up tier by tier (process environment, then the dotenv files
`.env.<env>.local`, `.env.local`, `.env.<env>`, `.env`, then defaults); within a tier
by its canonical name first, then its aliases. The first non-empty value wins. What
each setting is called, how it is parsed and what it defaults to is the table in
lib.settings_specs; this module walks the tiers and builds the hashable `Settings`.

Error messages name settings, variables and tiers but never contain a value: they end
up in Vercel's build and function logs, which more people can read than the secrets.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast
from urllib.parse import urlsplit

from lib.jsontext import JsonObject
from lib.settings_specs import (
    ENVIRONMENT_SPEC,
    ENVIRONMENTS,
    LOGIN_IP,
    RATE_LIMIT_DEFAULTS,
    RATE_POLICIES,
    SETTINGS,
    BadValueError,
    Environment,
    RateLimit,
    RatePolicy,
    SettingSpec,
)

PROCESS_ENVIRONMENT = "process environment"
DEFAULT = "default"

# The repository root, where Vercel deploys the dotenv files next to `lib/`.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """A setting is missing or malformed; the message never contains a setting's value."""


@dataclass(frozen=True)
class Provenance:
    """Where a value came from: the tier label and the variable name (None for defaults)."""

    tier: str
    variable: str | None


@dataclass(frozen=True)
class Settings:
    """The resolved, typed settings; `provenance` maps each field to where it came from.

    Hashable (every compared field is immutable), so per-settings caches key on the
    settings themselves.
    """

    environment: Environment
    supabase_url: str
    publishable_key: str
    # Kept out of repr so that logging or a traceback's locals never show them.
    secret_key: str = dataclasses.field(repr=False)
    jwt_secret: str | None = dataclasses.field(repr=False)
    # Held as a lib.jsontext.JsonObject (immutable), whatever mapping it was built with.
    jwks: Mapping[str, Any] | None
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

    def __post_init__(self) -> None:
        # Settings built by hand or with dataclasses.replace may pass a plain dict.
        if self.jwks is not None and not isinstance(self.jwks, JsonObject):
            object.__setattr__(self, "jwks", JsonObject(self.jwks))

    def rate_limit(self, counter: str) -> RateLimit:
        """The limit of a rate-limit counter (a RatePolicy, or LOGIN_IP); KeyError for any other name."""
        if counter not in RATE_LIMIT_DEFAULTS:
            raise KeyError(counter)
        return cast(RateLimit, getattr(self, f"rate_limit_{counter}"))


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
            reason = str(exc) if isinstance(exc, BadValueError) else "could not be parsed"
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


# What `from lib.config import ...` offers: the API above and, from lib.settings_specs, the
# table and the types of its values.
__all__ = [
    "ENVIRONMENTS",
    "LOGIN_IP",
    "RATE_LIMIT_DEFAULTS",
    "RATE_POLICIES",
    "SETTINGS",
    "ConfigError",
    "Environment",
    "Provenance",
    "RateLimit",
    "RatePolicy",
    "SettingSpec",
    "Settings",
    "describe",
    "dotenv_files",
    "get_settings",
    "lookup",
    "main",
    "resolve_settings",
]


if __name__ == "__main__":
    raise SystemExit(main())
