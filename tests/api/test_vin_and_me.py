"""GET /api/vin/{vin} and GET /api/me."""

from __future__ import annotations

from tests.api.conftest import Actors
from tests.support import ApiClient, assert_problem


def test_decodes_the_honda_example(api: ApiClient) -> None:
    response = api.get("vin/1HGCM82633A004352")
    assert response.status_code == 200
    assert response.json() == {
        "vin": "1HGCM82633A004352",
        "valid": True,
        "check_digit": "valid",
        "wmi": "1HG",
        "manufacturer": "Honda",
        "region": "North America",
        "country": "United States",
        "model_year": 2003,
    }
    assert response.headers["Cache-Control"] == "public, max-age=3600, s-maxage=86400"


def test_wrong_check_digit_is_200_invalid(api: ApiClient) -> None:
    body = api.get("vin/1HGCM82633A004353").json()
    assert (body["valid"], body["check_digit"]) == (False, "invalid")


def test_european_vin_has_no_check_digit(api: ApiClient) -> None:
    body = api.get("vin/wvwzzz1jzxw000001").json()
    assert body["vin"] == "WVWZZZ1JZXW000001"
    assert (body["valid"], body["check_digit"], body["region"], body["country"]) == (
        True,
        "not_applicable",
        "Europe",
        "Germany",
    )


def test_malformed_vin_is_422_with_the_reason(api: ApiClient) -> None:
    for vin in ("1HGCM82633A00435", "1HGCM82633A0043O2", "%20%20"):
        body = assert_problem(api.get(f"vin/{vin}"), 422, "validation_error")
        assert body["errors"][0]["field"] == "vin"
        assert body["errors"][0]["code"] == "vin_format"


def test_me_per_role(api: ApiClient, actors: Actors) -> None:
    expected = {
        "member": [],
        "manager": ["vehicles.read.any", "vehicles.write.any"],
        "admin": [
            "vehicles.read.any",
            "vehicles.write.any",
            "vehicles.delete.any",
            "users.manage",
            "audit.read",
        ],
    }
    for role, permissions in expected.items():
        user = getattr(actors, role)
        response = api.get("me", headers=user.headers)
        assert response.status_code == 200
        assert response.json() == {
            "id": user.id,
            "email": user.email,
            "role": role,
            "permissions": permissions,
        }
        assert response.headers["Cache-Control"] == "private, no-cache"


def test_me_needs_a_token(api: ApiClient) -> None:
    assert_problem(api.get("me"), 401, "unauthorized")
    assert_problem(api.get("me", headers={"Authorization": "Bearer nonsense"}), 401, "unauthorized")
    assert_problem(api.get("me", headers={"Authorization": "Basic abc"}), 401, "unauthorized")


def test_the_vin_repeated_in_the_query_must_be_the_path_vin(api: ApiClient) -> None:
    # Vercel repeats the dynamic segment in the query; a different value is the caller's, and unknown.
    assert api.get("vin/1HGCM82633A004352", params={"vin": "1HGCM82633A004352"}).status_code == 200
    for other in ("1HGCM82633A004353", "1hgcm82633a004352", "x"):
        body = assert_problem(api.get("vin/1HGCM82633A004352", params={"vin": other}), 400, "invalid_query")
        assert body["detail"] == "Unknown query parameters: vin"
