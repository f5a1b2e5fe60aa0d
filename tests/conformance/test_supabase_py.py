"""supabase-py (the pinned `supabase` package, sync client) against the local gateway.

The same calls as test_supabase_js.py, held to the same answers of hosted Supabase
(tests/conformance/expected.py); supabase-py raises where supabase-js returns errors.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from postgrest import APIError
from supabase_auth.errors import AuthError, AuthWeakPasswordError

from devstack import inbox
from devstack.stack import Stack
from supabase import Client, ClientOptions, create_client
from tests.conformance import expected
from tests.conformance.conftest import AgeToken
from tests.factories import north_american_vin

PASSWORD = "conformance-pass-1"
Events = list[str]

# The clients the running test made, closed after it: each holds keep-alive sockets.
_OPEN: list[Client] = []


def client(stack: Stack, key: str | None = None) -> Client:
    """A client of `stack` with the publishable key (or `key`), its session in memory only."""
    s = stack.settings
    options = ClientOptions(auto_refresh_token=False, persist_session=False)
    made = create_client(s.supabase_url, key or s.publishable_key, options=options)
    _OPEN.append(made)
    return made


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    """Close every client a test made: supabase-py leaves that to its caller."""
    yield
    while _OPEN:
        made = _OPEN.pop()
        made.auth.close()
        if made._postgrest is not None:  # created on first use of .table()
            made._postgrest.aclose()


def fresh_email(tag: str) -> str:
    """An address no test used before."""
    return f"py-{tag}-{uuid.uuid4().hex[:12]}@example.com"


def raised(call: Callable[[], Any]) -> AuthError:
    """The Auth error `call` raises (it must raise one)."""
    with pytest.raises(AuthError) as caught:
        call()
    return caught.value


def answer(error: AuthError) -> expected.AuthAnswer:
    """The (class, code, status) of an Auth error as supabase-py raised it."""
    assert type(error).__name__ == error.name
    return expected.AuthAnswer(error.name, error.code, getattr(error, "status", None))  # type: ignore[arg-type]


def rows(data: list[Any]) -> list[dict[str, Any]]:
    """PostgREST's answer as the JSON objects it is; raises AssertionError if one is not an object."""
    assert all(isinstance(row, dict) for row in data), data
    return data


def recorded(supabase: Client) -> Events:
    """The auth events `supabase` emits from now on."""
    events: Events = []
    supabase.auth.on_auth_state_change(lambda event, _session: events.append(event))
    return events


def token_hash_mailed(stack: Stack, email: str) -> tuple[str, str, str]:
    """(subject, type, token hash) of the newest email to `email` in the stack's inbox."""
    message = inbox.latest_message(stack.settings.inbox_url, email)
    assert message is not None, f"no mail to {email}"
    link = inbox.message_link(message)
    assert link is not None
    query = parse_qs(urlsplit(link).query)
    return message["Subject"], query["type"][0], query["token"][0]


def signed_up(stack: Stack) -> tuple[Client, str]:
    """A client signed in as a new user (the test stack confirms sign-ups at once), and its email."""
    supabase = client(stack)
    email = fresh_email("user")
    supabase.auth.sign_up({"email": email, "password": PASSWORD})
    return supabase, email


def test_sign_up_signs_in_at_once_without_confirmation(stack: Stack) -> None:
    email = fresh_email("signup")
    response = client(stack).auth.sign_up({"email": email, "password": PASSWORD})
    assert response.session is not None
    assert response.session.access_token
    assert response.user is not None
    assert response.user.email == email
    assert [i.provider for i in response.user.identities or []] == ["email"]
    again = raised(lambda: client(stack).auth.sign_up({"email": email, "password": PASSWORD}))
    assert answer(again) == expected.USER_ALREADY_EXISTS


def test_weak_password_is_an_auth_weak_password_error(stack: Stack) -> None:
    error = raised(lambda: client(stack).auth.sign_up({"email": fresh_email("weak"), "password": "123"}))
    assert isinstance(error, AuthWeakPasswordError)
    assert answer(error) == expected.WEAK_PASSWORD
    assert error.reasons == expected.WEAK_PASSWORD_REASONS


