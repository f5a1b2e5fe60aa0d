"""lib.account's rules that need no stack: when a session may skip the current password."""

from __future__ import annotations

from typing import Any

import pytest

from lib.account import RECOVERY_WINDOW, recovered_recently

NOW = 1_800_000_000


@pytest.mark.parametrize(
    ("amr", "expected"),
    [
        # POST /verify records "otp" whatever the link's type; the redirect flow records the type.
        ([{"method": "otp", "timestamp": NOW - 60}], True),
        ([{"method": "recovery", "timestamp": NOW - 60}], True),
        ([{"method": "magiclink", "timestamp": NOW - RECOVERY_WINDOW}], True),
        ([{"method": "password", "timestamp": NOW - 60}, {"method": "otp", "timestamp": NOW - 5}], True),
        # Too old, from the future, another method, or not what Auth writes.
        ([{"method": "otp", "timestamp": NOW - RECOVERY_WINDOW - 1}], False),
        ([{"method": "otp", "timestamp": NOW + 60}], False),
        ([{"method": "password", "timestamp": NOW - 5}], False),
        ([{"method": "token_refresh", "timestamp": NOW - 5}], False),
        ([{"method": "otp", "timestamp": str(NOW - 5)}], False),
        ([{"method": "otp", "timestamp": True}], False),
        ([{"method": "otp"}], False),
        (["otp"], False),
        ("otp", False),
        (None, False),
    ],
)
def test_a_recent_email_link_session_may_skip_the_current_password(amr: Any, expected: bool) -> None:
    claims = {} if amr is None else {"amr": amr}
    assert recovered_recently(claims, NOW) is expected
