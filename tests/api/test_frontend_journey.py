"""The reference frontend (public/) in a real browser: a person's whole journey, twice.

One disposable stack with email confirmation on (as a hosted project). The journey, as a
person clicks it: sign up, try to log in too early, confirm through the inbox's link, log
out and in, add vehicles (a refused VIN first), filter, edit (a refused odometer rollback
first), add a maintenance record, survive an expired access cookie (refresh), change the
password (a wrong current one first), log out, recover the password through the inbox,
log in with it, log out. Every API refusal on the way must reach the screen as the
problem's title, detail and field errors.

It runs once same-origin (the page served by the API's dev server, as Vercel serves
public/) and once from another origin of the same site (the page on another port of
127.0.0.1, the API's URL in the page's `api-base` meta, the API allowing the page through
ALLOWED_ORIGINS). There the `csrf-token` cookie is deleted as soon as it is set, as it would
be unreadable on another host: the page must work with the Session body's `csrf_token`.

The local Auth mails GoTrue's default link (Auth's /verify, which redirects with the
session in the fragment). A project configured as the README says links to the frontend's
/auth/confirm with `token_hash` and `type` instead; the test builds that link from the
mail's token, type and redirect_to, as the template would.

A screenshot of every screen is kept under test-output/frontend-journey/ (git-ignored).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from devstack import inbox
from devstack.stack import running_stack
from devstack.stack_settings import StackSettings, throwaway_settings
from tests.browser import TIMEOUT, DevTools, chromium, page_server
from tests.factories import north_american_vin

pytestmark = pytest.mark.skipif(os.environ.get("SKIP_BROWSER_TESTS") == "1", reason="SKIP_BROWSER_TESTS=1")

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = ROOT / "public"
OUTPUT = ROOT / "test-output" / "frontend-journey"
WAIT_MS = 10_000
API_BASE_META = '<meta name="api-base" content="/api">'
CONNECT_SELF = "connect-src 'self'"


# --------------------------------------------------------------------------- the frontend elsewhere


def served_elsewhere(html: str, api_url: str) -> str:
    """A page of public/ configured, as its comments say, for an API on another origin."""
    parts = urlsplit(api_url)
    assert html.count(API_BASE_META) == 1, "the page's api-base setting moved"
    assert html.count(CONNECT_SELF) == 1, "the page's connect-src setting moved"
    html = html.replace(API_BASE_META, f'<meta name="api-base" content="{api_url}">')
    return html.replace(CONNECT_SELF, f"{CONNECT_SELF} {parts.scheme}://{parts.netloc}")


def frontend_pages(api_url: str) -> type[BaseHTTPRequestHandler]:
    """Serves public/ like Vercel with cleanUrls (`/` and `/auth/confirm` are HTML files)."""

    class FrontendPages(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            file = (PUBLIC / (path.strip("/") or "index.html")).resolve()
            if not file.suffix:
                file = file.with_suffix(".html")
            if not (file.is_relative_to(PUBLIC) and file.is_file()):
                self.send_error(404)
                return
            body = file.read_bytes()
            kind = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}.get(file.suffix)
            if file.suffix == ".html":
                body = served_elsewhere(body.decode(), api_url).encode()
            self.send_response(200)
            self.send_header("Content-Type", f"{kind or 'application/octet-stream'}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return FrontendPages


@dataclass(frozen=True)
class Frontend:
    settings: StackSettings
    same_origin: str  # the API's dev server, serving public/
    other_origin: str  # another port of 127.0.0.1: the same site, another origin


@pytest.fixture(scope="module")
def frontend() -> Iterator[Frontend]:
    """A stack with email confirmation on, and the frontend on two origins."""
    settings = throwaway_settings("frontend-stack-", auth_email_confirmations=True)
    with page_server("127.0.0.1", frontend_pages(settings.api_url)) as other_origin:
        settings = replace(
            settings,
            extra_api_env={
                "ALLOWED_ORIGINS": other_origin,
                # Two journeys from one IP make more auth calls a minute than a person would.
                "RATE_LIMIT_AUTH": "200/60",
            },
        )
        with running_stack(settings):
            same_origin = settings.api_url.removesuffix("/api")
            yield Frontend(settings, same_origin, other_origin)


# --------------------------------------------------------------------------- a tab, as a person uses it


class Tab:
    """One page of the browser; every screen it reaches can be kept as a screenshot."""

    def __init__(self, browser: DevTools, shots: Path) -> None:
        self.browser = browser
        self.shots = shots
        self.count = 0
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = str(
            browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        )
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1100, "height": 760, "deviceScaleFactor": 1, "mobile": False},
        )

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return self.browser.call(method, params, session=self.session)

    def goto(self, url: str) -> None:
        navigated = self.call("Page.navigate", {"url": url})
        assert "errorText" not in navigated, navigated

    def reload(self) -> None:
        self.call("Page.reload")

    def js(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate",
            {
                "expression": expression,
                "awaitPromise": True,
                "returnByValue": True,
                "timeout": TIMEOUT * 1000,
            },
        )
        if "exceptionDetails" in result:
            raise RuntimeError(json.dumps(result["exceptionDetails"])[:2000])
        return result["result"].get("value")

    def wait(self, condition: str, what: str) -> None:
        """Until `condition` (a JS expression) holds in the page, across navigations."""
        poll = f"""new Promise((resolve) => {{
          const deadline = Date.now() + {WAIT_MS};
          const check = () => {{
            let ok = false;
            try {{ ok = Boolean({condition}); }} catch (error) {{ ok = false; }}
            if (ok) resolve(true); else if (Date.now() > deadline) resolve(false); else setTimeout(check, 20);
          }};
          check();
        }})"""
        deadline = time.monotonic() + WAIT_MS / 1000 + 5
        while time.monotonic() < deadline:
            try:
                if self.js(poll):
                    return
                break
            except RuntimeError:
                continue  # the page navigated while it was being asked: ask the new one
        self.shot(f"FAILED-{what}")
        pytest.fail(f"waiting for {what}: the page shows {self.state()}", pytrace=False)

    def state(self) -> dict[str, Any]:
        """Where the page is and what it says, for a failure's message."""
        return dict(
            self.js("""((shown) => ({
              url: location.href,
              screen: [...document.querySelectorAll('.screen')].filter((s) => !s.hidden).map((s) => s.id),
              notice: shown('notice'),
              problem: shown('problem'),
            }))((id) => {
              const element = document.getElementById(id);
              return element?.checkVisibility() ? element.innerText : null;
            })""")
        )

    def fill(self, values: dict[str, str]) -> None:
        self.js(
            f"""for (const [selector, value] of Object.entries({json.dumps(values)})) {{
              const field = document.querySelector(selector);
              field.value = value;
              field.dispatchEvent(new Event('input', {{bubbles: true}}));
            }}"""
        )

    def click(self, selector: str) -> None:
        self.js(f"document.querySelector({json.dumps(selector)}).click()")

    def submit(self, form: str) -> None:
        self.click(f"#{form} button[type=submit]")

    def click_row(self, vin: str) -> None:
        self.js(
            f"""[...document.querySelectorAll('#vehicle-rows tr')]
              .find((row) => row.cells[0].textContent === {json.dumps(vin)})
              .querySelector('button').click()"""
        )

    def text(self, selector: str) -> str:
        return str(self.js(f"document.querySelector({json.dumps(selector)}).innerText"))

    def visible(self, selector: str) -> str:
        """A JS condition: the element exists and is shown."""
        return f"document.querySelector({json.dumps(selector)})?.checkVisibility()"

    def shown(self, selector: str, contains: str) -> str:
        """A JS condition: the element is shown and its text contains `contains`."""
        found = f"document.querySelector({json.dumps(selector)})"
        return f"{found}?.checkVisibility() && {found}.innerText.includes({json.dumps(contains)})"

    def rows(self) -> list[list[str]]:
        return list(
            self.js(
                "[...document.querySelectorAll('#vehicle-rows tr')]"
                ".map((row) => [...row.cells].map((cell) => cell.innerText))"
            )
        )

    def shot(self, name: str) -> None:
        self.count += 1
        image = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        (self.shots / f"{self.count:02d}-{name}.png").write_bytes(base64.b64decode(image))

    def page_errors(self) -> list[str]:
        """Uncaught exceptions and security (CSP) complaints of this tab."""
        found = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            if event["method"] == "Runtime.exceptionThrown":
                found.append(json.dumps(event["params"]["exceptionDetails"])[:500])
            elif event["method"] == "Log.entryAdded" and event["params"]["entry"]["source"] == "security":
                found.append(event["params"]["entry"]["text"])
        return found

    def responses(self, path: str) -> list[tuple[str, int]]:
        """(method, status) of every response to `path` this tab received."""
        methods = {
            event["params"]["requestId"]: event["params"]["request"]["method"]
            for event in self.browser.events
            if event["method"] == "Network.requestWillBeSent" and event.get("sessionId") == self.session
        }
        return [
            (methods.get(event["params"]["requestId"], "?"), event["params"]["response"]["status"])
            for event in self.browser.events
            if event["method"] == "Network.responseReceived"
            and event.get("sessionId") == self.session
            and urlsplit(event["params"]["response"]["url"]).path == path
        ]


