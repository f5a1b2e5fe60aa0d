"""A local, Auth-compatible (GoTrue) HTTP service for development and tests; it never ships.

It implements the Supabase Auth API that supabase-js and supabase-py call for
password accounts (sign-up with or without email confirmation, password and
refresh-token grants, logout scopes, GET/PUT /user, recovery, magic links,
verify links and codes, resend, invites, the admin user endpoints, JWKS and the
custom access token hook) against the real `auth` schema, connecting as
`supabase_auth_admin` exactly like GoTrue does. Mail goes to the local inbox
(devstack/inbox.py) through its Mailpit-style send API; the per-IP rate limits
of [auth.rate_limit] are enforced the way GoTrue does.
Paths are relative to the service root; the gateway maps /auth/v1/* here and
checks API keys.

`python -m devstack.auth_service --host H --port P` reads its configuration from
AUTH_DB_DSN, SUPABASE_JWT_SECRET, AUTH_ISSUER and optionally AUTH_HOOK (or
AUTH_CONFIG_TOML, a supabase/config.toml to read the hook and the refresh-token
reuse interval from), AUTH_SIGNING_JWK, AUTH_ACCESS_TOKEN_TTL,
AUTH_PASSWORD_MIN_LENGTH, AUTH_BCRYPT_ROUNDS, AUTH_REFRESH_TOKEN_REUSE_INTERVAL,
AUTH_EMAIL_CONFIRMATIONS (true/false, overrides [auth.email] enable_confirmations),
AUTH_SITE_URL and AUTH_INBOX_URL (the local inbox; without it mail is only logged).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import signal
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from types import FrameType
from typing import Any, cast
from urllib.parse import parse_qs, quote_plus, urlencode, urlsplit

import bcrypt
import psycopg
from jose import jwk, jwt
from jose.exceptions import ExpiredSignatureError, JOSEError, JWTClaimsError, JWTError
from psycopg import sql
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb

_log = logging.getLogger("devstack.auth_service")

AUDIENCE = "authenticated"
DEFAULT_ROLE = "authenticated"
ADMIN_ROLES = frozenset({"service_role", "supabase_admin"})
NIL_UUID = uuid.UUID(int=0)
HOOK_TIMEOUT_MS = 2000  # GoTrue's default for Postgres hooks
MAX_BODY_BYTES = 1 << 20
BCRYPT_MAX_BYTES = 72
INVALID_LOGIN = "Invalid login credentials"
API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION_2024_01_01 = "2024-01-01"

# GoTrue validates addresses with this pattern (badoux/checkmail).
_EMAIL = re.compile(
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)
# Lower case only: the name is both quoted as an identifier and passed to
# to_regprocedure(), which folds unquoted names to lower case.
_HOOK_NAME = re.compile(r"^[a-z_][a-z0-9_$]*\.[a-z_][a-z0-9_$]*$")
_HOOK_URI = re.compile(r"^pg-functions://[^/]+/(?P<schema>[^/]+)/(?P<function>[^/]+)$")
_BEARER = re.compile(r"^[Bb]earer (\S+)$")
_ADMIN_USER_PATH = re.compile(r"^/admin/users/(?P<user_id>[^/]+)$")
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

_USER_COLUMNS = (
    "id, aud, role, email, encrypted_password, email_confirmed_at, invited_at, "
    "confirmation_sent_at, recovery_sent_at, last_sign_in_at, raw_app_meta_data, "
    "raw_user_meta_data, created_at, updated_at, phone, phone_confirmed_at, confirmed_at, "
    "banned_until, deleted_at, is_anonymous, confirmation_token, recovery_token, email_change, "
    "email_change_sent_at, email_change_token_new, email_change_token_current, email_change_confirm_status"
)

# Columns Supabase Auth reads into Go strings: a NULL in any of them fails every lookup of
# that user ("Database error querying schema", 500). Seeds that insert users by hand must
# write '' (as supabase/seed.sql does); the local service refuses NULL the same way.
_STRING_COLUMNS = ("confirmation_token", "recovery_token", "email_change_token_new", "email_change")


def _require_scannable(user: Mapping[str, Any] | None) -> None:
    """Raise GoTrue's 500 for a user row it could not read."""
    if user is not None and any(user[column] is None for column in _STRING_COLUMNS):
        raise _ApiError(500, "unexpected_failure", "Database error querying schema")


# GoTrue's MinimumViableTokenSchema: what a hook's output claims must satisfy.
_REQUIRED_CLAIMS = (
    "aud",
    "exp",
    "iat",
    "sub",
    "email",
    "phone",
    "role",
    "aal",
    "session_id",
    "is_anonymous",
)
_CLAIM_TYPES: dict[str, tuple[str, ...]] = {
    "aud": ("string", "array"),
    "exp": ("integer",),
    "jti": ("string",),
    "iat": ("integer",),
    "iss": ("string",),
    "nbf": ("integer",),
    "sub": ("string",),
    "email": ("string",),
    "phone": ("string",),
    "app_metadata": ("object",),
    "user_metadata": ("object",),
    "role": ("string",),
    "aal": ("string",),
    "amr": ("array",),
    "session_id": ("string",),
    "client_id": ("string",),
}

_Conn = psycopg.Connection[DictRow]


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
        values["max_frequency"] = _parse_go_duration(email["max_frequency"]).total_seconds()
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
        if self.hook is not None and not _HOOK_NAME.match(self.hook):
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
    if not _HOOK_NAME.match(name):
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


# --------------------------------------------------------------------------- errors


class _ApiError(Exception):
    """An error GoTrue would answer with; `_AuthService.render_error` shapes the body."""

    def __init__(
        self,
        status: int,
        error_code: str,
        msg: str,
        *,
        extra: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(msg)
        self.status = status
        self.error_code = error_code
        self.msg = msg
        self.extra = extra or {}
        self.body = body  # a fixed body (GoTrue's OAuth-style errors ignore the API version)
        self.headers = headers or []


def _bad_jwt(detail: str) -> _ApiError:
    return _ApiError(403, "bad_jwt", f"invalid JWT: unable to parse or verify signature, {detail}")


def _bad_json(detail: str) -> _ApiError:
    return _ApiError(400, "bad_json", f"Could not parse request body as JSON: {detail}")


def _weak_password(min_length: int) -> _ApiError:
    return _ApiError(
        422,
        "weak_password",
        f"Password should be at least {min_length} characters.",
        extra={"weak_password": {"reasons": ["length"]}},
    )


def _unexpected() -> _ApiError:
    return _ApiError(
        500, "unexpected_failure", "Unexpected failure, please check server logs for more information"
    )


# --------------------------------------------------------------------------- helpers


def _timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _identity_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """GoTrue's Identity object (its `id` is the provider's id, `identity_id` the row's)."""
    identity: dict[str, Any] = {
        "identity_id": str(row["id"]),
        "id": row["provider_id"],
        "user_id": str(row["user_id"]),
        "identity_data": row["identity_data"] or {},
        "provider": row["provider"],
    }
    if row["last_sign_in_at"] is not None:
        identity["last_sign_in_at"] = _timestamp(row["last_sign_in_at"])
    identity["created_at"] = _timestamp(row["created_at"]) or "0001-01-01T00:00:00Z"
    identity["updated_at"] = _timestamp(row["updated_at"]) or "0001-01-01T00:00:00Z"
    if row["email"]:
        identity["email"] = row["email"]
    return identity


def _user_json(row: Mapping[str, Any], identities: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """GoTrue's User object: nil timestamps are omitted, strings default to ""."""
    user: dict[str, Any] = {
        "id": str(row["id"]),
        "aud": row["aud"] or "",
        "role": row["role"] or "",
        "email": row["email"] or "",
    }
    optional = {
        "email_confirmed_at": row["email_confirmed_at"],
        "invited_at": row["invited_at"],
    }
    user.update({key: _timestamp(value) for key, value in optional.items() if value is not None})
    user["phone"] = row["phone"] or ""
    optional = {
        "phone_confirmed_at": row["phone_confirmed_at"],
        "confirmation_sent_at": row["confirmation_sent_at"],
        "confirmed_at": row["confirmed_at"],
        "recovery_sent_at": row["recovery_sent_at"],
    }
    user.update({key: _timestamp(value) for key, value in optional.items() if value is not None})
    if row.get("email_change"):
        user["new_email"] = row["email_change"]
    if row.get("email_change_sent_at") is not None:
        user["email_change_sent_at"] = _timestamp(row["email_change_sent_at"])
    if row["last_sign_in_at"] is not None:
        user["last_sign_in_at"] = _timestamp(row["last_sign_in_at"])
    user["app_metadata"] = row["raw_app_meta_data"] or {}
    user["user_metadata"] = row["raw_user_meta_data"] or {}
    user["identities"] = [_identity_json(identity) for identity in identities]
    # Go marshals a zero time.Time this way; seeds sometimes leave these NULL.
    user["created_at"] = _timestamp(row["created_at"]) or "0001-01-01T00:00:00Z"
    user["updated_at"] = _timestamp(row["updated_at"]) or "0001-01-01T00:00:00Z"
    if row["banned_until"] is not None:
        user["banned_until"] = _timestamp(row["banned_until"])
    if row["deleted_at"] is not None:
        user["deleted_at"] = _timestamp(row["deleted_at"])
    user["is_anonymous"] = bool(row["is_anonymous"])
    return user


def _is_banned(row: Mapping[str, Any], now: datetime) -> bool:
    banned_until = row["banned_until"]
    return banned_until is not None and banned_until > now


def _password_matches(password: str, hashed: str | None) -> bool:
    if not hashed:
        return False
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        # Over-long passwords and malformed stored hashes simply do not match.
        return False


def _merge_metadata(current: Any, updates: dict[str, Any]) -> dict[str, Any]:
    """GoTrue's UpdateAppMetaData/UpdateUserMetaData: null deletes a key, anything else sets it."""
    if not isinstance(current, dict):
        return dict(updates)
    merged = dict(current)
    for key, value in updates.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _parse_go_duration(text: str) -> timedelta:
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


_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),  # before int: bool is a subclass of int
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def _json_type(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return "integer"  # JSON Schema counts 3600.0 as an integer
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "null")


def _claims_problems(claims: Mapping[str, Any]) -> list[str]:
    """Violations of GoTrue's MinimumViableTokenSchema, worded like gojsonschema."""
    problems = [f"(root): {name} is required" for name in _REQUIRED_CLAIMS if name not in claims]
    for name, allowed in _CLAIM_TYPES.items():
        if name not in claims:
            continue
        given = _json_type(claims[name])
        if given not in allowed:
            expected = "/".join(allowed)
            problems.append(f"{name}: Invalid type. Expected: {expected}, given: {given}")
    amr = claims.get("amr")
    if isinstance(amr, list):
        for index, item in enumerate(amr):
            if not isinstance(item, dict | str):
                problems.append(f"amr.{index}: Must validate at least one schema (anyOf)")
    return problems


def _api_version(header: str | None) -> str | None:
    """GoTrue's DetermineClosestAPIVersion: 2024-01-01 for any valid date on or after it."""
    if not header:
        return None
    try:
        requested = datetime.strptime(header, "%Y-%m-%d").date()
    except ValueError:
        return None
    return API_VERSION_2024_01_01 if requested.isoformat() >= API_VERSION_2024_01_01 else None


# --------------------------------------------------------------------------- keys


def legacy_secret_kid(secret: str) -> str:
    """The kid of the local Auth's HS256 (JWT secret) signing key: a stable UUID, one-way from the secret."""
    # A hosted project lists the legacy secret among its JWT signing keys as an `oct`
    # key with a UUID kid (GoTrue's JWT_KEYS / JWT_KEY_ID), and SignJWT puts that kid
    # in every header. Derived with an HMAC so the kid reveals nothing of the secret.
    digest = hmac.new(secret.encode(), b"devstack: kid of the legacy JWT secret", hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


class _Keys:
    """Signs access tokens (HS256, or ES256 with the signing JWK) and verifies presented ones."""

    def __init__(self, config: AuthConfig) -> None:
        self._secret = config.jwt_secret
        # Like GoTrue's oct JWK for the secret: named in headers, never in the JWKS.
        self.secret_kid = legacy_secret_kid(config.jwt_secret)
        self.kid: str | None = None
        self._private: Any = None
        self._public: Any = None
        self.public_jwks: list[dict[str, Any]] = []
        if config.signing_jwk is None:
            return
        key = config.signing_jwk
        if key.get("kty") != "EC" or key.get("crv") != "P-256":
            raise ValueError("signing_jwk must be an EC P-256 key (kty EC, crv P-256)")
        kid = key.get("kid")
        if not isinstance(kid, str) or not kid:
            raise ValueError("signing_jwk needs a non-empty 'kid'")
        if "d" not in key:
            raise ValueError("signing_jwk must be a private key (it has no 'd')")
        try:
            private = jwk.construct({**key, "alg": "ES256"}, "ES256")
        except (JOSEError, ValueError, TypeError) as error:
            raise ValueError(f"signing_jwk is not a usable ES256 key: {error}") from None
        public = private.public_key()
        public_fields = public.to_dict()
        self.kid = kid
        self._private = private
        self._public = public
        # The shape GoTrue publishes for an asymmetric signing key.
        self.public_jwks = [
            {
                "alg": "ES256",
                "crv": "P-256",
                "ext": True,
                "key_ops": ["verify"],
                "kid": kid,
                "kty": "EC",
                "use": "sig",
                "x": public_fields["x"],
                "y": public_fields["y"],
            }
        ]

    def sign(self, claims: Mapping[str, Any]) -> str:
        """Sign claims as an access token."""
        if self._private is not None:
            token = jwt.encode(dict(claims), self._private, algorithm="ES256", headers={"kid": self.kid})
        else:
            token = jwt.encode(
                dict(claims), self._secret, algorithm="HS256", headers={"kid": self.secret_kid}
            )
        return str(token)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token signed by our key or the JWT secret. Raises _ApiError (bad_jwt)."""
        if token.count(".") != 2:
            # golang-jwt v5 checks the segment count before decoding anything.
            raise _bad_jwt("token is malformed: token contains an invalid number of segments")
        try:
            header = jwt.get_unverified_header(token)
        except JWTError:
            raise _bad_jwt("token is malformed: could not base64 decode header") from None
        alg = header.get("alg")
        kid = header.get("kid")
        key: Any
        if kid is not None and kid == self.kid and alg == "ES256":
            key = self._public
        elif alg == "HS256":
            # Like GoTrue: HS256 tokens without a known kid fall back to the legacy secret.
            key = self._secret
        else:
            raise _bad_jwt(f"unrecognized JWT kid {kid} for algorithm {alg}")
        try:
            claims = jwt.decode(token, key, algorithms=[alg], options={"verify_aud": False})
        except ExpiredSignatureError:
            raise _bad_jwt("token has invalid claims: token is expired") from None
        except JWTClaimsError as error:
            raise _bad_jwt(f"token has invalid claims: {error}") from None
        except JWTError as error:
            if "Signature verification failed" in str(error):
                raise _bad_jwt("token signature is invalid: signature is invalid") from None
            raise _bad_jwt(f"token is malformed: {error}") from None
        if not isinstance(claims, dict):
            raise _bad_jwt("token is malformed: claims are not an object")
        return claims


# --------------------------------------------------------------------------- rate limits


class _TokenBuckets:
    """GoTrue's tollbooth limiters: per key, `rate` requests per 5 minutes, a burst of 30, 1 h memory."""

    BURST = 30
    TTL = 3600.0

    def __init__(self, per_five_minutes: int) -> None:
        self._per_second = per_five_minutes / 300.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Take one token for `key`; False when its bucket is empty."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.BURST), now))
            tokens = min(float(self.BURST), tokens + (now - last) * self._per_second)
            if len(self._buckets) > 10_000:
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < self.TTL}
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1.0, now)
            return True


