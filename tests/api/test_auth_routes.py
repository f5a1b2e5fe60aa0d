"""Sign-up, login, refresh, logout, cookies and CSRF over real HTTP against the local Auth."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import jwt
import psycopg
import pytest
import requests

from devstack.stack import Stack
from devstack.stack_settings import StackSettings
from tests.factories import create_user, mint_token
from tests.support import ApiClient, Gateway, assert_problem, random_ip

PASSWORD = "correct-horse-battery"


@pytest.fixture
def api(api: ApiClient) -> ApiClient:
    """The API client from a fresh client IP: auth routes are limited per IP."""
    return ApiClient(api.base_url, {"X-Forwarded-For": random_ip()})


def fresh_email() -> str:
    return f"person-{uuid.uuid4().hex[:10]}@example.test"


def signup(api: ApiClient, email: str, password: str = PASSWORD) -> requests.Response:
    return api.post("auth/signup", json={"email": email, "password": password})


def login(api: ApiClient, email: str, password: str = PASSWORD) -> requests.Response:
    return api.post("auth/login", json={"email": email, "password": password})


def claims(token: str) -> dict[str, Any]:
    """An access token's claims (unverified: the API verified it)."""
    return dict(jwt.decode(token, options={"verify_signature": False}))


def cookie_values(response: requests.Response) -> dict[str, str]:
    """The values of the cookies a response sets."""
    return {name: morsel.value for name, morsel in set_cookies(response).items()}


def set_cookies(response: requests.Response) -> dict[str, Any]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.raw.headers.getlist("Set-Cookie"):
        jar.load(header)
    return {name: jar[name] for name in jar}


def test_signup_creates_a_member_with_a_session(api: ApiClient) -> None:
    email = fresh_email()
    response = signup(api, email.upper())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["user"]["email"] == email
    session = body["session"]
    # This stack confirms addresses at once (confirmation off): no email, a session now.
    assert body["confirmation_sent"] is False
    assert session["token_type"] == "bearer"
    assert session["user"] == {"id": body["user"]["id"], "email": email, "role": "member"}
    assert response.headers["Cache-Control"] == "no-store"
    me = api.get("me", headers={"Authorization": f"Bearer {session['access_token']}"})
    assert me.json()["role"] == "member"


def test_signup_rules(api: ApiClient) -> None:
    email = fresh_email()
    for password in ("short", "x" * 73):
        body = assert_problem(signup(api, email, password), 422, "validation_error")
        assert body["errors"][0]["field"] == "password"
    assert_problem(signup(api, "not-an-email"), 422, "validation_error")
    assert signup(api, email).status_code == 201
    assert_problem(signup(api, email), 409, "conflict")


def test_login_sets_session_and_cookies(api: ApiClient) -> None:
    email = fresh_email()
    signup(api, email)
    response = login(api, email)
    assert response.status_code == 200
    session = response.json()
    assert set(session) == {
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "expires_at",
        "csrf_token",
        "user",
    }
    assert response.headers["Cache-Control"] == "no-store"
    cookies = set_cookies(response)
    access, refresh, csrf = cookies["sb-access-token"], cookies["sb-refresh-token"], cookies["csrf-token"]
    assert access.value == session["access_token"]
    assert refresh.value == f"{claims(session['access_token'])['session_id']}.{session['refresh_token']}"
    assert csrf.value == session["csrf_token"]
    assert (access["httponly"], access["samesite"], access["path"]) == (True, "Lax", "/")
    assert (refresh["httponly"], refresh["samesite"], refresh["path"]) == (True, "Strict", "/api/auth")
    assert (csrf["httponly"], csrf["samesite"], csrf["path"]) == ("", "Lax", "/")
    # Plain http on 127.0.0.1: not Secure. Behind https (Vercel): Secure.
    assert not access["secure"]
    proxied = api.post(
        "auth/login", json={"email": email, "password": PASSWORD}, headers={"X-Forwarded-Proto": "https"}
    )
    assert all(morsel["secure"] for morsel in set_cookies(proxied).values())


