"""A local mail inbox like the Supabase CLI's Mailpit (port 54324) for development and tests; it never ships.

The local Auth service delivers every email it sends here with Mailpit's send API
(`POST /api/v1/send`). People read them at `/` (to, subject, time and the link);
tests use the JSON API, which follows Mailpit's shapes:

- `GET /api/v1/messages?start=&limit=` - newest first, `{"total", "count", "messages": [...]}`
- `GET /api/v1/search?query=to:ADDRESS` - the same shape, filtered (Mailpit's `to:` search)
- `GET /api/v1/message/{ID}` (or `latest`) - one message with `Text` and `HTML`
- `DELETE /api/v1/messages` - delete all (or `{"IDs": [...]}`)

`latest_message(inbox_url, address)` and `message_link(message)` are the short way for tests.
It keeps messages in memory and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from devstack.processes import serve_until_terminated

MAX_BODY_BYTES = 1 << 20
MAX_MESSAGES = 1000
_LINK = re.compile(r"https?://[^\s\"'<>]+")
_MESSAGE_PATH = re.compile(r"^/api/v1/message/(?P<id>[^/]+)$")


@dataclass
class Message:
    """One stored email."""

    id: str
    sender: dict[str, str]
    to: list[dict[str, str]]
    subject: str
    text: str
    html: str
    headers: dict[str, str]
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    read: bool = False

    def summary(self) -> dict[str, Any]:
        """Mailpit's message summary (the list and search item)."""
        return {
            "ID": self.id,
            "MessageID": f"{self.id}@devstack.local",
            "Read": self.read,
            "From": self.sender,
            "To": self.to,
            "Cc": [],
            "Bcc": [],
            "ReplyTo": [],
            "Subject": self.subject,
            "Created": self.created.isoformat().replace("+00:00", "Z"),
            "Tags": [],
            "Size": len(self.text.encode()) + len(self.html.encode()),
            "Attachments": 0,
            "Snippet": " ".join(self.text.split())[:250],
        }

    def detail(self) -> dict[str, Any]:
        """Mailpit's message object (`GET /api/v1/message/{ID}`)."""
        summary = self.summary()
        return {
            **{key: summary[key] for key in ("ID", "MessageID", "From", "To", "Cc", "Bcc", "ReplyTo")},
            "ReturnPath": self.sender.get("Address", ""),
            "Subject": self.subject,
            "Date": summary["Created"],
            "Tags": [],
            "Text": self.text,
            "HTML": self.html,
            "Size": summary["Size"],
            "Inline": [],
            "Attachments": [],
            "Headers": self.headers,
        }


def message_link(message: dict[str, Any]) -> str | None:
    """The first link in a message's text (the Auth emails carry exactly one), or None."""
    found = _LINK.search(str(message.get("Text", "")))
    return found.group(0) if found else None


def latest_message(inbox_url: str, address: str, timeout: float = 5.0) -> dict[str, Any] | None:
    """The newest message to `address` (full Mailpit message object), or None. Raises OSError."""
    query = urllib.parse.urlencode({"query": f"to:{address}", "limit": "1"})
    with urllib.request.urlopen(f"{inbox_url}/api/v1/search?{query}", timeout=timeout) as response:  # noqa: S310
        found = json.loads(response.read())["messages"]
    if not found:
        return None
    with urllib.request.urlopen(f"{inbox_url}/api/v1/message/{found[0]['ID']}", timeout=timeout) as response:  # noqa: S310
        return cast(dict[str, Any], json.loads(response.read()))


class Inbox:
    """Thread-safe in-memory message store, newest last."""

    def __init__(self) -> None:
        self._messages: list[Message] = []
        self._lock = threading.Lock()

    def add(self, payload: dict[str, Any]) -> Message:
        """Store a Mailpit send-API payload. Raises ValueError when it has no recipient."""

        def address(value: Any) -> dict[str, str]:
            if not isinstance(value, dict) or not isinstance(value.get("Email"), str):
                raise ValueError('addresses look like {"Email": "...", "Name": "..."}')
            return {"Name": str(value.get("Name", "")), "Address": value["Email"]}

        recipients = payload.get("To")
        if not isinstance(recipients, list) or not recipients:
            raise ValueError("To needs at least one address")
        headers = payload.get("Headers") if isinstance(payload.get("Headers"), dict) else {}
        message = Message(
            id=uuid.uuid4().hex[:22],
            sender=address(payload.get("From", {"Email": ""})),
            to=[address(item) for item in recipients],
            subject=str(payload.get("Subject", "")),
            text=str(payload.get("Text", "")),
            html=str(payload.get("HTML", "")),
            headers={str(k): str(v) for k, v in cast(dict[str, Any], headers).items()},
        )
        with self._lock:
            self._messages.append(message)
            del self._messages[:-MAX_MESSAGES]
        return message

    def newest_first(self, to: str | None = None) -> list[Message]:
        """Every message, newest first, optionally only those to one address (case-insensitive)."""
        with self._lock:
            messages = list(reversed(self._messages))
        if to is None:
            return messages
        wanted = to.lower()
        return [m for m in messages if any(r["Address"].lower() == wanted for r in m.to)]

    def get(self, message_id: str) -> Message | None:
        """One message by ID (`latest`: the newest), marked read."""
        with self._lock:
            if message_id == "latest":
                found = self._messages[-1] if self._messages else None
            else:
                found = next((m for m in self._messages if m.id == message_id), None)
            if found is not None:
                found.read = True
            return found

    def delete(self, ids: Sequence[str] | None) -> None:
        """Delete the given messages, or all of them."""
        with self._lock:
            if ids is None:
                self._messages.clear()
            else:
                keep = set(ids)
                self._messages = [m for m in self._messages if m.id not in keep]


