"""GET /api/openapi.json and /api/docs over real HTTP, and the docs page in a headless Chromium."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lib.contract.openapi import build_document
from lib.contract.routes import ALL_ROUTES
from tests.browser import HEADLESS_FLAGS, find_chromium
from tests.support import ApiClient, assert_problem

PUBLIC_CACHE = "public, max-age=3600, s-maxage=86400"
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
OPERATIONS = {f"{method} {route.path}" for route in ALL_ROUTES for method in route.operations}


class PageScan(HTMLParser):
    """data-operation attributes and every URL the page could load."""

    def __init__(self) -> None:
        super().__init__()
        self.operations: list[str] = []
        self.resource_urls: list[str] = []
        self.link_urls: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        values = {name: value or "" for name, value in attrs}
        if "data-operation" in values:
            self.operations.append(values["data-operation"])
        for name in ("src", "srcset", "poster", "data", "action", "formaction"):
            if name in values:
                self.resource_urls.append(values[name])
        if "href" in values:
            (self.link_urls if tag == "a" else self.resource_urls).append(values["href"])
        if "style" in values and "url(" in values["style"]:
            self.resource_urls.append(values["style"])


def scan(html: str) -> PageScan:
    parser = PageScan()
    parser.feed(html)
    parser.close()
    return parser


# --------------------------------------------------------------------------- /api/openapi.json


def test_openapi_document(api: ApiClient) -> None:
    response = api.get("openapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == PUBLIC_CACHE
    assert response.headers["X-Request-Id"]
    etag = response.headers["ETag"]
    assert etag.startswith('"')
    assert response.json() == build_document()


def test_openapi_document_not_modified(api: ApiClient) -> None:
    first = api.get("openapi.json")
    etag = first.headers["ETag"]
    again = api.get("openapi.json", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == PUBLIC_CACHE
    assert api.get("openapi.json", headers={"If-None-Match": '"other"'}).status_code == 200


def test_openapi_rewrite_target_and_head(api: ApiClient) -> None:
    direct = api.get("openapi")
    assert direct.status_code == 200
    assert direct.json() == build_document()
    head = api.request("HEAD", "openapi.json")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["ETag"] == direct.headers["ETag"]


def test_openapi_rejects_other_methods_and_query(api: ApiClient) -> None:
    response = api.post("openapi.json", json={})
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert_problem(api.get("openapi.json", params={"x": "1"}), 400, "invalid_query")


# --------------------------------------------------------------------------- /api/docs


def test_docs_page(api: ApiClient) -> None:
    response = api.get("docs")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["Cache-Control"] == PUBLIC_CACHE
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = scan(response.content.decode("utf-8"))
    assert set(page.operations) == OPERATIONS
    assert "script" not in page.tags
    assert all(not url.startswith(("http:", "https:", "//")) for url in page.resource_urls)


def test_docs_page_not_modified(api: ApiClient) -> None:
    etag = api.get("docs").headers["ETag"]
    again = api.get("docs", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == PUBLIC_CACHE


# --------------------------------------------------------------------------- in a real browser


def _page_requests(net_log: Path, api_origin: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """URLs the page asked for, from Chromium's NetLog (the browser's own background requests left out)."""
    log = json.loads(net_log.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    api_site = f"{urlsplit(api_origin).scheme}://{urlsplit(api_origin).hostname}"
    for event in log["events"]:
        params = event.get("params") or {}
        if event["type"] != start_job or "url" not in params:
            continue
        top_frame_site = str(params.get("network_isolation_key", "")).split(" ")[0]
        if params.get("initiator") == api_origin or top_frame_site == api_site:
            yield params["url"], params


def test_docs_render_in_headless_chromium(api: ApiClient, tmp_path: Path) -> None:
    chromium = find_chromium()
    url = api.url("docs")
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    net_log = tmp_path / "netlog.json"
    screenshot = tmp_path / "docs.png"
    command = [
        chromium,
        *HEADLESS_FLAGS,
        f"--user-data-dir={tmp_path / 'profile'}",
        # Nothing leaves this machine, whatever the page asks for; the NetLog still records it.
        f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {urlsplit(url).hostname}",
        f"--log-net-log={net_log}",
        "--window-size=1280,2000",
        f"--screenshot={screenshot}",
        "--dump-dom",
        url,
    ]
    result = subprocess.run(command, capture_output=True, timeout=120, check=False, cwd=tmp_path)
    dom = result.stdout.decode("utf-8", "replace")
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")[-3000:]

    page = scan(dom)
    assert set(page.operations) == OPERATIONS, "the rendered page misses operations"
    assert len(page.operations) == len(OPERATIONS)
    assert "Vehicle API" in dom
    assert "script" not in page.tags
    for found in (*page.link_urls, *page.resource_urls):
        assert not found.startswith(("http:", "https:", "//")), found
    assert screenshot.is_file()
    assert screenshot.stat().st_size > 20_000, "the screenshot looks blank"

    requests = list(_page_requests(net_log, origin))
    urls = [request_url for request_url, _ in requests]
    assert any(request_url.startswith(url) for request_url in urls), f"the NetLog shows no page load: {urls}"
    outside = [request_url for request_url in urls if not request_url.startswith(origin + "/")]
    assert outside == [], f"the docs page made requests outside the API origin: {outside}"