def test_sign_in_with_password_and_get_user(stack: Stack) -> None:
    _, email = signed_up(stack)
    wrong = raised(
        lambda: client(stack).auth.sign_in_with_password({"email": email, "password": "not-the-password"})
    )
    assert answer(wrong) == expected.INVALID_CREDENTIALS
    supabase = client(stack)
    response = supabase.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert response.session is not None
    assert (response.session.token_type, response.session.expires_in) == ("bearer", 3600)
    user = supabase.auth.get_user()
    assert user is not None
    assert user.user.email == email
    assert user.user.id == response.session.user.id


def test_refresh_session_rotates_and_detects_reuse(stack: Stack, age_refresh_token: AgeToken) -> None:
    supabase, _ = signed_up(stack)
    session = supabase.auth.get_session()
    assert session is not None
    first = session.refresh_token
    second = supabase.auth.refresh_session().session
    assert second is not None
    assert second.refresh_token != first
    # The parent of the active token gets the active token back (a client that lost the answer).
    again = client(stack).auth.refresh_session(first).session
    assert again is not None
    assert again.refresh_token == second.refresh_token
    third = supabase.auth.refresh_session().session
    assert third is not None
    assert third.refresh_token not in {first, second.refresh_token}
    age_refresh_token(first, 11)
    reused = raised(lambda: client(stack).auth.refresh_session(first))
    assert answer(reused) == expected.REFRESH_TOKEN_ALREADY_USED
    garbage = raised(lambda: client(stack).auth.refresh_session("not-a-token"))
    assert answer(garbage) == expected.REFRESH_TOKEN_NOT_FOUND


def test_update_user_reaches_on_auth_state_change(stack: Stack) -> None:
    supabase, _ = signed_up(stack)
    events = recorded(supabase)
    response = supabase.auth.update_user({"data": {"nickname": "conformance"}})
    assert response is not None
    assert response.user.user_metadata["nickname"] == "conformance"
    assert events[-1] == "USER_UPDATED"


def test_password_recovery_through_the_inbox(stack: Stack) -> None:
    _, email = signed_up(stack)
    client(stack).auth.reset_password_for_email(email)
    subject, kind, token_hash = token_hash_mailed(stack, email)
    assert (subject, kind) == ("Reset your password", "recovery")
    nobody = fresh_email("nobody")
    client(stack).auth.reset_password_for_email(nobody)  # no account enumeration: no error...
    assert inbox.latest_message(stack.settings.inbox_url, nobody) is None  # ...and no mail
    recovering = client(stack)
    events = recorded(recovering)
    verified = recovering.auth.verify_otp({"token_hash": token_hash, "type": "recovery"})
    assert verified.session is not None
    assert verified.user is not None
    assert verified.user.email == email
    recovering.auth.update_user({"password": "conformance-pass-2"})
    assert events == ["PASSWORD_RECOVERY", "USER_UPDATED"]
    signed_in = client(stack).auth.sign_in_with_password({"email": email, "password": "conformance-pass-2"})
    assert signed_in.session is not None
    used = raised(lambda: client(stack).auth.verify_otp({"token_hash": token_hash, "type": "recovery"}))
    assert answer(used) == expected.OTP_EXPIRED


def test_sign_out_ends_the_session(stack: Stack) -> None:
    supabase, _ = signed_up(stack)
    events = recorded(supabase)
    session = supabase.auth.get_session()
    assert session is not None
    supabase.auth.sign_out()
    assert events[-1] == "SIGNED_OUT"
    assert supabase.auth.get_session() is None
    refused = raised(lambda: client(stack).auth.refresh_session(session.refresh_token))
    assert answer(refused) == expected.REFRESH_TOKEN_NOT_FOUND
    gone = raised(lambda: client(stack).auth.get_user(session.access_token))
    assert answer(gone) == expected.SESSION_NOT_FOUND


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        # golang-jwt v5's ParseUnverified: not three segments (a client sending "undefined").
        ("undefined", "token is malformed: token contains an invalid number of segments"),
        ("a.b", "token is malformed: token contains an invalid number of segments"),
        ("a.b.c.d", "token is malformed: token contains an invalid number of segments"),
    ],
)
def test_a_malformed_access_token_is_bad_jwt(stack: Stack, token: str, reason: str) -> None:
    error = raised(lambda: client(stack).auth.get_user(token))
    assert answer(error) == expected.BAD_JWT
    assert error.message == f"invalid JWT: unable to parse or verify signature, {reason}"


