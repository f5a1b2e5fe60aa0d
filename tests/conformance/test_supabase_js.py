"""supabase-js (the pinned npm package) against the local gateway: the Auth and REST calls clients make.

tests/conformance/supabase_js.mjs makes the calls and prints one JSON result per step;
this file starts it with node, answers its requests (aging a refresh token in
Postgres) and holds each step to what hosted Supabase answers (tests/conformance/expected.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from devstack.stack import Stack
from tests.conformance import expected
from tests.conformance.conftest import AgeToken
from tests.factories import north_american_vin

SCRIPT = Path(__file__).with_name("supabase_js.mjs")
TIMEOUT = 45
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (README: Node is a prerequisite)")

Results = dict[str, dict[str, Any]]


def run_script(stack: Stack, scenario: str, age: AgeToken | None = None) -> Results:
    """Run one scenario of the script against `stack`; return its results by step name."""
    s = stack.settings
    env = {
        **os.environ,
        "SUPABASE_URL": s.supabase_url,
        "SUPABASE_PUBLISHABLE_KEY": s.publishable_key,
        "SUPABASE_SECRET_KEY": s.secret_key,
        "INBOX_URL": s.inbox_url,
        "DEMO_PASSWORD": s.demo_password,
        "VEHICLE_VIN": north_american_vin(),
        "OTHER_VIN": north_american_vin(),
    }
    assert NODE is not None
    with subprocess.Popen(
        [NODE, str(SCRIPT), scenario],
        cwd=s.root,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:  # its exit closes the three pipes
        watchdog = threading.Timer(TIMEOUT, process.kill)
        watchdog.start()
        results: Results = {}
        done = False
        try:
            assert process.stdout is not None
            assert process.stdin is not None
            for line in process.stdout:
                record = json.loads(line)
                if record.get("ask") == "age_refresh_token":
                    assert age is not None, f"scenario {scenario} cannot age tokens"
                    age(record["token"], record["seconds"])
                    process.stdin.write("{}\n")
                    process.stdin.flush()
                elif "step" in record:
                    results[record.pop("step")] = record
                elif record.get("done"):
                    done = True
            process.wait()
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
        stderr = process.stderr.read() if process.stderr else ""
    assert process.returncode == 0, f"node exited {process.returncode}: {stderr}"
    assert done, f"the script stopped before its last step: {stderr}"
    thrown = {name: r["thrown"] for name, r in results.items() if "thrown" in r}
    assert not thrown, f"steps threw: {thrown}"
    return results


def answer(error: dict[str, Any] | None) -> expected.AuthAnswer | None:
    """The (class, code, status) of a step's error as supabase-js reported it."""
    if error is None:
        return None
    assert error["name"] == error["class"], error  # the class the error really is, not just its name
    return expected.AuthAnswer(error["name"], error["code"], error["status"])


@pytest.fixture(scope="module")
def main(stack: Stack, age_refresh_token: AgeToken) -> Results:
    """The main scenario on the test stack (sign-ups confirmed at once)."""
    return run_script(stack, "main", age_refresh_token)


@pytest.fixture(scope="module")
def confirm(confirming_stack: Stack) -> Results:
    """The confirmation scenario on a stack whose Auth confirms emails."""
    return run_script(confirming_stack, "confirm")


def test_sign_up_signs_in_at_once_without_confirmation(main: Results) -> None:
    step = main["sign_up"]
    assert step["error"] is None
    assert step["has_session"] is True
    assert step["identities"] == ["email"]
    assert (step["role"], step["aud"]) == ("authenticated", "authenticated")
    assert answer(main["sign_up_existing"]["error"]) == expected.USER_ALREADY_EXISTS


def test_weak_password_is_an_auth_weak_password_error(main: Results) -> None:
    error = main["sign_up_weak_password"]["error"]
    assert answer(error) == expected.WEAK_PASSWORD
    assert error["reasons"] == expected.WEAK_PASSWORD_REASONS
    assert main["sign_up_weak_password"]["has_user"] is False


def test_sign_in_with_password(main: Results) -> None:
    assert answer(main["sign_in_wrong_password"]["error"]) == expected.INVALID_CREDENTIALS
    assert main["sign_in_wrong_password"]["has_session"] is False
    step = main["sign_in"]
    assert step["error"] is None
    assert (step["has_session"], step["same_user"]) == (True, True)
    assert (step["token_type"], step["expires_in"]) == ("bearer", 3600)
    assert main["get_user"]["error"] is None
    assert main["get_user"]["same_id"] is True


