"""Email flows with a real inbox: confirmation, verify, recovery, PUT /user, email change, resend, invites."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from supabase_auth import SyncGoTrueAdminAPI, SyncGoTrueClient
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from devstack.postgres import PostgresServer
from tests.devstack.auth.harness import (
    CODE,
    PASSWORD,
    SITE,
    TIMEOUT,
    admin_headers,
    bearer,
    follow_link,
    get_user,
    latest_mail,
    mail_config,
    mail_count,
    mail_link,
    post_json,
    put_user,
    random_email,
    redirect_fragment,
    service_jwt,
    serving,
    sign_in_with_password,
    sign_up,
)

# --------------------------------------------------------------------------- sign-up with confirmation


def test_signup_under_confirmation_sends_a_link_that_signs_in(confirm: str, mailbox: str) -> None:
    email = random_email()
    created = post_json(confirm, "/signup", {"email": email, "password": PASSWORD, "data": {"name": "Ada"}})
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

    refused = sign_in_with_password(confirm, email)
    assert (refused.status_code, refused.json()["error_code"]) == (400, "email_not_confirmed")

    message = latest_mail(mailbox, email)
    assert message["Subject"] == "Confirm your email address"
    link = mail_link(message)
    assert link.startswith("http://127.0.0.1:54321/auth/v1/verify?token=")
    assert parse_qs(urlsplit(link).query)["type"] == ["signup"]
    landed = follow_link(confirm, link)
    assert landed.headers["Location"].startswith(f"{SITE}#")
    fragment = redirect_fragment(landed)
    assert fragment["type"] == "signup"
    assert fragment["token_type"] == "bearer"
    assert fragment["sb"] == ""
    me = get_user(confirm, fragment["access_token"]).json()
    assert me["email_confirmed_at"]
    assert me["identities"][0]["identity_data"]["email_verified"] is True
    assert sign_in_with_password(confirm, email).status_code == 200

    # A used link is gone: GoTrue redirects with the error in the fragment.
    again = redirect_fragment(follow_link(confirm, link))
    assert again == {
        "error": "access_denied",
        "error_code": "otp_expired",
        "error_description": "Email link is invalid or has expired",
        "sb": "",
    }


def test_repeated_signups_under_confirmation_do_not_reveal_accounts(confirm: str, mailbox: str) -> None:
    email = random_email()
    first = post_json(confirm, "/signup", {"email": email, "password": PASSWORD}).json()
    # Unconfirmed: the same user again (identities present) and a fresh confirmation mail.
    second = post_json(confirm, "/signup", {"email": email, "password": "another-password"}).json()
    assert second["id"] == first["id"]
    assert len(second["identities"]) == 1
    assert mail_count(mailbox, email) == 2

    token = redirect_fragment(follow_link(confirm, mail_link(latest_mail(mailbox, email))))["access_token"]
    assert get_user(confirm, token).status_code == 200
    # Confirmed: GoTrue's obfuscated user, `identities: []`, and no mail.
    third = post_json(confirm, "/signup", {"email": email, "password": PASSWORD, "data": {"x": 1}})
    assert third.status_code == 200
    body = third.json()
    assert body["identities"] == []
    assert body["id"] != first["id"]
    assert body["user_metadata"] == {"x": 1}
    assert body["role"] == ""
    assert "access_token" not in body
    assert mail_count(mailbox, email) == 2
    # The password of the first sign-up still holds (GoTrue never updates an unconfirmed claimant).
    assert sign_in_with_password(confirm, email).status_code == 200


def test_existing_email_without_confirmation_is_user_already_exists(auto: str) -> None:
    session = sign_up(auto)
    assert session["user"]["identities"][0]["provider"] == "email"
    again = post_json(auto, "/signup", {"email": session["user"]["email"], "password": PASSWORD})
    assert (again.status_code, again.json()["error_code"]) == (422, "user_already_exists")


def test_post_verify_with_token_hash_or_email_code(confirm: str, mailbox: str) -> None:
    email = random_email()
    post_json(confirm, "/signup", {"email": email, "password": PASSWORD})
    token_hash = parse_qs(urlsplit(mail_link(latest_mail(mailbox, email))).query)["token"][0]
    mismatched = post_json(confirm, "/verify", {"type": "recovery", "token_hash": token_hash})
    assert (mismatched.status_code, mismatched.json()["error_code"]) == (403, "otp_expired")
    verified = post_json(confirm, "/verify", {"type": "signup", "token_hash": token_hash})
    assert verified.status_code == 200
    assert verified.json()["user"]["email_confirmed_at"]
    assert verified.json()["refresh_token"]

    # The emailed code works with the address (type "email" covers sign-up and magic link codes).
    post_json(confirm, "/otp", {"email": email})
    code = CODE.search(latest_mail(mailbox, email)["Text"])
    assert code is not None
    wrong = post_json(confirm, "/verify", {"type": "email", "email": email, "token": "000000"})
    assert wrong.json() == {
        "code": 403,
        "error_code": "otp_expired",
        "msg": "Token has expired or is invalid",
    }
    assert (
        post_json(confirm, "/verify", {"type": "email", "email": email, "token": code[1]}).status_code == 200
    )


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
    response = post_json(confirm, "/verify", body)
    assert (response.status_code, response.json()["error_code"]) == (status, error_code)


def test_verify_link_honours_allowed_redirects_only(confirm: str, mailbox: str) -> None:
    email = random_email()
    redirect = "http://127.0.0.1:5173/welcome"
    post_json(confirm, f"/signup?redirect_to={redirect}", {"email": email, "password": PASSWORD})
    link = mail_link(latest_mail(mailbox, email))
    assert parse_qs(urlsplit(link).query)["redirect_to"] == [redirect]
    assert follow_link(confirm, link).headers["Location"].startswith(f"{redirect}#access_token=")
    other = random_email()
    post_json(confirm, "/signup?redirect_to=https://evil.example/x", {"email": other, "password": PASSWORD})
    assert parse_qs(urlsplit(mail_link(latest_mail(mailbox, other))).query)["redirect_to"] == [SITE]


# --------------------------------------------------------------------------- recovery, PUT /user


def test_recover_then_set_a_new_password(auto: str, mailbox: str) -> None:
    unknown = random_email()
    nobody = post_json(auto, "/recover", {"email": unknown})
    assert (nobody.status_code, nobody.json()) == (200, {})
    assert mail_count(mailbox, unknown) == 0
    missing = post_json(auto, "/recover", {})
    assert (missing.status_code, missing.json()["error_code"]) == (400, "validation_failed")

    session = sign_up(auto)
    email = session["user"]["email"]
    assert post_json(auto, "/recover", {"email": email.upper()}).json() == {}
    message = latest_mail(mailbox, email)
    assert message["Subject"] == "Reset your password"
    fragment = redirect_fragment(follow_link(auto, mail_link(message)))
    assert fragment["type"] == "recovery"
    token = fragment["access_token"]

    weak = put_user(auto, token, {"password": "123"})
    assert (weak.status_code, weak.json()["error_code"]) == (422, "weak_password")
    same = put_user(auto, token, {"password": PASSWORD})
    assert (same.status_code, same.json()["error_code"]) == (422, "same_password")
    changed = put_user(auto, token, {"password": "a-brand-new-password"})
    assert changed.status_code == 200
    assert changed.json()["email"] == email
    assert changed.json()["identities"]
    # The recovery session stays; the sign-up session ended with the password change.
    assert get_user(auto, token).status_code == 200
    assert get_user(auto, session["access_token"]).json()["error_code"] == "session_not_found"
    old = sign_in_with_password(auto, email)
    assert (old.status_code, old.json()["error_code"]) == (400, "invalid_credentials")
    assert sign_in_with_password(auto, email, "a-brand-new-password").status_code == 200


def test_put_user_updates_metadata_and_rejects_what_goTrue_rejects(auto: str) -> None:
    session = sign_up(auto, data={"a": 1, "b": 2})
    token = session["access_token"]
    updated = put_user(auto, token, {"data": {"b": None, "c": 3}})
    assert updated.status_code == 200
    assert updated.json()["user_metadata"] == {"a": 1, "c": 3}
    forbidden = put_user(auto, token, {"app_metadata": {"role": "admin"}})
    assert (forbidden.status_code, forbidden.json()["error_code"]) == (403, "not_admin")
    taken = put_user(auto, token, {"email": sign_up(auto)["user"]["email"]})
    assert (taken.status_code, taken.json()["error_code"]) == (422, "email_exists")
    bad = put_user(auto, token, {"email": "not-an-email"})
    assert (bad.status_code, bad.json()["error_code"]) == (400, "validation_failed")
    anonymous = requests.put(f"{auto}/user", json={}, timeout=TIMEOUT)
    assert (anonymous.status_code, anonymous.json()["error_code"]) == (401, "no_authorization")


def test_email_change_needs_both_links_with_secure_change(confirm: str, auto: str, mailbox: str) -> None:
    session = sign_up(auto)
    old, new = session["user"]["email"], random_email()
    pending = put_user(confirm, session["access_token"], {"email": new})
    assert pending.status_code == 200
    assert pending.json()["email"] == old
    assert pending.json()["new_email"] == new
    to_new, to_old = latest_mail(mailbox, new), latest_mail(mailbox, old)
    assert to_new["Subject"] == to_old["Subject"] == "Confirm your new email address"
    first = redirect_fragment(follow_link(confirm, mail_link(to_old)))
    assert first == {
        "message": "Confirmation link accepted. Please proceed to confirm link sent to the other email",
        "sb": "",
    }
    done = redirect_fragment(follow_link(confirm, mail_link(to_new)))
    assert done["type"] == "email_change"
    me = get_user(confirm, done["access_token"]).json()
    assert me["email"] == new
    assert "new_email" not in me
    assert me["identities"][0]["identity_data"]["email"] == new
    assert sign_in_with_password(confirm, new).status_code == 200


def test_resend_and_magic_links(confirm: str, auto: str, mailbox: str) -> None:
    email = random_email()
    post_json(confirm, "/signup", {"email": email, "password": PASSWORD})
    assert post_json(confirm, "/resend", {"type": "signup", "email": email}).json() == {}
    assert mail_count(mailbox, email) == 2
    bad = post_json(confirm, "/resend", {"type": "recovery", "email": email})
    assert (bad.status_code, bad.json()["error_code"]) == (400, "validation_failed")
    confirmed = sign_up(auto)["user"]["email"]
    assert post_json(confirm, "/resend", {"type": "signup", "email": confirmed}).json() == {}
    assert mail_count(mailbox, confirmed) == 0

    assert post_json(auto, "/otp", {"email": confirmed}).json() == {}
    message = latest_mail(mailbox, confirmed)
    assert message["Subject"] == "Your sign-in link"
    assert redirect_fragment(follow_link(auto, mail_link(message)))["type"] == "magiclink"
    refused = post_json(auto, "/otp", {"email": random_email(), "create_user": False})
    assert (refused.status_code, refused.json()["error_code"]) == (422, "otp_disabled")
    fresh = random_email()
    assert post_json(auto, "/otp", {"email": fresh}).json() == {}
    assert latest_mail(mailbox, fresh)["Subject"] == "Your sign-in link"
    phone = post_json(auto, "/otp", {"phone": "+15550000000"})
    assert (phone.status_code, phone.json()["error_code"]) == (400, "phone_provider_disabled")


# --------------------------------------------------------------------------- admin


def test_admin_create_get_delete_and_invite(auto: str, mailbox: str) -> None:
    email = random_email()
    created = post_json(
        auto,
        "/admin/users",
        {"email": email, "password": PASSWORD, "email_confirm": True, "user_metadata": {"n": 1}},
        headers=admin_headers(),
    )
    assert created.status_code == 200
    user = created.json()
    assert user["email_confirmed_at"]
    assert user["user_metadata"] == {"n": 1}
    assert [i["provider"] for i in user["identities"]] == ["email"]
    assert mail_count(mailbox, email) == 0
    assert sign_in_with_password(auto, email).status_code == 200
    duplicate = post_json(auto, "/admin/users", {"email": email}, headers=admin_headers())
    assert (duplicate.status_code, duplicate.json()["error_code"]) == (422, "email_exists")
    member = post_json(
        auto, "/admin/users", {"email": random_email()}, headers=bearer(sign_up(auto)["access_token"])
    )
    assert (member.status_code, member.json()["error_code"]) == (403, "not_admin")

    url = f"{auto}/admin/users/{user['id']}"
    fetched = requests.get(url, headers=admin_headers(), timeout=TIMEOUT).json()
    assert [i["identity_id"] for i in fetched["identities"]] == [i["identity_id"] for i in user["identities"]]
    deleted = requests.delete(url, headers=admin_headers(), timeout=TIMEOUT)
    assert (deleted.status_code, deleted.json()) == (200, {})
    gone = requests.get(url, headers=admin_headers(), timeout=TIMEOUT)
    assert (gone.status_code, gone.json()["error_code"]) == (404, "user_not_found")

    invited = random_email()
    response = post_json(auto, "/invite", {"email": invited}, headers=admin_headers())
    assert response.status_code == 200
    assert response.json()["invited_at"]
    message = latest_mail(mailbox, invited)
    assert message["Subject"] == "You've been invited"
    fragment = redirect_fragment(follow_link(auto, mail_link(message)))
    assert fragment["type"] == "invite"
    assert put_user(auto, fragment["access_token"], {"password": "chosen-password"}).status_code == 200
    assert sign_in_with_password(auto, invited, "chosen-password").status_code == 200


# --------------------------------------------------------------------------- supabase-py


def test_supabase_py_drives_the_email_flows(confirm: str, auto: str, mailbox: str) -> None:
    client = SyncGoTrueClient(url=confirm, headers={}, auto_refresh_token=False, persist_session=False)
    admin = SyncGoTrueAdminAPI(url=auto, headers=bearer(service_jwt()))
    try:
        email = random_email()
        signed_up = client.sign_up({"email": email, "password": PASSWORD})
        assert signed_up.session is None
        assert signed_up.user is not None
        assert signed_up.user.identities
        with pytest.raises(AuthApiError) as unconfirmed:
            client.sign_in_with_password({"email": email, "password": PASSWORD})
        assert (unconfirmed.value.status, unconfirmed.value.code) == (400, "email_not_confirmed")
        token_hash = parse_qs(urlsplit(mail_link(latest_mail(mailbox, email))).query)["token"][0]
        verified = client.verify_otp({"token_hash": token_hash, "type": "signup"})
        assert verified.session is not None

        client.reset_password_for_email(email, {"redirect_to": "http://127.0.0.1:3000/reset"})
        recovery_hash = parse_qs(urlsplit(mail_link(latest_mail(mailbox, email))).query)["token"][0]
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
        reused_code: str | None = reused.value.code  # a code supabase_auth's Literal lacks
        assert reused_code == "refresh_token_not_found"
        with pytest.raises(AuthApiError) as ended:
            client.get_user(session.access_token)
        assert (ended.value.status, ended.value.code) == (403, "session_not_found")

        created = admin.create_user({"email": random_email(), "password": PASSWORD, "email_confirm": True})
        assert created.user.identities
        admin.delete_user(created.user.id)
        with pytest.raises(AuthApiError) as missing:
            admin.get_user_by_id(created.user.id)
        assert (missing.value.status, missing.value.code) == (404, "user_not_found")
    finally:
        client.close()
        admin.close()


def test_supabase_py_sees_refresh_token_reuse(postgres: PostgresServer, mailbox: str) -> None:
    with serving(mail_config(postgres, mailbox, refresh_token_reuse_interval=0)) as url:
        client = SyncGoTrueClient(url=url, headers={}, auto_refresh_token=False, persist_session=False)
        try:
            first = sign_up(url)["refresh_token"]
            second = client.refresh_session(first).session
            assert second is not None
            assert client.refresh_session(second.refresh_token).session is not None
            with pytest.raises(AuthApiError) as reused:
                client.refresh_session(first)
            assert (reused.value.status, reused.value.code) == (400, "refresh_token_already_used")
        finally:
            client.close()
