"""GET /api/health over real HTTP against the local stack."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from lib.http.problems import UNAVAILABLE_RETRY_AFTER
from tests.support import ApiClient, Gateway, assert_problem, in_one_rate_window, random_ip


def test_health_ok(api: ApiClient) -> None:
    response = api.get("health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "version": "dev",
        "environment": "development",
        "checks": {"database": "ok"},
    }
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "application/json"


def test_health_never_shows_secrets(api: ApiClient, stack_settings: object) -> None:
    text = api.get("health").text + json.dumps(dict(api.get("health").headers))
    for secret in ("sb_secret_", "super-secret-jwt", "postgres:"):
        assert secret not in text


def test_health_degraded_when_database_unreachable(api: ApiClient, gateway: Gateway) -> None:
    gateway.fault("/rest/v1", "down")
    response = api.get("health")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"] == {"database": "unavailable"}
    assert response.headers["Cache-Control"] == "no-store"
    # A 503 like any other (lib.http.problems.ServiceUnavailable): it says when to ask again.
    assert response.headers["Retry-After"] == str(UNAVAILABLE_RETRY_AFTER)
    gateway.clear_faults()
    healthy = api.get("health")
    assert healthy.status_code == 200
    assert "Retry-After" not in healthy.headers


def test_health_degraded_when_answer_is_garbage(api: ApiClient, gateway: Gateway) -> None:
    gateway.fault("/rest/v1", "html")
    response = api.get("health")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "error"}
    assert int(response.headers["Retry-After"]) >= 1


def test_health_is_rate_limited_per_client_ip(api: ApiClient, db: psycopg.Connection[Any]) -> None:
    """Every health call reaches the database, so an anonymous flood is cut off like any read."""

    def six_hundred_and_one_calls() -> list[Any]:
        ip = random_ip()
        return [api.get("health", headers={"X-Forwarded-For": ip}) for _ in range(601)]

    responses = in_one_rate_window(db, six_hundred_and_one_calls, margin=2)
    statuses = [r.status_code for r in responses[:600]]
    first_refusal = next((i for i, status in enumerate(statuses) if status != 200), None)
    assert first_refusal is None, [
        (i, r.status_code, r.headers.get("RateLimit"))
        for i, r in enumerate(responses)
        if 0 <= i - first_refusal + 3 < 5
    ]
    assert responses[0].headers["RateLimit-Policy"] == '"read";q=600;w=60'
    refused = assert_problem(responses[600], 429, "rate_limited")
    assert refused["instance"] == "/api/health"
    assert 1 <= int(responses[600].headers["Retry-After"]) <= 60
    # The limit is per address: another client is not refused.
    assert api.get("health", headers={"X-Forwarded-For": random_ip()}).status_code == 200


def test_the_documents_are_not_rate_limited(api: ApiClient) -> None:
    # Static, cached at the edge and never reaching the database.
    for path in ("openapi.json", "docs"):
        response = api.get(path, headers={"X-Forwarded-For": random_ip()})
        assert response.status_code == 200
        assert "RateLimit-Policy" not in response.headers


def test_health_head_and_405(api: ApiClient) -> None:
    assert api.request("HEAD", "health").status_code == 200
    response = api.post("health", json={})
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_unknown_path_is_404(api: ApiClient) -> None:
    assert api.get("nope").status_code == 404