# --------------------------------------------------------------------------- the journey


def landing_link(settings: StackSettings, address: str, kind: str, page_origin: str) -> str:
    """The link the README's email template makes of the newest mail to `address`."""
    message = inbox.latest_message(settings.inbox_url, address)
    assert message is not None, f"no mail to {address}"
    link = inbox.message_link(message)
    assert link is not None, message
    query = parse_qs(urlsplit(link).query)
    assert query["type"] == [kind], link
    # The frontend asked for its own origin; a template links to {{ .RedirectTo }}/auth/confirm.
    assert query["redirect_to"] == [page_origin], link
    return f"{page_origin}/auth/confirm?{urlencode({'token_hash': query['token'][0], 'type': kind})}"


def journey(frontend: Frontend, origin: str, name: str, tmp_path: Path) -> None:
    settings = frontend.settings
    cross = origin != frontend.same_origin
    api_origin = settings.api_url.removesuffix("/api")
    shots = OUTPUT / name
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    print(f"\nscreenshots of the {name} journey: {shots}")
    email = f"journey-{uuid.uuid4().hex[:10]}@example.test"
    password, changed, recovered = "first-password-1", "second-password-2", "third-password-3"
    vin, second_vin = north_american_vin(), north_american_vin()
    bad_vin = vin[:8] + ("0" if vin[8] != "0" else "1") + vin[9:]  # the check digit no longer fits

    with chromium(tmp_path / name) as browser:
        tab = Tab(browser, shots)

        def hide_csrf_cookie() -> None:
            # Another host could not read the API's csrf-token cookie: the page must not need it.
            if cross:
                tab.call("Network.deleteCookies", {"name": "csrf-token", "url": api_origin + "/"})

        def log_in(secret: str) -> None:
            tab.fill({"#login-email": email, "#login-password": secret})
            tab.submit("login-form")
            tab.wait(
                tab.shown("#notice", "Welcome") + " && " + tab.visible("#screen-vehicles"),
                "the list after login",
            )
            hide_csrf_cookie()

        def log_out() -> None:
            tab.click("#logout")
            tab.wait(
                tab.shown("#notice", "You are logged out") + " && " + tab.visible("#screen-login"),
                "logged out",
            )

        # -- sign up; logging in before confirming is refused, and says why -----------------
        tab.goto(origin + "/")
        tab.wait(tab.visible("#screen-login"), "the login screen")
        tab.shot("login")
        tab.click("a[data-screen=signup]")
        tab.fill({"#signup-email": email, "#signup-password": password})
        tab.shot("signup")
        tab.submit("signup-form")
        tab.wait(tab.shown("#notice", "confirmation link"), "the confirmation notice")
        tab.shot("check-your-email")
        tab.fill({"#login-password": password})
        tab.submit("login-form")
        tab.wait(tab.visible("#problem"), "the refused login")
        assert "confirm" in tab.text("#problem").lower(), tab.state()
        assert tab.text("#problem-request-id")
        tab.shot("email-not-confirmed")

        # -- the inbox's link confirms and signs in ----------------------------------------
        tab.goto(landing_link(settings, email, "signup", origin))
        tab.wait(
            "location.pathname === '/' && "
            + tab.shown("#notice", "confirmed")
            + " && "
            + tab.visible("#whoami"),
            "the app after confirming",
        )
        assert "token_hash" not in str(tab.js("location.href"))
        hide_csrf_cookie()
        assert tab.text("#user-email") == email
        assert tab.text("#user-role") == "member"
        assert tab.js("document.getElementById('vehicle-empty').checkVisibility()")
        tab.shot("confirmed")
        log_out()
        log_in(password)

        # -- vehicles: a refused VIN shows its field error, then create, filter, edit --------
        tab.click("#new-vehicle")
        tab.fill({"#vehicle-vin": bad_vin, "#vehicle-make": "Honda", "#vehicle-model": "Accord"})
        tab.fill({"#vehicle-model-year": "2019", "#vehicle-plate": "ab-123", "#vehicle-odometer": "1000"})
        tab.submit("vehicle-form")
        tab.wait(tab.visible("#vehicle-vin-error"), "the VIN's field error")
        assert tab.js("document.getElementById('vehicle-vin').getAttribute('aria-invalid')") == "true"
        assert "VIN" in tab.text("#problem-errors"), tab.state()
        tab.shot("vehicle-refused")
        tab.fill({"#vehicle-vin": vin})
        tab.submit("vehicle-form")
        tab.wait(tab.shown("#notice", f"Added Honda Accord ({vin})"), "the created vehicle")
        tab.click("#new-vehicle")
        tab.fill({"#vehicle-vin": second_vin, "#vehicle-make": "Skoda", "#vehicle-model": "Octavia"})
        tab.fill({"#vehicle-model-year": "2021", "#vehicle-color": "green"})
        tab.submit("vehicle-form")
        tab.wait(tab.shown("#notice", "Added Skoda Octavia"), "the second vehicle")
        assert [row[0] for row in tab.rows()] == [second_vin, vin]
        assert tab.rows()[1][3] == "AB-123"  # the API upper-cases plates
        tab.shot("vehicles")
        tab.fill({"#filter-q": "accord"})
        tab.submit("filter-form")
        tab.wait("document.querySelectorAll('#vehicle-rows tr').length === 1", "the filtered list")
        assert tab.rows()[0][0] == vin
        tab.shot("filtered")

        tab.click_row(vin)
        tab.wait(
            tab.visible("#maintenance") + " && document.getElementById('vehicle-vin').readOnly", "the editor"
        )
        tab.fill({"#vehicle-odometer": "500"})
        tab.submit("vehicle-form")
        tab.wait(tab.visible("#problem"), "the refused rollback")
        assert "odometer" in tab.text("#problem").lower(), tab.state()
        tab.shot("rollback-refused")
        tab.fill({"#vehicle-odometer": "1500", "#vehicle-color": "silver", "#vehicle-status": "maintenance"})
        tab.submit("vehicle-form")
        tab.wait(tab.shown("#notice", "Saved Honda Accord (version 2)"), "the saved vehicle")
        assert tab.rows()[0][4:6] == ["1,500", "maintenance"]

        # -- a maintenance record raises the odometer ----------------------------------------
        tab.click_row(vin)
        tab.wait(tab.visible("#maintenance-empty"), "the empty maintenance list")
        tab.fill(
            {"#record-odometer": "2500", "#record-description": "Oil and filter", "#record-cost": "89.90"}
        )
        tab.submit("maintenance-form")
        tab.wait(tab.shown("#notice", "Added a service record"), "the added record")
        assert tab.js("document.getElementById('vehicle-odometer').value") == "2500"
        rows = tab.js("[...document.querySelectorAll('#maintenance-rows tr')].map((r) => r.innerText)")
        assert len(rows) == 1
        assert "89.90 USD" in rows[0]
        assert "Oil and filter" in rows[0]
        tab.shot("maintenance")

        # -- an expired access cookie: the refresh cookie renews the session -----------------
        tab.call("Network.deleteCookies", {"name": "sb-access-token", "url": api_origin + "/"})
        tab.reload()
        tab.wait(
            tab.visible("#screen-vehicles")
            + " && document.querySelectorAll('#vehicle-rows tr').length === 2",
            "the list after refresh",
        )
        assert ("POST", 200) in tab.responses("/api/auth/refresh")
        assert "sb-access-token" in browser.cookies()
        hide_csrf_cookie()
        tab.click_row(second_vin)
        tab.wait(tab.visible("#maintenance"), "the second editor")
        tab.fill({"#vehicle-status": "retired"})
        tab.submit("vehicle-form")
        tab.wait(tab.shown("#notice", "Saved Skoda Octavia"), "a write after the refresh")

        # -- the password: a wrong current one is refused, then changed ----------------------
        tab.click("#show-password")
        tab.fill({"#current-password": "not-my-password", "#new-password": changed})
        tab.submit("password-form")
        tab.wait(tab.visible("#problem"), "the refused password change")
        assert "current password" in tab.text("#problem").lower(), tab.state()
        tab.shot("password-refused")
        tab.fill({"#current-password": password, "#new-password": changed})
        tab.submit("password-form")
        tab.wait(tab.shown("#notice", "Your password is changed"), "the changed password")
        tab.shot("password-changed")
        log_out()
        assert not {"sb-access-token", "sb-refresh-token", "csrf-token"} & set(browser.cookies())
        assert tab.js("localStorage.length") == 0
        tab.shot("logged-out")

        # -- forgotten: recover through the inbox, set a new one without the current one -----
        tab.click("a[data-screen=recover]")
        tab.fill({"#recover-email": email})
        tab.submit("recover-form")
        tab.wait(tab.shown("#notice", "reset its password"), "the recovery notice")
        tab.goto(landing_link(settings, email, "recovery", origin))
        tab.wait(tab.shown("#password-heading", "Set a new password"), "the new-password screen")
        assert not tab.js("document.getElementById('current-password').checkVisibility()")
        hide_csrf_cookie()
        tab.shot("set-new-password")
        tab.fill({"#new-password": recovered})
        tab.submit("password-form")
        tab.wait(tab.shown("#notice", "Your password is changed"), "the recovered password")
        log_out()
        log_in(recovered)
        assert [row[0] for row in tab.rows()] == [second_vin, vin]
        log_out()

        assert tab.page_errors() == []
        if cross:
            # Every API call went to the API's origin, with CORS (nothing failed for it).
            failed = [
                e
                for e in browser.events
                if e["method"] == "Network.loadingFailed" and "corsErrorStatus" in e["params"]
            ]
            assert failed == []


