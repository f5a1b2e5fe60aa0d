"""Profile the hot path (GET /api/vehicles/{id}) in-process with pyinstrument.

The function's own `handler` class is driven over a loopback TCP connection exactly as the
runtime drives it (request line, headers, response on the socket), in this
thread, so the profile shows the function's work and its wait on PostgREST and
nothing of a server or a load generator.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import statistics
import sys
import sysconfig
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def api_environment(environment: dict[str, str]) -> Iterator[None]:
    """Run lib/ in this process with the API's settings (as the dev server's child has them).

    The API's one-line logs go to /dev/null meanwhile (still written, as to Vercel's pipe).
    """
    from lib import config
    from lib.supabase import cursor

    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    config.get_settings.cache_clear()
    cursor._key.cache_clear()
    stderr = sys.stderr
    try:
        with open(os.devnull, "w") as sink:
            sys.stderr = sink
            yield
    finally:
        sys.stderr = stderr
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        config.get_settings.cache_clear()
        cursor._key.cache_clear()


def load_handler(relative: str) -> Any:
    """The `handler` class of one api/ file, imported as the dev server imports it."""
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location("_bench_fn_" + path.parent.name.strip("[]"), path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


class _Server:
    """What BaseHTTPRequestHandler may ask of its server."""

    server_name = "127.0.0.1"
    server_port = 0


def serve_once(listener: socket.socket, handler: Any, raw_request: bytes) -> bytes:
    """Hand one request to `handler` on a fresh loopback TCP connection; return the raw response."""
    client = socket.create_connection(listener.getsockname())
    server, address = listener.accept()
    try:
        client.sendall(raw_request)
        handler(server, address, _Server())
        server.close()
        chunks = []
        while chunk := client.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        client.close()
        server.close()


def get_request(vehicle_id: str, token: str) -> bytes:
    """GET /api/vehicles/{id} as the dev server passes it (Vercel appends the route parameter)."""
    return (
        f"GET /api/vehicles/{vehicle_id}?id={vehicle_id} HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


def profile_get(environment: dict[str, str], vehicle_id: str, token: str, requests: int) -> dict[str, Any]:
    """Per-request wall time of the function alone and the pyinstrument profile (text)."""
    from pyinstrument import Profiler

    with api_environment(environment):
        handler = load_handler("api/vehicles/[id]/index.py")
        raw = get_request(vehicle_id, token)
        listener = socket.create_server(("127.0.0.1", 0))
        for _ in range(30):  # warm: imports, the pool's connection, the read allowance
            response = serve_once(listener, handler, raw)
        if not response.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"profiled request failed: {response[:300]!r}")
        timings = []
        cpu_started = time.process_time()
        for _ in range(requests):
            started = time.perf_counter()
            serve_once(listener, handler, raw)
            timings.append((time.perf_counter() - started) * 1000)
        cpu_ms = round((time.process_time() - cpu_started) / requests * 1000, 3)
        profiler = Profiler(interval=0.0002)
        profiler.start()
        for _ in range(requests):
            serve_once(listener, handler, raw)
        profiler.stop()
        listener.close()
    text = profiler.output_text(unicode=False, color=False, show_all=False, short_mode=False)
    return {
        "requests": requests,
        "function_p50_ms": round(statistics.median(timings), 3),
        "function_mean_ms": round(statistics.fmean(timings), 3),
        "function_cpu_ms": cpu_ms,
        "profile_text": text,
        "shares": shares(profiler),
    }


# Where the function's wall time goes, by who runs it. Anything else (the standard
# library, built-ins) counts for whoever called it, except socket calls: there the
# function waits on the gateway and PostgREST. lib/supabase/rest.py (the API's own thin
# PostgREST client) is lib/; the HTTP client under it is its own owner, whichever it is.
STDLIB = sysconfig.get_paths()["stdlib"]
HTTP_CLIENT = "httpx/httpcore/h11 (HTTP client)"
STDLIB_HTTP_CLIENT = "http.client (HTTP client, stdlib)"
POSTGREST_PY = "postgrest-py (query builder, response)"
JOSE = "python-jose (JWT signature)"
TOKENS = "lib/supabase/tokens.py (JWT checks)"
PGRST_CLIENT = "lib/supabase/rest.py, transport.py (PostgREST client and pool)"
LIB_PIPELINE = "lib/ pipeline and HTTP (routing, request, response, headers)"
CATEGORIES = (
    ("/site-packages/postgrest/", POSTGREST_PY),
    ("/site-packages/httpx/", HTTP_CLIENT),
    ("/site-packages/httpcore/", HTTP_CLIENT),
    ("/site-packages/h11/", HTTP_CLIENT),
    ("/site-packages/jose/", JOSE),
    ("/site-packages/pydantic", "pydantic (validation)"),
    (f"{ROOT}/lib/supabase/tokens.py", TOKENS),
    # lib/ by concern, so that what the API adds over the floor function has names.
    (f"{ROOT}/lib/supabase/caller.py", "lib/supabase/caller.py (the caller: token, role)"),
    (f"{ROOT}/lib/supabase/ratelimit.py", "lib/supabase/ratelimit.py (the limiter's local check)"),
    (f"{ROOT}/lib/supabase/rest.py", PGRST_CLIENT),
    (f"{ROOT}/lib/supabase/transport.py", PGRST_CLIENT),
    (f"{ROOT}/lib/supabase/clients.py", PGRST_CLIENT),
    (f"{ROOT}/lib/supabase/upstream.py", PGRST_CLIENT),
    (f"{ROOT}/lib/resources/", "lib/resources, lib/contract (the operation, its output model)"),
    (f"{ROOT}/lib/contract/", "lib/resources, lib/contract (the operation, its output model)"),
    (f"{ROOT}/lib/http/log.py", "lib/http/log.py (the request's log line)"),
    (f"{ROOT}/lib/", LIB_PIPELINE),
    (f"{STDLIB}/http/client.py", STDLIB_HTTP_CLIENT),
    (f"{STDLIB}/http/server.py", "http.server (request line, headers)"),
    (f"{ROOT}/bench/", "bench harness (socket setup)"),
)
# Owners that are the function's HTTP client stack (the report sums them).
CLIENT_STACK = (HTTP_CLIENT, STDLIB_HTTP_CLIENT, POSTGREST_PY)
NETWORK = "waiting on the gateway + PostgREST (socket)"


def _category(frame: Any, inherited: str) -> str:
    path = frame.file_path or ""
    if path == "<built-in>" and frame.function.startswith("socket."):
        return NETWORK
    for marker, name in CATEGORIES:
        if marker in path:
            return name
    if "/site-packages/" in path:
        return "other libraries"
    return inherited


def shares(profiler: Any) -> dict[str, float]:
    """Share of the profiled wall time per category (exclusive time of each frame)."""
    session = profiler.last_session
    root = session.root_frame() if session is not None else None
    if root is None:
        return {}
    totals: dict[str, float] = {}

    def walk(frame: Any, inherited: str) -> None:
        category = _category(frame, inherited)
        totals[category] = totals.get(category, 0.0) + frame.total_self_time
        for child in frame.children:
            if not child.is_synthetic:
                walk(child, category)

    walk(root, "bench harness (socket setup)")
    duration = sum(totals.values()) or 1.0
    ranked = sorted(totals.items(), key=lambda item: item[1], reverse=True)
    return {name: round(seconds / duration, 4) for name, seconds in ranked}
