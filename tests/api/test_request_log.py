"""The API's log under the dev server: one structured line per request, never a secret.

The dev server (stdout and stderr of its process, the stack's api.log) writes the
function's own output and one access line of its own per request, as Vercel keeps
its request log apart from a function's log. tests/deploy checks the same under
the Vercel Python runtime.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from devstack.stack import Stack
from devstack.stack_settings import StackSettings
from tests.factories import create_user
from tests.support import ApiClient

DEADLINE = 10.0  # seconds for the dev server to finish writing a request's lines


def _wait_for_line(log: Path, needle: str) -> str:
    """The log once a line with `needle` is in it (the dev server writes it after answering)."""
    give_up = time.monotonic() + DEADLINE
    while True:
        text = log.read_text(errors="replace")
        if needle in text or time.monotonic() > give_up:
            return text
        time.sleep(0.02)


def test_one_structured_line_per_request_and_no_secret(
    api: ApiClient, stack: Stack, stack_settings: StackSettings, db: psycopg.Connection[Any]
) -> None:
    member = create_user(db, stack_settings, "member")
    secret = "secret-" + uuid.uuid4().hex
    marker = uuid.uuid4().hex  # makes each path unique in the session's log
    paths = [
        f"vin/{marker[:17].upper()}?password={secret}",
        f"vehicles/{uuid.uuid4()}?apikey={secret}",
        f"nope-{marker}?access_token={secret}",
    ]
    log = stack.log_dir / "api.log"
    sent = []
    for path in paths:
        request_id = f"log-{uuid.uuid4().hex}"
        response = api.get(path, headers={**member.headers, "X-Request-Id": request_id})
        assert response.status_code >= 400, path
        sent.append((request_id, "/api/" + path.partition("?")[0], response.status_code))
    text = ""
    for _, path, _ in sent:
        # The dev server's access line is the last line written for a request.
        text = _wait_for_line(log, f"GET {path}")
    assert secret not in text
    assert member.token not in text
    for request_id, path, status in sent:
        lines = [line for line in text.splitlines() if request_id in line]
        assert len(lines) == 1, lines
        record = json.loads(lines[0])
        assert (record["event"], record["path"], record["status"]) == ("request", path, status)