def test_refresh_session_rotates_and_detects_reuse(main: Results) -> None:
    assert main["refresh_session"] == {"error": None, "rotated": True}
    # The parent of the active token gets the active token back (a client that lost the answer).
    assert main["refresh_parent_again"] == {"error": None, "got_active_token": True}
    reused = main["refresh_reused_after_interval"]
    assert reused["rotated_again"] is True
    assert answer(reused["error"]) == expected.REFRESH_TOKEN_ALREADY_USED
    assert answer(main["refresh_garbage"]["error"]) == expected.REFRESH_TOKEN_NOT_FOUND


def test_update_user_reaches_on_auth_state_change(main: Results) -> None:
    step = main["update_user"]
    assert step["error"] is None
    assert step["nickname"] == "conformance"
    assert step["events"][-1] == "USER_UPDATED"


def test_password_recovery_through_the_inbox(main: Results) -> None:
    sent = main["reset_password_for_email"]
    assert (sent["error"], sent["data"]) == (None, {})
    assert (sent["subject"], sent["type"]) == ("Reset your password", "recovery")
    assert sent["token_hash"]
    unknown = main["reset_password_for_unknown_email"]
    assert (unknown["error"], unknown["data"], unknown["mailed"]) == (None, {}, False)
    verified = main["verify_otp_recovery"]
    assert verified["error"] is None
    assert verified["has_session"] is True
    assert verified["events"] == ["INITIAL_SESSION", "PASSWORD_RECOVERY", "USER_UPDATED"]
    assert verified["password_changed"] is None
    assert verified["signed_in_with_new_password"] is True
    assert answer(verified["reused_link"]) == expected.OTP_EXPIRED


def test_sign_out_ends_the_session(main: Results) -> None:
    step = main["sign_out"]
    assert step["error"] is None
    assert step["last_event"] == "SIGNED_OUT"
    assert answer(step["refresh_after"]) == expected.REFRESH_TOKEN_NOT_FOUND
    # supabase-js answers by itself once its session is gone...
    assert step["get_user_after"]["name"] == "AuthSessionMissingError"
    # ...and turns Auth's session_not_found for the old access token into the same class.
    assert step["old_access_token_wire"] == [
        {"status": expected.SESSION_NOT_FOUND.status, "code": expected.SESSION_NOT_FOUND.code}
    ]
    assert answer(step["old_access_token"]) == ("AuthSessionMissingError", None, 400)


def test_admin_users_with_the_secret_key(main: Results) -> None:
    step = main["admin_users"]
    assert (step["created"], step["confirmed"]) == (None, True)
    assert step["fetched_email"]
    assert (step["listed"], step["listed_error"]) == (1, None)
    assert answer(step["duplicate"]) == expected.EMAIL_EXISTS
    assert step["deleted"] is None
    assert answer(step["gone"]) == expected.USER_NOT_FOUND
    assert answer(step["publishable_key"]) == expected.NOT_ADMIN


def test_vehicles_per_role(main: Results) -> None:
    step = main["vehicles"]
    assert (step["insert"]["status"], step["insert"]["error"]) == (201, None)
    assert step["insert"]["owner_is_member"] is True
    member = step["member"]
    assert (member["status"], member["error"]) == (200, None)
    assert member["count"] >= 1
    assert (member["only_own"], member["sees_insert"]) == (True, True)
    manager = step["manager"]
    assert (manager["status"], manager["error"]) == (200, None)
    assert manager["owners"] >= 3  # the three seeded demo users at least
    assert manager["sees_all_of_member"] is True
    for name, denied in (
        ("anon_select", expected.ANON_DENIED),
        ("anon_insert", expected.ANON_DENIED),
        ("member_for_other", expected.RLS_DENIED),
    ):
        result = step[name]
        assert (result["status"], result["error"]["code"]) == denied, name
    assert step["anon_select"]["error"]["message"] == "permission denied for table vehicles"
    assert step["anon_select"]["data"] is None


def test_sign_up_with_email_confirmation(confirm: Results) -> None:
    signed_up = confirm["sign_up_unconfirmed"]
    assert signed_up["error"] is None
    assert (signed_up["has_session"], signed_up["confirmed"]) == (False, False)
    assert signed_up["identities"] == ["email"]
    assert answer(confirm["sign_in_unconfirmed"]["error"]) == expected.EMAIL_NOT_CONFIRMED
    verified = confirm["verify_otp_signup"]
    assert (verified["subject"], verified["type"]) == ("Confirm your email address", "signup")
    assert verified["error"] is None
    assert (verified["has_session"], verified["confirmed"]) == (True, True)
    assert verified["events"] == ["INITIAL_SESSION", "SIGNED_IN"]
    assert confirm["sign_in_confirmed"] == {"error": None, "has_session": True}
    # A confirmed address signing up again: an obfuscated user, no identities, no error.
    assert confirm["sign_up_again"] == {"error": None, "has_session": False, "identities": []}
