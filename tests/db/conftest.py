"""Fixtures for the database tests: actors with real tokens, a PostgREST client per actor, helpers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from devstack.stack import Stack
from devstack.stack_settings import StackSettings
from tests.db.rest import Rest
from tests.factories import User, create_user

Db = psycopg.Connection[Any]


@dataclass
class Actors:
    """One fresh user per role in the matrix, plus a client for each actor (and anon/service role)."""

    owner: User
    other: User
    manager: User
    admin: User
    rest: Callable[[User | str], Rest]

    def client(self, actor: User | str) -> Rest:
        """The PostgREST client of a user, or of "anon" / "service"."""
        return self.rest(actor)


# The actors of the RLS matrix: users by role, plus the publishable key alone and the secret key.
ACTORS = ("anon", "owner", "other", "manager", "admin", "service")


def actor_of(actors: Actors, name: str) -> User | str:
    """The user behind an actor name, or "anon"/"service"."""
    return name if name in {"anon", "service"} else getattr(actors, name)


@pytest.fixture
def make_user(db: Db, stack_settings: StackSettings, stack: Stack) -> Callable[..., User]:
    """create_user bound to this stack: make_user("manager")."""

    def make(role: str = "member") -> User:
        return create_user(db, stack_settings, role)

    return make


@pytest.fixture
def rest(supabase_url: str, stack_settings: StackSettings) -> Callable[[User | str], Rest]:
    """rest(user) / rest("anon") / rest("service"): a PostgREST client for that actor."""

    def client(actor: User | str) -> Rest:
        if actor == "anon":
            return Rest.anon(supabase_url, stack_settings)
        if actor == "service":
            return Rest.service(supabase_url, stack_settings)
        assert isinstance(actor, User)
        return Rest.for_user(supabase_url, stack_settings, actor)

    return client


@pytest.fixture
def actors(make_user: Callable[..., User], rest: Callable[[User | str], Rest]) -> Actors:
    """Fresh users: an owner member, another member, a manager and an admin."""
    return Actors(
        owner=make_user("member"),
        other=make_user("member"),
        manager=make_user("manager"),
        admin=make_user("admin"),
        rest=rest,
    )


def plain(row: dict[str, Any]) -> dict[str, Any]:
    """UUIDs as strings, like the factories' rows and PostgREST's JSON."""
    return {key: str(value) if isinstance(value, uuid.UUID) else value for key, value in row.items()}


def fetch_one(db: Db, query: str, params: tuple[Any, ...] = ()) -> dict[str, Any] | None:
    """One row as a dict (None when there is none), UUIDs as strings."""
    cursor = db.execute(query, params)
    row = cursor.fetchone()
    if row is None:
        return None
    return plain(dict(zip([d.name for d in cursor.description or []], row, strict=True)))


def fetch_all(db: Db, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """All rows as dicts, UUIDs as strings."""
    cursor = db.execute(query, params)
    names = [d.name for d in cursor.description or []]
    return [plain(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]


def claims_for(user: User) -> dict[str, Any]:
    """The JWT claims PostgREST would put into `request.jwt.claims` for the user's token."""
    return {
        "sub": user.id,
        "role": "authenticated",
        "aud": "authenticated",
        "email": user.email,
        "user_role": user.role,
    }


def impersonate(conn: Db, user: User) -> None:
    """Inside an open transaction: act as the user, the way PostgREST does for their token."""
    conn.execute("set local role authenticated")
    conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims_for(user)),))


@pytest.fixture
def connect(stack: Stack) -> Iterator[Callable[[], Db]]:
    """Extra superuser connections (not autocommit), closed after the test."""
    opened: list[Db] = []

    def open_connection() -> Db:
        conn: Db = psycopg.connect(stack.postgres.dsn())
        opened.append(conn)
        return conn

    yield open_connection
    for conn in opened:
        conn.close()


@pytest.fixture
def sole_admins(stack: Stack) -> Iterator[Callable[[list[User]], None]]:
    """sole_admins([a, b]): make the given users the only admins; the others are restored afterwards.

    The other admins are set aside with triggers disabled (session_replication_role =
    replica), so no audit row, no session revocation and no last-admin check fires for
    this bookkeeping, and they get their role back when the test ends.
    """
    set_aside: list[str] = []
    with psycopg.connect(stack.postgres.dsn(), autocommit=True) as conn:
        conn.execute("set session_replication_role = replica")

        def only(users: list[User]) -> None:
            keep = [u.id for u in users]
            cursor = conn.execute(
                "update public.user_roles set role = 'manager'"
                " where role = 'admin' and not (user_id = any(%s::uuid[])) returning user_id::text",
                (keep,),
            )
            set_aside.extend(row[0] for row in cursor.fetchall())

        try:
            yield only
        finally:
            if set_aside:
                conn.execute(
                    "update public.user_roles set role = 'admin' where user_id = any(%s::uuid[])",
                    (set_aside,),
                )


@contextmanager
def transaction_as(conn: Db, user: User) -> Iterator[Db]:
    """A transaction on `conn` impersonating `user`; rolled back unless committed by the caller."""
    with conn.transaction():
        impersonate(conn, user)
        yield conn


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    """A fresh member who owns the rows a test creates."""
    return make_user("member")


@pytest.fixture
def client(owner: User, rest: Callable[[User | str], Rest]) -> Rest:
    """PostgREST as the owner."""
    return rest(owner)
