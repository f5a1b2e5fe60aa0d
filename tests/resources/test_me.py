"""lib.resources.me without a stack: who the caller is now, and changing their password."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

import pytest
from supabase_auth.errors import AuthApiError

from lib.contract.inputs import PasswordChange
from lib.contract.outputs import Me
from lib.http.problems import Forbidden, ValidationFailed
from lib.http.request import Request
from lib.resources import me
from lib.supabase.caller import Call, Caller
from tests.resources import fakes
from tests.resources.fake_auth import FakeAuth, session
from tests.resources.fakes import FakeDatabase


def test_me_reads_the_current_role_from_the_database() -> None:
    database = FakeDatabase(
        lambda query: {"id": fakes.USER_ID, "email": "new@example.com", "role": "manager"}
    )
    response = me.me(fakes.call(fakes.deps(database)))
    body = json.loads(response.body)
    assert Me.model_validate(body).model_dump(mode="json") == body
    assert body["role"] == "manager"
    assert body["permissions"] == ["vehicles.read.any", "vehicles.write.any"]
    assert database.queries[0].target == "rpc:me"


def change(auth: FakeAuth, body: dict[str, Any], access_token: str, clock: float | None = None) -> Any:
    the_deps = fakes.deps(auth=auth, clock=(lambda: clock) if clock is not None else time.time)
    caller = Caller(
        user_id=fakes.USER_ID, email="driver@example.com", role="member", access_token=access_token
    )
    request: Request = fakes.request("PUT", "/api/me/password")
    return me.change_password(Call(request, caller, PasswordChange.model_validate(body), None, the_deps))


NEW = "a much longer new passphrase"


def test_with_the_current_password_it_is_checked_then_the_other_sessions_end() -> None:
    auth = FakeAuth(answer=SimpleNamespace(session=session(), user=None))
    response = change(auth, {"password": NEW, "current_password": "old one"}, fakes.token())
    assert response.status == 204
    assert [name for name, _, _ in auth.calls] == [
        "sign_in_with_password",
        "sign_out",
        "PUT user",
        "sign_out",
    ]
    assert auth.calls[-1][2] == "others"


def test_a_wrong_current_password_is_403() -> None:
    auth = FakeAuth(fail={"sign_in_with_password": AuthApiError("no", 400, "invalid_credentials")})
    with pytest.raises(Forbidden) as refused:
        change(auth, {"password": NEW, "current_password": "wrong"}, fakes.token())
    assert refused.value.code == "current_password_invalid"


def test_without_it_only_shortly_after_a_recovery_link() -> None:
    now = int(time.time())
    recovered = fakes.token(amr=[{"method": "otp", "timestamp": now - 60}])
    assert change(FakeAuth(), {"password": NEW}, recovered, clock=now).status == 204
    with pytest.raises(Forbidden):
        change(FakeAuth(), {"password": NEW}, recovered, clock=now + me.RECOVERY_WINDOW + 1)
    with pytest.raises(Forbidden):
        change(FakeAuth(), {"password": NEW}, fakes.token())


def test_auth_refusing_the_new_password_is_422() -> None:
    auth = FakeAuth(fail={"PUT user": AuthApiError("same", 422, "same_password")})
    now = int(time.time())
    recovered = fakes.token(amr=[{"method": "recovery", "timestamp": now}])
    with pytest.raises(ValidationFailed) as refused:
        change(auth, {"password": NEW}, recovered, clock=now)
    assert refused.value.errors[0].code == "same_password"
