"""GoTrue's per-IP rate limits, the email frequency and hourly budget, and their configuration."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from devstack.auth import (
    RateLimits,
    config_from_env,
    load_email_settings_from_config,
)
from devstack.postgres import PostgresServer
from tests.devstack.auth.harness import (
    PASSWORD,
    REPO_ROOT,
    mail_config,
    post_json,
    random_email,
    serving,
)

# --------------------------------------------------------------------------- rate limits


def test_rate_limits_per_forwarded_ip_like_gotrue(postgres: PostgresServer, mailbox: str) -> None:
    limits = RateLimits(sign_in_sign_ups=1, token_refresh=1, token_verifications=1)
    with serving(mail_config(postgres, mailbox, rate_limits=limits)) as url:
        ip = {"X-Forwarded-For": "203.0.113.7, 10.0.0.1"}
        answers = [post_json(url, "/recover", {"email": random_email()}, headers=ip) for _ in range(31)]
        assert [a.status_code for a in answers[:30]] == [200] * 30
        assert answers[30].status_code == 429
        assert answers[30].json() == {
            "code": 429,
            "error_code": "over_request_rate_limit",
            "msg": "Request rate limit reached",
        }
        # Another client address, and each endpoint, has its own bucket.
        assert (
            post_json(
                url, "/recover", {"email": random_email()}, headers={"X-Forwarded-For": "203.0.113.8"}
            ).status_code
            == 200
        )
        assert (
            post_json(url, "/resend", {"type": "signup", "email": random_email()}, headers=ip).status_code
            == 200
        )
        # Sb-Forwarded-For counts only with the secret (service_role) key.
        spoof = {**ip, "Sb-Forwarded-For": "198.51.100.1"}
        assert post_json(url, "/recover", {"email": random_email()}, headers=spoof).status_code == 429
        trusted = {**spoof, "apikey": "sb_secret_example"}
        assert post_json(url, "/recover", {"email": random_email()}, headers=trusted).status_code == 200
        # Without a forwarded address GoTrue applies no per-IP limit (the CLI's stack sets no header).
        assert post_json(url, "/recover", {"email": random_email()}).status_code == 200
        for _ in range(30):
            post_json(url, "/verify", {"type": "signup", "token_hash": "x"}, headers=ip)
        assert post_json(url, "/verify", {"type": "signup", "token_hash": "x"}, headers=ip).status_code == 429
        grant = "/token?grant_type=password"
        for _ in range(30):
            post_json(url, grant, {"email": random_email(), "password": "x"}, headers=ip)
        limited = post_json(url, grant, {"email": random_email(), "password": "x"}, headers=ip)
        assert (limited.status_code, limited.json()["error_code"]) == (429, "over_request_rate_limit")


def test_email_frequency_and_hourly_budget(postgres: PostgresServer, mailbox: str) -> None:
    config = mail_config(postgres, mailbox, max_frequency=60.0, mailer_autoconfirm=False)
    with serving(replace(config, rate_limits=RateLimits(email_sent=2))) as url:
        email = random_email()
        assert post_json(url, "/signup", {"email": email, "password": PASSWORD}).status_code == 200
        again = post_json(url, "/resend", {"type": "signup", "email": email})
        assert again.status_code == 429
        assert again.json()["error_code"] == "over_email_send_rate_limit"
        assert re.fullmatch(
            r"For security purposes, you can only request this after \d+ seconds\.", again.json()["msg"]
        )
        assert post_json(url, "/signup", {"email": random_email(), "password": PASSWORD}).status_code == 200
        spent = post_json(url, "/signup", {"email": random_email(), "password": PASSWORD})
        assert spent.json() == {
            "code": 429,
            "error_code": "over_email_send_rate_limit",
            "msg": "email rate limit exceeded",
        }


# --------------------------------------------------------------------------- configuration


def test_config_toml_and_environment_decide_confirmation_and_limits(tmp_path: Path) -> None:
    toml = tmp_path / "config.toml"
    toml.write_text(
        '[auth]\nsite_url = "http://localhost:3000"\nadditional_redirect_urls = ["https://app.example/**"]\n'
        '[auth.email]\nenable_confirmations = true\nmax_frequency = "1m0s"\nsecure_password_change = false\n'
        "[auth.rate_limit]\nemail_sent = 5\nsign_in_sign_ups = 7\n"
        "token_refresh = 9\ntoken_verifications = 11\n"
    )
    settings = load_email_settings_from_config(toml)
    assert settings["mailer_autoconfirm"] is False
    assert settings["max_frequency"] == 60.0
    assert settings["site_url"] == "http://localhost:3000"
    assert settings["rate_limits"] == RateLimits(
        sign_in_sign_ups=7, token_refresh=9, token_verifications=11, email_sent=5
    )
    base = {"AUTH_DB_DSN": "postgresql://x", "SUPABASE_JWT_SECRET": "s" * 32, "AUTH_CONFIG_TOML": str(toml)}
    assert config_from_env(base).mailer_autoconfirm is False
    assert config_from_env({**base, "AUTH_EMAIL_CONFIRMATIONS": "false"}).mailer_autoconfirm is True
    with pytest.raises(ValueError, match="AUTH_EMAIL_CONFIRMATIONS"):
        config_from_env({**base, "AUTH_EMAIL_CONFIRMATIONS": "maybe"})
    # The repository's config confirms emails, as a new hosted project does (make dev).
    repo_toml = REPO_ROOT / "supabase" / "config.toml"
    assert config_from_env({**base, "AUTH_CONFIG_TOML": str(repo_toml)}).mailer_autoconfirm is False
