"""The local dev server routes a fake `api/` tree the way Vercel does."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devstack.devserver import (
    DevServer,
    PathPattern,
    RouteConflictError,
    RouteTable,
    VercelConfig,
    load_vercel_config,
    make_server,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 5

ECHO = """\
import hashlib
import json
from http.server import BaseHTTPRequestHandler

NAME = "__NAME__"


class handler(BaseHTTPRequestHandler):
    def _reply(self, body=b""):
        payload = json.dumps(
            {
                "name": NAME,
                "path": self.path,
                "method": self.command,
                "headers": dict(self.headers),
                "body_len": len(body),
                "body_sha256": hashlib.sha256(body).hexdigest(),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Handler", NAME)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def do_GET(self):
        self._reply()

    def do_HEAD(self):
        self._reply()

    def do_POST(self):
        self._reply(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
"""

USES_PROJECT_CODE = """\
from http.server import BaseHTTPRequestHandler

from devserver_probe_lib import VALUE


class handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = VALUE.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
"""

KEEP_ALIVE = """\
from http.server import BaseHTTPRequestHandler


class handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
"""

CRASHES = """\
from http.server import BaseHTTPRequestHandler


class handler(BaseHTTPRequestHandler):
    def do_GET(self):
        raise ValueError("boom while handling")
"""

VERCEL_JSON: dict[str, Any] = {
    "cleanUrls": True,
    "trailingSlash": False,
    "rewrites": [
        {"source": "/api/openapi.json", "destination": "/api/openapi"},
        {"source": "/api/legacy/:id", "destination": "/api/vehicles/:id"},
        {"source": "/api/files/:rest*", "destination": "/api/hello?rest=:rest"},
        {"source": "/api/by-name/:name", "destination": "/api/hello"},
        {"source": "/api/v1/(.*)", "destination": "/api/$1"},
    ],
    "headers": [
        {"source": "/api/(.*)", "headers": [{"key": "X-Frame-Options", "value": "DENY"}]},
        {"source": "/api/vehicles/:id", "headers": [{"key": "X-Vehicle", "value": ":id"}]},
    ],
}

ECHO_FILES = [
    "api/index.py",
    "api/hello.py",
    "api/openapi.py",
    "api/nested/deep.py",
    "api/reports/index.py",
    "api/vehicles/new.py",
    "api/vehicles/[id]/index.py",
    "api/vehicles/[id]/maintenance.py",
    "api/vin/[vin].py",
    "api/_private.py",
    "api/_helpers/util.py",
    "api/.hidden.py",
]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def echo_source(name: str) -> str:
    return ECHO.replace("__NAME__", name)


def bump_mtime(path: Path) -> None:
    """Move the mtime well past the previous one instead of sleeping for clock ticks."""
    stamp = path.stat().st_mtime + 10
    os.utime(path, (stamp, stamp))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for rel in ECHO_FILES:
        write(tmp_path / rel, echo_source(rel.removeprefix("api/").removesuffix(".py")))
    write(tmp_path / "api/notes.txt", "not a function")
    write(tmp_path / "api/uses_project_code.py", USES_PROJECT_CODE)
    write(tmp_path / "api/keep_alive.py", KEEP_ALIVE)
    write(tmp_path / "api/crashes.py", CRASHES)
    write(tmp_path / "api/broken.py", 'raise RuntimeError("boom at import")\n')
    write(tmp_path / "api/no_handler.py", "VALUE = 1\n")
    write(tmp_path / "devserver_probe_lib.py", 'VALUE = "from project root"\n')
    write(tmp_path / "vercel.json", json.dumps(VERCEL_JSON))
    write(tmp_path / "public/index.html", "<h1>home</h1>\n")
    write(tmp_path / "public/about.html", "<h1>about</h1>\n")
    write(tmp_path / "public/style.css", "body {}\n")
    write(tmp_path / "secret.txt", "outside public/\n")
    return tmp_path


@pytest.fixture
def serve(project: Path) -> Iterator[Callable[..., DevServer]]:
    """Start servers for `project` on free ports; stop them and undo their imports after."""
    started: list[tuple[DevServer, threading.Thread]] = []
    saved_path = list(sys.path)

    def start(*, reload: bool = False) -> DevServer:
        server = make_server(project, "127.0.0.1", 0, reload=reload)
        server.rescan_interval = 0
        thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
        thread.start()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)
    sys.path[:] = saved_path
    for name in [n for n in sys.modules if n.startswith("_vercel_fn.")]:
        del sys.modules[name]
    sys.modules.pop("devserver_probe_lib", None)


@pytest.fixture
def server(serve: Callable[..., DevServer]) -> DevServer:
    return serve()


@pytest.fixture
def base(server: DevServer) -> str:
    return f"http://127.0.0.1:{server.server_port}"


def get(url: str, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.get(url, headers=headers, timeout=TIMEOUT, allow_redirects=False)


def echo(response: requests.Response) -> dict[str, object]:
    assert response.status_code == 200, response.text
    data: dict[str, object] = response.json()
    return data


def raw_exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def raw_get(port: int, target: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    conn.putrequest("GET", target, skip_accept_encoding=True)
    conn.endheaders()
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


# --------------------------------------------------------------------------- route table


def test_route_table_lists_only_function_files(project: Path) -> None:
    table = RouteTable.scan(project / "api")
    patterns = {r.pattern: r.file.relative_to(project).as_posix() for r in table.routes}
    assert patterns == {
        "/api": "api/index.py",
        "/api/broken": "api/broken.py",
        "/api/crashes": "api/crashes.py",
        "/api/hello": "api/hello.py",
        "/api/keep_alive": "api/keep_alive.py",
        "/api/nested/deep": "api/nested/deep.py",
        "/api/no_handler": "api/no_handler.py",
        "/api/openapi": "api/openapi.py",
        "/api/reports": "api/reports/index.py",
        "/api/uses_project_code": "api/uses_project_code.py",
        "/api/vehicles/new": "api/vehicles/new.py",
        "/api/vehicles/[id]": "api/vehicles/[id]/index.py",
        "/api/vehicles/[id]/maintenance": "api/vehicles/[id]/maintenance.py",
        "/api/vin/[vin]": "api/vin/[vin].py",
    }


def test_route_table_prefers_static_and_falls_back_to_dynamic(project: Path) -> None:
    table = RouteTable.scan(project / "api")
    new = table.match("/api/vehicles/new")
    assert new is not None
    assert new.file == project / "api/vehicles/new.py"
    assert new.params == {}
    fallback = table.match("/api/vehicles/new/maintenance?x=1")
    assert fallback is not None
    assert fallback.route.pattern == "/api/vehicles/[id]/maintenance"
    assert fallback.params == {"id": "new"}
    decoded = table.match("/api/vin/a%2Fb")
    assert decoded is not None
    assert decoded.params == {"vin": "a/b"}
    assert table.match("/api/vehicles") is None
    assert table.match("/api/vehicles//maintenance") is None


def test_route_table_rejects_two_files_for_one_url(tmp_path: Path) -> None:
    write(tmp_path / "api/a.py", "")
    write(tmp_path / "api/a/index.py", "")
    with pytest.raises(RouteConflictError, match="/api/a"):
        RouteTable.scan(tmp_path / "api")


# --------------------------------------------------------------------------- vercel.json


def test_config_defaults_without_vercel_json(tmp_path: Path) -> None:
    assert load_vercel_config(tmp_path) == VercelConfig()


def test_config_parses_settings(project: Path) -> None:
    config = load_vercel_config(project)
    assert config.clean_urls is True
    assert config.trailing_slash is False
    assert config.rewrites[0].source.source == "/api/openapi.json"
    assert config.headers[0].headers_for("/api/x") == [("X-Frame-Options", "DENY")]
    assert config.headers[1].headers_for("/api/vehicles/7") == [("X-Vehicle", "7")]
    assert config.headers[1].headers_for("/api/vehicles/7/maintenance") == []


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        '{"rewrites": {"source": "/a"}}',
        '{"rewrites": [{"source": "/a"}]}',
        '{"rewrites": [{"source": "/a/(unclosed", "destination": "/b"}]}',
        '{"trailingSlash": "no"}',
        '{"headers": [{"source": "/a", "headers": [{"key": "X", "value": "a\\r\\nInjected: 1"}]}]}',
    ],
)
def test_config_rejects_malformed_vercel_json(tmp_path: Path, text: str) -> None:
    write(tmp_path / "vercel.json", text)
    with pytest.raises(ValueError, match=r"vercel\.json"):
        load_vercel_config(tmp_path)


def test_path_patterns_follow_path_to_regexp() -> None:
    rest = PathPattern.compile("/api/:rest*")
    assert rest.match("/api/a/b") == ["a/b"]
    assert rest.match("/api") == [""]
    assert PathPattern.compile("/api/:rest+").match("/api") is None
    digits = PathPattern.compile("/api/:id(\\d+)")
    assert digits.match("/api/42") == ["42"]
    assert digits.match("/api/abc") is None
    assert PathPattern.compile("/api/openapi.json").match("/api/openapiXjson") is None
    assert PathPattern.compile("/api/(.*)").match("/api/x/y") == ["x/y"]


# --------------------------------------------------------------------------- routing


def test_plain_nested_and_index_files(base: str) -> None:
    assert echo(get(f"{base}/api/hello"))["name"] == "hello"
    assert echo(get(f"{base}/api/nested/deep"))["name"] == "nested/deep"
    assert echo(get(f"{base}/api"))["name"] == "index"
    assert echo(get(f"{base}/api/reports"))["name"] == "reports/index"


def test_handler_sees_original_path_and_headers(base: str) -> None:
    data = echo(get(f"{base}/api/hello?a=1&b=two", headers={"X-Test": "yes"}))
    assert data["path"] == "/api/hello?a=1&b=two"
    assert data["method"] == "GET"
    assert isinstance(data["headers"], dict)
    assert data["headers"]["X-Test"] == "yes"


def test_forwarding_headers_are_overwritten_with_the_connections_address(base: str) -> None:
    # Like Vercel's edge: a client's own X-Forwarded-For or X-Real-IP never reaches a function.
    spoofed = {"X-Forwarded-For": "203.0.113.9, 10.0.0.1", "X-Real-IP": "198.51.100.2"}
    headers = echo(get(f"{base}/api/hello", headers=spoofed))["headers"]
    assert isinstance(headers, dict)
    assert (headers["X-Forwarded-For"], headers["X-Real-IP"]) == ("127.0.0.1", "127.0.0.1")
    unspoofed = echo(get(f"{base}/api/hello"))["headers"]
    assert isinstance(unspoofed, dict)
    assert unspoofed["X-Forwarded-For"] == "127.0.0.1"


def test_dynamic_folder_appends_param_to_query(base: str) -> None:
    data = echo(get(f"{base}/api/vehicles/123?x=1"))
    assert data["name"] == "vehicles/[id]/index"
    assert data["path"] == "/api/vehicles/123?x=1&id=123"
    data = echo(get(f"{base}/api/vehicles/123/maintenance"))
    assert data["name"] == "vehicles/[id]/maintenance"
    assert data["path"] == "/api/vehicles/123/maintenance?id=123"


def test_dynamic_file_percent_encodes_param(base: str) -> None:
    data = echo(get(f"{base}/api/vin/a%20b%2Fc%C3%A9?q=1"))
    assert data["name"] == "vin/[vin]"
    assert data["path"] == "/api/vin/a%20b%2Fc%C3%A9?q=1&vin=a%20b%2Fc%C3%A9"
    data = echo(get(f"{base}/api/vin/x%26y=z"))
    assert data["path"] == "/api/vin/x%26y=z?vin=x%26y%3Dz"
    assert isinstance(data["path"], str)
    assert parse_qs(urlsplit(data["path"]).query) == {"vin": ["x&y=z"]}


def test_static_route_beats_dynamic(base: str) -> None:
    data = echo(get(f"{base}/api/vehicles/new"))
    assert data["name"] == "vehicles/new"
    assert data["path"] == "/api/vehicles/new"


@pytest.mark.parametrize(
    "path", ["/api/_private", "/api/_helpers/util", "/api/.hidden", "/api/notes", "/api/nope"]
)
def test_unrouted_paths_are_router_404(base: str, path: str) -> None:
    response = get(base + path)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"error": "not_found"}


def test_trailing_slash_redirects_with_query(base: str) -> None:
    response = get(f"{base}/api/hello/?a=1")
    assert response.status_code == 308
    assert response.headers["Location"] == "/api/hello?a=1"


def test_redirect_never_leaves_the_origin(server: DevServer) -> None:
    response = raw_get(server.server_port, "//evil.example/")
    assert response.status == 308
    assert response.getheader("Location") == "/evil.example"


@pytest.mark.parametrize(
    ("request_path", "name", "seen_path"),
    [
        ("/api/openapi.json", "openapi", "/api/openapi.json"),
        ("/api/legacy/7?x=1", "vehicles/[id]/index", "/api/legacy/7?x=1&id=7"),
        ("/api/files/a/b/c", "hello", "/api/files/a/b/c?rest=a/b/c"),
        ("/api/by-name/bob", "hello", "/api/by-name/bob?name=bob"),
        ("/api/v1/nested/deep", "nested/deep", "/api/v1/nested/deep"),
    ],
)
def test_rewrites_route_by_destination_but_show_the_requested_path(
    base: str, request_path: str, name: str, seen_path: str
) -> None:
    # As on Vercel: the destination picks the function (and adds its query), the
    # function sees the path the client asked for.
    data = echo(get(base + request_path))
    assert data["name"] == name
    assert data["path"] == seen_path


# The catch-all in the repository's vercel.json: every /api path but the dynamic routes' own.
CATCH_ALL = {
    "source": "/api/:path((?!(?:vehicles/[^/]+(?:/maintenance)?|vin/[^/]+)$).*)?",
    "destination": "/api/hello",
}


def serve_with_rewrites(project: Path, serve: Callable[..., DevServer], *extra: dict[str, str]) -> str:
    config = {**VERCEL_JSON, "rewrites": [*VERCEL_JSON["rewrites"], *extra]}
    write(project / "vercel.json", json.dumps(config))
    return f"http://127.0.0.1:{serve().server_port}"


def test_rewrites_come_before_dynamic_routes(project: Path, serve: Callable[..., DevServer]) -> None:
    # Vercel's build puts the dynamic [param] routes after the vercel.json rewrites, so a
    # catch-all takes their paths too; functions at their own fixed path come first.
    base = serve_with_rewrites(project, serve, {"source": "/api/:path*", "destination": "/api/hello"})
    assert echo(get(f"{base}/api/vehicles/7"))["name"] == "hello"
    assert echo(get(f"{base}/api/vin/abc"))["name"] == "hello"
    assert echo(get(f"{base}/api/vehicles/new"))["name"] == "vehicles/new"
    assert echo(get(f"{base}/api/nested/deep"))["name"] == "nested/deep"


@pytest.mark.parametrize(
    ("request_path", "name", "seen_path"),
    [
        ("/api/nope", "hello", "/api/nope?path=nope"),
        (
            "/api/vehicles/7/maintenance/8",
            "hello",
            "/api/vehicles/7/maintenance/8?path=vehicles/7/maintenance/8",
        ),
        ("/api/vin/abc/more", "hello", "/api/vin/abc/more?path=vin/abc/more"),
        ("/api/vehicles/7", "vehicles/[id]/index", "/api/vehicles/7?id=7"),
        ("/api/vehicles/7/maintenance", "vehicles/[id]/maintenance", "/api/vehicles/7/maintenance?id=7"),
        ("/api/vin/abc", "vin/[vin]", "/api/vin/abc?vin=abc"),
        ("/api", "index", "/api"),
        # Rewritten to a dynamic route's path: routing goes on past the catch-all to it.
        ("/api/legacy/7", "vehicles/[id]/index", "/api/legacy/7?id=7"),
    ],
)
def test_a_catch_all_rewrite_last_spares_the_dynamic_routes(
    project: Path, serve: Callable[..., DevServer], request_path: str, name: str, seen_path: str
) -> None:
    base = serve_with_rewrites(project, serve, CATCH_ALL)
    data = echo(get(base + request_path))
    assert (data["name"], data["path"]) == (name, seen_path)


def test_config_headers_follow_the_handlers_own(server: DevServer) -> None:
    response = raw_get(server.server_port, "/api/vehicles/9")
    names = [k for k, _ in response.getheaders()]
    assert response.getheader("X-Frame-Options") == "DENY"
    assert response.getheader("X-Vehicle") == "9"
    assert names.index("X-Handler") < names.index("X-Frame-Options") < names.index("X-Vehicle")
    assert raw_get(server.server_port, "/api/nope").getheader("X-Frame-Options") == "DENY"
    assert raw_get(server.server_port, "/").getheader("X-Frame-Options") is None


def test_the_access_line_leaves_out_the_query(server: DevServer, capsys: pytest.CaptureFixture[str]) -> None:
    # A query may carry a token or password a client put there; the path is enough.
    base = f"http://127.0.0.1:{server.server_port}"
    assert echo(get(f"{base}/api/hello?access_token=secret-in-query"))["name"] == "hello"
    assert get(f"{base}/api/nope?password=secret-in-query").status_code == 404
    server.shutdown()
    server.server_close()  # waits for the request threads, so every line is written
    err = capsys.readouterr().err
    assert "GET /api/hello 200 api/hello.py" in err
    assert "GET /api/nope 404 (not_found)" in err
    assert "secret-in-query" not in err


# --------------------------------------------------------------------------- handler I/O


def test_missing_method_is_the_handlers_own_501(base: str) -> None:
    response = requests.delete(f"{base}/api/hello", timeout=TIMEOUT)
    assert response.status_code == 501
    assert "Unsupported method ('DELETE')" in response.text


def test_post_body_reaches_handler_intact(base: str) -> None:
    body = bytes(range(256)) * 400  # 100 KiB, every byte value
    response = requests.post(f"{base}/api/hello", data=body, headers={"X-Test": "post"}, timeout=TIMEOUT)
    data = echo(response)
    assert data["method"] == "POST"
    assert data["body_len"] == len(body)
    assert data["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert isinstance(data["headers"], dict)
    assert data["headers"]["X-Test"] == "post"


def test_head_has_headers_and_no_body(base: str) -> None:
    response = requests.head(f"{base}/api/hello", timeout=TIMEOUT)
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) > 0
    assert response.content == b""
    static = requests.head(f"{base}/", timeout=TIMEOUT)
    assert static.status_code == 200
    assert static.headers["Content-Length"] == str(len("<h1>home</h1>\n"))
    assert static.content == b""


def test_one_request_per_connection(server: DevServer) -> None:
    request = b"GET /api/keep_alive HTTP/1.1\r\nHost: x\r\n\r\n"
    reply = raw_exchange(server.server_port, request * 2)
    assert reply.count(b"HTTP/1.1 200") == 1
    assert reply.endswith(b"\r\n\r\nok")


@pytest.mark.parametrize(
    "line",
    [b"GARBAGE\r\n", b"GET /api/hello\r\n", b"GET /api/hello HTTP/1.1 extra\r\n", b"\r\n"],
)
def test_malformed_request_line_is_400(server: DevServer, line: bytes) -> None:
    reply = raw_exchange(server.server_port, line + b"Host: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert reply.endswith(b"\r\n\r\nBad Request\n")


def test_target_over_16_kib_is_414(server: DevServer) -> None:
    def status(target: str) -> bytes:
        request = f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        return raw_exchange(server.server_port, request).split(b"\r\n", 1)[0]

    prefix = "/api/vin/"
    assert status(prefix + "a" * (16 * 1024 - len(prefix))).startswith(b"HTTP/1.0 200")
    assert status(prefix + "a" * (16 * 1024 - len(prefix) + 1)).startswith(b"HTTP/1.1 414 ")
    assert status("/" + "a" * 70_000).startswith(b"HTTP/1.1 414 ")


# --------------------------------------------------------------------------- modules


def test_import_failure_is_500_and_server_keeps_serving(
    base: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for path in ("/api/broken", "/api/no_handler"):
        response = get(base + path)
        assert response.status_code == 500
        assert response.json() == {"error": "function_failed_to_start"}
    err = capsys.readouterr().err
    assert "RuntimeError: boom at import" in err
    assert "no_handler.py failed to start" in err
    assert echo(get(f"{base}/api/hello"))["name"] == "hello"


def test_crash_while_handling_is_500(base: str, capsys: pytest.CaptureFixture[str]) -> None:
    response = get(f"{base}/api/crashes")
    assert response.status_code == 500
    assert response.json() == {"error": "function_invocation_failed"}
    assert "ValueError: boom while handling" in capsys.readouterr().err
    assert echo(get(f"{base}/api/hello"))["name"] == "hello"


def test_project_root_is_importable(base: str) -> None:
    response = get(f"{base}/api/uses_project_code")
    assert response.status_code == 200
    assert response.text == "from project root"


def test_reload_picks_up_edits_and_new_files(project: Path, serve: Callable[..., DevServer]) -> None:
    server = serve(reload=True)
    base = f"http://127.0.0.1:{server.server_port}"
    assert echo(get(f"{base}/api/hello"))["name"] == "hello"

    hello = project / "api/hello.py"
    write(hello, echo_source("hello v2"))
    bump_mtime(hello)
    assert echo(get(f"{base}/api/hello"))["name"] == "hello v2"

    broken = project / "api/broken.py"
    assert get(f"{base}/api/broken").status_code == 500
    write(broken, echo_source("fixed"))
    bump_mtime(broken)
    assert echo(get(f"{base}/api/broken"))["name"] == "fixed"

    write(project / "api/added.py", echo_source("added"))
    assert echo(get(f"{base}/api/added"))["name"] == "added"
    (project / "api/added.py").unlink()
    assert get(f"{base}/api/added").status_code == 404


def test_without_reload_modules_load_once(project: Path, base: str) -> None:
    assert echo(get(f"{base}/api/hello"))["name"] == "hello"
    hello = project / "api/hello.py"
    write(hello, echo_source("hello v2"))
    bump_mtime(hello)
    assert echo(get(f"{base}/api/hello"))["name"] == "hello"


# --------------------------------------------------------------------------- public/


def test_static_files_from_public(base: str) -> None:
    home = get(f"{base}/")
    assert home.status_code == 200
    assert home.text == "<h1>home</h1>\n"
    assert home.headers["Content-Type"] == "text/html; charset=utf-8"
    assert get(f"{base}/about").text == "<h1>about</h1>\n"
    assert get(f"{base}/style.css").headers["Content-Type"] == "text/css; charset=utf-8"
    clean = get(f"{base}/about.html")
    assert clean.status_code == 308
    assert clean.headers["Location"] == "/about"
    assert requests.post(f"{base}/", timeout=TIMEOUT).status_code == 404
    assert get(f"{base}/missing.txt").json() == {"error": "not_found"}


def test_static_files_stay_inside_public(server: DevServer) -> None:
    assert raw_get(server.server_port, "/%2e%2e/secret.txt").status == 404
    assert raw_get(server.server_port, "/../secret.txt").status == 404


# --------------------------------------------------------------------------- CLI


def test_main_announces_and_serves(project: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.devserver", "--root", str(project), "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("API dev server on http://127.0.0.1:")
        assert line.endswith("/api")
        url = line.removeprefix("API dev server on ")
        assert echo(get(f"{url}/hello"))["name"] == "hello"
    finally:
        process.terminate()
        assert process.wait(TIMEOUT) == 0
        if process.stdout is not None:
            process.stdout.close()
