"""Test helpers: an API client, the gateway's control endpoints, rate-limit windows."""

from __future__ import annotations

import contextlib
import ipaddress
import threading
from collections.abc import Callable, Iterator
from socketserver import TCPServer
from typing import Any

import psycopg
import requests
from requests.adapters import HTTPAdapter


class _FromAddress(HTTPAdapter):
    """Connections from one local address (source_address), so the server sees that peer."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._address, 0)
        super().init_poolmanager(*args, **kwargs)


def _loopback(value: str | None) -> str | None:
    try:
        address = ipaddress.ip_address((value or "").strip())
    except ValueError:
        return None
    return str(address) if address.version == 4 and address.is_loopback else None


class ApiClient:
    """requests against the API base URL, never raising on HTTP errors.

    A request whose X-Forwarded-For names a loopback address (random_ip()) connects from that
    address: the dev server, like Vercel's edge, overwrites the header with the connection's
    address, so that is how a test plays another client.
    """

    def __init__(
        self, base_url: str, headers: dict[str, str] | None = None, source: str | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.source = source  # connect from this loopback address, whatever X-Forwarded-For says

    def url(self, path: str) -> str:
        """Absolute URL of an /api-relative path."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one request (fresh connection, as the dev server closes each one)."""
        kwargs.setdefault("timeout", 30)
        kwargs.setdefault("allow_redirects", False)
        if self.headers:
            kwargs["headers"] = {**self.headers, **(kwargs.get("headers") or {})}
        headers = {name.lower(): value for name, value in (kwargs.get("headers") or {}).items()}
        source = self.source or _loopback(headers.get("x-forwarded-for"))
        if source is None:
            return requests.request(method, self.url(path), **kwargs)
        with requests.Session() as session:
            session.mount("http://", _FromAddress(source))
            return session.request(method, self.url(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """POST."""
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        """PATCH."""
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        """PUT."""
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        """DELETE."""
        return self.request("DELETE", path, **kwargs)


def in_one_rate_window[T](
    db: psycopg.Connection[Any], attempt: Callable[[], T], window: int = 60, margin: float = 0.0
) -> T:
    """What `attempt()` returns from a run that began and ended in one rate-limit window.

    The limiter counts in fixed windows of the database clock, so a run that straddles
    a boundary is counted in two. With `margin`, a run must also end at least that many
    seconds before its window does (an instance gives up its reserved read units a second
    before the window ends, so a flood ending then may be refused early). Such a run is run
    again, and `attempt` must therefore use fresh keys (user, IP, email) each time. Raises
    AssertionError if three runs in a row were so placed.
    """

    def current() -> tuple[int, float]:
        row = db.execute(
            "select floor(extract(epoch from clock_timestamp()) / %s)::bigint,"
            " %s - extract(epoch from clock_timestamp())::numeric %% %s",
            (window, window, window),
        ).fetchone()
        assert row is not None
        return int(row[0]), float(row[1])

    for _ in range(3):
        began, _ = current()
        result = attempt()
        ended, left = current()
        if ended == began and (margin <= 0 or left > margin):
            return result
    raise AssertionError("three runs in a row ended outside their rate-limit window's safe part")


def random_ip() -> str:
    """A loopback address of its own, to give a test its own per-IP rate limit bucket.

    Send it as X-Forwarded-For through ApiClient, which connects from it: the whole of 127/8
    reaches the loopback interface on Linux, so the API sees another client (127.0.0.x, used by
    the stack's servers, is left out).
    """
    import random

    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


class Gateway:
    """The local gateway's test hooks: request counters and fault injection."""

    def __init__(self, supabase_url: str) -> None:
        self.base = supabase_url.rstrip("/")

    def counts(self) -> dict[str, int]:
        """Requests forwarded per upstream prefix since the last reset."""
        response = requests.get(f"{self.base}/__devstack/stats", timeout=5)
        response.raise_for_status()
        return dict(response.json())

    def reset_counts(self) -> None:
        """Zero the counters."""
        requests.delete(f"{self.base}/__devstack/stats", timeout=5).raise_for_status()

    def fault(
        self,
        prefix: str,
        mode: str,
        *,
        seconds: float = 0.0,
        remaining: int | None = None,
        match: str | None = None,
        status: int = 503,
        body: Any = None,
    ) -> None:
        """Inject a fault in front of `/rest/v1` or `/auth/v1` (only paths containing `match`, if given).

        Mode `status` answers `status` with the JSON `body` instead of the upstream.
        """
        fault = {"mode": mode, "seconds": seconds, "remaining": remaining, "match": match}
        spec = {prefix: {**fault, "status": status, "body": body}}
        requests.put(f"{self.base}/__devstack/faults", json=spec, timeout=5).raise_for_status()

    def forwarded_for(self) -> dict[str, int]:
        """`Sb-Forwarded-For` values passed on (with the secret key), as "<prefix> <address>" -> count."""
        response = requests.get(f"{self.base}/__devstack/forwarded-for", timeout=5)
        response.raise_for_status()
        return dict(response.json())

    def clear_faults(self) -> None:
        """Remove every fault."""
        requests.delete(f"{self.base}/__devstack/faults", timeout=5).raise_for_status()


def assert_problem(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    """Assert a problem+json answer with `status` and `code`; return its body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["type"] == "/problems/" + code.replace("_", "-")
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert response.headers["Cache-Control"] == "no-store"
    return body


@contextlib.contextmanager
def served(server: TCPServer, host: str = "127.0.0.1") -> Iterator[str]:
    """Run `server` in a daemon thread for the block; yields its base URL, then shuts it down."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def fresh_interpreter_json(code: str, env: dict[str, str]) -> Any:
    """The JSON `code` prints last, run by a new interpreter at the repo root with only `env`."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
