"""lib.resources.account (the auth routes) without a stack: Auth faked, tokens real."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from supabase_auth.errors import AuthApiError

from lib.contract.outputs import Session
from lib.contract.routes import ALL_ROUTES
from lib.http.problems import Conflict, Forbidden, RateLimited, Unauthorized
from lib.resources import account
from lib.supabase.caller import csrf_token
from tests.resources import fakes
from tests.resources.fake_auth import FakeAuth, session

CREDENTIALS = {"email": "driver@example.com", "password": "correct horse battery staple"}


# handler ("module:function") -> the body model its operation declares
BODY_MODELS = {
    operation.handler: operation.body for route in ALL_ROUTES for operation in route.operations.values()
}


def post(
    auth: FakeAuth,
    handler: Any,
    body: dict[str, Any],
    values: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
) -> Any:
    """Call `handler` with `body` validated as the endpoint would, by the model its route declares."""
    model = BODY_MODELS[f"{handler.__module__}:{handler.__name__}"]
    assert model is not None, handler
    request = fakes.request("POST", "/api/auth/x", values={"Host": "localhost:3000", **(values or {})})
    request.cookies = cookies or {}
    return handler(fakes.anonymous(fakes.deps(auth=auth), model.model_validate(body), req=request))


def test_login_answers_a_session_with_cookies_and_forwards_the_callers_ip() -> None:
    auth = FakeAuth(answer=SimpleNamespace(session=session("manager"), user=None))
    response = post(auth, account.login, CREDENTIALS)
    body = json.loads(response.body)
    assert Session.model_validate(body).model_dump(mode="json") == body
    assert body["user"] == {"id": fakes.USER_ID, "email": "driver@example.com", "role": "manager"}
    assert body["csrf_token"] == csrf_token(fakes.SESSION_ID, fakes.settings())
    assert [cookie.split("=")[0] for cookie in response.cookies] == [
        "sb-access-token",
        "sb-refresh-token",
        "csrf-token",
    ]
    assert auth.calls[0][:2] == ("sign_in_with_password", "192.0.2.10")


def test_a_wrong_pair_is_one_generic_401_and_an_unconfirmed_email_403() -> None:
    auth = FakeAuth(fail={"sign_in_with_password": AuthApiError("bad", 400, "invalid_credentials")})
    with pytest.raises(Unauthorized):
        post(auth, account.login, CREDENTIALS)
    auth = FakeAuth(fail={"sign_in_with_password": AuthApiError("no", 400, "email_not_confirmed")})
    with pytest.raises(Forbidden) as refused:
        post(auth, account.login, CREDENTIALS)
    assert refused.value.code == "email_not_confirmed"
    auth = FakeAuth()
    with pytest.raises(Unauthorized):
        post(auth, account.login, {**CREDENTIALS, "email": "a\x00b"})
    assert auth.calls == []


def test_auths_429_stays_a_429() -> None:
    auth = FakeAuth(fail={"sign_in_with_password": AuthApiError("slow down", 429, "over_request_rate_limit")})
    with pytest.raises(RateLimited):
        post(auth, account.login, CREDENTIALS)


def test_signup_awaiting_confirmation_and_with_a_session() -> None:
    user = SimpleNamespace(id=fakes.USER_ID, email="driver@example.com")
    auth = FakeAuth(answer=SimpleNamespace(user=user, session=None))
    response = post(auth, account.signup, CREDENTIALS)
    assert response.status == 201
    assert json.loads(response.body) == {
        "user": {"id": fakes.USER_ID, "email": "driver@example.com"},
        "session": None,
        "confirmation_sent": True,
    }
    assert response.cookies == []
    auth = FakeAuth(answer=SimpleNamespace(user=user, session=session()))
    response = post(auth, account.signup, CREDENTIALS)
    assert json.loads(response.body)["confirmation_sent"] is False
    assert len(response.cookies) == 3
    auth = FakeAuth(fail={"sign_up": AuthApiError("taken", 422, "user_already_exists")})
    with pytest.raises(Conflict):
        post(auth, account.signup, CREDENTIALS)


def test_recover_is_202_whatever_auth_says_about_the_address() -> None:
    body = {"email": "driver@example.com"}
    assert post(FakeAuth(), account.recover, body).status == 202
    limited = FakeAuth(
        fail={"reset_password_for_email": AuthApiError("wait", 429, "over_email_send_rate_limit")}
    )
    assert post(limited, account.recover, body).status == 202


def test_verify_and_the_first_half_of_a_secure_email_change() -> None:
    auth = FakeAuth(answer=SimpleNamespace(session=session(), user=None))
    body = {"token_hash": "hash", "type": "recovery"}
    assert post(auth, account.verify, body).status == 200
    auth = FakeAuth(answer=SimpleNamespace(session=None, user=None))
    half = {"token_hash": "hash", "type": "email_change"}
    assert post(auth, account.verify, half).status == 202
    with pytest.raises(Unauthorized):
        post(auth, account.verify, body)


def test_refresh_from_the_body_sets_no_cookie_and_from_the_cookie_needs_csrf() -> None:
    auth = FakeAuth(answer=SimpleNamespace(session=session(), user=None))
    response = post(auth, account.refresh, {"refresh_token": "r-1"})
    assert response.cookies == []
    assert auth.calls[0][2] == "r-1"
    cookie = {"sb-refresh-token": f"{fakes.SESSION_ID}.r-2"}
    with pytest.raises(Forbidden):
        post(auth, account.refresh, {}, cookies=cookie)
    csrf = {"X-CSRF-Token": csrf_token(fakes.SESSION_ID, fakes.settings())}
    response = post(auth, account.refresh, {}, csrf, cookie)
    assert len(response.cookies) == 3
    assert auth.calls[-1][2] == "r-2"


def test_logout_revokes_the_bearers_session_and_clears_the_cookies() -> None:
    auth = FakeAuth()
    bearer = {"Authorization": f"Bearer {fakes.token()}"}
    response = post(auth, account.logout, {}, bearer)
    assert response.status == 204
    assert auth.calls == [("sign_out", "192.0.2.10", "local")]
    assert all("Max-Age=0" in cookie for cookie in response.cookies)
    with pytest.raises(Unauthorized):
        post(FakeAuth(), account.logout, {})
