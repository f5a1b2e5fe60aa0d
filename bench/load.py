"""A closed-loop load generator: N client threads, each sending its next request when the last one ends.

Every request opens a fresh TCP connection and closes it (the API's dev server,
like a function behind Vercel's edge, answers one request per connection), for
every target alike, so the client's own cost is the same in every comparison.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import socket
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Call:
    """One request to send."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass
class Answer:
    """What came back."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def json_call(method: str, path: str, headers: dict[str, str], data: Any) -> Call:
    """A call with a JSON body."""
    return Call(method, path, {**headers, "Content-Type": "application/json"}, json.dumps(data).encode())


class Target:
    """host:port plus a base path."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.base = parts.path.rstrip("/")

    def send(self, call: Call, timeout: float = 30.0) -> Answer:
        """One request over a fresh connection."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.connect()
            # http.client writes the headers and the body separately: without TCP_NODELAY
            # Nagle holds the body back until the headers are acknowledged.
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            headers = {"Connection": "close", **call.headers}
            connection.request(call.method, self.base + call.path, body=call.body, headers=headers)
            response = connection.getresponse()
            body = response.read()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
        finally:
            connection.close()


# A worker's script: (worker index, iteration) -> the call, and what to do with the answer.
Script = Callable[[int, int], Call]
Check = Callable[[int, Call, Answer], None]


@dataclass
class Result:
    """Latencies (ms) and throughput of one closed-loop run."""

    concurrency: int
    requests: int
    errors: int
    elapsed_s: float
    latencies_ms: list[float] = field(repr=False)
    statuses: dict[str, int] = field(default_factory=dict)
    first_error: str | None = None

    @property
    def throughput(self) -> float:
        """Completed requests per second, errors excluded."""
        return (self.requests - self.errors) / self.elapsed_s if self.elapsed_s else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies."""
        if not self.latencies_ms:
            return math.nan
        ordered = sorted(self.latencies_ms)
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[rank - 1]

    def summary(self) -> dict[str, Any]:
        """The numbers the report uses."""
        lat = self.latencies_ms
        return {
            "concurrency": self.concurrency,
            "requests": self.requests,
            "errors": self.errors,
            "elapsed_s": round(self.elapsed_s, 3),
            "throughput_rps": round(self.throughput, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p95_ms": round(self.percentile(95), 2),
            "p99_ms": round(self.percentile(99), 2),
            "mean_ms": round(statistics.fmean(lat), 2) if lat else math.nan,
            "min_ms": round(min(lat), 2) if lat else math.nan,
            "max_ms": round(max(lat), 2) if lat else math.nan,
            "statuses": self.statuses,
            "first_error": self.first_error,
        }


@dataclass
class _Loop:
    """The shared state of one closed-loop run."""

    target: Target
    script: Script
    requests: int
    expect: tuple[int, ...]
    check: Check | None
    barrier: threading.Barrier
    deadline: float = math.inf
    issued: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    first_error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> bool:
        """Claim the next request, unless the count or the time is used up."""
        with self.lock:
            if self.issued >= self.requests or time.perf_counter() >= self.deadline:
                return False
            self.issued += 1
            return True

    def warm(self, index: int, count: int) -> None:
        """Unmeasured requests (their failures show up in the measured run)."""
        for i in range(count):
            call = self.script(index, -1 - i)
            with contextlib.suppress(Exception):
                answer = self.target.send(call)
                if self.check is not None and answer.status in self.expect:
                    self.check(index, call, answer)

    def one(self, index: int, iteration: int) -> None:
        """Send, time and record one request."""
        call = self.script(index, iteration)
        started = time.perf_counter()
        failure = None
        try:
            answer = self.target.send(call)
            elapsed = (time.perf_counter() - started) * 1000
            status = str(answer.status)
            if answer.status not in self.expect:
                failure = f"{call.method} {call.path} -> {answer.status}: {answer.body[:200]!r}"
            elif self.check is not None:
                self.check(index, call, answer)
        except Exception as error:
            elapsed = (time.perf_counter() - started) * 1000
            status = type(error).__name__
            failure = f"{call.method} {call.path} -> {error!r}"
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if failure is None:
                self.latencies.append(elapsed)
            else:
                self.errors += 1
                self.first_error = self.first_error or failure


def run(
    target: Target,
    script: Script,
    *,
    concurrency: int,
    requests: int,
    max_seconds: float,
    expect: tuple[int, ...] = (200,),
    check: Check | None = None,
    warmup: int = 0,
) -> Result:
    """Closed loop: `concurrency` workers share `requests` (stopping early after `max_seconds`).

    `warmup` requests per worker are sent first and not measured. A status not in
    `expect`, or a `check` that raises, counts as an error.
    """
    loop = _Loop(target, script, requests, expect, check, threading.Barrier(concurrency + 1))

    def worker(index: int) -> None:
        loop.warm(index, warmup)
        loop.barrier.wait()
        iteration = 0
        while loop.take():
            loop.one(index, iteration)
            iteration += 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    loop.barrier.wait()
    started = time.perf_counter()
    loop.deadline = started + max_seconds
    for thread in threads:
        thread.join()
    return Result(
        concurrency=concurrency,
        requests=loop.issued,
        errors=loop.errors,
        elapsed_s=time.perf_counter() - started,
        latencies_ms=loop.latencies,
        statuses=loop.statuses,
        first_error=loop.first_error,
    )