class _HourlyBudget:
    """GoTrue's interval limiter for sent mail: `limit` events per hour, project-wide."""

    def __init__(self, limit: int | None) -> None:
        self._limit = limit
        self._window_start = 0.0
        self._count = 0
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """Count one event; False once this hour's budget is spent."""
        if self._limit is None:
            return True
        now = time.monotonic()
        with self._lock:
            if now - self._window_start >= 3600.0:
                self._window_start, self._count = now, 0
            if self._count >= self._limit:
                return False
            self._count += 1
            return True


# --------------------------------------------------------------------------- mail

_MAIL_SUBJECTS = {
    "signup": "Confirm your email address",
    "invite": "You've been invited",
    "recovery": "Reset your password",
    "magiclink": "Your sign-in link",
    "email_change": "Confirm your new email address",
}
_MAIL_ACTIONS = {
    "signup": "Follow this link to confirm your email address",
    "invite": "You have been invited to create a user. Follow this link to accept the invite",
    "recovery": "Follow this link to reset the password for your user",
    "magiclink": "Follow this link to sign in",
    "email_change": "Follow this link to confirm the update of your email",
}


@dataclass(frozen=True)
class _Mail:
    to: str
    kind: str  # signup, invite, recovery, magiclink, email_change
    link: str
    otp: str


