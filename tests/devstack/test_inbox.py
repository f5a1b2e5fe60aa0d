"""The local inbox (devstack/inbox.py): Mailpit-style API, web page, and the stack's Auth delivering to it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devstack import inbox
from devstack.stack import Stack, running_stack
from devstack.stack_settings import throwaway_settings
from tests.support import served

TIMEOUT = 10


@pytest.fixture
def mailbox() -> Iterator[str]:
    """A fresh in-process inbox."""
    with served(inbox.make_server(0)) as url:
        yield url


def _send(mailbox: str, to: str, subject: str, text: str) -> requests.Response:
    payload = {"From": {"Email": "admin@email.com"}, "To": [{"Email": to}], "Subject": subject, "Text": text}
    return requests.post(f"{mailbox}/api/v1/send", json=payload, timeout=TIMEOUT)


def test_messages_are_listed_newest_first_searched_read_and_deleted(mailbox: str) -> None:
    first = _send(
        mailbox, "a@example.com", "One", "open http://127.0.0.1:54321/auth/v1/verify?token=1&type=signup"
    )
    assert first.status_code == 200
    _send(mailbox, "b@example.com", "Two", "no link here")
    listed = requests.get(f"{mailbox}/api/v1/messages", timeout=TIMEOUT).json()
    assert (listed["total"], listed["count"], listed["unread"]) == (2, 2, 2)
    assert [m["Subject"] for m in listed["messages"]] == ["Two", "One"]
    summary = listed["messages"][1]
    assert summary["ID"] == first.json()["ID"]
    assert summary["To"] == [{"Name": "", "Address": "a@example.com"}]
    assert summary["From"]["Address"] == "admin@email.com"
    assert summary["Created"].endswith("Z")

    found = requests.get(f"{mailbox}/api/v1/search", params={"query": "to:A@example.com"}, timeout=TIMEOUT)
    assert [m["Subject"] for m in found.json()["messages"]] == ["One"]
    message = inbox.latest_message(mailbox, "a@example.com")
    assert message is not None
    assert message["Subject"] == "One"
    assert inbox.message_link(message) == "http://127.0.0.1:54321/auth/v1/verify?token=1&type=signup"
    assert inbox.latest_message(mailbox, "nobody@example.com") is None
    latest = requests.get(f"{mailbox}/api/v1/message/latest", timeout=TIMEOUT).json()
    assert latest["Subject"] == "Two"
    assert requests.get(f"{mailbox}/api/v1/messages", timeout=TIMEOUT).json()["unread"] == 0
    assert requests.get(f"{mailbox}/api/v1/message/nope", timeout=TIMEOUT).status_code == 404

    only = requests.delete(f"{mailbox}/api/v1/messages", json={"IDs": [first.json()["ID"]]}, timeout=TIMEOUT)
    assert only.status_code == 200
    assert requests.get(f"{mailbox}/api/v1/messages", timeout=TIMEOUT).json()["total"] == 1
    assert requests.delete(f"{mailbox}/api/v1/messages", timeout=TIMEOUT).status_code == 200
    assert requests.get(f"{mailbox}/api/v1/messages", timeout=TIMEOUT).json()["messages"] == []


def test_the_page_lists_each_mail_with_its_link_escaped(mailbox: str) -> None:
    _send(
        mailbox,
        "c@example.com",
        "<b>Reset</b>",
        "go to http://127.0.0.1:54321/auth/v1/verify?token=x&type=recovery",
    )
    page = requests.get(mailbox, timeout=TIMEOUT)
    assert page.headers["Content-Type"].startswith("text/html")
    assert "c@example.com" in page.text
    assert "&lt;b&gt;Reset&lt;/b&gt;" in page.text
    assert 'href="http://127.0.0.1:54321/auth/v1/verify?token=x&amp;type=recovery"' in page.text


@pytest.mark.parametrize("payload", [{}, {"To": []}, {"To": [{"Name": "x"}]}, [1]])
def test_malformed_sends_are_refused(mailbox: str, payload: object) -> None:
    response = requests.post(f"{mailbox}/api/v1/send", json=payload, timeout=TIMEOUT)
    assert response.status_code == 400
    assert requests.get(f"{mailbox}/api/v1/messages", timeout=TIMEOUT).json()["total"] == 0


def test_the_stack_mails_auth_links_to_its_inbox_and_the_link_works_through_the_gateway(stack: Stack) -> None:
    s = stack.settings
    auth = f"{s.supabase_url}/auth/v1"
    headers = {"apikey": s.publishable_key}
    email = f"inbox-{threading.get_ident()}@example.com"
    signed_up = requests.post(
        f"{auth}/signup",
        json={"email": email, "password": "inbox-password-1"},
        headers=headers,
        timeout=TIMEOUT,
    )
    assert signed_up.status_code == 200
    assert (
        requests.post(f"{auth}/recover", json={"email": email}, headers=headers, timeout=TIMEOUT).json() == {}
    )
    message = inbox.latest_message(s.inbox_url, email)
    assert message is not None
    assert message["Subject"] == "Reset your password"
    link = inbox.message_link(message)
    assert link is not None
    assert link.startswith(f"{auth}/verify?token=")
    # A browser opens the link without an API key, as Kong's open auth-v1-open route allows.
    landed = requests.get(link, allow_redirects=False, timeout=TIMEOUT)
    assert landed.status_code == 303
    fragment = parse_qs(urlsplit(landed.headers["Location"]).fragment)
    assert fragment["type"] == ["recovery"]
    token = fragment["access_token"][0]
    changed = requests.put(
        f"{auth}/user",
        json={"password": "inbox-password-2"},
        headers={**headers, "Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )
    assert changed.status_code == 200
    signed_in = requests.post(
        f"{auth}/token?grant_type=password",
        json={"email": email, "password": "inbox-password-2"},
        headers=headers,
        timeout=TIMEOUT,
    )
    assert signed_in.status_code == 200
    assert requests.get(s.inbox_url, timeout=TIMEOUT).status_code == 200


def test_a_stack_can_turn_email_confirmation_on_for_its_auth() -> None:
    settings = throwaway_settings("inbox-confirm-", auth_email_confirmations=True)
    with running_stack(settings) as running:
        s = running.settings
        auth = f"{s.supabase_url}/auth/v1"
        headers = {"apikey": s.publishable_key}
        assert (
            requests.get(f"{auth}/settings", headers=headers, timeout=TIMEOUT).json()["mailer_autoconfirm"]
            is False
        )
        email = "confirm-me@example.com"
        body = {"email": email, "password": "confirm-password-1"}
        created = requests.post(f"{auth}/signup", json=body, headers=headers, timeout=TIMEOUT).json()
        assert "access_token" not in created
        assert created["identities"]
        refused = requests.post(
            f"{auth}/token?grant_type=password", json=body, headers=headers, timeout=TIMEOUT
        )
        assert refused.json()["error_code"] == "email_not_confirmed"
        # The seeded demo users stay confirmed either way.
        demo = {"email": "member@example.com", "password": s.demo_password}
        assert requests.post(
            f"{auth}/token?grant_type=password", json=demo, headers=headers, timeout=TIMEOUT
        ).ok
        message = inbox.latest_message(s.inbox_url, email)
        assert message is not None
        assert message["Subject"] == "Confirm your email address"
        link = inbox.message_link(message)
        assert link is not None
        landed = requests.get(link, allow_redirects=False, timeout=TIMEOUT)
        assert parse_qs(urlsplit(landed.headers["Location"]).fragment)["type"] == ["signup"]
        assert requests.post(
            f"{auth}/token?grant_type=password", json=body, headers=headers, timeout=TIMEOUT
        ).ok
