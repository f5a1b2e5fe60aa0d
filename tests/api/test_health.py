"""GET /api/health over real HTTP against the local stack."""

from __future__ import annotations

import json

from tests.support import ApiClient, Gateway, assert_problem


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
    gateway.clear_faults()
    assert api.get("health").status_code == 200


def test_health_degraded_when_answer_is_garbage(api: ApiClient, gateway: Gateway) -> None:
    gateway.fault("/rest/v1", "html")
    response = api.get("health")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "error"}


def test_health_head_and_405(api: ApiClient) -> None:
    assert api.request("HEAD", "health").status_code == 200
    response = api.post("health", json={})
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_unknown_path_is_404(api: ApiClient) -> None:
    assert api.get("nope").status_code == 404