def _deliver(inbox_url: str | None, mail: _Mail) -> None:
    """Hand a message to the local inbox (Mailpit's POST /api/v1/send shape). Raises OSError."""
    subject = _MAIL_SUBJECTS[mail.kind]
    action = _MAIL_ACTIONS[mail.kind]
    text = f"{action}:\n\n{mail.link}\n\nAlternatively, enter the code: {mail.otp}\n"
    link = mail.link.replace("&", "&amp;").replace('"', "&quot;")
    html = f'<h2>{subject}</h2><p>{action}:</p><p><a href="{link}">{link}</a></p><p>Code: {mail.otp}</p>'
    if inbox_url is None:
        _log.info("mail (no inbox configured): %s to %s", mail.kind, mail.to)
        return
    payload = {
        "From": {"Email": "admin@email.com", "Name": "Supabase Auth (local)"},
        "To": [{"Email": mail.to}],
        "Subject": subject,
        "Text": text,
        "HTML": html,
        "Headers": {"X-Supabase-Auth-Email-Action": mail.kind},
    }
    request = urllib.request.Request(  # noqa: S310 (a local URL from our own configuration)
        f"{inbox_url.rstrip('/')}/api/v1/send",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        response.read()


def _token_hash(email: str, otp: str) -> str:
    """GoTrue's GenerateTokenHash: the hex SHA-224 of address + code."""
    return hashlib.sha224((email + otp).encode()).hexdigest()


def _encode_redirect(url: str) -> str:
    """GoTrue's encodeRedirectURL: escaped only when it carries &, = or #."""
    return quote_plus(url) if any(char in url for char in "&=#") else url


def _otp(length: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


# --------------------------------------------------------------------------- requests


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    client_ip: str | None
    conn: _Conn | None = None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object. Raises _ApiError (400 bad_json)."""
        try:
            value = json.loads(self.body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise _bad_json(str(error)) from None
        if not isinstance(value, dict):
            raise _bad_json(f"expected a JSON object, got {_json_type(value)}")
        return value


@dataclass
class _Response:
    status: int
    body: Any = None
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _AdminUpdate:
    """The validated body of PUT /admin/users/{id}."""

    email: str | None = None
    role: str | None = None
    app_metadata: dict[str, Any] | None = None
    user_metadata: dict[str, Any] | None = None
    email_confirm: bool = False
    password_hash: str | None = None
    ban: bool = False
    banned_until: datetime | None = None


def _string_field(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad_json(f"{name} must be a string")
    return value


def _object_field(body: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad_json(f"{name} must be an object")
    return value


# --------------------------------------------------------------------------- the service


class _AuthService:
    """Request handlers plus the per-thread database connections they share."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self.keys = _Keys(config)
        self._local = threading.local()
        self._connections: set[_Conn] = set()
        self._lock = threading.Lock()
        # Unknown e-mails are checked against this so they cost as much as real ones.
        self._dummy_hash = bcrypt.hashpw(
            secrets.token_urlsafe(16).encode(), bcrypt.gensalt(config.bcrypt_rounds, prefix=b"2a")
        ).decode()
        self._routes: dict[str, dict[str, Callable[[_Request], _Response]]] = {
            "/health": {"GET": self.health},
            "/settings": {"GET": self.settings},
            "/.well-known/jwks.json": {"GET": self.jwks},
            "/signup": {"POST": self.signup},
            "/token": {"POST": self.token},
            "/logout": {"POST": self.logout},
            "/user": {"GET": self.get_user, "PUT": self.update_user},
            "/recover": {"POST": self.recover},
            "/otp": {"POST": self.otp},
            "/magiclink": {"POST": self.magiclink},
            "/resend": {"POST": self.resend},
            "/verify": {"GET": self.verify, "POST": self.verify},
            "/invite": {"POST": self.invite},
            "/admin/users": {"GET": self.admin_list_users, "POST": self.admin_create_user},
        }
        self._user_routes: dict[str, Callable[[_Request, str], _Response]] = {
            "GET": self.admin_get_user,
            "PUT": self.admin_update_user,
            "DELETE": self.admin_delete_user,
        }
        limits = config.rate_limits
        otp = limits.sign_in_sign_ups
        # One bucket set per GoTrue limiter: each endpoint counts on its own.
        self._limiters: dict[tuple[str, str], _TokenBuckets] = {
            ("/recover", "POST"): _TokenBuckets(otp),
            ("/resend", "POST"): _TokenBuckets(otp),
            ("/magiclink", "POST"): _TokenBuckets(otp),
            ("/otp", "POST"): _TokenBuckets(otp),
            ("/user", "PUT"): _TokenBuckets(otp),
            ("/verify", "GET"): _TokenBuckets(limits.token_verifications),
        }
        self._limiters[("/verify", "POST")] = self._limiters[("/verify", "GET")]
        self._signup_limiter = _TokenBuckets(otp)
        self._token_limiter = _TokenBuckets(limits.token_refresh)
        self._email_budget = _HourlyBudget(limits.email_sent)
        # GoTrue keeps each session's sign-in method (mfa_amr_claims) for the amr claim.
        self._session_amr: dict[uuid.UUID, str] = {}

    # -- connections -------------------------------------------------------

    def connection(self, request: _Request) -> _Conn:
        """This thread's connection, checked once per request and reopened if broken."""
        if request.conn is not None:
            return request.conn
        conn: _Conn | None = getattr(self._local, "conn", None)
        if conn is not None:
            try:
                if conn.closed or conn.broken:
                    raise psycopg.OperationalError("connection lost")
                conn.execute("select 1")
            except psycopg.OperationalError:
                self.release_thread_connection()
                conn = None
        if conn is None:
            conn = psycopg.connect(
                self.config.dsn,
                autocommit=True,
                row_factory=dict_row,
                connect_timeout=10,
                application_name="devstack_auth",
            )
            self._local.conn = conn
            with self._lock:
                self._connections.add(conn)
        request.conn = conn
        return conn

    def release_thread_connection(self) -> None:
        """Close the calling thread's connection, if it has one."""
        conn: _Conn | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._lock:
                self._connections.discard(conn)
            conn.close()

    def close_all(self) -> None:
        """Close every connection still open (server shutdown)."""
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            conn.close()

    # -- dispatch ------------------------------------------------------------

    def dispatch(self, request: _Request) -> _Response:
        """Route a request and turn every failure into a GoTrue-shaped error response."""
        try:
            return self._route(request)
        except _ApiError as error:
            return self.render_error(error, request)
        except psycopg.Error as error:
            if request.conn is not None and (request.conn.broken or request.conn.closed):
                self.release_thread_connection()
            # message_primary never carries bound parameters (passwords, tokens).
            _log.error("database error: %s: %s", type(error).__name__, error.diag.message_primary or "-")
            return self.render_error(_unexpected(), request)
        except Exception:
            _log.exception("unhandled error in %s %s", request.method, request.path)
            return self.render_error(_unexpected(), request)

    def _route(self, request: _Request) -> _Response:
        methods = self._routes.get(request.path)
        if methods is not None:
            handler = methods.get(request.method)
            if handler is None:
                raise self._method_not_allowed(methods)
            limiter = self._limiters.get((request.path, request.method))
            if limiter is not None:
                self._rate_limit(request, limiter)
            return handler(request)
        match = _ADMIN_USER_PATH.match(request.path)
        if match is not None:
            user_handler = self._user_routes.get(request.method)
            if user_handler is None:
                raise self._method_not_allowed(self._user_routes)
            return user_handler(request, match["user_id"])
        raise _ApiError(404, "not_found", "Not Found")

    @staticmethod
    def _method_not_allowed(methods: Mapping[str, object]) -> _ApiError:
        allow = ", ".join(sorted(methods))
        return _ApiError(405, "method_not_allowed", "Method Not Allowed", headers=[("Allow", allow)])

    @staticmethod
    def render_error(error: _ApiError, request: _Request | None) -> _Response:
        """GoTrue's HandleResponseError: the 2024-01-01 shape when the client asks for it."""
        version = _api_version(request.header(API_VERSION_HEADER) if request else None)
        headers = [*error.headers, *([(API_VERSION_HEADER, version)] if version else [])]
        if error.body is not None:
            return _Response(error.status, error.body, headers)
        if version:
            body: dict[str, Any] = {"code": error.error_code, "message": error.msg}
        else:
            body = {"code": error.status, "error_code": error.error_code, "msg": error.msg}
        body.update(error.extra)
        return _Response(error.status, body, headers)

    # -- public endpoints --------------------------------------------------

    def health(self, request: _Request) -> _Response:
        """GET /health."""
        return _Response(
            200, {"version": "devstack", "name": "GoTrue", "description": "local Auth-compatible service"}
        )

    def settings(self, request: _Request) -> _Response:
        """GET /settings."""
        return _Response(
            200,
            {
                "external": {"email": True, "phone": False, "anonymous_users": False},
                "disable_signup": not self.config.enable_signup,
                "mailer_autoconfirm": self.config.mailer_autoconfirm,
                "phone_autoconfirm": False,
                "sms_provider": "",
                "saml_enabled": False,
            },
        )

    def jwks(self, request: _Request) -> _Response:
        """GET /.well-known/jwks.json."""
        return _Response(200, {"keys": self.keys.public_jwks})

    def signup(self, request: _Request) -> _Response:
        """POST /signup: a session (autoconfirm), or the user and a confirmation email."""
        email, password, data = self._signup_params(request)
        hashed = self._hash(password)
        now = datetime.now(UTC)
        conn = self.connection(request)
        redirect_to = self._referrer(request)
        try:
            with conn.transaction():
                user = self._find_user_by_email(conn, email, lock=True)
                if user is None:
                    user_id = self._insert_user(conn, email, hashed, data, now)
                    self._insert_email_identity(conn, user_id, email, data, now)
                elif user["email_confirmed_at"] is None:
                    # GoTrue never changes an unconfirmed account on a repeated sign-up:
                    # the claimant's identity is not proven yet.
                    user_id = user["id"]
                elif self.config.mailer_autoconfirm:
                    raise _ApiError(422, "user_already_exists", "User already registered")
                else:
                    return _Response(200, self._obfuscated_user(email, data, now))
                if self.config.mailer_autoconfirm:
                    self._confirm(conn, user_id, now)
                    return _Response(200, self._issue_session(conn, request, user_id, now))
                self._send_confirmation(conn, user_id, "signup", redirect_to, now=now)
                found = self._find_user(conn, user_id)
                if found is None:
                    raise _unexpected()
                return _Response(200, self._user_payload(conn, found))
        except psycopg.errors.UniqueViolation:
            # A concurrent sign-up with the same address won the race.
            raise _ApiError(422, "user_already_exists", "User already registered") from None

    def _signup_params(self, request: _Request) -> tuple[str, str, dict[str, Any]]:
        """The validated email, password and data of a sign-up, in GoTrue's order of checks."""
        body = request.json_object()
        email = _string_field(body, "email").strip()
        phone = _string_field(body, "phone")
        password = _string_field(body, "password")
        data = _object_field(body, "data") or {}
        if not email and not phone:
            raise _ApiError(422, "anonymous_provider_disabled", "Anonymous sign-ins are disabled")
        self._rate_limit(request, self._signup_limiter)
        if not self.config.enable_signup:
            raise _ApiError(422, "signup_disabled", "Signups not allowed for this instance")
        if not password:
            raise _ApiError(400, "validation_failed", "Signup requires a valid password")
        self._check_password(password)
        if email and phone:
            raise _ApiError(
                400,
                "validation_failed",
                "Only an email address or phone number should be provided on signup.",
            )
        if phone:
            raise _ApiError(400, "phone_provider_disabled", "Phone signups are disabled")
        return self._validate_email(email), password, data

    @staticmethod
    def _obfuscated_user(email: str, data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        """GoTrue's sanitizeUser: what a repeated sign-up of a confirmed address gets (no enumeration)."""
        stamp = _timestamp(now)
        return {
            "id": str(uuid.uuid4()),
            "aud": AUDIENCE,
            "role": "",
            "email": email,
            "phone": "",
            "confirmation_sent_at": stamp,
            "app_metadata": {"provider": "email", "providers": ["email"]},
            "user_metadata": dict(data),
            "identities": [],
            "created_at": stamp,
            "updated_at": stamp,
            "is_anonymous": False,
        }

    def token(self, request: _Request) -> _Response:
        """POST /token?grant_type=password|refresh_token."""
        grant_type = request.param("grant_type")
        if grant_type not in ("password", "refresh_token"):
            raise _ApiError(400, "invalid_credentials", "unsupported_grant_type")
        self._rate_limit(request, self._token_limiter)
        if grant_type == "password":
            return self._password_grant(request)
        return self._refresh_grant(request)

    def _password_grant(self, request: _Request) -> _Response:
        body = request.json_object()
        email = _string_field(body, "email").strip().lower()
        phone = _string_field(body, "phone")
        password = _string_field(body, "password")
        if email and phone:
            raise _ApiError(
                400, "validation_failed", "Only an email address or phone number should be provided on login."
            )
        if phone:
            raise _ApiError(422, "phone_provider_disabled", "Phone logins are disabled")
        if not email:
            raise _ApiError(400, "validation_failed", "missing email or phone")
        conn = self.connection(request)
        user = conn.execute(
            f"select {_USER_COLUMNS} from auth.users"
            " where lower(email) = %s and aud = %s and is_sso_user = false and deleted_at is null",
            (email, AUDIENCE),
        ).fetchone()
        _require_scannable(user)
        now = datetime.now(UTC)
        if user is None or not user["encrypted_password"]:
            _password_matches(password, self._dummy_hash)
            raise _ApiError(400, "invalid_credentials", INVALID_LOGIN)
        if _is_banned(user, now):
            raise _ApiError(400, "user_banned", "User is banned")
        if not _password_matches(password, user["encrypted_password"]):
            raise _ApiError(400, "invalid_credentials", INVALID_LOGIN)
        if user["email_confirmed_at"] is None:
            raise _ApiError(400, "email_not_confirmed", "Email not confirmed")
        with conn.transaction():
            session = self._issue_session(conn, request, user["id"], now)
        return _Response(200, session)

    def _refresh_grant(self, request: _Request) -> _Response:
        body = request.json_object()
        presented = _string_field(body, "refresh_token")
        if not presented:
            raise _ApiError(
                400,
                "validation_failed",
                "refresh_token required",
                body={"error": "invalid_request", "error_description": "refresh_token required"},
            )
        now = datetime.now(UTC)
        conn = self.connection(request)
        reused = False
        session: dict[str, Any] = {}
        with conn.transaction():
            # The row lock serialises concurrent refreshes of the same token.
            token = conn.execute(
                "select rt.id, rt.revoked, rt.updated_at, rt.user_id, rt.session_id,"
                " s.id as live_session_id, s.created_at as session_created_at"
                " from auth.refresh_tokens rt left join auth.sessions s on s.id = rt.session_id"
                " where rt.token = %s for update of rt",
                (presented,),
            ).fetchone()
            if token is None:
                raise _ApiError(
                    400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
                )
            user = conn.execute(
                f"select {_USER_COLUMNS} from auth.users where id::text = %s and deleted_at is null",
                (token["user_id"],),
            ).fetchone()
            if user is None:
                raise _ApiError(
                    400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
                )
            if _is_banned(user, now):
                raise _ApiError(400, "user_banned", "Invalid Refresh Token: User Banned")
            if token["live_session_id"] is None:
                # Tokens from before sessions existed: GoTrue deletes them and refuses.
                conn.execute("delete from auth.refresh_tokens where id = %s", (token["id"],))
            else:
                issued = self._rotate(conn, token, presented, user["id"], now)
                if issued is None:
                    reused = True
                else:
                    conn.execute(
                        "update auth.sessions set refreshed_at = %s, updated_at = %s, user_agent = %s,"
                        " ip = %s::inet where id = %s",
                        (
                            now.replace(tzinfo=None),
                            now,
                            request.header("User-Agent"),
                            request.client_ip,
                            token["session_id"],
                        ),
                    )
                    session = self._session_response(
                        conn,
                        user=user,
                        session_id=token["session_id"],
                        session_created_at=token["session_created_at"],
                        refresh_token=issued,
                        method="token_refresh",
                    )
        if token["live_session_id"] is None:
            raise _ApiError(400, "session_not_found", "Invalid Refresh Token: No Valid Session Found")
        if reused:
            raise _ApiError(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used")
        return _Response(200, session)

    def _rotate(
        self, conn: _Conn, token: Mapping[str, Any], presented: str, user_id: uuid.UUID, now: datetime
    ) -> str | None:
        """The refresh token to hand out for `presented` (row-locked), or None after revoking its family.

        As GoTrue: a live token is swapped for a child. A rotated one is still honoured when it is
        the parent of the session's active token (the client lost the answer to its refresh: the
        active token is handed back) or within the reuse interval (two tabs refreshing at once: a
        new child); any other reuse revokes every token of the session.
        """
        session_id = token["session_id"]
        if not token["revoked"]:
            conn.execute(
                "update auth.refresh_tokens set revoked = true, updated_at = %s where id = %s",
                (now, token["id"]),
            )
            return self._new_refresh_token(conn, user_id, session_id, now, parent=presented)
        active = conn.execute(
            "select token, parent from auth.refresh_tokens where session_id = %s and not revoked"
            " order by id desc limit 1",
            (session_id,),
        ).fetchone()
        if active is not None and active["parent"] == presented:
            return str(active["token"])
        if now <= token["updated_at"] + timedelta(seconds=self.config.refresh_token_reuse_interval):
            return self._new_refresh_token(conn, user_id, session_id, now, parent=presented)
        conn.execute(
            "update auth.refresh_tokens set revoked = true, updated_at = %s"
            " where session_id = %s and not revoked",
            (now, session_id),
        )
        return None

    def logout(self, request: _Request) -> _Response:
        """POST /logout?scope=global|local|others: delete sessions; 204."""
        scope = request.param("scope") or "global"
        if scope not in ("global", "local", "others"):
            raise _ApiError(400, "validation_failed", f'Unsupported logout scope "{scope}"')
        user, session_id = self._current_user(request)
        user_id = user["id"]
        conn = self.connection(request)
        with conn.transaction():
            if scope == "local" and session_id is not None:
                conn.execute("delete from auth.sessions where id = %s", (session_id,))
            elif scope == "others" and session_id is not None:
                conn.execute(
                    "delete from auth.sessions where user_id = %s and id <> %s", (user_id, session_id)
                )
            else:
                self._logout_everywhere(conn, user_id)
        return _Response(204)

    @staticmethod
    def _logout_everywhere(conn: _Conn, user_id: uuid.UUID) -> None:
        conn.execute("delete from auth.sessions where user_id = %s", (user_id,))
        # Tokens from before sessions existed have no session to cascade from.
        conn.execute(
            "delete from auth.refresh_tokens where user_id = %s and session_id is null", (str(user_id),)
        )

    def get_user(self, request: _Request) -> _Response:
        """GET /user: the user the bearer token belongs to."""
        user, _ = self._current_user(request)
        return _Response(200, self._user_payload(self.connection(request), user))

    def update_user(self, request: _Request) -> _Response:
        """PUT /user: password, email (by confirmation link), data; the user as it is now."""
        body = request.json_object()
        user, session_id = self._current_user(request)
        email = _string_field(body, "email").strip()
        if email:
            email = self._validate_email(email)
        password = body.get("password")
        if password is not None and not isinstance(password, str):
            raise _bad_json("password must be a string")
        if password is not None:
            self._check_password(password)
        data = _object_field(body, "data")
        if _object_field(body, "app_metadata") is not None and user["role"] not in ADMIN_ROLES:
            raise _ApiError(403, "not_admin", "Updating app_metadata requires admin privileges")
        if _string_field(body, "phone"):
            raise _ApiError(400, "phone_provider_disabled", "Phone logins are disabled")
        conn = self.connection(request)
        user_id = user["id"]
        changing_email = bool(email) and email != (user["email"] or "").lower()
        if changing_email and self._find_user_by_email(conn, email, exclude=user_id) is not None:
            raise _ApiError(422, "email_exists", "A user with this email address has already been registered")
        hashed: str | None = None
        if password:
            if _password_matches(password, user["encrypted_password"]):
                raise _ApiError(
                    422, "same_password", "New password should be different from the old password."
                )
            hashed = self._hash(password)
        now = datetime.now(UTC)
        with conn.transaction():
            if hashed is not None:
                self._store_password(conn, user_id, hashed, keep_session=session_id)
            if data is not None:
                merged = _merge_metadata(user["raw_user_meta_data"], data)
                conn.execute(
                    "update auth.users set raw_user_meta_data = %s where id = %s", (Jsonb(merged), user_id)
                )
            if changing_email:
                self._send_email_change(conn, user_id, email, self._referrer(request), now=now)
            conn.execute("update auth.users set updated_at = %s where id = %s", (now, user_id))
            updated = self._find_user(conn, user_id)
            if updated is None:
                raise _unexpected()
            payload = self._user_payload(conn, updated)
        return _Response(200, payload)

    def _store_password(
        self, conn: _Conn, user_id: uuid.UUID, hashed: str, *, keep_session: uuid.UUID | None
    ) -> None:
        """GoTrue's UpdatePassword: outstanding links die and every other session ends."""
        conn.execute(
            "update auth.users set encrypted_password = %s, confirmation_token = '',"
            " confirmation_sent_at = null,"
            " recovery_token = '', recovery_sent_at = null, email_change_token_current = '',"
            " email_change_token_new = '', email_change_sent_at = null where id = %s",
            (hashed, user_id),
        )
        if keep_session is None:
            self._logout_everywhere(conn, user_id)
        else:
            conn.execute("delete from auth.sessions where user_id = %s and id <> %s", (user_id, keep_session))

    def recover(self, request: _Request) -> _Response:
        """POST /recover: email a recovery link if the address has an account; always `{}`."""
        body = request.json_object()
        raw = _string_field(body, "email").strip()
        if not raw:
            raise _ApiError(400, "validation_failed", "Password recovery requires an email")
        email = self._validate_email(raw)
        conn = self.connection(request)
        now = datetime.now(UTC)
        with conn.transaction():
            user = self._find_user_by_email(conn, email, lock=True)
            if user is not None:
                self._send_link(conn, user, "recovery", self._referrer(request), now=now)
        return _Response(200, {})

    def otp(self, request: _Request) -> _Response:
        """POST /otp: an email magic link (or, for a new address, a sign-up); `{}`."""
        body = request.json_object()
        email = _string_field(body, "email").strip()
        phone = _string_field(body, "phone")
        if email and phone:
            raise _ApiError(
                400, "validation_failed", "Only an email address or phone number should be provided"
            )
        if email and _string_field(body, "channel"):
            raise _ApiError(400, "validation_failed", "Channel should only be specified with Phone OTP")
        if phone:
            raise _ApiError(400, "phone_provider_disabled", "Unsupported phone provider")
        if not email:
            raise _ApiError(400, "validation_failed", "One of email or phone must be set")
        create_user = body.get("create_user", True) is not False
        if not create_user:
            email = self._validate_email(email)
            if self._find_user_by_email(self.connection(request), email) is None:
                raise _ApiError(422, "otp_disabled", "Signups not allowed for otp")
        return self._magic_link(request, email, _object_field(body, "data") or {})

    def magiclink(self, request: _Request) -> _Response:
        """POST /magiclink (deprecated by /otp, still served by GoTrue)."""
        body = request.json_object()
        email = _string_field(body, "email").strip()
        if not email:
            raise _ApiError(422, "validation_failed", "Password recovery requires an email")
        return self._magic_link(request, email, _object_field(body, "data") or {})

    def _magic_link(self, request: _Request, raw_email: str, data: dict[str, Any]) -> _Response:
        email = self._validate_email(raw_email)
        conn = self.connection(request)
        now = datetime.now(UTC)
        redirect_to = self._referrer(request)
        with conn.transaction():
            user = self._find_user_by_email(conn, email, lock=True)
            if user is None or user["email_confirmed_at"] is None:
                if not self.config.enable_signup:
                    raise _ApiError(422, "signup_disabled", "Signups not allowed for this instance")
                if user is None:
                    # As GoTrue: a sign-up with a random password the user never learns.
                    user_id = self._insert_user(conn, email, self._hash(secrets.token_urlsafe(33)), data, now)
                    self._insert_email_identity(conn, user_id, email, data, now)
                else:
                    user_id = user["id"]
                if not self.config.mailer_autoconfirm:
                    self._send_confirmation(conn, user_id, "signup", redirect_to, now=now)
                    return _Response(200, {})
                self._confirm(conn, user_id, now)
                user = self._find_user(conn, user_id)
                if user is None:
                    raise _unexpected()
            self._send_link(conn, user, "magiclink", redirect_to, now=now)
        return _Response(200, {})

    def resend(self, request: _Request) -> _Response:
        """POST /resend (type signup or email_change): send the pending link again; `{}`."""
        body = request.json_object()
        kind = _string_field(body, "type")
        email = _string_field(body, "email").strip()
        phone = _string_field(body, "phone")
        if kind not in ("signup", "email_change", "sms", "phone_change"):
            raise _ApiError(
                400,
                "validation_failed",
                "Missing one of these types: signup, email_change, sms, phone_change",
            )
        if not email and kind == "signup":
            raise _ApiError(400, "validation_failed", "Type provided requires an email address")
        if not phone and kind == "sms":
            raise _ApiError(400, "validation_failed", "Type provided requires a phone number")
        if email and phone:
            raise _ApiError(
                400, "validation_failed", "Only an email address or phone number should be provided."
            )
        if phone:
            raise _ApiError(400, "phone_provider_disabled", "Phone logins are disabled")
        if not email:
            raise _ApiError(400, "validation_failed", "Missing email address or phone number")
        email = self._validate_email(email)
        if kind in ("sms", "phone_change"):
            return _Response(200, {})
        conn = self.connection(request)
        now = datetime.now(UTC)
        redirect_to = self._referrer(request)
        with conn.transaction():
            user = self._find_user_by_email(conn, email, lock=True)
            if user is None:
                return _Response(200, {})
            if kind == "signup" and user["email_confirmed_at"] is None:
                self._send_confirmation(conn, user["id"], "signup", redirect_to, now=now)
            elif kind == "email_change" and user["email_change"]:
                self._send_email_change(conn, user["id"], user["email_change"], redirect_to, now=now)
        return _Response(200, {})

    def invite(self, request: _Request) -> _Response:
        """POST /invite (service role): create the user if needed and email an invite link."""
        self._require_admin(request)
        body = request.json_object()
        email = self._validate_email(_string_field(body, "email").strip())
        data = _object_field(body, "data") or {}
        conn = self.connection(request)
        now = datetime.now(UTC)
        with conn.transaction():
            user = self._find_user_by_email(conn, email, lock=True)
            if user is not None and user["email_confirmed_at"] is not None:
                raise _ApiError(
                    422, "email_exists", "A user with this email address has already been registered"
                )
            if user is None:
                user_id = self._insert_user(conn, email, None, data, now)
                self._insert_email_identity(conn, user_id, email, data, now)
            else:
                user_id = user["id"]
            conn.execute(
                "update auth.users set invited_at = coalesce(invited_at, %s) where id = %s", (now, user_id)
            )
            self._send_confirmation(conn, user_id, "invite", self._referrer(request), now=now)
            found = self._find_user(conn, user_id)
            if found is None:
                raise _unexpected()
            payload = self._user_payload(conn, found)
        return _Response(200, payload)

    # -- verify ----------------------------------------------------------------

    def verify(self, request: _Request) -> _Response:
        """GET /verify (an emailed link: 303 to redirect_to with the session or the error in
        the fragment) and POST /verify (token_hash + type, or email + token + type: a session)."""
        if request.method == "GET":
            return self._verify_link(request)
        body = request.json_object()
        kind = _string_field(body, "type")
        token = _string_field(body, "token")
        token_hash = _string_field(body, "token_hash")
        email = _string_field(body, "email").strip()
        phone = _string_field(body, "phone")
        if not kind:
            raise _ApiError(400, "validation_failed", "Verify requires a verification type")
        if bool(token) == bool(token_hash):
            raise _ApiError(400, "validation_failed", "Verify requires either a token or a token hash")
        lookup_email: str | None = None
        if token:
            if email and not phone:
                try:
                    lookup_email = self._validate_email(email)
                except _ApiError:
                    raise _ApiError(422, "validation_failed", "Invalid email format") from None
                token_hash = _token_hash(lookup_email, token)
            elif phone and not email:
                raise _ApiError(400, "phone_provider_disabled", "Phone logins are disabled")
            else:
                raise _ApiError(
                    400,
                    "validation_failed",
                    "Only an email address or phone number should be provided on verify",
                )
        elif email or phone or _string_field(body, "redirect_to"):
            raise _ApiError(400, "validation_failed", "Only the token_hash and type should be provided")
        if kind in ("sms", "phone_change"):
            raise _ApiError(400, "phone_provider_disabled", "Phone logins are disabled")
        result = self._verify(request, kind, token_hash=token_hash, email=lookup_email)
        if isinstance(result, str):
            return _Response(200, {"msg": result, "code": "200"})
        return _Response(200, result)

    def _verify_link(self, request: _Request) -> _Response:
        """GET /verify: GoTrue's verifyGet for the implicit flow."""
        token = request.param("token") or ""
        kind = request.param("type") or ""
        redirect_to = self._referrer(request)
        if not kind:
            raise _ApiError(400, "validation_failed", "Verify requires a verification type")
        if not token:
            raise _ApiError(400, "validation_failed", "Verify requires a token or a token hash")
        try:
            result = self._verify(request, kind, token_hash=token, email=None)
        except _ApiError as error:
            return self._redirect(self._error_redirect(redirect_to, error))
        if isinstance(result, str):
            fragment = urlencode({"message": result, "sb": ""})
            return self._redirect(f"{redirect_to.split('#')[0]}#{fragment}")
        params = {
            "access_token": result["access_token"],
            "expires_at": str(result["expires_at"]),
            "expires_in": str(result["expires_in"]),
            "refresh_token": result["refresh_token"],
            "sb": "",
            "token_type": result["token_type"],
            "type": kind,
        }
        return self._redirect(f"{redirect_to}#{urlencode(sorted(params.items()))}")

    _VERIFY_TYPES = ("signup", "invite", "recovery", "magiclink", "email_change", "email")

    def _verify(
        self, request: _Request, kind: str, *, token_hash: str, email: str | None
    ) -> dict[str, Any] | str:
        """A session for a valid link or code, or the message of a half-confirmed email change.

        Raises _ApiError (403 otp_expired, 403 user_banned, 400 validation_failed).
        """
        if kind not in self._VERIFY_TYPES:
            message = "Invalid email verification type" if email is None else "Unsupported verification type"
            raise _ApiError(400, "validation_failed", message)
        conn = self.connection(request)
        now = datetime.now(UTC)
        invalid = (
            "Email link is invalid or has expired" if email is None else "Token has expired or is invalid"
        )
        with conn.transaction():
            user = self._user_for_token(conn, kind, token_hash, email)
            if user is None:
                raise _ApiError(403, "otp_expired", invalid)
            if _is_banned(user, now):
                raise _ApiError(403, "user_banned", "User is banned")
            if kind == "email":
                kind = "signup" if user["confirmation_token"] == token_hash else "magiclink"
            sent_at = {
                "signup": user["confirmation_sent_at"],
                "invite": user["confirmation_sent_at"],
                "recovery": user["recovery_sent_at"],
                "magiclink": user["recovery_sent_at"],
                "email_change": user["email_change_sent_at"],
            }[kind]
            if sent_at is None or now > sent_at + timedelta(seconds=self.config.otp_expiry):
                raise _ApiError(403, "otp_expired", invalid)
            user_id = user["id"]
            if kind in ("signup", "invite"):
                if kind == "invite" and not user["encrypted_password"]:
                    # GoTrue gives an invited user a random password until they set their own.
                    conn.execute(
                        "update auth.users set encrypted_password = %s where id = %s",
                        (self._hash(secrets.token_urlsafe(48)), user_id),
                    )
                self._confirm(conn, user_id, now)
            elif kind in ("recovery", "magiclink"):
                conn.execute("update auth.users set recovery_token = '' where id = %s", (user_id,))
                if user["email_confirmed_at"] is None:
                    self._confirm(conn, user_id, now)
            else:
                pending = self._confirm_email_change(conn, user, token_hash, now)
                if pending is not None:
                    return pending
            return self._issue_session(conn, request, user_id, now, method="otp")

    def _user_for_token(self, conn: _Conn, kind: str, token_hash: str, email: str | None) -> DictRow | None:
        columns = {
            "signup": ("confirmation_token",),
            "invite": ("confirmation_token",),
            "recovery": ("recovery_token",),
            "magiclink": ("recovery_token",),
            "email": ("confirmation_token", "recovery_token"),
            "email_change": ("email_change_token_new", "email_change_token_current"),
        }[kind]
        if not token_hash:
            return None
        match = sql.SQL(" or ").join(
            sql.SQL("{} = %(hash)s").format(sql.Identifier(column)) for column in columns
        )
        query = sql.SQL("select {} from auth.users where ({}) and deleted_at is null").format(
            sql.SQL(_USER_COLUMNS), match
        )
        params: dict[str, Any] = {"hash": token_hash}
        if email is not None:
            if kind == "email_change":
                query += sql.SQL(
                    " and ((lower(email_change) = %(email)s and email_change_token_new = %(hash)s)"
                    " or (lower(email) = %(email)s and email_change_token_current = %(hash)s))"
                )
            else:
                query += sql.SQL(" and lower(email) = %(email)s")
            params["email"] = email
        return conn.execute(query + sql.SQL(" limit 1 for update"), params).fetchone()

    def _confirm_email_change(
        self, conn: _Conn, user: Mapping[str, Any], token_hash: str, now: datetime
    ) -> str | None:
        """Apply a confirmed email change; with secure change, the first of two links only counts."""
        user_id = user["id"]
        if (
            not self.config.mailer_autoconfirm
            and self.config.secure_email_change
            and user["email_change_confirm_status"] == 0
            and user["email"]
        ):
            column = (
                "email_change_token_current"
                if token_hash == user["email_change_token_current"]
                else "email_change_token_new"
            )
            conn.execute(
                sql.SQL(
                    "update auth.users set email_change_confirm_status = 1, {} = '' where id = %s"
                ).format(sql.Identifier(column)),
                (user_id,),
            )
            return "Confirmation link accepted. Please proceed to confirm link sent to the other email"
        new_email = user["email_change"]
        conn.execute(
            "update auth.users set email = %s, email_change = '', email_change_token_new = '',"
            " email_change_token_current = '', email_change_sent_at = null, email_change_confirm_status = 0,"
            " email_confirmed_at = coalesce(email_confirmed_at, %s), updated_at = %s where id = %s",
            (new_email, now, now, user_id),
        )
        conn.execute(
            "update auth.identities set identity_data = identity_data || %s, updated_at = %s"
            " where user_id = %s and provider = 'email'",
            (Jsonb({"email": new_email, "email_verified": True}), now, user_id),
        )
        return None

    @staticmethod
    def _redirect(location: str) -> _Response:
        return _Response(303, None, [("Location", location)])

    @staticmethod
    def _error_redirect(redirect_to: str, error: _ApiError) -> str:
        """GoTrue's prepErrorRedirectURL for the implicit flow: the error in the fragment."""
        oauth_errors = {
            400: "invalid_request",
            401: "unauthorized_client",
            403: "access_denied",
            500: "server_error",
            503: "temporarily_unavailable",
        }
        params = {"error_code": error.error_code, "error_description": error.msg, "sb": ""}
        if error.status in oauth_errors:
            params["error"] = oauth_errors[error.status]
        return f"{redirect_to.split('#', maxsplit=1)[0]}#{urlencode(sorted(params.items()))}"

    # -- admin endpoints -----------------------------------------------------

    def admin_list_users(self, request: _Request) -> _Response:
        """GET /admin/users?page=&per_page=: newest first, with X-Total-Count and Link headers."""
        self._require_admin(request)
        page = self._uint_param(request, "page", 1)
        per_page = self._uint_param(request, "per_page", 50)
        if per_page == 0:
            raise _ApiError(
                400, "validation_failed", "Bad Pagination Parameters: per_page must be greater than 0"
            )
        conn = self.connection(request)
        count_row = conn.execute(
            "select count(*) as total from auth.users where aud = %s", (AUDIENCE,)
        ).fetchone()
        total = int(count_row["total"]) if count_row else 0
        rows = conn.execute(
            f"select {_USER_COLUMNS} from auth.users where aud = %s"
            " order by created_at desc, id limit %s offset %s",
            (AUDIENCE, per_page, (max(page, 1) - 1) * per_page),
        ).fetchall()
        headers = [("Link", self._link_header(request, page, per_page, total)), ("X-Total-Count", str(total))]
        users = [self._user_payload(conn, row) for row in rows]
        return _Response(200, {"users": users, "aud": AUDIENCE}, headers)

    def admin_get_user(self, request: _Request, raw_id: str) -> _Response:
        """GET /admin/users/{id}."""
        self._require_admin(request)
        user = self._load_admin_target(request, raw_id)
        return _Response(200, self._user_payload(self.connection(request), user))

    def admin_create_user(self, request: _Request) -> _Response:
        """POST /admin/users: create a user (no email is sent); email_confirm confirms it."""
        self._require_admin(request)
        body = request.json_object()
        email, hashed, user_id = self._parse_admin_create(body)
        conn = self.connection(request)
        if self._find_user_by_email(conn, email) is not None:
            raise _ApiError(422, "email_exists", "A user with this email address has already been registered")
        now = datetime.now(UTC)
        update = self._parse_admin_update(
            {
                key: body[key]
                for key in ("role", "app_metadata", "ban_duration", "email_confirm")
                if key in body
            },
            now,
        )
        try:
            with conn.transaction():
                self._insert_user(
                    conn, email, hashed, _object_field(body, "user_metadata") or {}, now, user_id=user_id
                )
                self._insert_email_identity(conn, user_id, email, {}, now)
                created = self._find_user(conn, user_id)
                if created is None:
                    raise _unexpected()
                self._apply_admin_update(conn, created, update, now)
                found = self._find_user(conn, user_id)
                if found is None:
                    raise _unexpected()
                payload = self._user_payload(conn, found)
        except psycopg.errors.UniqueViolation:
            raise _ApiError(500, "unexpected_failure", "Database error creating new user") from None
        return _Response(200, payload)

    def _parse_admin_create(self, body: Mapping[str, Any]) -> tuple[str, str, uuid.UUID]:
        """The email, password hash and id of POST /admin/users (GoTrue checks no password strength here)."""
        email = _string_field(body, "email").strip()
        if _string_field(body, "phone"):
            raise _ApiError(422, "validation_failed", "phone is not supported by the local auth service")
        if not email:
            raise _ApiError(400, "validation_failed", "Cannot create a user without either an email or phone")
        email = self._validate_email(email)
        password = body.get("password")
        password_hash = _string_field(body, "password_hash")
        if password is not None and not isinstance(password, str):
            raise _bad_json("password must be a string")
        if password is not None and password_hash:
            raise _ApiError(400, "validation_failed", "Only a password or a password hash should be provided")
        if password_hash:
            if not password_hash.startswith(("$2a$", "$2b$", "$2y$")):
                raise _ApiError(400, "validation_failed", "Invalid password hash format")
            hashed = password_hash
        else:
            if password is not None and len(password.encode()) > BCRYPT_MAX_BYTES:
                raise _ApiError(400, "validation_failed", "bcrypt: password length exceeds 72 bytes")
            hashed = self._hash(password or secrets.token_urlsafe(48))
        raw_id = _string_field(body, "id")
        if not raw_id:
            return email, hashed, uuid.uuid4()
        try:
            user_id = uuid.UUID(raw_id)
        except ValueError:
            raise _ApiError(400, "validation_failed", "ID must conform to the uuid v4 format") from None
        if user_id == NIL_UUID:
            raise _ApiError(400, "validation_failed", "ID cannot be a nil uuid")
        return email, hashed, user_id

    def admin_delete_user(self, request: _Request, raw_id: str) -> _Response:
        """DELETE /admin/users/{id} (body `should_soft_delete`): `{}`."""
        self._require_admin(request)
        user = self._load_admin_target(request, raw_id)
        body = request.json_object() if request.body.strip() else {}
        soft = body.get("should_soft_delete") is True
        conn = self.connection(request)
        with conn.transaction():
            if not soft:
                conn.execute("delete from auth.users where id = %s", (user["id"],))
            elif user["deleted_at"] is None:
                # GoTrue's SoftDeleteUser: the row stays, anonymised, and can no longer sign in.
                suffix = hashlib.sha256(str(user["id"]).encode()).hexdigest()[:16]
                conn.execute(
                    "update auth.users set deleted_at = now(), email = null, phone = null,"
                    " encrypted_password = '', raw_user_meta_data = '{}'::jsonb,"
                    " raw_app_meta_data = '{}'::jsonb, confirmation_token = '', recovery_token = '',"
                    " email_change = '', email_change_token_new = '', email_change_token_current = ''"
                    " where id = %s",
                    (user["id"],),
                )
                conn.execute(
                    "update auth.identities set provider_id = provider_id || ':' || %s,"
                    " identity_data = '{}'::jsonb where user_id = %s",
                    (suffix, user["id"]),
                )
                self._logout_everywhere(conn, user["id"])
        return _Response(200, {})

    def admin_update_user(self, request: _Request, raw_id: str) -> _Response:
        """PUT /admin/users/{id}: metadata merge, ban, password, e-mail, role."""
        self._require_admin(request)
        user = self._load_admin_target(request, raw_id)
        now = datetime.now(UTC)
        update = self._parse_admin_update(request.json_object(), now)
        conn = self.connection(request)
        with conn.transaction():
            self._apply_admin_update(conn, user, update, now)
            updated = self._find_user(conn, user["id"])
            if updated is None:
                raise _ApiError(404, "user_not_found", "User not found")
            payload = self._user_payload(conn, updated)
        return _Response(200, payload)

    def _parse_admin_update(self, body: Mapping[str, Any], now: datetime) -> _AdminUpdate:
        for unsupported in ("phone", "phone_confirm"):
            if body.get(unsupported):
                raise _ApiError(
                    422, "validation_failed", f"{unsupported} is not supported by the local auth service"
                )
        email = _string_field(body, "email").strip()
        ban_duration = _string_field(body, "ban_duration")
        password = body.get("password")
        if password is not None and not isinstance(password, str):
            raise _bad_json("password must be a string")
        update = _AdminUpdate(
            email=self._validate_email(email) if email else None,
            role=_string_field(body, "role") or None,
            app_metadata=_object_field(body, "app_metadata"),
            user_metadata=_object_field(body, "user_metadata"),
            email_confirm=body.get("email_confirm") is True,
        )
        if ban_duration:
            try:
                duration = timedelta(0) if ban_duration == "none" else _parse_go_duration(ban_duration)
            except ValueError as error:
                raise _ApiError(
                    400, "validation_failed", f"invalid format for ban duration: {error}"
                ) from None
            update.ban = True
            update.banned_until = None if duration == timedelta(0) else now + duration
        if password is not None:
            self._check_password(password)
            update.password_hash = self._hash(password)
        return update

    @staticmethod
    def _apply_admin_update(
        conn: _Conn, user: Mapping[str, Any], update: _AdminUpdate, now: datetime
    ) -> None:
        user_id = user["id"]
        if update.role:
            conn.execute("update auth.users set role = %s where id = %s", (update.role, user_id))
        if update.email_confirm:
            conn.execute(
                "update auth.users set email_confirmed_at = coalesce(email_confirmed_at, %s) where id = %s",
                (now, user_id),
            )
        if update.password_hash is not None:
            conn.execute(
                "update auth.users set encrypted_password = %s where id = %s", (update.password_hash, user_id)
            )
            # GoTrue's UpdatePassword: a new password signs the user out everywhere.
            conn.execute("delete from auth.sessions where user_id = %s", (user_id,))
        if update.email and update.email != (user["email"] or "").lower():
            taken = conn.execute(
                "select 1 from auth.users where lower(email) = %s and id <> %s and is_sso_user = false",
                (update.email, user_id),
            ).fetchone()
            if taken is not None:
                raise _ApiError(
                    422, "email_exists", "A user with this email address has already been registered"
                )
            conn.execute("update auth.users set email = %s where id = %s", (update.email, user_id))
            conn.execute(
                "update auth.identities set identity_data = identity_data || %s, updated_at = %s"
                " where user_id = %s and provider = 'email'",
                (Jsonb({"email": update.email}), now, user_id),
            )
        if update.app_metadata is not None:
            merged = _merge_metadata(user["raw_app_meta_data"], update.app_metadata)
            conn.execute(
                "update auth.users set raw_app_meta_data = %s where id = %s", (Jsonb(merged), user_id)
            )
        if update.user_metadata is not None:
            merged = _merge_metadata(user["raw_user_meta_data"], update.user_metadata)
            conn.execute(
                "update auth.users set raw_user_meta_data = %s where id = %s", (Jsonb(merged), user_id)
            )
        if update.ban:
            conn.execute(
                "update auth.users set banned_until = %s where id = %s", (update.banned_until, user_id)
            )
        conn.execute("update auth.users set updated_at = %s where id = %s", (now, user_id))

    # -- users, identities, mail ----------------------------------------------

    def _user_payload(self, conn: _Conn, row: Mapping[str, Any]) -> dict[str, Any]:
        """The user's JSON with its identities, as every GoTrue answer carries them."""
        identities = conn.execute(
            "select id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at,"
            " updated_at, email from auth.identities where user_id = %s order by created_at, id",
            (row["id"],),
        ).fetchall()
        return _user_json(row, identities)

    @staticmethod
    def _find_user_by_email(
        conn: _Conn, email: str, *, lock: bool = False, exclude: uuid.UUID | None = None
    ) -> DictRow | None:
        query = (
            f"select {_USER_COLUMNS} from auth.users where lower(email) = %s and aud = %s"
            " and is_sso_user = false and deleted_at is null and id is distinct from %s"
        )
        return conn.execute(query + (" for update" if lock else ""), (email, AUDIENCE, exclude)).fetchone()

    @staticmethod
    def _insert_user(
        conn: _Conn,
        email: str,
        hashed: str | None,
        data: Mapping[str, Any],
        now: datetime,
        *,
        user_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        user_id = user_id or uuid.uuid4()
        conn.execute(
            "insert into auth.users (instance_id, id, aud, role, email, encrypted_password,"
            " confirmation_token, recovery_token, email_change_token_new, email_change, raw_app_meta_data,"
            " raw_user_meta_data, created_at, updated_at, is_anonymous)"
            " values (%s, %s, %s, %s, %s, %s, '', '', '', '', %s, %s, %s, %s, false)",
            (
                NIL_UUID,
                user_id,
                AUDIENCE,
                DEFAULT_ROLE,
                email,
                hashed or "",
                Jsonb({"provider": "email", "providers": ["email"]}),
                Jsonb(dict(data)),
                now,
                now,
            ),
        )
        return user_id

    @staticmethod
    def _insert_email_identity(
        conn: _Conn, user_id: uuid.UUID, email: str, data: Mapping[str, Any], now: datetime
    ) -> None:
        """The user's `email` identity, its data shaped like GoTrue's provider.Claims."""
        identity_data: dict[str, Any] = {
            "sub": str(user_id),
            "email": email,
            "email_verified": False,
            "phone_verified": False,
        }
        for key, value in data.items():
            identity_data.setdefault(key, value)
        conn.execute(
            "insert into auth.identities"
            " (provider_id, user_id, identity_data, provider, created_at, updated_at)"
            " values (%s, %s, %s, 'email', %s, %s)",
            (str(user_id), user_id, Jsonb(identity_data), now, now),
        )

    @staticmethod
    def _confirm(conn: _Conn, user_id: uuid.UUID, now: datetime) -> None:
        conn.execute(
            "update auth.users set email_confirmed_at = coalesce(email_confirmed_at, %s),"
            " confirmation_token = '' where id = %s",
            (now, user_id),
        )
        conn.execute(
            "update auth.identities set identity_data = identity_data || '{\"email_verified\": true}'::jsonb"
            " where user_id = %s and provider = 'email' and email = (select lower(email) from auth.users"
            " where id = %s)",
            (user_id, user_id),
        )

    def _check_frequency(self, sent_at: datetime | None, now: datetime) -> None:
        """GoTrue's validateSentWithinFrequencyLimit ([auth.email] max_frequency)."""
        if sent_at is None:
            return
        ready = sent_at + timedelta(seconds=self.config.max_frequency)
        if ready > now:
            left = int((ready - now).total_seconds())
            raise _ApiError(
                429,
                "over_email_send_rate_limit",
                f"For security purposes, you can only request this after {left} seconds.",
            )

    def _deliver(self, mails: Sequence[_Mail]) -> None:
        # GoTrue counts mail against RATE_LIMIT_EMAIL_SENT only when confirmations are on.
        if not self.config.mailer_autoconfirm and not self._email_budget.allow():
            raise _ApiError(429, "over_email_send_rate_limit", "email rate limit exceeded")
        for mail in mails:
            try:
                _deliver(self.config.inbox_url, mail)
            except OSError as error:
                _log.error("could not deliver %s mail: %s", mail.kind, error)
                raise _ApiError(500, "unexpected_failure", "Error sending confirmation email") from None

    def _link(self, token_hash: str, kind: str, redirect_to: str) -> str:
        """GoTrue's confirmation URL: <issuer>/verify?token=…&type=…&redirect_to=…."""
        return (
            f"{self.config.issuer.rstrip('/')}/verify?token={quote_plus(token_hash)}"
            f"&type={kind}&redirect_to={_encode_redirect(redirect_to)}"
        )

    def _send_confirmation(
        self, conn: _Conn, user_id: uuid.UUID, kind: str, redirect_to: str, *, now: datetime
    ) -> None:
        """Send a sign-up (or invite) confirmation link and code; store its hash."""
        user = self._find_user(conn, user_id)
        if user is None:
            raise _unexpected()
        if kind == "signup":
            self._check_frequency(user["confirmation_sent_at"], now)
        code = _otp(self.config.otp_length)
        token_hash = _token_hash(user["email"], code)
        self._deliver([_Mail(user["email"], kind, self._link(token_hash, kind, redirect_to), code)])
        conn.execute(
            "update auth.users set confirmation_token = %s, confirmation_sent_at = %s where id = %s",
            (token_hash, now, user_id),
        )

    def _send_link(
        self, conn: _Conn, user: Mapping[str, Any], kind: str, redirect_to: str, *, now: datetime
    ) -> None:
        """Send a recovery or magic link (both use the recovery token, as in GoTrue)."""
        self._check_frequency(user["recovery_sent_at"], now)
        code = _otp(self.config.otp_length)
        token_hash = _token_hash(user["email"], code)
        self._deliver([_Mail(user["email"], kind, self._link(token_hash, kind, redirect_to), code)])
        conn.execute(
            "update auth.users set recovery_token = %s, recovery_sent_at = %s where id = %s",
            (token_hash, now, user["id"]),
        )

    def _send_email_change(
        self, conn: _Conn, user_id: uuid.UUID, new_email: str, redirect_to: str, *, now: datetime
    ) -> None:
        """Send the email-change link to the new address (and, with secure change, to the current one)."""
        user = self._find_user(conn, user_id)
        if user is None:
            raise _unexpected()
        self._check_frequency(user["email_change_sent_at"], now)
        code_new = _otp(self.config.otp_length)
        hash_new = _token_hash(new_email, code_new)
        mails = [
            _Mail(new_email, "email_change", self._link(hash_new, "email_change", redirect_to), code_new)
        ]
        hash_current = ""
        if self.config.secure_email_change and user["email"]:
            code_current = _otp(self.config.otp_length)
            hash_current = _token_hash(user["email"], code_current)
            link = self._link(hash_current, "email_change", redirect_to)
            mails.append(_Mail(user["email"], "email_change", link, code_current))
        self._deliver(mails)
        conn.execute(
            "update auth.users set email_change = %s, email_change_token_new = %s,"
            " email_change_token_current = %s, email_change_sent_at = %s, email_change_confirm_status = 0"
            " where id = %s",
            (new_email, hash_new, hash_current, now, user_id),
        )

    # -- requests ----------------------------------------------------------------

    def _current_user(self, request: _Request) -> tuple[DictRow, uuid.UUID | None]:
        """GoTrue's requireAuthentication: the token's user and live session. Raises _ApiError."""
        claims = self._authenticate(request)
        user_id = self._subject(claims)
        conn = self.connection(request)
        user = self._find_user(conn, user_id)
        if user is None:
            raise _ApiError(403, "user_not_found", "User from sub claim in JWT does not exist")
        session_id = self._session_claim(claims)
        if session_id is not None:
            found = conn.execute("select 1 from auth.sessions where id = %s", (session_id,)).fetchone()
            if found is None:
                raise _ApiError(
                    403, "session_not_found", "Session from session_id claim in JWT does not exist"
                )
        return user, session_id

    def _rate_limit(self, request: _Request, limiter: _TokenBuckets) -> None:
        """GoTrue's performRateLimiting: keyed by Sb-Forwarded-For (secret-key callers) or X-Forwarded-For."""
        key = self._rate_limit_key(request)
        if key is not None and not limiter.allow(key):
            raise _ApiError(429, "over_request_rate_limit", "Request rate limit reached")

    def _rate_limit_key(self, request: _Request) -> str | None:
        sbff = (request.header("Sb-Forwarded-For") or "").split(",")[0].strip()
        if sbff and self._carries_secret_key(request):
            try:
                return str(ip_address(sbff))
            except ValueError:
                pass  # GoTrue logs an invalid value and falls back to the header below
        # GOTRUE_RATE_LIMIT_HEADER=X-Forwarded-For: without it GoTrue does not limit at all.
        forwarded = (request.header("X-Forwarded-For") or "").split(",")[0].strip()
        return forwarded or None

    def _carries_secret_key(self, request: _Request) -> bool:
        # Supabase's gateway passes Sb-Forwarded-For on only with a secret (service_role) key.
        apikey = request.header("apikey") or ""
        if apikey.startswith("sb_secret_"):
            return True
        try:
            return bool(apikey) and self.keys.verify(apikey).get("role") in ADMIN_ROLES
        except _ApiError:
            return False

    def _referrer(self, request: _Request) -> str:
        """GoTrue's GetReferrer: redirect_to (query, header) or Referer when allowed, else the site URL."""
        candidates = [request.header("redirect_to"), request.param("redirect_to"), request.header("Referer")]
        for candidate in candidates:
            if candidate and self._redirect_allowed(candidate):
                return candidate
        return self.config.site_url

    def _redirect_allowed(self, url: str) -> bool:
        """GoTrue's IsRedirectURLValid: the site's origin, a loopback address, or an allow-list glob."""
        try:
            base, target = urlsplit(self.config.site_url), urlsplit(url)
            target_port, base_port = target.port, base.port
        except ValueError:
            return False
        host = target.hostname or ""
        loopback = host == "localhost"
        with contextlib.suppress(ValueError):
            loopback = loopback or ip_address(host).is_loopback
        if host == base.hostname and target.scheme == base.scheme and (target_port == base_port or loopback):
            return True
        if loopback and target.scheme in ("http", "https"):
            return True
        without_fragment = url.split("#", maxsplit=1)[0]
        return any(fnmatchcase(without_fragment, pattern) for pattern in self.config.additional_redirect_urls)

    # -- building blocks -------------------------------------------------------

    def _check_password(self, password: str) -> None:
        # GoTrue measures length in bytes (Go's len of a string).
        size = len(password.encode())
        if size < self.config.password_min_length:
            raise _weak_password(self.config.password_min_length)
        if size > BCRYPT_MAX_BYTES:
            raise _ApiError(
                422, "validation_failed", f"Password cannot be longer than {BCRYPT_MAX_BYTES} characters"
            )

    def _hash(self, password: str) -> str:
        # $2a$ like Go's bcrypt, so hashes stay interchangeable with real GoTrue.
        salt = bcrypt.gensalt(self.config.bcrypt_rounds, prefix=b"2a")
        return bcrypt.hashpw(password.encode(), salt).decode()

    @staticmethod
    def _validate_email(email: str) -> str:
        if not email:
            raise _ApiError(400, "validation_failed", "An email address is required")
        if len(email) > 255:
            raise _ApiError(400, "validation_failed", "An email address is too long")
        if not _EMAIL.match(email):
            raise _ApiError(400, "validation_failed", "Unable to validate email address: invalid format")
        return email.lower()

    @staticmethod
    def _find_user(conn: _Conn, user_id: uuid.UUID) -> DictRow | None:
        return conn.execute(f"select {_USER_COLUMNS} from auth.users where id = %s", (user_id,)).fetchone()

    def _issue_session(
        self, conn: _Conn, request: _Request, user_id: uuid.UUID, now: datetime, method: str = "password"
    ) -> dict[str, Any]:
        """Create a session and its first refresh token; runs inside the caller's transaction."""
        session_id = uuid.uuid4()
        conn.execute(
            "insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)"
            " values (%s, %s, %s, %s, 'aal1', %s, %s::inet)",
            (session_id, user_id, now, now, request.header("User-Agent"), request.client_ip),
        )
        refresh_token = self._new_refresh_token(conn, user_id, session_id, now, parent=None)
        conn.execute("update auth.users set last_sign_in_at = %s where id = %s", (now, user_id))
        conn.execute(
            "update auth.identities set last_sign_in_at = %s where user_id = %s and provider = 'email'",
            (now, user_id),
        )
        user = self._find_user(conn, user_id)
        if user is None:
            raise _unexpected()
        return self._session_response(
            conn,
            user=user,
            session_id=session_id,
            session_created_at=now,
            refresh_token=refresh_token,
            method=method,
        )

    @staticmethod
    def _new_refresh_token(
        conn: _Conn, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime, *, parent: str | None
    ) -> str:
        token = secrets.token_urlsafe(16)
        conn.execute(
            "insert into auth.refresh_tokens"
            " (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)"
            " values (%s, %s, %s, false, %s, %s, %s, %s)",
            (NIL_UUID, token, str(user_id), now, now, parent, session_id),
        )
        return token

    def _session_response(
        self,
        conn: _Conn,
        *,
        user: Mapping[str, Any],
        session_id: uuid.UUID,
        session_created_at: datetime,
        refresh_token: str,
        method: str,
    ) -> dict[str, Any]:
        issued_at = int(time.time())
        expires_at = issued_at + self.config.access_token_ttl
        amr_method = self._session_method(conn, session_id, method)
        claims: dict[str, Any] = {
            "iss": self.config.issuer,
            "sub": str(user["id"]),
            "aud": user["aud"] or AUDIENCE,
            "exp": expires_at,
            "iat": issued_at,
            "email": user["email"] or "",
            "phone": user["phone"] or "",
            "app_metadata": user["raw_app_meta_data"] or {},
            "user_metadata": user["raw_user_meta_data"] or {},
            "role": user["role"] or "",
            "aal": "aal1",
            # GoTrue keeps the sign-in method and time for the session's lifetime.
            "amr": [{"method": amr_method, "timestamp": int(session_created_at.timestamp())}],
            "session_id": str(session_id),
            "is_anonymous": bool(user["is_anonymous"]),
        }
        if self.config.hook is not None:
            claims = self._run_hook(conn, self.config.hook, user["id"], claims, method)
        return {
            "access_token": self.keys.sign(claims),
            "token_type": "bearer",
            "expires_in": self.config.access_token_ttl,
            "expires_at": expires_at,
            "refresh_token": refresh_token,
            "user": self._user_payload(conn, user),
        }

    def _session_method(self, conn: _Conn, session_id: uuid.UUID, method: str) -> str:
        with self._lock:
            if method != "token_refresh":
                self._session_amr[session_id] = method
                return method
            return self._session_amr.get(session_id, "password")

    @staticmethod
    def _run_hook(
        conn: _Conn, hook: str, user_id: uuid.UUID, claims: dict[str, Any], method: str
    ) -> dict[str, Any]:
        """Run the custom access token hook (as supabase_auth_admin, in the caller's transaction)."""
        present = conn.execute(
            "select to_regprocedure(%s) is not null as present", (f"{hook}(jsonb)",)
        ).fetchone()
        if not present or not present["present"]:
            return claims  # the migration that creates the hook is not applied yet
        schema, function = hook.split(".", 1)
        uri = f"pg-functions://postgres/{schema}/{function}"
        event = {"user_id": str(user_id), "claims": claims, "authentication_method": method}
        call = sql.SQL("select {}(%s::jsonb) as output").format(sql.Identifier(schema, function))
        try:
            # Postgres's timeout keeps a slow hook from hanging the request, as in GoTrue.
            conn.execute(sql.SQL("set local statement_timeout = {}").format(sql.Literal(HOOK_TIMEOUT_MS)))
            row = conn.execute(call, (Jsonb(event),)).fetchone()
            conn.execute("set local statement_timeout to default")
        except psycopg.Error as error:
            if conn.broken:
                raise
            _log.warning("hook %s failed: %s", uri, error.diag.message_primary)
            raise _ApiError(500, "unexpected_failure", f"Error running hook URI: {uri}") from None
        output = row["output"] if row else None
        hook_error = output.get("error") if isinstance(output, dict) else None
        if isinstance(hook_error, dict) and hook_error.get("message"):
            code = hook_error.get("http_code")
            status = code if isinstance(code, int) and 400 <= code <= 599 else 500
            error_code = "unexpected_failure" if status == 500 else "unknown"
            raise _ApiError(status, error_code, str(hook_error["message"]))
        if not isinstance(output, dict) or "claims" not in output:
            raise _ApiError(500, "unexpected_failure", "output claims field is missing")
        new_claims = output["claims"]
        if not isinstance(new_claims, dict):
            raise _ApiError(500, "unexpected_failure", "Error unmarshalling JSON output.")
        problems = _claims_problems(new_claims)
        if problems:
            details = "".join(f"- {problem}\n" for problem in problems)
            raise _ApiError(
                500,
                "unexpected_failure",
                f"output claims do not conform to the expected schema: \n{details}",
            )
        return new_claims

    def _authenticate(self, request: _Request) -> dict[str, Any]:
        match = _BEARER.match(request.header("Authorization") or "")
        if match is None:
            raise _ApiError(401, "no_authorization", "This endpoint requires a valid Bearer token")
        return self.keys.verify(match[1])

    def _require_admin(self, request: _Request) -> dict[str, Any]:
        claims = self._authenticate(request)
        if claims.get("role") not in ADMIN_ROLES:
            raise _ApiError(403, "not_admin", "User not allowed")
        return claims

    @staticmethod
    def _subject(claims: Mapping[str, Any]) -> uuid.UUID:
        subject = claims.get("sub")
        if not subject:
            raise _ApiError(403, "bad_jwt", "invalid claim: missing sub claim")
        try:
            return uuid.UUID(str(subject))
        except ValueError:
            raise _ApiError(400, "bad_jwt", "invalid claim: sub claim must be a UUID") from None

    @staticmethod
    def _session_claim(claims: Mapping[str, Any]) -> uuid.UUID | None:
        raw = claims.get("session_id")
        if not raw:
            return None
        try:
            session_id = uuid.UUID(str(raw))
        except ValueError:
            raise _ApiError(403, "bad_jwt", "invalid claim: session_id claim must be a UUID") from None
        return None if session_id == NIL_UUID else session_id

    def _load_admin_target(self, request: _Request, raw_id: str) -> DictRow:
        try:
            user_id = uuid.UUID(raw_id)
        except ValueError:
            raise _ApiError(404, "validation_failed", "user_id must be an UUID") from None
        user = self._find_user(self.connection(request), user_id)
        if user is None:
            raise _ApiError(404, "user_not_found", "User not found")
        return user

    @staticmethod
    def _uint_param(request: _Request, name: str, default: int) -> int:
        raw = request.param(name)
        if raw is None or raw == "":
            return default
        if not raw.isascii() or not raw.isdigit():
            raise _ApiError(
                400,
                "validation_failed",
                f'Bad Pagination Parameters: strconv.ParseUint: parsing "{raw}": invalid syntax',
            )
        return int(raw)

    @staticmethod
    def _link_header(request: _Request, page: int, per_page: int, total: int) -> str:
        """GoTrue's addPaginationHeaders: a `next` link while pages remain, always a `last` link."""
        total_pages = -(-total // per_page)
        query = dict(request.query)

        def link(target: int, rel: str) -> str:
            query["page"] = [str(target)]
            # Go's url.Values.Encode sorts by key.
            encoded = urlencode(sorted(query.items()), doseq=True)
            return f'<{request.path}?{encoded}>; rel="{rel}"'

        parts = [link(page + 1, "next")] if total_pages > page else []
        parts.append(link(total_pages, "last"))
        return ", ".join(parts)


# --------------------------------------------------------------------------- HTTP plumbing


class _BodyTooLarge(Exception):
    pass


class _AuthHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], service: _AuthService) -> None:
        self.service = service
        super().__init__(address, _Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            # One DB connection per worker thread, closed when the thread ends.
            self.service.release_thread_connection()

    def server_close(self) -> None:
        super().server_close()
        self.service.close_all()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Avoid Nagle/delayed-ACK stalls on kept-alive connections.
    disable_nagle_algorithm = True
    server_version = "devstack-auth"
    sys_version = ""
    # Idle keep-alive connections end, releasing their thread and DB connection.
    timeout = 120

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Replaced by the one line per request in _handle, which omits the query string.
        return

    def log_message(self, format: str, *args: Any) -> None:
        _log.warning("http: " + format, *args)

    def _client_ip(self) -> str | None:
        forwarded = (self.headers.get("X-Forwarded-For") or "").split(",")[0].strip()
        for candidate in (forwarded, self.client_address[0]):
            try:
                return str(ip_address(candidate))
            except ValueError:
                continue
        return None

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length_header = self.headers.get("Content-Length")
        if not length_header:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            raise _BodyTooLarge from None
        if length < 0 or length > MAX_BODY_BYTES:
            raise _BodyTooLarge
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BodyTooLarge
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _handle(self) -> None:
        service = cast(_AuthHTTPServer, self.server).service
        parts = urlsplit(self.path)
        request = _Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=self.headers,
            body=b"",
            client_ip=self._client_ip(),
        )
        try:
            request.body = self._read_body()
        except (_BodyTooLarge, ValueError):
            self.close_connection = True
            response = service.render_error(
                _ApiError(413, "validation_failed", "Request body too large or malformed"), request
            )
        else:
            response = service.dispatch(request)
        # Logged before the response goes out, so the line exists once the client has its answer.
        _log.info("%s %s %d", self.command, parts.path, response.status)
        self._write(response)

    def _write(self, response: _Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        if response.status == 204:
            self.end_headers()
            return
        if response.body is None:
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        payload = json.dumps(response.body, separators=(",", ":"), ensure_ascii=False).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def make_server(host: str, port: int, config: AuthConfig) -> ThreadingHTTPServer:
    """A bound, not yet serving server (port 0: any free one). Raises ValueError, OSError."""
    return _AuthHTTPServer((host, port), _AuthService(config))


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM, configured from the environment; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m devstack.auth_service", description="Local Auth-compatible (GoTrue) service."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9999)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s auth %(levelname)s %(message)s")
    try:
        config = config_from_env(os.environ)
        server = make_server(args.host, args.port, config)
    except (ValueError, OSError) as error:  # TOMLDecodeError is a ValueError
        print(f"auth_service: {error}", file=sys.stderr)
        return 2

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    host, port = server.server_address[:2]
    print(f"auth service listening on http://{host!s}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
