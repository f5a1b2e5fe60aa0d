"""A keep-alive HTTP/1.1 connection pool over the standard library's http.client.

The data path (PostgREST, the JWKS) needs one request at a time per connection, kept
alive between requests. httpx does that too, but a cold function compiles it (Vercel
ships no bytecode: ~180 ms) and a warm request spends about half its time in it; the
standard library ships compiled and http.client is already loaded by http.server.

What it does: one process-wide pool, thread-safe; per origin at most `max_idle`
idle connections, each dropped after `idle_expiry` seconds unused; a connect timeout
(TCP and TLS handshake) distinct from the read timeout (each send or receive); the
whole body read; a connection the server closes (`Connection: close`, HTTP/1.0) or that
failed is never reused. No cookies, no redirects, no environment: the caller gives the
URL, headers and timeouts. HTTPS trusts certifi's CA bundle, as httpx did.

A connection the server closed while idle is noticed before reuse (its socket is
readable: EOF). One that the server closes as the request arrives fails the request;
it is retried once on a fresh connection only when the failure proves the request was
not processed: the send failed, or no byte of a GET/HEAD's answer came back. A POST whose
connection drops after it was sent may have been acted on (a gateway that forwards,
then drops the answer), so that failure is the caller's to handle. A fresh connection's
failure is never retried.
"""

from __future__ import annotations

import functools
import http.client
import select
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import ssl

USER_AGENT = "python-http.client"
_RETRYABLE_AFTER_SEND = frozenset({"GET", "HEAD"})  # safe methods: a repeat changes nothing


class TransportError(Exception):
    """The exchange failed below HTTP: no usable answer came back."""


class ConnectFailed(TransportError):
    """No connection could be made (refused, unreachable, DNS, TLS handshake)."""


class ConnectTimedOut(ConnectFailed):
    """The connection (TCP and TLS handshake) was not made within the connect timeout."""


class ReadTimedOut(TransportError):
    """Connected, but sending the request or receiving the answer took longer than the read timeout."""


class ExchangeFailed(TransportError):
    """The connection broke during the exchange, or the answer was not valid HTTP."""