def test_admin_users_with_the_secret_key(stack: Stack) -> None:
    admin = client(stack, stack.settings.secret_key).auth.admin
    email = fresh_email("admin")
    created = admin.create_user({"email": email, "password": PASSWORD, "email_confirm": True})
    assert created.user.email_confirmed_at is not None
    assert admin.get_user_by_id(created.user.id).user.email == email
    assert len(admin.list_users(page=1, per_page=1)) == 1
    duplicate = raised(lambda: admin.create_user({"email": email, "password": PASSWORD}))
    assert answer(duplicate) == expected.EMAIL_EXISTS
    admin.delete_user(created.user.id)
    assert answer(raised(lambda: admin.get_user_by_id(created.user.id))) == expected.USER_NOT_FOUND
    not_admin = raised(
        lambda: client(stack).auth.admin.create_user({"email": fresh_email("x"), "password": PASSWORD})
    )
    assert answer(not_admin) == expected.NOT_ADMIN


def rest_error(call: Callable[[], Any]) -> tuple[str | None, str | None]:
    """(SQLSTATE, message) of the PostgREST error `call` raises (supabase-py keeps no HTTP status)."""
    with pytest.raises(APIError) as caught:
        call()
    return caught.value.code, caught.value.message


def test_vehicles_per_role(stack: Stack) -> None:
    demo = stack.settings.demo_password
    member = client(stack)
    signed_member = member.auth.sign_in_with_password({"email": "member@example.com", "password": demo})
    assert signed_member.user is not None
    member_id = signed_member.user.id
    manager = client(stack)
    signed_manager = manager.auth.sign_in_with_password({"email": "manager@example.com", "password": demo})
    assert signed_manager.user is not None
    manager_id = signed_manager.user.id
    vehicle = {"vin": north_american_vin(), "make": "Volvo", "model": "V70", "model_year": 2019}

    inserted = rows(member.table("vehicles").insert(vehicle).execute().data)
    assert inserted[0]["owner_id"] == member_id
    mine = rows(member.table("vehicles").select("id, owner_id").execute().data)
    assert {row["owner_id"] for row in mine} == {member_id}
    assert inserted[0]["id"] in {row["id"] for row in mine}
    everyone = rows(manager.table("vehicles").select("id, owner_id").execute().data)
    assert len({row["owner_id"] for row in everyone}) >= 3  # the three seeded demo users at least
    assert {row["id"] for row in mine} <= {row["id"] for row in everyone}

    anon = client(stack)
    other = {**vehicle, "vin": north_american_vin()}
    assert rest_error(lambda: anon.table("vehicles").select("id").execute()) == (
        expected.ANON_DENIED[1],
        "permission denied for table vehicles",
    )
    assert rest_error(lambda: anon.table("vehicles").insert(other).execute())[0] == expected.ANON_DENIED[1]
    for_other = {**other, "owner_id": manager_id}
    assert rest_error(lambda: member.table("vehicles").insert(for_other).execute()) == (
        expected.RLS_DENIED[1],
        'new row violates row-level security policy for table "vehicles"',
    )


def test_sign_up_with_email_confirmation(confirming_stack: Stack) -> None:
    email = fresh_email("confirm")
    response = client(confirming_stack).auth.sign_up({"email": email, "password": PASSWORD})
    assert response.session is None
    assert response.user is not None
    assert response.user.email_confirmed_at is None
    assert [i.provider for i in response.user.identities or []] == ["email"]
    unconfirmed = raised(
        lambda: client(confirming_stack).auth.sign_in_with_password({"email": email, "password": PASSWORD})
    )
    assert answer(unconfirmed) == expected.EMAIL_NOT_CONFIRMED
    subject, kind, token_hash = token_hash_mailed(confirming_stack, email)
    assert (subject, kind) == ("Confirm your email address", "signup")
    confirming = client(confirming_stack)
    events = recorded(confirming)
    verified = confirming.auth.verify_otp({"token_hash": token_hash, "type": "email"})
    assert verified.session is not None
    assert verified.user is not None
    assert verified.user.email_confirmed_at is not None
    assert events == ["SIGNED_IN"]
    signed_in = client(confirming_stack).auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert signed_in.session is not None
    # A confirmed address signing up again: an obfuscated user, no identities, no error.
    again = client(confirming_stack).auth.sign_up({"email": email, "password": PASSWORD})
    assert again.session is None
    assert again.user is not None
    assert again.user.identities == []
