"""The three-tier settings resolver (lib/config.py): tiers, aliases, defaults, errors."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import subprocess
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path

import pytest

from lib import config
from lib.config import ConfigError, Provenance, Settings, describe, lookup, resolve_settings

REPO = Path(__file__).resolve().parent.parent

# Distinctive values, so a leak into a message or table is unmistakable.
SECRET_KEY = "sb_secret_LEAKCANARYsecretkey0451"
JWT_SECRET = "jwt-secret-LEAKCANARY-7731-at-least-32-characters"
PUBLISHABLE_KEY = "sb_publishable_PUBLICprodkey0451"
PROD_URL = "https://prodref.supabase.co"
PREVIEW_URL = "https://previewref.supabase.co"

PRODUCTION_ENV = {
    "APP_ENV": "production",
    "SUPABASE_URL": PROD_URL,
    "SUPABASE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
    "SUPABASE_SECRET_KEY": SECRET_KEY,
    "SUPABASE_JWT_SECRET": JWT_SECRET,
}


def _jwt(claims: Mapping[str, object]) -> str:
    def segment(data: Mapping[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{segment({'alg': 'HS256', 'typ': 'JWT'})}.{segment(claims)}.LEAKCANARYsignature"


SERVICE_ROLE_JWT = _jwt({"role": "service_role", "iss": "supabase-demo"})
ANON_JWT = _jwt({"role": "anon", "iss": "supabase-demo"})


def write_env(root: Path, name: str, **values: str) -> None:
    (root / name).write_text("".join(f"{key}={value}\n" for key, value in values.items()))


def error_for(environ: Mapping[str, str], root: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        resolve_settings(environ, root)
    message = str(caught.value)
    # The whole traceback too: a chained exception could carry the value.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert "LEAKCANARY" not in "".join(traceback.format_exception(caught.value))
    return message


# --- tiers and order ------------------------------------------------------------------


def test_development_defaults_when_nothing_is_set(tmp_path: Path) -> None:
    settings = resolve_settings({}, tmp_path)

    assert settings.environment == "development"
    assert settings.supabase_url == "http://127.0.0.1:54321"
    assert settings.publishable_key == "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH"
    assert settings.secret_key == "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz"
    assert settings.jwt_secret == "super-secret-jwt-token-with-at-least-32-characters-long"
    assert settings.jwks is None
    assert settings.jwks_url == "http://127.0.0.1:54321/auth/v1/.well-known/jwks.json"
    assert settings.allowed_origins == ()
    assert settings.production_url is None
    assert settings.allow_preview_on_production_db is False
    assert settings.vercel_url is None
    assert settings.vercel_branch_url is None
    assert settings.vercel_project_production_url is None
    assert settings.app_version == "dev"
    assert settings.upstream_connect_timeout == 3.0
    assert settings.upstream_read_timeout == 8.0
    assert settings.on_vercel is False
    assert settings.rate_limit_login == config.RateLimit(5, 60)
    assert settings.rate_limit_login_ip == config.RateLimit(30, 60)
    assert settings.rate_limit_recover == config.RateLimit(3, 3600)
    assert set(settings.provenance.values()) == {Provenance("default", None)}


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("0", False), ("true", True)])
def test_on_vercel_comes_from_the_vercel_variable(tmp_path: Path, value: str, expected: bool) -> None:
    # Vercel sets VERCEL=1 in every function: only there are the forwarding headers the platform's.
    assert resolve_settings({"VERCEL": value}, tmp_path).on_vercel is expected


def test_the_login_per_ip_and_recover_limits_are_configurable(tmp_path: Path) -> None:
    settings = resolve_settings({"RATE_LIMIT_LOGIN_IP": "100/60", "RATE_LIMIT_RECOVER": "5/86400"}, tmp_path)
    assert settings.rate_limit_login_ip == config.RateLimit(100, 60)
    assert settings.rate_limit_recover == config.RateLimit(5, 86400)
    assert "RATE_LIMIT_LOGIN_IP is invalid" in error_for({"RATE_LIMIT_LOGIN_IP": "many"}, tmp_path)


def test_process_environment_beats_dotenv_files_beats_defaults(tmp_path: Path) -> None:
    write_env(tmp_path, ".env", SUPABASE_URL="https://from-file.example.com", APP_VERSION="file")

    settings = resolve_settings({"SUPABASE_URL": "https://from-env.example.com"}, tmp_path)

    assert settings.supabase_url == "https://from-env.example.com"
    assert settings.provenance["supabase_url"] == Provenance("process environment", "SUPABASE_URL")
    assert settings.app_version == "file"
    assert settings.provenance["app_version"] == Provenance(".env", "APP_VERSION")
    assert settings.upstream_read_timeout == 8.0
    assert settings.provenance["upstream_read_timeout"] == Provenance("default", None)


@pytest.mark.parametrize(
    ("present", "winner"),
    [
        ((".env.preview.local", ".env.local", ".env.preview", ".env"), ".env.preview.local"),
        ((".env.local", ".env.preview", ".env"), ".env.local"),
        ((".env.preview", ".env"), ".env.preview"),
        ((".env",), ".env"),
        # Files for another environment are never read.
        ((".env.production.local", ".env.production", ".env"), ".env"),
    ],
)
def test_dotenv_file_order(tmp_path: Path, present: tuple[str, ...], winner: str) -> None:
    for name in present:
        write_env(tmp_path, name, APP_VERSION=f"v-{name}")
    environ = {**PRODUCTION_ENV, "APP_ENV": "preview"}

    settings = resolve_settings(environ, tmp_path)

    assert settings.app_version == f"v-{winner}"
    assert settings.provenance["app_version"] == Provenance(winner, "APP_VERSION")


def test_canonical_name_beats_aliases_within_a_tier(tmp_path: Path) -> None:
    environ = {
        "NEXT_PUBLIC_SUPABASE_ANON_KEY": "sb_publishable_fourth",
        "NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY": "sb_publishable_third",
        "SUPABASE_ANON_KEY": "sb_publishable_second",
        "SUPABASE_PUBLISHABLE_KEY": "sb_publishable_first",
    }
    for name, value in list(environ.items())[::-1]:
        settings = resolve_settings(environ, tmp_path)
        assert settings.publishable_key == value
        assert settings.provenance["publishable_key"] == Provenance("process environment", name)
        del environ[name]


def test_canonical_name_beats_alias_within_a_dotenv_file(tmp_path: Path) -> None:
    write_env(
        tmp_path,
        ".env",
        NEXT_PUBLIC_SUPABASE_URL="https://alias.example.com",
        SUPABASE_URL="https://canonical.example.com",
    )

    settings = resolve_settings({}, tmp_path)

    assert settings.supabase_url == "https://canonical.example.com"
    assert settings.provenance["supabase_url"] == Provenance(".env", "SUPABASE_URL")


def test_alias_in_process_environment_beats_canonical_name_in_a_file(tmp_path: Path) -> None:
    write_env(tmp_path, ".env.development.local", SUPABASE_SECRET_KEY="sb_secret_fromfile")

    settings = resolve_settings({"SUPABASE_SERVICE_ROLE_KEY": "sb_secret_fromenv"}, tmp_path)

    assert settings.secret_key == "sb_secret_fromenv"
    assert settings.provenance["secret_key"] == Provenance("process environment", "SUPABASE_SERVICE_ROLE_KEY")


def test_empty_and_blank_values_count_as_unset(tmp_path: Path) -> None:
    write_env(tmp_path, ".env.local", SUPABASE_URL="", APP_VERSION="from-local")
    write_env(tmp_path, ".env", SUPABASE_URL="https://from-dotenv.example.com")

    settings = resolve_settings({"SUPABASE_URL": "", "APP_VERSION": "  \n"}, tmp_path)

    assert settings.supabase_url == "https://from-dotenv.example.com"
    assert settings.provenance["supabase_url"] == Provenance(".env", "SUPABASE_URL")
    assert settings.app_version == "from-local"


def test_empty_values_everywhere_fall_back_to_the_default(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("UPSTREAM_READ_TIMEOUT=\nUPSTREAM_CONNECT_TIMEOUT\n")

    settings = resolve_settings({"UPSTREAM_READ_TIMEOUT": ""}, tmp_path)

    assert settings.upstream_read_timeout == 8.0
    assert settings.upstream_connect_timeout == 3.0
    assert settings.provenance["upstream_read_timeout"] == Provenance("default", None)


def test_values_are_trimmed_and_dotenv_quoting_is_honoured(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "SUPABASE_JWT_SECRET='a-secret-with-${NOT_INTERPOLATED}-in-it'\n"
        'SUPABASE_URL="https://quoted.example.com/"\n'
    )

    settings = resolve_settings({"SUPABASE_SECRET_KEY": " sb_secret_padded\n"}, tmp_path)

    assert settings.secret_key == "sb_secret_padded"
    assert settings.jwt_secret == "a-secret-with-${NOT_INTERPOLATED}-in-it"
    assert settings.supabase_url == "https://quoted.example.com"


def test_unreadable_dotenv_file_is_reported_once(tmp_path: Path) -> None:
    (tmp_path / ".env.production").write_bytes(b"SUPABASE_JWT_SECRET=LEAKCANARY\xff\n")

    message = error_for(PRODUCTION_ENV, tmp_path)

    assert message == f"{tmp_path / '.env.production'} is not valid UTF-8."


def test_resolution_does_not_mutate_the_environment(tmp_path: Path) -> None:
    write_env(tmp_path, ".env", ZZ_CONFIG_TEST_ONLY="x", APP_VERSION="file")
    environ = {"APP_ENV": "development"}
    before = dict(os.environ)

    resolve_settings(environ, tmp_path)

    assert environ == {"APP_ENV": "development"}
    assert dict(os.environ) == before


# --- the environment ------------------------------------------------------------------


def test_environment_from_vercel_env(tmp_path: Path) -> None:
    settings = resolve_settings({**PRODUCTION_ENV, "APP_ENV": "", "VERCEL_ENV": "preview"}, tmp_path)

    assert settings.environment == "preview"
    assert settings.provenance["environment"] == Provenance("process environment", "VERCEL_ENV")


def test_app_env_beats_vercel_env(tmp_path: Path) -> None:
    settings = resolve_settings({**PRODUCTION_ENV, "VERCEL_ENV": "preview"}, tmp_path)

    assert settings.environment == "production"


def test_environment_comes_only_from_env_independent_files(tmp_path: Path) -> None:
    # .env.development would be read only once the environment is known, so it
    # cannot choose it.
    write_env(tmp_path, ".env.development", APP_ENV="production")
    assert resolve_settings({}, tmp_path).environment == "development"

    write_env(tmp_path, ".env", APP_ENV="production")
    write_env(tmp_path, ".env.local", VERCEL_ENV="preview")
    settings = resolve_settings({k: v for k, v in PRODUCTION_ENV.items() if k != "APP_ENV"}, tmp_path)
    assert settings.environment == "preview"
    assert settings.provenance["environment"] == Provenance(".env.local", "VERCEL_ENV")


@pytest.mark.parametrize("value", ["staging", "Production", "LEAKCANARY-env"])
def test_invalid_environment(tmp_path: Path, value: str) -> None:
    write_env(tmp_path, ".env", VERCEL_ENV=value)

    message = error_for({}, tmp_path)

    assert message == (
        "APP_ENV is invalid: VERCEL_ENV from .env is not one of development, preview, "
        "production. The value is not shown."
    )


# --- missing settings outside development ---------------------------------------------


@pytest.mark.parametrize("environment", ["production", "preview"])
def test_dev_only_defaults_are_absent_outside_development(tmp_path: Path, environment: str) -> None:
    environ = {**PRODUCTION_ENV, "APP_ENV": environment}
    del environ["SUPABASE_JWT_SECRET"]

    settings = resolve_settings(environ, tmp_path)

    assert settings.jwt_secret is None
    assert settings.provenance["jwt_secret"] == Provenance("default", None)
    assert settings.jwks_url == f"{PROD_URL}/auth/v1/.well-known/jwks.json"
    assert settings.upstream_connect_timeout == 3.0


@pytest.mark.parametrize("environment", ["production", "preview"])
def test_missing_secret_key_names_every_name_and_tier(tmp_path: Path, environment: str) -> None:
    environ = {**PRODUCTION_ENV, "APP_ENV": environment}
    del environ["SUPABASE_SECRET_KEY"]

    message = error_for(environ, tmp_path)

    assert message == (
        f"SUPABASE_SECRET_KEY is not set (environment: {environment}). "
        "Tried SUPABASE_SECRET_KEY, SUPABASE_SERVICE_ROLE_KEY in: process environment, "
        f".env.{environment}.local, .env.local, .env.{environment}, .env; "
        "no default outside development."
    )


def test_every_missing_setting_is_reported_at_once(tmp_path: Path) -> None:
    message = error_for({"APP_ENV": "production", "SUPABASE_JWT_SECRET": JWT_SECRET}, tmp_path)

    lines = message.splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == [
        "SUPABASE_URL",
        "SUPABASE_PUBLISHABLE_KEY",
        "SUPABASE_SECRET_KEY",
    ]
    assert "Tried SUPABASE_URL, NEXT_PUBLIC_SUPABASE_URL in:" in lines[0]
    assert (
        "Tried SUPABASE_PUBLISHABLE_KEY, SUPABASE_ANON_KEY, NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY, "
        "NEXT_PUBLIC_SUPABASE_ANON_KEY in:" in lines[1]
    )


def test_required_settings_found_in_files_in_production(tmp_path: Path) -> None:
    write_env(tmp_path, ".env.production", NEXT_PUBLIC_SUPABASE_URL=PROD_URL + "/")
    write_env(tmp_path, ".env.production.local", SUPABASE_SERVICE_ROLE_KEY=SERVICE_ROLE_JWT)
    write_env(tmp_path, ".env", NEXT_PUBLIC_SUPABASE_ANON_KEY=ANON_JWT)

    settings = resolve_settings({"APP_ENV": "production"}, tmp_path)

    assert settings.supabase_url == PROD_URL
    assert settings.publishable_key == ANON_JWT
    assert settings.secret_key == SERVICE_ROLE_JWT
    assert settings.provenance["secret_key"] == Provenance(
        ".env.production.local", "SUPABASE_SERVICE_ROLE_KEY"
    )


# --- malformed values -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("SUPABASE_URL", "ftp://LEAKCANARY.example.com", "is not an http or https URL"),
        ("SUPABASE_URL", "LEAKCANARY.supabase.co", "is not an http or https URL"),
        ("SUPABASE_URL", "https://", "is not an http or https URL"),
        ("SUPABASE_URL", "https://x.co/?LEAKCANARY=1", "must not have a query or fragment"),
        ("SUPABASE_URL", "https://x.co/#LEAKCANARY", "must not have a query or fragment"),
        ("SUPABASE_URL", "https://x.co:LEAKCANARY", "is not a well-formed URL"),
        ("SUPABASE_URL", "https://LEAK CANARY.co", "contains whitespace"),
        ("SUPABASE_URL", "https://user:LEAKCANARY@x.co", "must not contain credentials"),
        ("SUPABASE_JWKS_URL", "LEAKCANARY", "is not an http or https URL"),
        ("SUPABASE_PRODUCTION_URL", "//LEAKCANARY", "is not an http or https URL"),
        ("SUPABASE_JWKS", '{"LEAKCANARY": ', "is not valid JSON"),
        ("SUPABASE_JWKS", '["LEAKCANARY"]', 'is not a JSON object with a "keys" list'),
        ("SUPABASE_JWKS", '{"keys": "LEAKCANARY"}', 'is not a JSON object with a "keys" list'),
        ("SUPABASE_JWKS", '{"keys": ["LEAKCANARY"]}', 'entry in "keys" that is not'),
        ("ALLOW_PREVIEW_ON_PRODUCTION_DB", "LEAKCANARY", "is not a boolean"),
        ("ALLOW_PREVIEW_ON_PRODUCTION_DB", "on", "is not a boolean"),
        ("UPSTREAM_CONNECT_TIMEOUT", "LEAKCANARY", "is not a number of seconds"),
        ("UPSTREAM_CONNECT_TIMEOUT", "0", "must be more than 0 and at most 60 seconds"),
        ("UPSTREAM_READ_TIMEOUT", "-1", "must be more than 0 and at most 60 seconds"),
        ("UPSTREAM_READ_TIMEOUT", "60.5", "must be more than 0 and at most 60 seconds"),
        ("UPSTREAM_READ_TIMEOUT", "nan", "must be more than 0 and at most 60 seconds"),
        ("UPSTREAM_READ_TIMEOUT", "inf", "must be more than 0 and at most 60 seconds"),
        ("ALLOWED_ORIGINS", "https://ok.example.com,LEAKCANARY", "has entry 2 that is not"),
        ("ALLOWED_ORIGINS", "https://LEAKCANARY.example.com/", "has entry 1 that is not"),
        ("ALLOWED_ORIGINS", "https://LEAKCANARY.example.com/app", "has entry 1 that is not"),
        ("ALLOWED_ORIGINS", "*", "has entry 1 that is not"),
        ("ALLOWED_ORIGINS", "https://a.co, ,https://u:LEAKCANARY@b.co", "has entry 3 that is not"),
    ],
)
def test_malformed_value_names_variable_and_tier_but_not_value(
    tmp_path: Path, variable: str, value: str, reason: str
) -> None:
    # Malformed values are rejected in development too: never silently replaced.
    write_env(tmp_path, ".env.development", **{variable: value})

    message = error_for({}, tmp_path)

    assert message.startswith(
        f"{variable} is invalid (environment: development): {variable} from .env.development "
    )
    assert reason in message
    assert message.endswith("The value is not shown.")
    assert "LEAKCANARY" not in message


def test_malformed_alias_names_the_alias_and_the_canonical_setting(tmp_path: Path) -> None:
    environ = {**PRODUCTION_ENV, "SUPABASE_URL": "", "NEXT_PUBLIC_SUPABASE_URL": "LEAKCANARY"}

    message = error_for(environ, tmp_path)

    assert message == (
        "SUPABASE_URL is invalid (environment: production): NEXT_PUBLIC_SUPABASE_URL from "
        "process environment is not an http or https URL with a host. The value is not shown."
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (SECRET_KEY, "holds a secret key (sb_secret_...) where the public key belongs"),
        (SERVICE_ROLE_JWT, "holds a service_role JWT where the public anon key belongs"),
    ],
)
def test_secret_key_in_the_publishable_slot_is_rejected_without_echoing_it(
    tmp_path: Path, value: str, reason: str
) -> None:
    environ = {**PRODUCTION_ENV, "SUPABASE_PUBLISHABLE_KEY": "", "SUPABASE_ANON_KEY": value}

    message = error_for(environ, tmp_path)

    assert message == (
        "SUPABASE_PUBLISHABLE_KEY is invalid (environment: production): SUPABASE_ANON_KEY from "
        f"process environment {reason}. The value is not shown."
    )


def test_no_error_message_contains_a_secret_value(tmp_path: Path) -> None:
    # Secrets are present and found; every other setting is broken in some way.
    write_env(
        tmp_path,
        ".env.production",
        SUPABASE_URL="not a url",
        SUPABASE_JWKS="{",
        ALLOWED_ORIGINS="https://x.co/path",
        UPSTREAM_READ_TIMEOUT="0",
        ALLOW_PREVIEW_ON_PRODUCTION_DB="maybe",
    )
    environ = {
        "APP_ENV": "production",
        "SUPABASE_PUBLISHABLE_KEY": SECRET_KEY,
        "SUPABASE_SERVICE_ROLE_KEY": SECRET_KEY,
        "SUPABASE_JWT_SECRET": JWT_SECRET,
    }

    message = error_for(environ, tmp_path)

    assert len(message.splitlines()) == 6
    for secret in (SECRET_KEY, JWT_SECRET, SECRET_KEY.removeprefix("sb_secret_")):
        assert secret not in message


# --- the preview guard ----------------------------------------------------------------


@pytest.mark.parametrize(
    "production_url", [PROD_URL, PROD_URL + "/", "HTTPS://ProdRef.Supabase.CO", PROD_URL + ":443"]
)
def test_preview_on_the_production_database_is_blocked(tmp_path: Path, production_url: str) -> None:
    write_env(tmp_path, ".env.preview", SUPABASE_PRODUCTION_URL=production_url)
    environ = {**PRODUCTION_ENV, "APP_ENV": "preview"}

    message = error_for(environ, tmp_path)

    assert message == (
        "SUPABASE_URL points at the production project in a preview deployment: "
        "SUPABASE_URL from process environment equals SUPABASE_PRODUCTION_URL from "
        ".env.preview. A branch preview must not write production data; give previews "
        "their own Supabase project or branch, or set ALLOW_PREVIEW_ON_PRODUCTION_DB=true "
        "if this is deliberate."
    )
    assert "prodref" not in message.lower()


def test_preview_on_the_production_database_allowed_with_the_flag(tmp_path: Path) -> None:
    environ = {
        **PRODUCTION_ENV,
        "APP_ENV": "preview",
        "SUPABASE_PRODUCTION_URL": PROD_URL,
        "ALLOW_PREVIEW_ON_PRODUCTION_DB": "TRUE",
    }

    settings = resolve_settings(environ, tmp_path)

    assert settings.allow_preview_on_production_db is True
    assert settings.supabase_url == PROD_URL


@pytest.mark.parametrize(("flag", "expected"), [("yes", True), ("1", True), ("No", False)])
def test_bool_spellings(tmp_path: Path, flag: str, expected: bool) -> None:
    settings = resolve_settings({"ALLOW_PREVIEW_ON_PRODUCTION_DB": flag}, tmp_path)

    assert settings.allow_preview_on_production_db is expected


def test_preview_on_its_own_database_is_fine(tmp_path: Path) -> None:
    environ = {
        **PRODUCTION_ENV,
        "APP_ENV": "preview",
        "SUPABASE_URL": PREVIEW_URL,
        "SUPABASE_PRODUCTION_URL": PROD_URL,
    }

    settings = resolve_settings(environ, tmp_path)

    assert settings.supabase_url == PREVIEW_URL
    assert settings.production_url == PROD_URL


def test_production_on_the_production_database_is_fine(tmp_path: Path) -> None:
    settings = resolve_settings({**PRODUCTION_ENV, "SUPABASE_PRODUCTION_URL": PROD_URL}, tmp_path)

    assert settings.supabase_url == settings.production_url


# --- derived and parsed values --------------------------------------------------------


def test_jwks_url_is_derived_from_the_supabase_url(tmp_path: Path) -> None:
    settings = resolve_settings({**PRODUCTION_ENV, "SUPABASE_URL": PROD_URL + "/"}, tmp_path)

    assert settings.supabase_url == PROD_URL
    assert settings.jwks_url == f"{PROD_URL}/auth/v1/.well-known/jwks.json"
    assert settings.provenance["jwks_url"] == Provenance("default", None)


def test_jwks_url_can_be_set_explicitly(tmp_path: Path) -> None:
    environ = {**PRODUCTION_ENV, "SUPABASE_JWKS_URL": "https://keys.example.com/jwks.json"}

    settings = resolve_settings(environ, tmp_path)

    assert settings.jwks_url == "https://keys.example.com/jwks.json"


def test_inline_jwks_is_parsed(tmp_path: Path) -> None:
    jwks = {"keys": [{"kty": "EC", "kid": "one"}, {"kty": "RSA", "kid": "two"}]}

    settings = resolve_settings({"SUPABASE_JWKS": json.dumps(jwks)}, tmp_path)

    assert settings.jwks == jwks


def test_allowed_origins_are_split_trimmed_and_normalised(tmp_path: Path) -> None:
    value = " https://App.Example.com , ,http://localhost:5173,https://x.co:443,http://[::1]:8080,"

    settings = resolve_settings({"ALLOWED_ORIGINS": value}, tmp_path)

    assert settings.allowed_origins == (
        "https://app.example.com",
        "http://localhost:5173",
        "https://x.co",
        "http://[::1]:8080",
    )


def test_timeouts_accept_bounds(tmp_path: Path) -> None:
    environ = {"UPSTREAM_CONNECT_TIMEOUT": "0.25", "UPSTREAM_READ_TIMEOUT": "60"}

    settings = resolve_settings(environ, tmp_path)

    assert settings.upstream_connect_timeout == 0.25
    assert settings.upstream_read_timeout == 60.0


def test_app_version_from_the_commit_sha(tmp_path: Path) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"

    from_sha = resolve_settings({"VERCEL_GIT_COMMIT_SHA": sha}, tmp_path)
    explicit = resolve_settings({"VERCEL_GIT_COMMIT_SHA": sha, "APP_VERSION": "1.4.0"}, tmp_path)

    assert from_sha.app_version == "0123456"
    assert from_sha.provenance["app_version"] == Provenance("process environment", "VERCEL_GIT_COMMIT_SHA")
    assert explicit.app_version == "1.4.0"


def test_vercel_hosts_are_passed_through(tmp_path: Path) -> None:
    environ = {
        "VERCEL_URL": "my-app-abc123.vercel.app",
        "VERCEL_BRANCH_URL": "my-app-git-feature.vercel.app",
        "VERCEL_PROJECT_PRODUCTION_URL": "app.example.com",
    }

    settings = resolve_settings(environ, tmp_path)

    assert settings.vercel_url == "my-app-abc123.vercel.app"
    assert settings.vercel_branch_url == "my-app-git-feature.vercel.app"
    assert settings.vercel_project_production_url == "app.example.com"


# --- structure and public helpers -----------------------------------------------------


def test_settings_table_and_dataclass_agree() -> None:
    table = [spec.field for spec in config.SETTINGS]
    fields = [field.name for field in dataclasses.fields(Settings)]

    assert len(set(table)) == len(table)
    assert fields == ["environment", *table, "provenance"]


def test_settings_are_hashable_with_an_inline_jwks(tmp_path: Path) -> None:
    jwks = {"keys": [{"kty": "EC", "kid": "one"}]}
    settings = resolve_settings({**PRODUCTION_ENV, "SUPABASE_JWKS": json.dumps(jwks)}, tmp_path)
    again = resolve_settings({**PRODUCTION_ENV, "SUPABASE_JWKS": json.dumps(jwks)}, tmp_path)

    assert settings == again
    assert hash(settings) == hash(again)
    assert {settings: 1}[again] == 1
    # The JWKS cannot be changed through the settings, not even a nested member.
    assert settings.jwks is not None
    settings.jwks["keys"].append({"kty": "RSA"})
    assert settings.jwks == jwks
    # A hand-built or replaced Settings may pass a plain dict: it is frozen the same way.
    replaced = dataclasses.replace(settings, jwks={"keys": []})
    assert replaced != settings
    assert replaced.jwks == {"keys": []}
    assert {replaced: 1}[dataclasses.replace(replaced)] == 1


def test_every_rate_limit_counter_has_its_setting(tmp_path: Path) -> None:
    settings = resolve_settings({}, tmp_path)

    assert set(config.RATE_POLICIES) | {config.LOGIN_IP} == set(config.RATE_LIMIT_DEFAULTS)
    for counter, default in config.RATE_LIMIT_DEFAULTS.items():
        assert settings.rate_limit(counter) == default
    with pytest.raises(KeyError):
        settings.rate_limit("fail_open")


def test_repr_does_not_show_secrets(tmp_path: Path) -> None:
    settings = resolve_settings(PRODUCTION_ENV, tmp_path)

    assert "LEAKCANARY" not in repr(settings)


def test_lookup_walks_process_environment_then_files(tmp_path: Path) -> None:
    write_env(tmp_path, ".env.development", DEV_DB_PORT="54322")
    write_env(tmp_path, ".env", DEV_DB_PORT="1", DEV_DB_PASSWORD="from-dotenv")

    port = lookup(["DEV_DB_PORT"], environ={}, root=tmp_path, environment="development")
    independent = lookup(["DEV_DB_PORT"], environ={}, root=tmp_path)
    password = lookup(["DEV_DB_PASSWORD", "PGPASSWORD"], environ={"PGPASSWORD": "from-env"}, root=tmp_path)
    missing = lookup(["DEV_DB_USER"], environ={"DEV_DB_USER": ""}, root=tmp_path)

    assert port == ("54322", Provenance(".env.development", "DEV_DB_PORT"))
    assert independent == ("1", Provenance(".env", "DEV_DB_PORT"))
    assert password == ("from-env", Provenance("process environment", "PGPASSWORD"))
    assert missing is None


def test_get_settings_resolves_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[int] = []
    resolved = resolve_settings({}, tmp_path)

    def fake_resolve() -> Settings:
        calls.append(1)
        return resolved

    monkeypatch.setattr(config, "resolve_settings", fake_resolve)
    config.get_settings.cache_clear()
    try:
        assert config.get_settings() is resolved
        assert config.get_settings() is resolved
    finally:
        config.get_settings.cache_clear()

    assert calls == [1]


# --- describe and `python -m lib.config` ----------------------------------------------


def test_describe_masks_secrets(tmp_path: Path) -> None:
    jwks = json.dumps({"keys": [{"kty": "EC"}, {"kty": "EC"}]})
    environ = {**PRODUCTION_ENV, "SUPABASE_JWKS": jwks, "ALLOWED_ORIGINS": "https://a.co"}

    rows = {row[0]: row[1:] for row in describe(resolve_settings(environ, tmp_path))}

    assert rows["secret_key"] == ("sb_secret_****", "process environment", "SUPABASE_SECRET_KEY")
    assert rows["jwt_secret"] == (
        f"**** ({len(JWT_SECRET)} chars)",
        "process environment",
        "SUPABASE_JWT_SECRET",
    )
    assert rows["jwks"] == ("<2 keys>", "process environment", "SUPABASE_JWKS")
    assert rows["publishable_key"][0] == PUBLISHABLE_KEY
    assert rows["vercel_url"] == ("(not set)", "default", "-")
    assert rows["allowed_origins"][0] == "https://a.co"
    assert rows["allow_preview_on_production_db"][0] == "false"
    assert rows["upstream_read_timeout"][0] == "8.0"
    assert list(rows) == ["environment", *(spec.field for spec in config.SETTINGS)]
    assert "LEAKCANARY" not in repr(rows)


def test_describe_masks_legacy_jwt_secret_key(tmp_path: Path) -> None:
    environ = {**PRODUCTION_ENV, "SUPABASE_SECRET_KEY": SERVICE_ROLE_JWT}

    rows = {row[0]: row[1] for row in describe(resolve_settings(environ, tmp_path))}

    assert rows["secret_key"] == f"**** ({len(SERVICE_ROLE_JWT)} chars)"
    assert "LEAKCANARY" not in repr(rows)


def _run_module(environ: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lib.config"],
        cwd=REPO,
        env=dict(environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_module_prints_the_provenance_table() -> None:
    # Every setting the table checks comes from the process environment, so dotenv
    # files on a developer's machine cannot change the outcome.
    result = _run_module(
        {
            **PRODUCTION_ENV,
            "SUPABASE_URL": "",
            "NEXT_PUBLIC_SUPABASE_URL": PROD_URL,
            "VERCEL_GIT_COMMIT_SHA": "fedcba9876543210",
            "APP_VERSION": "",
        }
    )

    assert result.returncode == 0, result.stderr
    assert "LEAKCANARY" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["setting", "value", "tier", "variable"]
    table = {line.split()[0]: line for line in lines[1:]}
    assert table["environment"].split() == [
        "environment",
        "production",
        "process",
        "environment",
        "APP_ENV",
    ]
    assert table["supabase_url"].split()[1:] == [
        PROD_URL,
        "process",
        "environment",
        "NEXT_PUBLIC_SUPABASE_URL",
    ]
    assert table["secret_key"].split()[1] == "sb_secret_****"
    assert table["app_version"].split()[1] == "fedcba9"
    assert table["app_version"].endswith("VERCEL_GIT_COMMIT_SHA")
    # Aligned: every row's tier column starts at the same offset.
    tier_column = lines[0].index("tier")
    assert table["environment"][tier_column:].startswith("process environment")
    assert table["secret_key"][tier_column:].startswith("process environment")


def test_module_reports_a_missing_setting_and_exits_1() -> None:
    environ = {**PRODUCTION_ENV, "SUPABASE_SECRET_KEY": "", "SUPABASE_SERVICE_ROLE_KEY": ""}

    result = _run_module(environ)

    assert result.returncode == 1
    assert result.stdout == ""
    assert "SUPABASE_SECRET_KEY is not set (environment: production)." in result.stderr
    assert "Tried SUPABASE_SECRET_KEY, SUPABASE_SERVICE_ROLE_KEY in:" in result.stderr
    assert "Traceback" not in result.stderr
    assert "LEAKCANARY" not in result.stderr


def test_dotenv_is_not_imported_without_dotenv_files(tmp_path: Path) -> None:
    # Cold starts on Vercel have no dotenv files and should not pay for the import.
    code = (
        "import sys, pathlib\n"
        "from lib.config import resolve_settings\n"
        f"resolve_settings({{}}, pathlib.Path({str(tmp_path)!r}))\n"
        "print('dotenv' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert result.stdout.strip() == "False"