class GatewayFailed(TransportError):
    """An answer whose status says a gateway or proxy failed, not the service (raised by a check)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"upstream unavailable ({status})")
        self.status = status


@dataclass(frozen=True)
class Response:
    """A complete answer: status, reason, headers (case-insensitive), the whole body, the request's path."""

    status: int
    reason: str
    headers: Message
    body: bytes
    path: str

    @property
    def is_success(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        """The field's value, repeated fields joined with ", " (as httpx does); None when absent."""
        values = self.headers.get_all(name)
        return ", ".join(values) if values else None

    @property
    def text(self) -> str:
        """The body decoded with its charset (UTF-8 by default), undecodable bytes replaced."""
        if not self.body:
            return ""
        charset = self.headers.get_content_charset() or "utf-8"
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Built once, on the first https connection: certifi's bundle, as httpx trusted.
    import ssl

    import certifi

    return ssl.create_default_context(cafile=certifi.where())


Origin = tuple[str, str, int]  # scheme, host, port
Check = Callable[[Response], None]


def _origin(url: str) -> tuple[Origin, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return (parts.scheme, parts.hostname, port), target


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    # An idle keep-alive socket has nothing to read; readable means EOF (the server
    # closed it) or bytes nobody asked for: either way it cannot carry a request.
    sock = connection.sock
    if sock is None:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


@dataclass(frozen=True)
class _Outgoing:
    method: str
    target: str  # path and query
    headers: dict[str, str]
    body: bytes | None


class _Retry(Exception):
    """A reused connection failed in a way that proves the request was not processed."""


class Pool:
    """Keep-alive connections by origin, shared by threads; `request()` sends one request."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_idle: int = 16,
        idle_expiry: float = 30.0,
        checks: Iterable[Check] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`checks` run on every complete answer and may raise (a TransportError, by convention)."""
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_idle = max_idle
        self.idle_expiry = idle_expiry
        self._checks = tuple(checks)
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: dict[Origin, list[tuple[http.client.HTTPConnection, float]]] = {}

    def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None = None
    ) -> Response:
        """Send once (again only on a stale reused connection); TransportError, ValueError: bad URL."""
        origin, target = _origin(url)
        outgoing = _Outgoing(method, target, {"User-Agent": USER_AGENT, **headers}, body)
        connection = self._idle_connection(origin)
        if connection is not None:
            try:
                return self._exchange(connection, origin, outgoing, reused=True)
            except _Retry:
                pass
        return self._exchange(self._connect(origin), origin, outgoing, reused=False)

    def idle_count(self) -> int:
        """How many idle connections the pool holds (all origins)."""
        with self._lock:
            return sum(len(stack) for stack in self._idle.values())

    def close(self) -> None:
        """Close every idle connection (those in use close when their request ends)."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for stack in idle.values():
            for connection, _ in stack:
                connection.close()

    def _idle_connection(self, origin: Origin) -> http.client.HTTPConnection | None:
        now = self._clock()
        stale: list[http.client.HTTPConnection] = []
        found = None
        with self._lock:
            stack = self._idle.get(origin, [])
            while stack:
                connection, since = stack.pop()  # the most recently used: likeliest still open
                if now - since >= self.idle_expiry:
                    # Everything below it has been idle longer still.
                    stale.append(connection)
                    stale.extend(older for older, _ in stack)
                    stack.clear()
                elif _closed_by_peer(connection):
                    stale.append(connection)
                else:
                    found = connection
                    break
        for connection in stale:
            connection.close()
        return found

    def _release(self, origin: Origin, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            stack = self._idle.setdefault(origin, [])
            if len(stack) < self.max_idle:
                stack.append((connection, self._clock()))
                return
        connection.close()

    def _connect(self, origin: Origin) -> http.client.HTTPConnection:
        scheme, host, port = origin
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(
                host, port, timeout=self.connect_timeout, context=_tls_context()
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self.connect_timeout)
        # Never reconnect behind the pool's back: a request on a closed connection fails.
        connection.auto_open = 0
        try:
            connection.connect()  # TCP, then the TLS handshake: both under the connect timeout
        except TimeoutError as error:
            connection.close()
            raise ConnectTimedOut(f"connecting to {host}:{port} timed out") from error
        except OSError as error:
            connection.close()
            raise ConnectFailed(f"cannot connect to {host}:{port}: {type(error).__name__}") from error
        assert connection.sock is not None
        connection.sock.settimeout(self.read_timeout)
        return connection

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        origin: Origin,
        outgoing: _Outgoing,
        *,
        reused: bool,
    ) -> Response:
        try:
            answer = _send_and_read(connection, outgoing, reused=reused)
        except BaseException:
            connection.close()  # never back in the pool: its state is unknown
            raise
        response, keep = answer
        if keep:
            self._release(origin, connection)
        else:
            connection.close()
        for check in self._checks:
            check(response)
        return response


_UNSENT = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)  # closed before it all left


def _failure(error: Exception, phase: str, *, unprocessed: tuple[type[Exception], ...]) -> Exception:
    """What to raise for `error` during `phase`: `_Retry` when it proves the request was not processed."""
    if isinstance(error, TimeoutError):
        return ReadTimedOut(f"{phase}: timed out")
    if isinstance(error, unprocessed):
        return _Retry()
    return ExchangeFailed(f"{phase}: {type(error).__name__}")


def _send_and_read(
    connection: http.client.HTTPConnection, outgoing: _Outgoing, *, reused: bool
) -> tuple[Response, bool]:
    # Only a reused connection may prove stale; a GET/HEAD that got no byte back is safe to repeat
    # (RemoteDisconnected is a ConnectionResetError), a POST that left may have been acted on.
    unsent = _UNSENT if reused else ()
    unanswered = (ConnectionResetError,) if reused and outgoing.method in _RETRYABLE_AFTER_SEND else ()
    try:
        connection.request(outgoing.method, outgoing.target, body=outgoing.body, headers=outgoing.headers)
    except (OSError, http.client.HTTPException) as error:
        raise _failure(error, "sending the request", unprocessed=unsent) from error
    try:
        answer = connection.getresponse()
    except (OSError, http.client.HTTPException) as error:
        raise _failure(error, "waiting for the answer", unprocessed=unanswered) from error
    try:
        content = answer.read()
    except (OSError, http.client.HTTPException) as error:
        raise _failure(error, "reading the answer's body", unprocessed=()) from error
    path = outgoing.target.partition("?")[0]
    response = Response(answer.status, answer.reason, answer.headers, content, path)
    # http.client closes (and forgets) the socket itself when the answer says it will close.
    keep = not answer.will_close and connection.sock is not None
    return response, keep