def test_wrong_password_and_unknown_email_look_the_same(api: ApiClient) -> None:
    email = fresh_email()
    signup(api, email)
    wrong = login(api, email, "wrong-password-123")
    unknown = login(api, fresh_email())
    a, b = assert_problem(wrong, 401, "unauthorized"), assert_problem(unknown, 401, "unauthorized")
    a.pop("request_id")
    b.pop("request_id")
    assert a == b


def test_an_account_under_an_older_shorter_password_policy_still_signs_in(
    api: ApiClient, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    # Sign-up's 8-72 rule is sign-up's: login takes the password the account was made with.
    user = create_user(db, stack_settings, password="short")
    response = login(api, " " + user.email.upper() + " ", "short")
    assert response.status_code == 200, response.text
    assert response.json()["user"] == {"id": user.id, "email": user.email, "role": "member"}
    assert_problem(login(api, user.email, "shorT"), 401, "unauthorized")


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("{known}", "short"),
        ("{known}", "x"),
        ("{known}", "x" * 73),
        ("{known}", "é" * 1024),
        ("{known}", "wrong\x00password"),
        ("not-an-email", PASSWORD),
        ("no-dot@localhost", PASSWORD),
        ("@", PASSWORD),
        ("   ", PASSWORD),
        ("\t", "short"),
        ("nul\x00@example.test", PASSWORD),
        ("x" * 320, PASSWORD),
        ("ünïcødé@例え.テスト", PASSWORD),
        ("' or 1=1 --", PASSWORD),
    ],
    ids=lambda value: value if len(value) < 20 else value[:8] + f"…({len(value)})",
)
def test_any_wrong_pair_of_strings_is_the_generic_401(
    api: ApiClient, db: psycopg.Connection[Any], stack_settings: StackSettings, email: str, password: str
) -> None:
    known = create_user(db, stack_settings, password=PASSWORD)
    reference = assert_problem(login(api, known.email, "wrong-password-123"), 401, "unauthorized")
    response = login(api, email.replace("{known}", known.email), password)
    body = assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "errors" not in body
    for answer in (body, reference):
        answer.pop("request_id")
    assert body == reference


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"password": PASSWORD}, "email", "required"),
        ({"email": "a@example.test"}, "password", "required"),
        ({"email": 1, "password": PASSWORD}, "email", "type"),
        ({"email": "a@example.test", "password": None}, "password", "type"),
        ({"email": "a@example.test", "password": ["x"]}, "password", "type"),
        ({"email": "", "password": PASSWORD}, "email", "too_short"),
        ({"email": "a@example.test", "password": ""}, "password", "too_short"),
        ({"email": "x" * 321, "password": PASSWORD}, "email", "too_long"),
        ({"email": "a@example.test", "password": "x" * 1025}, "password", "too_long"),
        ({"email": "a@example.test", "password": PASSWORD, "remember": True}, "remember", "unknown_field"),
    ],
)
def test_login_bodies_that_are_not_two_strings_are_422(
    api: ApiClient, body: dict[str, Any], field: str, code: str
) -> None:
    problem = assert_problem(api.post("auth/login", json=body), 422, "validation_error")
    assert [(entry["field"], entry["code"]) for entry in problem["errors"]] == [(field, code)]


def test_cookie_session_works_and_needs_csrf_for_writes(api: ApiClient) -> None:
    email = fresh_email()
    signup(api, email)
    cookies = {name: morsel.value for name, morsel in set_cookies(login(api, email)).items()}
    jar = {"sb-access-token": cookies["sb-access-token"], "csrf-token": cookies["csrf-token"]}
    assert api.get("me", cookies=jar).status_code == 200
    body = {
        "vin": "WVWZZZ1JZXW" + uuid.uuid4().hex[:6].upper(),
        "make": "VW",
        "model": "Golf",
        "model_year": 2020,
    }
    assert_problem(api.post("vehicles", json=body, cookies=jar), 403, "csrf_failed")
    assert_problem(
        api.post("vehicles", json=body, cookies=jar, headers={"X-CSRF-Token": "wrong"}), 403, "csrf_failed"
    )
    ok = api.post("vehicles", json=body, cookies=jar, headers={"X-CSRF-Token": cookies["csrf-token"]})
    assert ok.status_code == 201, ok.text


