"""The local Auth service's email flows, PUT /user, admin create/delete and rate limits, with a real inbox.

Each service instance runs against the throwaway Postgres of test_auth_service and
delivers mail to an in-process devstack inbox, read back through its Mailpit-style API.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
import requests
from supabase_auth import SyncGoTrueAdminAPI, SyncGoTrueClient
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from devstack import inbox
from devstack.auth_service import (
    AuthConfig,
    RateLimits,
    config_from_env,
    load_email_settings_from_config,
)
from devstack.postgres import PostgresServer
from tests.devstack.test_auth_service import (
    PASSWORD,
    TIMEOUT,
    _bearer,
    _config,
    _email,
    _post,
    _serve,
    _service_jwt,
    _sign_in,
    _signup,
    postgres,  # noqa: F401 (the module's throwaway Postgres fixture)
)

SITE = "http://127.0.0.1:3000"
CODE = re.compile(r"enter the code: (\d{6})")


@contextmanager
def _inbox() -> Iterator[str]:
    server = inbox.make_server(0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)


@pytest.fixture(scope="module")
def mailbox() -> Iterator[str]:
    """An in-process local inbox."""
    with _inbox() as url:
        yield url


def _service(server: PostgresServer, mailbox: str, **overrides: Any) -> AuthConfig:
    base = _config(server, hook=None, inbox_url=mailbox, max_frequency=0.0, site_url=SITE)
    return replace(base, **overrides)


@pytest.fixture(scope="module")
def confirm(postgres: PostgresServer, mailbox: str) -> Iterator[str]:  # noqa: F811
    """A service with [auth.email] enable_confirmations = true."""
    with _serve(_service(postgres, mailbox, mailer_autoconfirm=False)) as url:
        yield url


@pytest.fixture(scope="module")
def auto(postgres: PostgresServer, mailbox: str) -> Iterator[str]:  # noqa: F811
    """A service with confirmations off (autoconfirm), as disposable test stacks run."""
    with _serve(_service(postgres, mailbox)) as url:
        yield url


@pytest.fixture
def db(postgres: PostgresServer) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:  # noqa: F811
    """A superuser connection for checks."""
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        yield conn


def _mail(mailbox: str, address: str) -> dict[str, Any]:
    message = inbox.latest_message(mailbox, address)
    assert message is not None, f"no mail to {address}"
    return message


def _mail_count(mailbox: str, address: str) -> int:
    found = requests.get(f"{mailbox}/api/v1/search", params={"query": f"to:{address}"}, timeout=TIMEOUT)
    return int(found.json()["messages_count"])


def _link(message: dict[str, Any]) -> str:
    link = inbox.message_link(message)
    assert link is not None
    return link


def _follow(service: str, link: str) -> requests.Response:
    """Open an emailed link (its host is the public issuer) on the service, without following the 303."""
    parts = urlsplit(link)
    assert parts.path == "/auth/v1/verify"
    return requests.get(f"{service}/verify?{parts.query}", allow_redirects=False, timeout=TIMEOUT)


def _fragment(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["Location"]
    return {
        key: values[0]
        for key, values in parse_qs(urlsplit(location).fragment, keep_blank_values=True).items()
    }


def _user(service: str, token: str) -> requests.Response:
    return requests.get(f"{service}/user", headers=_bearer(token), timeout=TIMEOUT)


def _put_user(service: str, token: str, body: dict[str, Any]) -> requests.Response:
    return requests.put(f"{service}/user", json=body, headers=_bearer(token), timeout=TIMEOUT)


def _admin() -> dict[str, str]:
    return _bearer(_service_jwt())


# --------------------------------------------------------------------------- sign-up with confirmation


def test_signup_under_confirmation_sends_a_link_that_signs_in(confirm: str, mailbox: str) -> None:
    email = _email()
    created = _post(confirm, "/signup", {"email": email, "password": PASSWORD, "data": {"name": "Ada"}})
    assert created.status_code == 200
    user = created.json()
    assert "access_token" not in user
    assert user["email"] == email
    assert "email_confirmed_at" not in user
    assert user["confirmation_sent_at"]
    assert [(i["provider"], i["id"], i["identity_data"]["email"]) for i in user["identities"]] == [
        ("email", user["id"], email)
    ]
    assert user["identities"][0]["identity_data"]["name"] == "Ada"

    refused = _sign_in(confirm, email)
    assert (refused.status_code, refused.json()["error_code"]) == (400, "email_not_confirmed")

    message = _mail(mailbox, email)
    assert message["Subject"] == "Confirm your email address"
    link = _link(message)
    assert link.startswith("http://127.0.0.1:54321/auth/v1/verify?token=")
    assert parse_qs(urlsplit(link).query)["type"] == ["signup"]
    landed = _follow(confirm, link)
    assert landed.headers["Location"].startswith(f"{SITE}#")
    fragment = _fragment(landed)
    assert fragment["type"] == "signup"
    assert fragment["token_type"] == "bearer"
    assert fragment["sb"] == ""
    me = _user(confirm, fragment["access_token"]).json()
    assert me["email_confirmed_at"]
    assert me["identities"][0]["identity_data"]["email_verified"] is True
    assert _sign_in(confirm, email).status_code == 200

    # A used link is gone: GoTrue redirects with the error in the fragment.
    again = _fragment(_follow(confirm, link))
    assert again == {
        "error": "access_denied",
        "error_code": "otp_expired",
        "error_description": "Email link is invalid or has expired",
        "sb": "",
    }


def test_repeated_signups_under_confirmation_do_not_reveal_accounts(confirm: str, mailbox: str) -> None:
    email = _email()
    first = _post(confirm, "/signup", {"email": email, "password": PASSWORD}).json()
    # Unconfirmed: the same user again (identities present) and a fresh confirmation mail.
    second = _post(confirm, "/signup", {"email": email, "password": "another-password"}).json()
    assert second["id"] == first["id"]
    assert len(second["identities"]) == 1
    assert _mail_count(mailbox, email) == 2

    token = _fragment(_follow(confirm, _link(_mail(mailbox, email))))["access_token"]
    assert _user(confirm, token).status_code == 200
    # Confirmed: GoTrue's obfuscated user, `identities: []`, and no mail.
    third = _post(confirm, "/signup", {"email": email, "password": PASSWORD, "data": {"x": 1}})
    assert third.status_code == 200
    body = third.json()
    assert body["identities"] == []
    assert body["id"] != first["id"]
    assert body["user_metadata"] == {"x": 1}
    assert body["role"] == ""
    assert "access_token" not in body
    assert _mail_count(mailbox, email) == 2
    # The password of the first sign-up still holds (GoTrue never updates an unconfirmed claimant).
    assert _sign_in(confirm, email).status_code == 200


def test_existing_email_without_confirmation_is_user_already_exists(auto: str) -> None:
    session = _signup(auto)
    assert session["user"]["identities"][0]["provider"] == "email"
    again = _post(auto, "/signup", {"email": session["user"]["email"], "password": PASSWORD})
    assert (again.status_code, again.json()["error_code"]) == (422, "user_already_exists")


def test_post_verify_with_token_hash_or_email_code(confirm: str, mailbox: str) -> None:
    email = _email()
    _post(confirm, "/signup", {"email": email, "password": PASSWORD})
    token_hash = parse_qs(urlsplit(_link(_mail(mailbox, email))).query)["token"][0]
    mismatched = _post(confirm, "/verify", {"type": "recovery", "token_hash": token_hash})
    assert (mismatched.status_code, mismatched.json()["error_code"]) == (403, "otp_expired")
    verified = _post(confirm, "/verify", {"type": "signup", "token_hash": token_hash})
    assert verified.status_code == 200
    assert verified.json()["user"]["email_confirmed_at"]
    assert verified.json()["refresh_token"]

    # The emailed code works with the address (type "email" covers sign-up and magic link codes).
    _post(confirm, "/otp", {"email": email})
    code = CODE.search(_mail(mailbox, email)["Text"])
    assert code is not None
    wrong = _post(confirm, "/verify", {"type": "email", "email": email, "token": "000000"})
    assert wrong.json() == {
        "code": 403,
        "error_code": "otp_expired",
        "msg": "Token has expired or is invalid",
    }
    assert _post(confirm, "/verify", {"type": "email", "email": email, "token": code[1]}).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "error_code"),
    [
        ({"token_hash": "x"}, 400, "validation_failed"),
        ({"type": "signup"}, 400, "validation_failed"),
        ({"type": "signup", "token": "1", "token_hash": "x"}, 400, "validation_failed"),
        ({"type": "signup", "token_hash": "x", "email": "a@example.com"}, 400, "validation_failed"),
        ({"type": "signup", "token": "123456"}, 400, "validation_failed"),
        ({"type": "nope", "token_hash": "x"}, 400, "validation_failed"),
        ({"type": "signup", "token_hash": "no-such-hash"}, 403, "otp_expired"),
    ],
)
def test_verify_validation(confirm: str, body: dict[str, Any], status: int, error_code: str) -> None:
    response = _post(confirm, "/verify", body)
    assert (response.status_code, response.json()["error_code"]) == (status, error_code)


def test_verify_link_honours_allowed_redirects_only(confirm: str, mailbox: str) -> None:
    email = _email()
    redirect = "http://127.0.0.1:5173/welcome"
    _post(confirm, f"/signup?redirect_to={redirect}", {"email": email, "password": PASSWORD})
    link = _link(_mail(mailbox, email))
    assert parse_qs(urlsplit(link).query)["redirect_to"] == [redirect]
    assert _follow(confirm, link).headers["Location"].startswith(f"{redirect}#access_token=")
    other = _email()
    _post(confirm, "/signup?redirect_to=https://evil.example/x", {"email": other, "password": PASSWORD})
    assert parse_qs(urlsplit(_link(_mail(mailbox, other))).query)["redirect_to"] == [SITE]


# --------------------------------------------------------------------------- recovery, PUT /user


def test_recover_then_set_a_new_password(auto: str, mailbox: str) -> None:
    unknown = _email()
    nobody = _post(auto, "/recover", {"email": unknown})
    assert (nobody.status_code, nobody.json()) == (200, {})
    assert _mail_count(mailbox, unknown) == 0
    missing = _post(auto, "/recover", {})
    assert (missing.status_code, missing.json()["error_code"]) == (400, "validation_failed")

    session = _signup(auto)
    email = session["user"]["email"]
    assert _post(auto, "/recover", {"email": email.upper()}).json() == {}
    message = _mail(mailbox, email)
    assert message["Subject"] == "Reset your password"
    fragment = _fragment(_follow(auto, _link(message)))
    assert fragment["type"] == "recovery"
    token = fragment["access_token"]

    weak = _put_user(auto, token, {"password": "123"})
    assert (weak.status_code, weak.json()["error_code"]) == (422, "weak_password")
    same = _put_user(auto, token, {"password": PASSWORD})
    assert (same.status_code, same.json()["error_code"]) == (422, "same_password")
    changed = _put_user(auto, token, {"password": "a-brand-new-password"})
    assert changed.status_code == 200
    assert changed.json()["email"] == email
    assert changed.json()["identities"]
    # The recovery session stays; the sign-up session ended with the password change.
    assert _user(auto, token).status_code == 200
    assert _user(auto, session["access_token"]).json()["error_code"] == "session_not_found"
    old = _sign_in(auto, email)
    assert (old.status_code, old.json()["error_code"]) == (400, "invalid_credentials")
    assert _sign_in(auto, email, "a-brand-new-password").status_code == 200


def test_put_user_updates_metadata_and_rejects_what_goTrue_rejects(auto: str) -> None:
    session = _signup(auto, data={"a": 1, "b": 2})
    token = session["access_token"]
    updated = _put_user(auto, token, {"data": {"b": None, "c": 3}})
    assert updated.status_code == 200
    assert updated.json()["user_metadata"] == {"a": 1, "c": 3}
    forbidden = _put_user(auto, token, {"app_metadata": {"role": "admin"}})
    assert (forbidden.status_code, forbidden.json()["error_code"]) == (403, "not_admin")
    taken = _put_user(auto, token, {"email": _signup(auto)["user"]["email"]})
    assert (taken.status_code, taken.json()["error_code"]) == (422, "email_exists")
    bad = _put_user(auto, token, {"email": "not-an-email"})
    assert (bad.status_code, bad.json()["error_code"]) == (400, "validation_failed")
    anonymous = requests.put(f"{auto}/user", json={}, timeout=TIMEOUT)
    assert (anonymous.status_code, anonymous.json()["error_code"]) == (401, "no_authorization")


def test_email_change_needs_both_links_with_secure_change(confirm: str, auto: str, mailbox: str) -> None:
    session = _signup(auto)
    old, new = session["user"]["email"], _email()
    pending = _put_user(confirm, session["access_token"], {"email": new})
    assert pending.status_code == 200
    assert pending.json()["email"] == old
    assert pending.json()["new_email"] == new
    to_new, to_old = _mail(mailbox, new), _mail(mailbox, old)
    assert to_new["Subject"] == to_old["Subject"] == "Confirm your new email address"
    first = _fragment(_follow(confirm, _link(to_old)))
    assert first == {
        "message": "Confirmation link accepted. Please proceed to confirm link sent to the other email",
        "sb": "",
    }
    done = _fragment(_follow(confirm, _link(to_new)))
    assert done["type"] == "email_change"
    me = _user(confirm, done["access_token"]).json()
    assert me["email"] == new
    assert "new_email" not in me
    assert me["identities"][0]["identity_data"]["email"] == new
    assert _sign_in(confirm, new).status_code == 200


def test_resend_and_magic_links(confirm: str, auto: str, mailbox: str) -> None:
    email = _email()
    _post(confirm, "/signup", {"email": email, "password": PASSWORD})
    assert _post(confirm, "/resend", {"type": "signup", "email": email}).json() == {}
    assert _mail_count(mailbox, email) == 2
    bad = _post(confirm, "/resend", {"type": "recovery", "email": email})
    assert (bad.status_code, bad.json()["error_code"]) == (400, "validation_failed")
    confirmed = _signup(auto)["user"]["email"]
    assert _post(confirm, "/resend", {"type": "signup", "email": confirmed}).json() == {}
    assert _mail_count(mailbox, confirmed) == 0

    assert _post(auto, "/otp", {"email": confirmed}).json() == {}
    message = _mail(mailbox, confirmed)
    assert message["Subject"] == "Your sign-in link"
    assert _fragment(_follow(auto, _link(message)))["type"] == "magiclink"
    refused = _post(auto, "/otp", {"email": _email(), "create_user": False})
    assert (refused.status_code, refused.json()["error_code"]) == (422, "otp_disabled")
    fresh = _email()
    assert _post(auto, "/otp", {"email": fresh}).json() == {}
    assert _mail(mailbox, fresh)["Subject"] == "Your sign-in link"
    phone = _post(auto, "/otp", {"phone": "+15550000000"})
    assert (phone.status_code, phone.json()["error_code"]) == (400, "phone_provider_disabled")


# --------------------------------------------------------------------------- admin


def test_admin_create_get_delete_and_invite(auto: str, mailbox: str) -> None:
    email = _email()
    created = _post(
        auto,
        "/admin/users",
        {"email": email, "password": PASSWORD, "email_confirm": True, "user_metadata": {"n": 1}},
        headers=_admin(),
    )
    assert created.status_code == 200
    user = created.json()
    assert user["email_confirmed_at"]
    assert user["user_metadata"] == {"n": 1}
    assert [i["provider"] for i in user["identities"]] == ["email"]
    assert _mail_count(mailbox, email) == 0
    assert _sign_in(auto, email).status_code == 200
    duplicate = _post(auto, "/admin/users", {"email": email}, headers=_admin())
    assert (duplicate.status_code, duplicate.json()["error_code"]) == (422, "email_exists")
    member = _post(auto, "/admin/users", {"email": _email()}, headers=_bearer(_signup(auto)["access_token"]))
    assert (member.status_code, member.json()["error_code"]) == (403, "not_admin")

    url = f"{auto}/admin/users/{user['id']}"
    fetched = requests.get(url, headers=_admin(), timeout=TIMEOUT).json()
    assert [i["identity_id"] for i in fetched["identities"]] == [i["identity_id"] for i in user["identities"]]
    deleted = requests.delete(url, headers=_admin(), timeout=TIMEOUT)
    assert (deleted.status_code, deleted.json()) == (200, {})
    gone = requests.get(url, headers=_admin(), timeout=TIMEOUT)
    assert (gone.status_code, gone.json()["error_code"]) == (404, "user_not_found")

    invited = _email()
    response = _post(auto, "/invite", {"email": invited}, headers=_admin())
    assert response.status_code == 200
    assert response.json()["invited_at"]
    message = _mail(mailbox, invited)
    assert message["Subject"] == "You've been invited"
    fragment = _fragment(_follow(auto, _link(message)))
    assert fragment["type"] == "invite"
    assert _put_user(auto, fragment["access_token"], {"password": "chosen-password"}).status_code == 200
    assert _sign_in(auto, invited, "chosen-password").status_code == 200


# --------------------------------------------------------------------------- rate limits


def test_rate_limits_per_forwarded_ip_like_gotrue(postgres: PostgresServer, mailbox: str) -> None:  # noqa: F811
    limits = RateLimits(sign_in_sign_ups=1, token_refresh=1, token_verifications=1)
    with _serve(_service(postgres, mailbox, rate_limits=limits)) as url:
        ip = {"X-Forwarded-For": "203.0.113.7, 10.0.0.1"}
        answers = [_post(url, "/recover", {"email": _email()}, headers=ip) for _ in range(31)]
        assert [a.status_code for a in answers[:30]] == [200] * 30
        assert answers[30].status_code == 429
        assert answers[30].json() == {
            "code": 429,
            "error_code": "over_request_rate_limit",
            "msg": "Request rate limit reached",
        }
        # Another client address, and each endpoint, has its own bucket.
        assert (
            _post(
                url, "/recover", {"email": _email()}, headers={"X-Forwarded-For": "203.0.113.8"}
            ).status_code
            == 200
        )
        assert _post(url, "/resend", {"type": "signup", "email": _email()}, headers=ip).status_code == 200
        # Sb-Forwarded-For counts only with the secret (service_role) key.
        spoof = {**ip, "Sb-Forwarded-For": "198.51.100.1"}
        assert _post(url, "/recover", {"email": _email()}, headers=spoof).status_code == 429
        trusted = {**spoof, "apikey": "sb_secret_example"}
        assert _post(url, "/recover", {"email": _email()}, headers=trusted).status_code == 200
        # Without a forwarded address GoTrue applies no per-IP limit (the CLI's stack sets no header).
        assert _post(url, "/recover", {"email": _email()}).status_code == 200
        for _ in range(30):
            _post(url, "/verify", {"type": "signup", "token_hash": "x"}, headers=ip)
        assert _post(url, "/verify", {"type": "signup", "token_hash": "x"}, headers=ip).status_code == 429
        grant = "/token?grant_type=password"
        for _ in range(30):
            _post(url, grant, {"email": _email(), "password": "x"}, headers=ip)
        limited = _post(url, grant, {"email": _email(), "password": "x"}, headers=ip)
        assert (limited.status_code, limited.json()["error_code"]) == (429, "over_request_rate_limit")


def test_email_frequency_and_hourly_budget(postgres: PostgresServer, mailbox: str) -> None:  # noqa: F811
    config = _service(postgres, mailbox, max_frequency=60.0, mailer_autoconfirm=False)
    with _serve(replace(config, rate_limits=RateLimits(email_sent=2))) as url:
        email = _email()
        assert _post(url, "/signup", {"email": email, "password": PASSWORD}).status_code == 200
        again = _post(url, "/resend", {"type": "signup", "email": email})
        assert again.status_code == 429
        assert again.json()["error_code"] == "over_email_send_rate_limit"
        assert re.fullmatch(
            r"For security purposes, you can only request this after \d+ seconds\.", again.json()["msg"]
        )
        assert _post(url, "/signup", {"email": _email(), "password": PASSWORD}).status_code == 200
        spent = _post(url, "/signup", {"email": _email(), "password": PASSWORD})
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
    repo_toml = Path(__file__).resolve().parents[2] / "supabase" / "config.toml"
    assert config_from_env({**base, "AUTH_CONFIG_TOML": str(repo_toml)}).mailer_autoconfirm is False


# --------------------------------------------------------------------------- supabase-py


def test_supabase_py_drives_the_email_flows(confirm: str, auto: str, mailbox: str) -> None:
    client = SyncGoTrueClient(url=confirm, headers={}, auto_refresh_token=False, persist_session=False)
    admin = SyncGoTrueAdminAPI(url=auto, headers=_bearer(_service_jwt()))
    try:
        email = _email()
        signed_up = client.sign_up({"email": email, "password": PASSWORD})
        assert signed_up.session is None
        assert signed_up.user is not None
        assert signed_up.user.identities
        with pytest.raises(AuthApiError) as unconfirmed:
            client.sign_in_with_password({"email": email, "password": PASSWORD})
        assert (unconfirmed.value.status, unconfirmed.value.code) == (400, "email_not_confirmed")
        token_hash = parse_qs(urlsplit(_link(_mail(mailbox, email))).query)["token"][0]
        verified = client.verify_otp({"token_hash": token_hash, "type": "signup"})
        assert verified.session is not None

        client.reset_password_for_email(email, {"redirect_to": "http://127.0.0.1:3000/reset"})
        recovery_hash = parse_qs(urlsplit(_link(_mail(mailbox, email))).query)["token"][0]
        assert client.verify_otp({"token_hash": recovery_hash, "type": "recovery"}).session is not None
        events: list[str] = []
        client.on_auth_state_change(lambda event, _session: events.append(event))
        with pytest.raises(AuthWeakPasswordError) as weak:
            client.update_user({"password": "123"})
        assert (weak.value.status, weak.value.code) == (422, "weak_password")
        updated = client.update_user({"password": "new-password-456"})
        assert updated.user is not None
        assert "USER_UPDATED" in events
        with pytest.raises(AuthApiError) as wrong:
            client.sign_in_with_password({"email": email, "password": PASSWORD})
        assert (wrong.value.status, wrong.value.code) == (400, "invalid_credentials")
        session = client.sign_in_with_password({"email": email, "password": "new-password-456"}).session
        assert session is not None
        first_refresh = session.refresh_token
        client.refresh_session(first_refresh)
        client.sign_out()
        with pytest.raises(AuthApiError) as reused:
            client.refresh_session(first_refresh)
        # supabase_auth's ErrorCode Literal lacks this code, which GoTrue does send.
        reused_code: str | None = reused.value.code
        assert reused_code == "refresh_token_not_found"
        with pytest.raises(AuthApiError) as ended:
            client.get_user(session.access_token)
        assert (ended.value.status, ended.value.code) == (403, "session_not_found")

        created = admin.create_user({"email": _email(), "password": PASSWORD, "email_confirm": True})
        assert created.user.identities
        admin.delete_user(created.user.id)
        with pytest.raises(AuthApiError) as missing:
            admin.get_user_by_id(created.user.id)
        assert (missing.value.status, missing.value.code) == (404, "user_not_found")
    finally:
        client.close()
        admin.close()


def test_supabase_py_sees_refresh_token_reuse(postgres: PostgresServer, mailbox: str) -> None:  # noqa: F811
    with _serve(_service(postgres, mailbox, refresh_token_reuse_interval=0)) as url:
        client = SyncGoTrueClient(url=url, headers={}, auto_refresh_token=False, persist_session=False)
        try:
            first = _signup(url)["refresh_token"]
            second = client.refresh_session(first).session
            assert second is not None
            assert client.refresh_session(second.refresh_token).session is not None
            with pytest.raises(AuthApiError) as reused:
                client.refresh_session(first)
            assert (reused.value.status, reused.value.code) == (400, "refresh_token_already_used")
        finally:
            client.close()
