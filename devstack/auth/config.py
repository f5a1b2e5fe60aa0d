"""The service's settings: AuthConfig, from the environment and supabase/config.toml."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

# Lower case only: the name is both quoted as an identifier and passed to
# to_regprocedure(), which folds unquoted names to lower case.
HOOK_NAME = re.compile(r"^[a-z_][a-z0-9_$]*\.[a-z_][a-z0-9_$]*$")
_HOOK_URI = re.compile(r"^pg-functions://[^/]+/(?P<schema>[^/]+)/(?P<function>[^/]+)$")


_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


@dataclass(frozen=True)
class RateLimits:
    """[auth.rate_limit] of supabase/config.toml, with the Supabase CLI's defaults.

    As in GoTrue, the per-IP limits are token buckets refilled at `n` per 5 minutes with
    a burst of 30; `email_sent` is one project-wide budget per hour (None: unlimited, as
    on the CLI's stack, which lifts it while mail goes to its local inbox).
    """

    sign_in_sign_ups: int = 30  # GOTRUE_RATE_LIMIT_OTP: /signup, /otp, /recover, /resend, PUT /user
    token_refresh: int = 150  # GOTRUE_RATE_LIMIT_TOKEN_REFRESH: /token
    token_verifications: int = 30  # GOTRUE_RATE_LIMIT_VERIFY: /verify
    email_sent: int | None = None  # GOTRUE_RATE_LIMIT_EMAIL_SENT, per hour


_RATE_LIMIT_KEYS = ("sign_in_sign_ups", "token_refresh", "token_verifications", "email_sent")


def _toml_auth(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    section = tomllib.loads(path.read_text()).get("auth", {})
    return section if isinstance(section, dict) else {}


def _whole(path: Path, name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{path}: [auth] {name} must be a non-negative whole number")
    return value


def load_email_settings_from_config(path: Path) -> dict[str, Any]:
    """AuthConfig keyword arguments from [auth], [auth.email] and [auth.rate_limit]. Raises ValueError."""
    auth = _toml_auth(path)
    email = auth.get("email", {}) if isinstance(auth.get("email"), dict) else {}
    values: dict[str, Any] = {}
    if "enable_confirmations" in email:
        values["mailer_autoconfirm"] = email["enable_confirmations"] is not True
    if auth.get("enable_signup") is False or email.get("enable_signup") is False:
        values["enable_signup"] = False
    if isinstance(auth.get("site_url"), str):
        values["site_url"] = auth["site_url"]
    urls = auth.get("additional_redirect_urls")
    if isinstance(urls, list):
        values["additional_redirect_urls"] = tuple(str(url) for url in urls)
    if "double_confirm_changes" in email:
        values["secure_email_change"] = email["double_confirm_changes"] is True
    if isinstance(email.get("max_frequency"), str):
        values["max_frequency"] = parse_go_duration(email["max_frequency"]).total_seconds()
    if "otp_expiry" in email:
        values["otp_expiry"] = _whole(path, "email.otp_expiry", email["otp_expiry"])
    if "otp_length" in email:
        values["otp_length"] = _whole(path, "email.otp_length", email["otp_length"])
    limits = auth.get("rate_limit")
    if isinstance(limits, dict):
        given = {
            key: _whole(path, f"rate_limit.{key}", limits[key]) for key in _RATE_LIMIT_KEYS if key in limits
        }
        values["rate_limits"] = RateLimits(**given)
    return values


@dataclass(frozen=True)
class AuthConfig:
    """How the service connects, signs tokens and validates passwords."""

    dsn: str = field(repr=False)
    jwt_secret: str = field(repr=False)
    issuer: str
    access_token_ttl: int = 3600
    hook: str | None = None
    signing_jwk: dict[str, Any] | None = field(default=None, repr=False)
    password_min_length: int = 6
    bcrypt_rounds: int = 10
    refresh_token_reuse_interval: int = 10  # seconds, as [auth] in supabase/config.toml
    # [auth.email] enable_confirmations, inverted: GoTrue's MAILER_AUTOCONFIRM.
    mailer_autoconfirm: bool = True
    enable_signup: bool = True
    site_url: str = "http://127.0.0.1:3000"
    additional_redirect_urls: tuple[str, ...] = ()
    secure_email_change: bool = True  # [auth.email] double_confirm_changes
    max_frequency: float = 1.0  # seconds between emails to one user ([auth.email] max_frequency)
    otp_expiry: int = 3600
    otp_length: int = 6
    rate_limits: RateLimits = field(default_factory=RateLimits)
    inbox_url: str | None = None  # where mail goes (the local inbox's Mailpit-style send API)

    def __post_init__(self) -> None:
        """Reject unusable values early. Raises ValueError."""
        if not self.dsn:
            raise ValueError("dsn is required")
        if not self.jwt_secret:
            raise ValueError("jwt_secret is required")
        if self.access_token_ttl <= 0:
            raise ValueError("access_token_ttl must be positive")
        if self.hook is not None and not HOOK_NAME.match(self.hook):
            raise ValueError(f"hook must be a lower-case schema.function name, got {self.hook!r}")
        if not 4 <= self.bcrypt_rounds <= 31:
            raise ValueError("bcrypt_rounds must be between 4 and 31")
        if self.password_min_length < 0:
            raise ValueError("password_min_length must not be negative")
        if self.refresh_token_reuse_interval < 0:
            raise ValueError("refresh_token_reuse_interval must not be negative")
        if self.max_frequency < 0 or self.otp_expiry <= 0 or not 6 <= self.otp_length <= 10:
            raise ValueError("max_frequency, otp_expiry or otp_length is out of range")


def load_reuse_interval_from_config(path: Path) -> int:
    """[auth] refresh_token_reuse_interval in seconds (10 when absent). Raises ValueError."""
    if not path.exists():
        return 10
    value = tomllib.loads(path.read_text()).get("auth", {}).get("refresh_token_reuse_interval", 10)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{path}: [auth] refresh_token_reuse_interval must be a whole number of seconds")
    return value


def load_hook_from_config(path: Path) -> str | None:
    """The enabled pg-functions access token hook as `schema.function`, else None. Raises ValueError."""
    # A missing file means no hook; invalid TOML raises tomllib.TOMLDecodeError (a ValueError).
    if not path.exists():
        return None
    config = tomllib.loads(path.read_text())
    section = config.get("auth", {}).get("hook", {}).get("custom_access_token")
    if not isinstance(section, dict) or section.get("enabled") is not True:
        return None
    uri = section.get("uri")
    match = _HOOK_URI.match(uri) if isinstance(uri, str) else None
    if match is None:
        raise ValueError(
            f"{path}: [auth.hook.custom_access_token] uri must look like "
            f"pg-functions://postgres/<schema>/<function>, got {uri!r}"
        )
    name = f"{match['schema']}.{match['function']}"
    if not HOOK_NAME.match(name):
        raise ValueError(f"{path}: unsupported hook function name {name!r}")
    return name


def config_from_env(env: Mapping[str, str]) -> AuthConfig:
    """An AuthConfig from AUTH_* and SUPABASE_JWT_SECRET. Raises ValueError naming the variable."""
    missing = [name for name in ("AUTH_DB_DSN", "SUPABASE_JWT_SECRET") if not env.get(name)]
    if missing:
        raise ValueError(f"missing environment variable(s): {', '.join(missing)}")
    hook: str | None = env.get("AUTH_HOOK") or None
    reuse_interval = 10
    email_settings: dict[str, Any] = {}
    if env.get("AUTH_CONFIG_TOML"):
        config_toml = Path(env["AUTH_CONFIG_TOML"])
        if "AUTH_HOOK" not in env:
            hook = load_hook_from_config(config_toml)
        reuse_interval = load_reuse_interval_from_config(config_toml)
        email_settings = load_email_settings_from_config(config_toml)
    confirmations = env.get("AUTH_EMAIL_CONFIRMATIONS", "").strip().lower()
    if confirmations:
        if confirmations not in ("true", "false"):
            raise ValueError("AUTH_EMAIL_CONFIRMATIONS must be true or false")
        email_settings["mailer_autoconfirm"] = confirmations == "false"
    if env.get("AUTH_SITE_URL"):
        email_settings["site_url"] = env["AUTH_SITE_URL"]
    signing_jwk: dict[str, Any] | None = None
    if env.get("AUTH_SIGNING_JWK"):
        try:
            parsed = json.loads(env["AUTH_SIGNING_JWK"])
        except json.JSONDecodeError:
            raise ValueError("AUTH_SIGNING_JWK is not valid JSON") from None
        # The Supabase CLI stores signing keys as a JSON array; the first one signs.
        if isinstance(parsed, list) and parsed:
            parsed = parsed[0]
        if not isinstance(parsed, dict):
            raise ValueError("AUTH_SIGNING_JWK must be a JWK object (or an array of them)")
        signing_jwk = parsed

    def integer(name: str, default: int) -> int:
        raw = env.get(name)
        if not raw:
            return default
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{name} must be an integer") from None

    return AuthConfig(
        dsn=env["AUTH_DB_DSN"],
        jwt_secret=env["SUPABASE_JWT_SECRET"],
        issuer=env.get("AUTH_ISSUER") or "http://127.0.0.1:54321/auth/v1",
        access_token_ttl=integer("AUTH_ACCESS_TOKEN_TTL", 3600),
        hook=hook,
        signing_jwk=signing_jwk,
        password_min_length=integer("AUTH_PASSWORD_MIN_LENGTH", 6),
        bcrypt_rounds=integer("AUTH_BCRYPT_ROUNDS", 10),
        refresh_token_reuse_interval=integer("AUTH_REFRESH_TOKEN_REUSE_INTERVAL", reuse_interval),
        inbox_url=env.get("AUTH_INBOX_URL") or None,
        **email_settings,
    )


def parse_go_duration(text: str) -> timedelta:
    """Parse a Go time.ParseDuration string such as "24h" or "1h30m". Raises ValueError."""
    sign = 1.0
    rest = text
    if rest and rest[0] in "+-":
        sign = -1.0 if rest[0] == "-" else 1.0
        rest = rest[1:]
    if rest == "0":
        return timedelta(0)
    if not rest:
        raise ValueError(f'time: invalid duration "{text}"')
    total = 0.0
    position = 0
    while position < len(rest):
        match = _GO_DURATION_PART.match(rest, position)
        if match is None:
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(match[1]) * _GO_DURATION_UNITS[match[2]]
        position = match.end()
    return timedelta(seconds=sign * total)
