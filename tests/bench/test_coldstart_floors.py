"""bench.coldstart's baselines: registered, shipped, and each a handler that serves its request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from jose import jwt

from bench.coldstart.against import against_variants
from bench.coldstart.variants import AUTH_FLOOR, BASELINES, CARD_FLOOR, Variant, chosen_variants
from devstack.stack import Stack
from tests.factories import create_user

COLDSTART = Path(__file__).resolve().parents[2] / "bench" / "coldstart"
SECRET = "a-test-jwt-secret-with-at-least-32-characters"


def serve(source: str, env: dict[str, str], requests: list[dict[str, Any]]) -> dict[str, Any]:
    """Load a baseline's file as bench_child loads a function (fresh interpreter), serve `requests`."""
    argv = [sys.executable, "-B", str(COLDSTART / "child.py"), str(COLDSTART), "bench_baseline", source]
    argv.append(json.dumps(requests))
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **env}
    result = subprocess.run(argv, env=environment, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def bearer(token: str) -> dict[str, Any]:
    """A GET / with the token, as bench.coldstart.workload builds the floors' requests."""
    return {"method": "GET", "path": "/", "headers": {"Authorization": f"Bearer {token}"}}


def test_the_baselines_are_registered_interleaved_and_never_paired_at_rev() -> None:
    names = [name for name, _, _, _ in BASELINES]
    assert names == ["floor", CARD_FLOOR, AUTH_FLOOR, "naive"]
    for _, shipped, source, _ in BASELINES:
        assert (COLDSTART / source).is_file()
        assert shipped.startswith("bench_")
    found = [Variant(name, shipped, shipped.removesuffix(".py")) for name, shipped, _, _ in BASELINES]
    found.append(Variant("api/health", "api/health.py", "api.health"))
    assert all(v.is_baseline for v in found[:-1])
    assert [v.name for v in chosen_variants(found, ["vehicles"])] == names  # --only keeps every baseline
    paired, _, _ = against_variants(found, ["api/health.py"], "b32")
    assert [v.name for v in paired] == [*names, "api/health", "api/health @b32"]


def test_the_card_floor_verifies_the_token_and_answers_one_validated_model() -> None:
    now = int(time.time())
    claims = {"sub": str(uuid.uuid4()), "aud": "authenticated", "iat": now, "exp": now + 600}
    good = str(jwt.encode(claims, SECRET, algorithm="HS256"))
    bad = str(jwt.encode(claims, SECRET + "-other", algorithm="HS256"))
    answer = serve(
        "card_floor_function.py", {"SUPABASE_JWT_SECRET": SECRET}, [bearer(good), bearer(good), bearer(bad)]
    )
    assert answer["statuses"] == [200, 200, 401]


def test_the_auth_floor_asks_the_local_auth_for_the_user(
    stack: Stack, db: psycopg.Connection[tuple[object, ...]]
) -> None:
    user = create_user(db, stack.settings)
    env = dict(stack.settings.api_environment())
    answer = serve("auth_floor_function.py", env, [bearer(user.token), bearer(user.token)])
    assert answer["statuses"] == [200, 200]
