"""lib.supabase.transport's pool over real loopback sockets: reuse, stale connections, timeouts, threads.

Each server here is scripted per connection (a raw socket) or per request (tests.supabase.loopback),
so a test decides exactly when a connection is answered, closed or left hanging. Timeouts are
made small instead of waiting: no test sleeps beyond the timeout it checks.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from lib.http.problems import BadGateway, GatewayTimeout, ServiceUnavailable
from lib.supabase import transport
from lib.supabase.transport import (
    ConnectFailed,
    ConnectTimedOut,
    ExchangeFailed,
    Pool,
    ReadTimedOut,
    TransportError,
)
from lib.supabase.upstream import map_transport_error
from tests.supabase.loopback import Answer, Seen, upstream

HEADERS = {"apikey": "k"}


@pytest.fixture
def pool() -> Iterator[Pool]:
    """A pool with short timeouts, closed after the test."""
    shared = Pool(connect_timeout=0.5, read_timeout=0.5)
    yield shared
    shared.close()


# -- a server scripted per connection --------------------------------------------------------


def read_request(conn: socket.socket) -> bytes:
    """One request's bytes (head and Content-Length body); b"" if the peer closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def respond(conn: socket.socket, body: bytes = b"ok", version: bytes = b"HTTP/1.1") -> None:
    """A 200 with `body`."""
    conn.sendall(version + b" 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def reset(conn: socket.socket) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a server or a middlebox dropping state does."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


class Scripted:
    """Connections accepted so far, requests read on them, and when each connection ended."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.connections = 0
        self.requests: list[bytes] = []
        self.closed = threading.Event()  # set when a connection's script returns
        self.lock = threading.Lock()


@contextmanager
def scripted(serve: Callable[[socket.socket, int, Scripted], None]) -> Iterator[Scripted]:
    """A loopback server running `serve(conn, n, state)` for its n-th connection (0-based) in a thread."""
    listener = socket.create_server(("127.0.0.1", 0))
    state = Scripted(f"http://127.0.0.1:{listener.getsockname()[1]}")
    stop = threading.Event()

    def run(conn: socket.socket, index: int) -> None:
        try:
            serve(conn, index, state)
        except OSError:
            pass
        finally:
            conn.close()
            state.closed.set()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with state.lock:
                index = state.connections
                state.connections += 1
            threading.Thread(target=run, args=(conn, index), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        listener.close()
        thread.join(5)


def answering(count: int, then: Callable[[socket.socket], None] | None = None) -> Callable[..., None]:
    """A script: answer `count` requests on the connection (recording them), then `then(conn)`."""

    def serve(conn: socket.socket, index: int, state: Scripted) -> None:
        for _ in range(count):
            request = read_request(conn)
            if not request:
                return
            with state.lock:
                state.requests.append(request)
            respond(conn, b"answer %d" % index)
        if then is not None:
            then(conn)
        else:
            # Keep the connection open until the client closes it.
            while read_request(conn):
                pass

    return serve


def close_on_next_request(conn: socket.socket) -> None:
    """Read the next request, then close without a byte of answer (as the server's idle timeout firing)."""
    read_request(conn)


# -- reuse -----------------------------------------------------------------------------------


def test_sequential_requests_share_one_connection(pool: Pool) -> None:
    with upstream() as server:
        for _ in range(5):
            response = pool.request("GET", f"{server.url}/rest/v1/t?select=%2A", headers=HEADERS)
            assert (response.status, response.body) == (200, b"[]")
        assert len(server.seen) == 5
        assert server.connections() == 1
        assert pool.idle_count() == 1


def test_the_answer_is_read_whole_with_its_headers_and_path(pool: Pool) -> None:
    body = b"x" * 200_000
    answer = Answer(
        201, body, (("Content-Type", "text/plain; charset=latin-1"), ("RateLimit", "a"), ("RateLimit", "b"))
    )
    with upstream(lambda request: answer) as server:
        response = pool.request("POST", f"{server.url}/rest/v1/rpc/f?x=1", headers=HEADERS, body=b"{}")
        assert (response.status, response.reason, response.path) == (201, "Created", "/rest/v1/rpc/f")
        assert response.body == body
        assert response.is_success
        assert response.header("ratelimit") == "a, b"
        assert response.header("Absent") is None
        assert response.text == body.decode("latin-1")
        # The connection is clean for the next request.
        assert pool.request("GET", f"{server.url}/x", headers=HEADERS).body == body
        assert server.connections() == 1


def test_no_cookie_is_kept(pool: Pool) -> None:
    answer = Answer(200, b"[]", (("Set-Cookie", "session=abc; Path=/"),))
    with upstream(lambda request: answer) as server:
        pool.request("GET", f"{server.url}/a", headers=HEADERS)
        pool.request("GET", f"{server.url}/b", headers=HEADERS)
        assert all("cookie" not in request.header_items() for request in server.seen)


def test_connection_close_is_honoured(pool: Pool) -> None:
    answer = Answer(200, b"[]", (("Connection", "close"),))
    with upstream(lambda request: answer) as server:
        for _ in range(3):
            assert pool.request("GET", f"{server.url}/t", headers=HEADERS).status == 200
        assert server.connections() == 3
        assert pool.idle_count() == 0


def test_an_http_1_0_answer_is_not_kept(pool: Pool) -> None:
    def serve(conn: socket.socket, index: int, state: Scripted) -> None:
        read_request(conn)
        respond(conn, version=b"HTTP/1.0")

    with scripted(serve) as server:
        for _ in range(2):
            assert pool.request("GET", f"{server.url}/t", headers=HEADERS).body == b"ok"
        assert server.connections == 2
        assert pool.idle_count() == 0


def test_idle_connections_expire(pool: Pool) -> None:
    now = [0.0]
    expiring = Pool(connect_timeout=0.5, read_timeout=0.5, idle_expiry=30.0, clock=lambda: now[0])
    with upstream() as server:
        expiring.request("GET", f"{server.url}/t", headers=HEADERS)
        now[0] += 29.0
        expiring.request("GET", f"{server.url}/t", headers=HEADERS)
        assert server.connections() == 1
        now[0] += 30.0
        expiring.request("GET", f"{server.url}/t", headers=HEADERS)
        assert server.connections() == 2
        assert expiring.idle_count() == 1
    expiring.close()


def test_idle_connections_are_bounded_per_origin() -> None:
    bounded = Pool(connect_timeout=0.5, read_timeout=2.0, max_idle=2)
    together = threading.Barrier(4, timeout=2)

    def answer(request: Seen) -> Answer:
        together.wait()  # four requests in flight at once: four connections
        return Answer()

    with upstream(answer) as server, ThreadPoolExecutor(4) as threads:
        responses = threads.map(
            lambda _: bounded.request("GET", f"{server.url}/t", headers=HEADERS), range(4)
        )
        statuses = [response.status for response in responses]
        assert statuses == [200] * 4
        assert server.connections() == 4
        assert bounded.idle_count() == 2
    bounded.close()


# -- stale connections -----------------------------------------------------------------------


def test_a_connection_closed_while_idle_is_not_reused(pool: Pool) -> None:
    # The server answers once and closes (no Connection: close): the pool sees the EOF
    # before sending on it, and the request goes on a new connection without error.
    with scripted(answering(1, then=lambda conn: None)) as server:
        assert pool.request("GET", f"{server.url}/t", headers=HEADERS).body == b"answer 0"
        assert server.closed.wait(2)
        assert pool.request("POST", f"{server.url}/t", headers=HEADERS, body=b"{}").body == b"answer 1"
        assert server.connections == 2
        assert len(server.requests) == 2


def test_a_get_on_a_connection_closed_as_it_arrives_is_retried_once(pool: Pool) -> None:
    # The race the idle check cannot see: the server closes as the request arrives, before
    # a byte of answer. A GET changes nothing, so it is sent again on a fresh connection.
    with scripted(answering(1, then=close_on_next_request)) as server:
        assert pool.request("GET", f"{server.url}/t", headers=HEADERS).body == b"answer 0"
        assert pool.request("GET", f"{server.url}/t", headers=HEADERS).body == b"answer 1"
        assert server.connections == 2


def test_a_post_that_may_have_been_processed_is_not_retried(pool: Pool) -> None:
    # The same drop after a POST was sent: the server may have acted on it (a gateway that
    # forwards, then drops the answer), so the failure is the caller's, not retried.
    with scripted(answering(1, then=close_on_next_request)) as server:
        pool.request("GET", f"{server.url}/t", headers=HEADERS)
        with pytest.raises(ExchangeFailed) as failed:
            pool.request("POST", f"{server.url}/t", headers=HEADERS, body=b"{}")
        assert isinstance(map_transport_error(failed.value), BadGateway)
        assert server.connections == 1
        assert pool.idle_count() == 0


def test_a_send_that_fails_on_a_reused_connection_is_retried_for_any_method(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server reset the idle connection and the idle check missed it (the race): the
    # request never left, so even a POST is sent again, on a fresh connection, once.
    with scripted(answering(1, then=reset)) as server:
        pool.request("GET", f"{server.url}/t", headers=HEADERS)
        assert server.closed.wait(2)
        monkeypatch.setattr(transport, "_closed_by_peer", lambda connection: False)
        response = pool.request("POST", f"{server.url}/t", headers=HEADERS, body=b"{}")
        assert response.body == b"answer 1"
        assert server.connections == 2
        assert [request.split(b" ", 1)[0] for request in server.requests] == [b"GET", b"POST"]


def test_a_fresh_connection_is_never_retried(pool: Pool) -> None:
    with scripted(lambda conn, index, state: close_on_next_request(conn)) as server:
        with pytest.raises(ExchangeFailed):
            pool.request("GET", f"{server.url}/t", headers=HEADERS)
        assert server.connections == 1
        assert pool.idle_count() == 0


def test_a_garbage_answer_fails_and_the_connection_is_dropped(pool: Pool) -> None:
    def serve(conn: socket.socket, index: int, state: Scripted) -> None:
        read_request(conn)
        conn.sendall(b"<html>not http</html>\r\n\r\n")

    with scripted(serve) as server:
        with pytest.raises(ExchangeFailed) as failed:
            pool.request("GET", f"{server.url}/t", headers=HEADERS)
        assert isinstance(map_transport_error(failed.value), BadGateway)
        assert pool.idle_count() == 0


# -- timeouts and connect failures ----------------------------------------------------------


def test_a_server_that_never_answers_is_a_read_timeout(pool: Pool) -> None:
    hold = threading.Event()

    def serve(conn: socket.socket, index: int, state: Scripted) -> None:
        read_request(conn)
        hold.wait(5)

    with scripted(serve) as server:
        try:
            with pytest.raises(ReadTimedOut) as failed:
                pool.request("GET", f"{server.url}/t", headers=HEADERS)
        finally:
            hold.set()
        assert not isinstance(failed.value, ConnectFailed)
        assert isinstance(map_transport_error(failed.value), GatewayTimeout)
        assert pool.idle_count() == 0


def test_a_body_that_stops_arriving_is_a_read_timeout(pool: Pool) -> None:
    hold = threading.Event()

    def serve(conn: socket.socket, index: int, state: Scripted) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        hold.wait(5)

    with scripted(serve) as server:
        try:
            with pytest.raises(ReadTimedOut):
                pool.request("GET", f"{server.url}/t", headers=HEADERS)
        finally:
            hold.set()


@contextmanager
def full_backlog() -> Iterator[str]:
    """A listening socket that never accepts, its queue filled: a new connect gets no SYN-ACK."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers: list[socket.socket] = []
    try:
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(address)
            fillers.append(filler)
        yield f"http://127.0.0.1:{address[1]}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_no_connection_within_the_connect_timeout_is_a_connect_timeout() -> None:
    quick = Pool(connect_timeout=0.2, read_timeout=5.0)
    with full_backlog() as url, pytest.raises(ConnectTimedOut) as failed:
        quick.request("GET", f"{url}/t", headers=HEADERS)
    assert isinstance(map_transport_error(failed.value), ServiceUnavailable)


def test_a_refused_connection_is_a_connect_failure(pool: Pool) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectFailed) as failed:
        pool.request("GET", f"http://127.0.0.1:{port}/t", headers=HEADERS)
    assert not isinstance(failed.value, ConnectTimedOut)
    assert isinstance(map_transport_error(failed.value), ServiceUnavailable)


def test_https_verifies_against_certifis_bundle(pool: Pool) -> None:
    import ssl

    context = transport._tls_context()
    assert context is transport._tls_context()  # built once
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert context.cert_store_stats()["x509_ca"] > 0
    # A TLS handshake that fails (here: the server speaks plain HTTP) is a failed connect.
    with upstream() as server:
        with pytest.raises(ConnectFailed) as failed:
            pool.request("GET", server.url.replace("http://", "https://") + "/t", headers=HEADERS)
        assert not isinstance(failed.value, ConnectTimedOut)


def test_a_url_that_is_not_http_is_refused(pool: Pool) -> None:
    for url in ("ftp://example.test/x", "/relative", "http:///nohost"):
        with pytest.raises(ValueError, match="not an http"):
            pool.request("GET", url, headers=HEADERS)


# -- checks and threads -------------------------------------------------------------------------


def test_checks_see_every_answer_after_the_connection_is_released(pool: Pool) -> None:
    class Refused(TransportError):
        pass

    def refuse(response: transport.Response) -> None:
        raise Refused(str(response.status))

    checked = Pool(connect_timeout=0.5, read_timeout=0.5, checks=(refuse,))
    with upstream() as server:
        with pytest.raises(Refused):
            checked.request("GET", f"{server.url}/t", headers=HEADERS)
        assert checked.idle_count() == 1  # a check's verdict is not the connection's fault
    checked.close()


def test_threads_share_the_pool(pool: Pool) -> None:
    def answer(request: Seen) -> Answer:
        return Answer(200, request.target.encode())

    def run(worker: int) -> list[bytes]:
        return [pool.request("GET", f"{server.url}/w{worker}/{n}", headers=HEADERS).body for n in range(10)]

    with upstream(answer) as server, ThreadPoolExecutor(8) as threads:
        results: list[Any] = list(threads.map(run, range(8)))
        assert results == [[f"/w{worker}/{n}".encode() for n in range(10)] for worker in range(8)]
        assert len(server.seen) == 80
        assert server.connections() <= 8
        assert pool.idle_count() == server.connections()