def test_header_wins_over_cookie(api: ApiClient) -> None:
    email = fresh_email()
    signup(api, email)
    jar = {"sb-access-token": set_cookies(login(api, email))["sb-access-token"].value}
    assert_problem(
        api.get("me", cookies=jar, headers={"Authorization": "Bearer broken"}), 401, "unauthorized"
    )


def test_refresh_from_body_rotates(api: ApiClient, db: psycopg.Connection[Any]) -> None:
    email = fresh_email()
    signup(api, email)
    first = login(api, email).json()
    response = api.post("auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200, response.text
    second = response.json()["refresh_token"]
    assert second != first["refresh_token"]
    assert "Set-Cookie" not in response.headers
    # A client that lost the answer gets the same token again (Supabase Auth's rule)...
    again = api.post("auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] == second
    # ...but a token two rotations old, past the 10 s reuse interval, ends the session.
    assert api.post("auth/refresh", json={"refresh_token": second}).status_code == 200
    db.execute(
        "update auth.refresh_tokens set updated_at = updated_at - interval '11 seconds' where token = %s",
        (first["refresh_token"],),
    )
    assert_problem(
        api.post("auth/refresh", json={"refresh_token": first["refresh_token"]}), 401, "unauthorized"
    )
    assert_problem(api.post("auth/refresh", json={"refresh_token": "garbage"}), 401, "unauthorized")
    # Not a token Auth could have issued (found by fuzzing: a NUL made Auth's lookup fail, a 502).
    for impossible in ("a\x00b", "tok\u00e9n", "two words\n"):
        assert_problem(api.post("auth/refresh", json={"refresh_token": impossible}), 401, "unauthorized")


def test_refresh_from_cookie_needs_csrf(api: ApiClient) -> None:
    email = fresh_email()
    signup(api, email)
    cookies = {name: morsel.value for name, morsel in set_cookies(login(api, email)).items()}
    assert_problem(api.post("auth/refresh", cookies=cookies), 403, "csrf_failed")
    response = api.post("auth/refresh", cookies=cookies, headers={"X-CSRF-Token": cookies["csrf-token"]})
    assert response.status_code == 200, response.text
    assert set(set_cookies(response)) == {"sb-access-token", "sb-refresh-token", "csrf-token"}
    assert_problem(api.post("auth/refresh"), 401, "unauthorized")


def test_logout_revokes_and_clears_cookies(api: ApiClient) -> None:
    email = fresh_email()
    signup(api, email)
    session = login(api, email).json()
    response = api.post("auth/logout", headers={"Authorization": f"Bearer {session['access_token']}"})
    assert response.status_code == 204, response.text
    cleared = set_cookies(response)
    assert set(cleared) == {"sb-access-token", "sb-refresh-token", "csrf-token"}
    assert all(morsel["max-age"] == "0" for morsel in cleared.values())
    assert_problem(
        api.post("auth/refresh", json={"refresh_token": session["refresh_token"]}), 401, "unauthorized"
    )


def test_logout_by_cookie_needs_csrf(api: ApiClient) -> None:
    email = fresh_email()
    signup(api, email)
    cookies = {name: morsel.value for name, morsel in set_cookies(login(api, email)).items()}
    assert_problem(api.post("auth/logout", cookies=cookies), 403, "csrf_failed")
    assert (
        api.post("auth/logout", cookies=cookies, headers={"X-CSRF-Token": cookies["csrf-token"]}).status_code
        == 204
    )


def test_auth_down_is_503(api: ApiClient, gateway: Gateway) -> None:
    gateway.fault("/auth/v1", "down")
    response = login(api, fresh_email())
    assert_problem(response, 503, "service_unavailable")
    assert int(response.headers["Retry-After"]) >= 1


# --------------------------------------------------------------------------- CSRF bound to the session


def new_vehicle() -> dict[str, Any]:
    return {
        "vin": "WVWZZZ1JZXW" + uuid.uuid4().hex[:6].upper(),
        "make": "VW",
        "model": "Golf",
        "model_year": 2020,
    }


def test_an_attacker_chosen_csrf_pair_is_refused(api: ApiClient) -> None:
    # Double submit without binding accepted any cookie/header pair that matched, so anyone able
    # to plant a cookie (a sibling subdomain) chose the pair.
    email = fresh_email()
    signup(api, email)
    access = cookie_values(login(api, email))["sb-access-token"]
    chosen = "attacker-chosen-value"
    jar = {"sb-access-token": access, "csrf-token": chosen}
    response = api.post("vehicles", json=new_vehicle(), cookies=jar, headers={"X-CSRF-Token": chosen})
    assert_problem(response, 403, "csrf_failed")
    refresh = api.post("auth/refresh", cookies={"csrf-token": chosen}, headers={"X-CSRF-Token": chosen})
    assert refresh.status_code in (401, 403)


def test_a_csrf_token_from_another_session_is_refused(api: ApiClient) -> None:
    email = fresh_email()
    signup(api, email)
    mine, theirs = cookie_values(login(api, email)), cookie_values(login(api, fresh_login(api)))
    assert mine["csrf-token"] != theirs["csrf-token"]
    foreign = theirs["csrf-token"]
    for path, jar, body in (
        ("vehicles", {"sb-access-token": mine["sb-access-token"], "csrf-token": foreign}, new_vehicle()),
        ("auth/refresh", {"sb-refresh-token": mine["sb-refresh-token"], "csrf-token": foreign}, None),
        ("auth/logout", {"sb-access-token": mine["sb-access-token"], "csrf-token": foreign}, None),
        ("auth/logout", {"sb-refresh-token": mine["sb-refresh-token"], "csrf-token": foreign}, None),
    ):
        response = api.post(path, json=body, cookies=jar, headers={"X-CSRF-Token": foreign})
        assert_problem(response, 403, "csrf_failed")
    # The session's own token still works: nothing above reached Auth.
    own = {"X-CSRF-Token": mine["csrf-token"]}
    assert api.post("auth/refresh", cookies=mine, headers=own).status_code == 200


def fresh_login(api: ApiClient) -> str:
    """A second account's email, signed up."""
    email = fresh_email()
    signup(api, email)
    return email


def test_the_csrf_token_is_the_sessions_and_survives_a_refresh(api: ApiClient) -> None:
    email = fresh_email()
    signup(api, email)
    first = login(api, email)
    session, jar = first.json(), cookie_values(first)
    refreshed = api.post("auth/refresh", cookies=jar, headers={"X-CSRF-Token": session["csrf_token"]})
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["csrf_token"] == session["csrf_token"]
    assert cookie_values(refreshed)["csrf-token"] == session["csrf_token"]
    by_body = api.post("auth/refresh", json={"refresh_token": refreshed.json()["refresh_token"]})
    assert by_body.json()["csrf_token"] == session["csrf_token"]


FRONTEND = "https://app.example.test"


@pytest.fixture(scope="module")
def api_with_frontend(stack: Stack, repo_root: Path) -> Iterator[ApiClient]:
    """A second API dev server on the same stack, deployed with ALLOWED_ORIGINS=FRONTEND."""
    env = {**stack.settings.api_environment(), "ALLOWED_ORIGINS": FRONTEND}
    server = subprocess.Popen(
        [sys.executable, "-m", "devstack.devserver", "--root", str(repo_root), "--port", "0"],
        cwd=repo_root,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("SUPABASE_")}, **env},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # "API dev server on <url>" once it listens
        assert line.startswith("API dev server on "), line
        yield ApiClient(line.removeprefix("API dev server on ").strip(), {"X-Forwarded-For": random_ip()})
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()


def test_a_frontend_on_another_host_uses_the_session_bodys_csrf_token(api_with_frontend: ApiClient) -> None:
    # app.example.test calling the API's host: the browser sends the API's cookies (same site,
    # credentials: "include") but the page cannot read csrf-token; it keeps the body's csrf_token.
    api = api_with_frontend
    origin = {"Origin": FRONTEND}
    email = fresh_email()
    assert signup(api, email).status_code == 201
    answer = api.post("auth/login", json={"email": email, "password": PASSWORD}, headers=origin)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == FRONTEND
    token = answer.json()["csrf_token"]
    jar = cookie_values(answer)  # what the browser holds for the API's host
    with_token = {**origin, "X-CSRF-Token": token}

    created = api.post("vehicles", json=new_vehicle(), cookies=jar, headers=with_token)
    assert created.status_code == 201, created.text
    assert created.headers["Access-Control-Allow-Origin"] == FRONTEND

    refreshed = api.post("auth/refresh", cookies=jar, headers=with_token)
    assert refreshed.status_code == 200, refreshed.text
    jar = cookie_values(refreshed)
    token = refreshed.json()["csrf_token"]

    logout = api.post("auth/logout", cookies=jar, headers={**origin, "X-CSRF-Token": token})
    assert logout.status_code == 204, logout.text
    refresh_token = jar["sb-refresh-token"].partition(".")[2]
    assert_problem(api.post("auth/refresh", json={"refresh_token": refresh_token}), 401, "unauthorized")


# --------------------------------------------------------------------------- logout by refresh cookie


def test_logout_with_an_expired_access_cookie_and_the_refresh_cookie(
    api: ApiClient, stack_settings: StackSettings
) -> None:
    email = fresh_email()
    signup(api, email)
    answer = login(api, email)
    session, jar = answer.json(), cookie_values(answer)
    own = claims(session["access_token"])
    expired = mint_token(
        stack_settings, own["sub"], email=email, ttl=-120, session_id=own["session_id"], iat=own["iat"] - 200
    )
    cookies = {**jar, "sb-access-token": expired}
    assert_problem(api.get("me", cookies=cookies), 401, "unauthorized")
    assert_problem(api.post("auth/logout", cookies=cookies), 403, "csrf_failed")
    response = api.post("auth/logout", cookies=cookies, headers={"X-CSRF-Token": session["csrf_token"]})
    assert response.status_code == 204, response.text
    cleared = set_cookies(response)
    assert set(cleared) == {"sb-access-token", "sb-refresh-token", "csrf-token"}
    assert all(morsel["max-age"] == "0" for morsel in cleared.values())
    assert_problem(
        api.post("auth/refresh", json={"refresh_token": session["refresh_token"]}), 401, "unauthorized"
    )


def test_logout_with_the_refresh_cookie_alone(api: ApiClient) -> None:
    email = fresh_email()
    signup(api, email)
    answer = login(api, email)
    session, jar = answer.json(), cookie_values(answer)
    alone = {"sb-refresh-token": jar["sb-refresh-token"]}
    response = api.post("auth/logout", cookies=alone, headers={"X-CSRF-Token": session["csrf_token"]})
    assert response.status_code == 204, response.text
    assert_problem(
        api.post("auth/refresh", json={"refresh_token": session["refresh_token"]}), 401, "unauthorized"
    )
    # The session is gone: the same cookie again has nothing left to revoke.
    again = api.post("auth/logout", cookies=alone, headers={"X-CSRF-Token": session["csrf_token"]})
    assert again.status_code == 204
    assert_problem(api.post("auth/logout"), 401, "unauthorized")


# --------------------------------------------------------------------------- Auth's own refusals

AUTH_TOO_MANY = {"code": 429, "error_code": "over_request_rate_limit", "msg": "Request rate limit reached"}
EMAIL_TOO_MANY = {
    "code": 429,
    "error_code": "over_email_send_rate_limit",
    "msg": "For security purposes, you can only request this after 42 seconds.",
}


def signed_in(api: ApiClient) -> dict[str, Any]:
    """A new account's Session (and its email, under "email")."""
    email = fresh_email()
    assert signup(api, email).status_code == 201
    answer = login(api, email)
    assert answer.status_code == 200, answer.text
    return {**answer.json(), "email": email}


def auth_calls(api: ApiClient) -> dict[str, tuple[str, Any]]:
    """Each auth route's request, with the Auth path its first Auth call takes (for a fault's match)."""
    session = signed_in(api)
    bearer = {"Authorization": f"Bearer {session['access_token']}"}
    return {
        "signup": ("/signup", lambda: signup(api, fresh_email())),
        "login": ("/token", lambda: login(api, session["email"])),
        "refresh": (
            "/token",
            lambda: api.post("auth/refresh", json={"refresh_token": session["refresh_token"]}),
        ),
        "logout": ("/logout", lambda: api.post("auth/logout", headers=bearer)),
        "recover": ("/recover", lambda: api.post("auth/recover", json={"email": session["email"]})),
        "verify": (
            "/verify",
            lambda: api.post("auth/verify", json={"token_hash": "pkce_" + "0" * 40, "type": "recovery"}),
        ),
        "password": (
            "/token",
            lambda: api.put(
                "me/password",
                json={"current_password": PASSWORD, "password": "another-long-password"},
                headers=bearer,
            ),
        ),
    }


@pytest.mark.parametrize("route", ["signup", "login", "refresh", "logout", "recover", "verify", "password"])
def test_an_auth_429_is_rate_limited_on_every_auth_route(
    api: ApiClient, gateway: Gateway, route: str
) -> None:
    # Auth's 429 is a "wait", never a 401 (wrong password) or 422 (bad input) that sends a user
    # retyping what was right.
    match, call = auth_calls(api)[route]
    gateway.fault("/auth/v1", "status", status=429, body=AUTH_TOO_MANY, match=match)
    response = call()
    assert_problem(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1


def test_auths_email_limit_on_recover_is_not_told_apart(api: ApiClient, gateway: Gateway) -> None:
    # Auth answers an unknown address without sending anything, so its per-address email limit
    # only ever binds a registered one: answering it would tell the two apart.
    gateway.fault("/auth/v1", "status", status=429, body=EMAIL_TOO_MANY, match="/recover")
    response = api.post("auth/recover", json={"email": signed_in(api)["email"]})
    assert response.status_code == 202, response.text
    assert response.json() == {}


def test_auths_email_limit_on_signup_is_rate_limited(api: ApiClient, gateway: Gateway) -> None:
    gateway.fault("/auth/v1", "status", status=429, body=EMAIL_TOO_MANY, match="/signup")
    response = signup(api, fresh_email())
    assert_problem(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(("status", "code"), [(503, "service_unavailable"), (504, "gateway_timeout")])
def test_auth_outages_are_503_and_504(api: ApiClient, gateway: Gateway, status: int, code: str) -> None:
    gateway.fault("/auth/v1", "status", status=status, body={"message": "upstream"}, match="/token")
    response = login(api, fresh_email())
    assert_problem(response, status, code)


def test_an_unconfirmed_email_is_403_email_not_confirmed(api: ApiClient, gateway: Gateway) -> None:
    # GoTrue says so (400 email_not_confirmed) only once the password matched.
    gateway.fault(
        "/auth/v1",
        "status",
        status=400,
        body={"code": 400, "error_code": "email_not_confirmed", "msg": "Email not confirmed"},
        match="/token",
    )
    assert_problem(login(api, fresh_email()), 403, "email_not_confirmed")


# --------------------------------------------------------------------------- Sb-Forwarded-For


def test_auth_sees_the_callers_ip(api: ApiClient, gateway: Gateway) -> None:
    # Every Auth call leaves from the API's address: Auth limits per caller only when told
    # whose request it is (Sb-Forwarded-For, with the secret key).
    ip = api.headers["X-Forwarded-For"]
    session = signed_in(api)
    before = gateway.forwarded_for().get(f"/auth/v1 {ip}", 0)
    assert before >= 2  # sign-up and login
    api.post("auth/refresh", json={"refresh_token": session["refresh_token"]})
    api.post("auth/logout", headers={"Authorization": f"Bearer {session['access_token']}"})
    assert gateway.forwarded_for()[f"/auth/v1 {ip}"] == before + 2
    other = ApiClient(api.base_url, {"X-Forwarded-For": random_ip()})
    assert login(other, session["email"]).status_code == 200
    assert gateway.forwarded_for()[f"/auth/v1 {other.headers['X-Forwarded-For']}"] == 1


def test_the_gateway_passes_sb_forwarded_for_only_with_the_secret_key(
    stack_settings: StackSettings, gateway: Gateway
) -> None:
    ip = random_ip()
    for key in (stack_settings.publishable_key, stack_settings.secret_key):
        requests.get(
            f"{stack_settings.supabase_url}/auth/v1/settings",
            headers={"apikey": key, "Sb-Forwarded-For": ip},
            timeout=10,
        )
    assert gateway.forwarded_for()[f"/auth/v1 {ip}"] == 1


# --------------------------------------------------------------------------- redirect_to


@pytest.mark.parametrize(
    "redirect",
    [
        "https://evil.example/welcome",
        "javascript:alert(1)",
        "http://localhost.evil.example/",
        "http://user@localhost:5173/",
        "//localhost:5173/",
        "not a url",
    ],
)
def test_a_redirect_off_the_allowed_origins_is_422(api: ApiClient, gateway: Gateway, redirect: str) -> None:
    gateway.reset_counts()
    email = fresh_email()
    for path in ("auth/signup", "auth/recover"):
        body: dict[str, Any] = {"email": email, "redirect_to": redirect}
        if path == "auth/signup":
            body["password"] = PASSWORD
        problem = assert_problem(api.post(path, json=body), 422, "validation_error")
        assert problem["errors"][0]["field"] == "redirect_to"
    assert gateway.counts().get("/auth/v1", 0) == 0  # refused before Auth is asked


def test_a_redirect_on_an_allowed_origin_is_taken(api: ApiClient) -> None:
    # Development allows any http://localhost:<port> (docs/api.md §5.4).
    response = api.post(
        "auth/signup",
        json={"email": fresh_email(), "password": PASSWORD, "redirect_to": "http://localhost:5173/welcome"},
    )
    assert response.status_code == 201, response.text


# --------------------------------------------------------------------------- PUT /api/me/password


def test_a_wrong_current_password_is_403(api: ApiClient) -> None:
    session = signed_in(api)
    bearer = {"Authorization": f"Bearer {session['access_token']}"}
    response = api.put(
        "me/password",
        json={"current_password": "not-the-password", "password": "a-new-long-password"},
        headers=bearer,
    )
    assert_problem(response, 403, "current_password_invalid")
    # Without it, outside a recovery window: the same refusal.
    missing = api.put("me/password", json={"password": "a-new-long-password"}, headers=bearer)
    assert_problem(missing, 403, "current_password_invalid")
    # The old password still signs in.
    assert login(api, session["email"]).status_code == 200


def test_a_password_change_validates_the_body(api: ApiClient) -> None:
    session = signed_in(api)
    bearer = {"Authorization": f"Bearer {session['access_token']}"}
    for password in ("short", "x" * 73, "é" * 37):
        problem = assert_problem(
            api.put("me/password", json={"current_password": PASSWORD, "password": password}, headers=bearer),
            422,
            "validation_error",
        )
        assert problem["errors"][0]["field"] == "password"
    assert_problem(api.put("me/password", json={"password": "a-new-long-password"}), 401, "unauthorized")


def test_a_password_change_by_cookie_needs_csrf(api: ApiClient) -> None:
    answer = login(api, signed_in(api)["email"])
    jar = cookie_values(answer)
    body = {"current_password": "not-the-password", "password": "a-new-long-password"}
    assert_problem(api.put("me/password", json=body, cookies=jar), 403, "csrf_failed")
    with_token = {"X-CSRF-Token": answer.json()["csrf_token"]}
    assert_problem(
        api.put("me/password", json=body, cookies=jar, headers=with_token), 403, "current_password_invalid"
    )


# --------------------------------------------------------------------------- verify


def test_verify_takes_only_the_documented_types(api: ApiClient) -> None:
    for body in (
        {"token_hash": "abc", "type": "sms"},
        {"token_hash": "", "type": "recovery"},
        {"token_hash": "abc"},
        {"token_hash": "abc", "type": "recovery", "email": "x@example.test"},
    ):
        assert_problem(api.post("auth/verify", json=body), 422, "validation_error")
