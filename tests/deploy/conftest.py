"""Deployment conformance fixtures: the real `vercel build` output, run under the Vercel Python runtime.

The project is built once with the real CLI (devstack.vercel_check.cached_build,
reused while nothing the build depends on changes, ~20 s otherwise); the functions
are then run from that output, see tests/deploy/functions.py.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devstack.stack import Stack
from devstack.stack_settings import StackSettings
from devstack.vercel_check import Build, cached_build
from tests.deploy.functions import Deployment
from tests.deploy.support import World
from tests.factories import create_record, create_user, create_vehicle


@pytest.fixture(scope="session")
def vercel_build() -> Build:
    """The real `vercel build` of the current files (cached across runs while they are unchanged)."""
    return cached_build()


@pytest.fixture(scope="session")
def deployment(vercel_build: Build, stack: Stack) -> Iterator[Deployment]:
    """Every built function, runnable under either runtime against the local stack."""
    # Next to the build, so the functions are hard links to it rather than 40 MB copies each.
    workdir = Path(tempfile.mkdtemp(prefix="functions-", dir=vercel_build.root.parent.parent))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        **stack.settings.api_environment(),
    }
    deployed = Deployment(vercel_build, workdir, env)
    try:
        yield deployed
    finally:
        deployed.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def world(stack: Stack, stack_settings: StackSettings) -> Iterator[World]:
    """Fresh users, a vehicle and a maintenance record for one test module, made in the database."""
    with psycopg.connect(stack.postgres.dsn(), autocommit=True) as db:
        member = create_user(db, stack_settings, "member")
        admin = create_user(db, stack_settings, "admin")
        vehicle = create_vehicle(db, member)
        record = create_record(db, vehicle, member)
        yield World(member, admin, vehicle, record)
