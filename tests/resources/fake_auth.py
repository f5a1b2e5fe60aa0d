"""A stand-in for supabase-py's Auth client: records each call, answers as Auth would."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from tests.resources import fakes


def session(role: str = "member", **claims: Any) -> SimpleNamespace:
    """An Auth session whose access token the API can verify."""
    return SimpleNamespace(
        access_token=fakes.token(role, **claims),
        refresh_token="refresh-1",
        expires_in=3600,
        expires_at=2_000_000_000,
    )


@dataclass
class FakeAuth:
    """Every Auth client of a test; `fail` maps a method name to the exception it raises."""

    calls: list[tuple[str, str | None, Any]] = field(default_factory=list)
    fail: dict[str, Exception] = field(default_factory=dict)
    answer: Any = None  # what the next sign-in, sign-up, refresh or verify returns

    def __call__(self, client_ip: str | None) -> Any:
        return _Client(self, client_ip)


class _Client:
    def __init__(self, auth: FakeAuth, client_ip: str | None) -> None:
        self._auth, self._ip = auth, client_ip
        self.admin = SimpleNamespace(sign_out=self._sign_out)

    def _record(self, name: str, argument: Any) -> Any:
        self._auth.calls.append((name, self._ip, argument))
        if name in self._auth.fail:
            raise self._auth.fail[name]
        return self._auth.answer

    def sign_up(self, credentials: Any) -> Any:
        return self._record("sign_up", credentials)

    def sign_in_with_password(self, credentials: Any) -> Any:
        return self._record("sign_in_with_password", credentials)

    def refresh_session(self, token: str) -> Any:
        return self._record("refresh_session", token)

    def verify_otp(self, params: Any) -> Any:
        return self._record("verify_otp", params)

    def reset_password_for_email(self, email: str, options: Any) -> Any:
        return self._record("reset_password_for_email", (email, options))

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._record(f"{method} {path}", kwargs)

    def _sign_out(self, token: str, scope: str) -> Any:
        return self._record("sign_out", scope)
