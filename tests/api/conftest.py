"""Fixtures for route tests: fresh actors per test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from devstack.stack_settings import StackSettings
from tests.factories import User, create_user


@dataclass
class Actors:
    """One fresh user per role, plus a second member."""

    member: User
    other: User
    manager: User
    admin: User


@pytest.fixture
def actors(db: psycopg.Connection[Any], stack_settings: StackSettings) -> Actors:
    """Fresh users, so no test depends on another's data."""
    return Actors(
        member=create_user(db, stack_settings, "member"),
        other=create_user(db, stack_settings, "member"),
        manager=create_user(db, stack_settings, "manager"),
        admin=create_user(db, stack_settings, "admin"),
    )
