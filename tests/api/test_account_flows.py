"""The account flows end to end over real HTTP: password change, recovery, confirmation by email.

The session stack confirms addresses at once (confirmation off); a second stack with email
confirmation on (the hosted default) and its local inbox covers sign-up under confirmation.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
import requests

from devstack.stack import Stack, running_stack
from devstack.stack_settings import StackSettings, throwaway_settings
from tests.factories import mint_token
from tests.support import ApiClient, assert_problem, random_ip

PASSWORD = "correct-horse-battery"
NEW_PASSWORD = "a-brand-new-long-password"


@pytest.fixture
def api(api: ApiClient) -> ApiClient:
    """The API client from a fresh client IP: auth routes are limited per IP (ours and Auth's)."""
    return ApiClient(api.base_url, {"X-Forwarded-For": random_ip()})


def fresh_email() -> str:
    return f"flow-{uuid.uuid4().hex[:10]}@example.test"


def bearer(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['access_token']}"}


def login(api: ApiClient, email: str, password: str = PASSWORD) -> requests.Response:
    return api.post("auth/login", json={"email": email, "password": password})


def account(api: ApiClient) -> str:
    """A new account's email (this stack signs it in at once)."""
    email = fresh_email()
    response = api.post("auth/signup", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return email


def session_of(api: ApiClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = login(api, email, password)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def works(api: ApiClient, session: dict[str, Any]) -> bool:
    """True when the session's access token still authenticates (sessions are checked live)."""
    status = api.get("me", headers=bearer(session)).status_code
    assert status in (200, 401), status
    return status == 200


def refreshes(api: ApiClient, session: dict[str, Any]) -> bool:
    status = api.post("auth/refresh", json={"refresh_token": session["refresh_token"]}).status_code
    assert status in (200, 401), status
    return status == 200


def sessions_of(db: psycopg.Connection[Any], email: str) -> int:
    row = db.execute(
        "select count(*) from auth.sessions s join auth.users u on u.id = s.user_id where u.email = %s",
        (email,),
    ).fetchone()
    assert row is not None
    return int(row[0])


# --------------------------------------------------------------------------- password change


def test_a_password_change_revokes_the_other_sessions_and_keeps_the_callers(
    api: ApiClient, db: psycopg.Connection[Any]
) -> None:
    email = account(api)
    mine, other = session_of(api, email), session_of(api, email)
    before = sessions_of(db, email)
    response = api.put(
        "me/password", json={"current_password": PASSWORD, "password": NEW_PASSWORD}, headers=bearer(mine)
    )
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert works(api, mine)
    assert not works(api, other)
    assert not refreshes(api, other)
    # Only the caller's session is left: the other one and the one that checked the current
    # password are gone.
    assert before >= 2
    assert sessions_of(db, email) == 1
    assert refreshes(api, mine)
    assert_problem(login(api, email), 401, "unauthorized")
    assert login(api, email, NEW_PASSWORD).status_code == 200


def test_a_password_change_by_cookie(api: ApiClient) -> None:
    email = account(api)
    answer = login(api, email)
    jar = {name: answer.cookies[name] for name in ("sb-access-token", "sb-refresh-token", "csrf-token")}
    response = api.put(
        "me/password",
        json={"current_password": PASSWORD, "password": NEW_PASSWORD},
        cookies=jar,
        headers={"X-CSRF-Token": answer.json()["csrf_token"]},
    )
    assert response.status_code == 204, response.text
    assert login(api, email, NEW_PASSWORD).status_code == 200


def test_the_same_password_again_is_422(api: ApiClient) -> None:
    mine = session_of(api, account(api))
    response = api.put(
        "me/password", json={"current_password": PASSWORD, "password": PASSWORD}, headers=bearer(mine)
    )
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0] == {
        "field": "password",
        "code": "same_password",
        "message": problem["errors"][0]["message"],
    }


def test_a_wrong_current_password_changes_nothing(api: ApiClient) -> None:
    email = account(api)
    mine, other = session_of(api, email), session_of(api, email)
    response = api.put(
        "me/password",
        json={"current_password": "not-the-password", "password": NEW_PASSWORD},
        headers=bearer(mine),
    )
    assert_problem(response, 403, "current_password_invalid")
    assert works(api, mine)
    assert works(api, other)
    assert login(api, email).status_code == 200


# --------------------------------------------------------------------------- recovery


def recovery_token_hash(db: psycopg.Connection[Any], email: str) -> str:
    """The token hash the recovery email links with (Auth keeps it in auth.users.recovery_token)."""
    row = db.execute("select recovery_token from auth.users where email = %s", (email,)).fetchone()
    assert row is not None
    assert row[0], "no recovery link outstanding"
    return str(row[0])


def test_recover_verify_then_a_new_password_without_the_current_one(
    api: ApiClient, db: psycopg.Connection[Any]
) -> None:
    email = account(api)
    old = session_of(api, email)
    recovered = api.post("auth/recover", json={"email": email})
    assert recovered.status_code == 202, recovered.text
    assert recovered.json() == {}
    assert recovered.headers["Cache-Control"] == "no-store"
    token_hash = recovery_token_hash(db, email)

    verified = api.post("auth/verify", json={"token_hash": token_hash, "type": "recovery"})
    assert verified.status_code == 200, verified.text
    session = verified.json()
    assert session["user"]["email"] == email
    assert set(verified.cookies.keys()) == {"sb-access-token", "sb-refresh-token", "csrf-token"}
    # A link works once.
    assert_problem(
        api.post("auth/verify", json={"token_hash": token_hash, "type": "recovery"}), 401, "unauthorized"
    )

    changed = api.put("me/password", json={"password": NEW_PASSWORD}, headers=bearer(session))
    assert changed.status_code == 204, changed.text
    assert works(api, session)
    assert not works(api, old)
    assert_problem(login(api, email), 401, "unauthorized")
    assert login(api, email, NEW_PASSWORD).status_code == 200


def test_recover_answers_the_same_for_an_unknown_address(api: ApiClient, db: psycopg.Connection[Any]) -> None:
    known, unknown = account(api), fresh_email()
    answers = [api.post("auth/recover", json={"email": address}) for address in (known, unknown)]
    assert [(a.status_code, a.json()) for a in answers] == [(202, {}), (202, {})]
    assert recovery_token_hash(db, known)


def test_recover_is_limited_per_email(api: ApiClient) -> None:
    # 3 an hour per address (docs/api.md §6.1), whatever the client IP.
    email = fresh_email()
    statuses = [
        ApiClient(api.base_url, {"X-Forwarded-For": random_ip()}).post("auth/recover", json={"email": email})
        for _ in range(4)
    ]
    assert [s.status_code for s in statuses[:3]] == [202, 202, 202]
    assert_problem(statuses[3], 429, "rate_limited")


def test_verify_refuses_an_unknown_link(api: ApiClient) -> None:
    for kind in ("signup", "recovery", "magiclink", "email_change", "invite"):
        response = api.post("auth/verify", json={"token_hash": uuid.uuid4().hex * 2, "type": kind})
        assert_problem(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_recovery_window_is_ten_minutes(
    api: ApiClient, stack_settings: StackSettings, db: psycopg.Connection[Any]
) -> None:
    # The amr entry Auth signed says when the session began with the link; 10 minutes later the
    # current password is asked again. (Minted: the test cannot wait ten minutes.)
    email = account(api)
    row = db.execute("select id from auth.users where email = %s", (email,)).fetchone()
    assert row is not None
    stale = mint_token(
        stack_settings,
        str(row[0]),
        email=email,
        amr=[{"method": "otp", "timestamp": int(time.time()) - 601}],
    )
    response = api.put(
        "me/password", json={"password": NEW_PASSWORD}, headers={"Authorization": f"Bearer {stale}"}
    )
    assert_problem(response, 403, "current_password_invalid")
    assert login(api, email).status_code == 200


# --------------------------------------------------------------------------- email confirmation on


@pytest.fixture(scope="module")
def confirming_stack() -> Iterator[Stack]:
    """A second local stack (own ports, database and inbox) whose Auth confirms email, as hosted."""
    with running_stack(throwaway_settings("api-test-confirm-", auth_email_confirmations=True)) as running:
        yield running


@pytest.fixture
def capi(confirming_stack: Stack) -> ApiClient:
    return ApiClient(confirming_stack.settings.api_url, {"X-Forwarded-For": random_ip()})


def inbox_link(stack: Stack, email: str) -> str | None:
    """The link of the newest email to `email` in the stack's inbox, or None."""
    from devstack.inbox import latest_message, message_link

    message = latest_message(stack.settings.inbox_url, email)
    return None if message is None else message_link(message)


def link_token(link: str) -> tuple[str, str]:
    """(token_hash, type) of an Auth email link (GoTrue's ConfirmationURL: /verify?token=…&type=…)."""
    query = parse_qs(urlsplit(link).query)
    return query["token"][0], query["type"][0]


def test_signup_under_confirmation_then_the_emailed_link(confirming_stack: Stack, capi: ApiClient) -> None:
    email = fresh_email()
    response = capi.post(
        "auth/signup",
        json={"email": email, "password": PASSWORD, "redirect_to": "http://localhost:5173/welcome"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body == {
        "user": {"id": body["user"]["id"], "email": email},
        "session": None,
        "confirmation_sent": True,
    }
    assert "Set-Cookie" not in response.headers

    # Not confirmed yet: the right password is 403, a wrong one the generic 401.
    assert_problem(login(capi, email), 403, "email_not_confirmed")
    assert_problem(login(capi, email, "not-the-password"), 401, "unauthorized")

    link = inbox_link(confirming_stack, email)
    assert link is not None
    assert "redirect_to=http" in link
    token_hash, kind = link_token(link)
    assert kind == "signup"
    verified = capi.post("auth/verify", json={"token_hash": token_hash, "type": "signup"})
    assert verified.status_code == 200, verified.text
    assert verified.json()["user"] == {"id": body["user"]["id"], "email": email, "role": "member"}
    assert login(capi, email).status_code == 200


def test_signup_of_a_registered_address_looks_the_same(confirming_stack: Stack, capi: ApiClient) -> None:
    email = fresh_email()
    first = capi.post("auth/signup", json={"email": email, "password": PASSWORD})
    assert first.status_code == 201, first.text
    link = inbox_link(confirming_stack, email)
    assert link is not None
    token_hash, _ = link_token(link)
    assert capi.post("auth/verify", json={"token_hash": token_hash, "type": "signup"}).status_code == 200

    again = capi.post("auth/signup", json={"email": email, "password": "another-long-password"})
    assert again.status_code == 201, again.text
    body = again.json()
    assert set(body) == {"user", "session", "confirmation_sent"}
    assert (body["session"], body["confirmation_sent"], body["user"]["email"]) == (None, True, email)
    assert body["user"]["id"] != first.json()["user"]["id"]  # Auth's obfuscated user
    # No email reveals it either: the newest message is still the confirmation.
    assert inbox_link(confirming_stack, email) == link
    assert login(capi, email).status_code == 200


def test_recovery_through_the_inbox(confirming_stack: Stack, capi: ApiClient) -> None:
    email = fresh_email()
    assert capi.post("auth/signup", json={"email": email, "password": PASSWORD}).status_code == 201
    confirmation = inbox_link(confirming_stack, email)
    assert confirmation is not None
    assert (
        capi.post(
            "auth/verify", json={"token_hash": link_token(confirmation)[0], "type": "signup"}
        ).status_code
        == 200
    )

    assert capi.post("auth/recover", json={"email": email}).status_code == 202
    link = inbox_link(confirming_stack, email)
    assert link is not None
    assert link != confirmation
    token_hash, kind = link_token(link)
    assert kind == "recovery"
    session = capi.post("auth/verify", json={"token_hash": token_hash, "type": "recovery"}).json()
    changed = capi.put("me/password", json={"password": NEW_PASSWORD}, headers=bearer(session))
    assert changed.status_code == 204, changed.text
    assert login(capi, email, NEW_PASSWORD).status_code == 200