def test_the_journey_same_origin(frontend: Frontend, tmp_path: Path) -> None:
    journey(frontend, frontend.same_origin, "same-origin", tmp_path)


def test_the_journey_from_another_origin_of_the_same_site(frontend: Frontend, tmp_path: Path) -> None:
    assert urlsplit(frontend.other_origin).hostname == urlsplit(frontend.same_origin).hostname
    journey(frontend, frontend.other_origin, "other-origin", tmp_path)


def test_a_default_template_link_confirms_and_the_app_says_so(frontend: Frontend, tmp_path: Path) -> None:
    # The local Auth's own link (GoTrue's default template) goes through /auth/v1/verify,
    # which confirms the address and redirects to the app with a session in the fragment
    # that the app cannot turn into its cookies: it says so and drops the tokens.
    settings = frontend.settings
    email = f"default-link-{uuid.uuid4().hex[:10]}@example.test"
    signed_up = requests.post(
        f"{settings.api_url}/auth/signup",
        json={"email": email, "password": "default-link-1", "redirect_to": frontend.same_origin},
        timeout=TIMEOUT,
    )
    assert signed_up.status_code == 201, signed_up.text
    message = inbox.latest_message(settings.inbox_url, email)
    assert message is not None
    link = inbox.message_link(message)
    assert link is not None
    with chromium(tmp_path) as browser:
        tab = Tab(browser, tmp_path)
        tab.goto(link)
        tab.wait(
            tab.shown("#notice", "confirmed. Log in") + " && " + tab.visible("#screen-login"), "the notice"
        )
        assert tab.js("location.href") == frontend.same_origin + "/"
        # The same link again: Auth's error arrives in the fragment and is shown as a problem.
        tab.goto(link)
        tab.wait(tab.shown("#problem", "invalid or has expired"), "the refused link")
        assert tab.js("location.hash") == ""
        assert tab.page_errors() == []