def _page(messages: list[Message]) -> str:
    rows = []
    for message in messages:
        link = message_link({"Text": message.text}) or ""
        rows.append(
            "<tr><td>{time}</td><td>{to}</td><td>{subject}</td>"
            '<td><a href="{href}">{text}</a></td></tr>'.format(
                time=html.escape(message.created.strftime("%Y-%m-%d %H:%M:%S UTC")),
                to=html.escape(", ".join(r["Address"] for r in message.to)),
                subject=html.escape(message.subject),
                href=html.escape(link, quote=True),
                text=html.escape(link),
            )
        )
    body = "".join(rows) or '<tr><td colspan="4">No email yet.</td></tr>'
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Local inbox</title>'
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.3em .6em;border-bottom:1px solid #ddd;"
        "text-align:left;vertical-align:top}a{word-break:break-all}</style></head><body>"
        f"<h1>Local inbox</h1><p>Every email the local Auth service sent ({len(messages)}), newest first. "
        'JSON: <a href="/api/v1/messages">/api/v1/messages</a></p>'
        f"<table><tr><th>Time</th><th>To</th><th>Subject</th><th>Link</th></tr>{body}</table></body></html>"
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "devstack-inbox"
    sys_version = ""

    @property
    def inbox(self) -> Inbox:
        return cast(_InboxServer, self.server).inbox

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parts.query)
        if parts.path == "/":
            self._send(200, _page(self.inbox.newest_first()).encode(), "text/html; charset=utf-8")
        elif parts.path in ("/api/v1/messages", "/api/v1/search"):
            to = None
            if parts.path == "/api/v1/search":
                search = (query.get("query") or [""])[0].strip()
                to = search[3:].strip().strip('"') if search.lower().startswith("to:") else search
            self._list(self.inbox.newest_first(to), query)
        elif (match := _MESSAGE_PATH.match(parts.path)) is not None:
            found = self.inbox.get(match["id"])
            if found is None:
                self._send(404, b"message not found", "text/plain; charset=utf-8")
            else:
                self._json(200, found.detail())
        else:
            self._send(404, b"not found", "text/plain; charset=utf-8")

    def do_POST(self) -> None:
        if self.path != "/api/v1/send":
            self._send(404, b"not found", "text/plain; charset=utf-8")
            return
        try:
            payload = self._body()
            message = self.inbox.add(payload)
        except ValueError as error:
            self._send(400, str(error).encode(), "text/plain; charset=utf-8")
            return
        self._json(200, {"ID": message.id})

    def do_DELETE(self) -> None:
        if self.path != "/api/v1/messages":
            self._send(404, b"not found", "text/plain; charset=utf-8")
            return
        try:
            payload = self._body(allow_empty=True)
        except ValueError as error:
            self._send(400, str(error).encode(), "text/plain; charset=utf-8")
            return
        ids = payload.get("IDs")
        self.inbox.delete([str(i) for i in ids] if isinstance(ids, list) and ids else None)
        self._send(200, b"ok", "text/plain; charset=utf-8")

    def _list(self, messages: list[Message], query: dict[str, list[str]]) -> None:
        def number(name: str, default: int) -> int:
            raw = (query.get(name) or [""])[0]
            return int(raw) if raw.isdigit() else default

        start, limit = number("start", 0), number("limit", 50)
        page = messages[start : start + limit]
        self._json(
            200,
            {
                "total": len(self.inbox.newest_first()),
                "unread": sum(not m.read for m in messages),
                "count": len(page),
                "messages_count": len(messages),
                "start": start,
                "tags": [],
                "messages": [m.summary() for m in page],
            },
        )

    def _body(self, *, allow_empty: bool = False) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ValueError("body too large")
        raw = self.rfile.read(length) if length else b""
        if not raw and allow_empty:
            return {}
        try:
            value = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError("body is not JSON") from None
        if not isinstance(value, dict):
            raise ValueError("body must be a JSON object")
        return value

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _InboxServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        self.inbox = Inbox()
        super().__init__(address, _Handler)


def make_server(port: int) -> ThreadingHTTPServer:
    """A bound, not yet serving inbox on 127.0.0.1 (port 0: any free one). Raises OSError."""
    return _InboxServer(("127.0.0.1", port))


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m devstack.inbox", description="Local mail inbox.")
    parser.add_argument("--port", type=int, default=54324)
    args = parser.parse_args(argv)
    try:
        server = make_server(args.port)
    except OSError as error:
        print(f"inbox: {error}", file=sys.stderr)
        return 2

    print(f"inbox listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    return serve_until_terminated(server)


if __name__ == "__main__":
    sys.exit(main())
