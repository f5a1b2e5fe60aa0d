"""Fixtures for the conformance tests: a second stack that confirms emails, token aging."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest

from devstack.stack import Stack, running_stack
from devstack.stack_settings import throwaway_settings

AgeToken = Callable[[str, int], None]


@pytest.fixture(scope="session")
def confirming_stack() -> Iterator[Stack]:
    """A disposable stack whose Auth confirms emails (the test stack signs sign-ups in at once)."""
    settings = throwaway_settings("conformance-confirm-", auth_email_confirmations=True)
    with running_stack(settings) as running:
        yield running


@pytest.fixture(scope="module")
def age_refresh_token(stack: Stack) -> Iterator[AgeToken]:
    """age_refresh_token(token, seconds): move a refresh token's last use back, past the reuse interval.

    The tests' way of waiting out [auth] refresh_token_reuse_interval without sleeping.
    """
    with psycopg.connect(stack.postgres.dsn(), autocommit=True) as conn:

        def age(token: str, seconds: int) -> None:
            conn.execute(
                "update auth.refresh_tokens set updated_at = updated_at - make_interval(secs => %s)"
                " where token = %s",
                (seconds, token),
            )

        yield age
