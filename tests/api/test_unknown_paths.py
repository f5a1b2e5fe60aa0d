"""An /api path that no route declares is a `404 not_found` problem+json (docs/api.md §1.2).

On Vercel such a path would get Vercel's own 404 page; vercel.json's last rewrite
hands it to a function instead, whose Endpoint answers 404 for a path none of its
routes declares. The dev server applies vercel.json as Vercel does, so these run
the same routing. tests/deploy checks the built routing table.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from tests.support import ApiClient, assert_problem

VIN = "1HGCM82633A004352"
SOME_ID = str(uuid.uuid4())

UNKNOWN = [
    "nope",
    "nope/deeper/still",
    "health/more",
    "vehicles/x/y/z",
    f"vehicles/{SOME_ID}/maintenance/{SOME_ID}/more",
    f"vin/{VIN}/more",
    "auth",
    "auth/xyz",
    "auth/login/more",
    "admin/xyz",
    f"admin/users/{SOME_ID}",
    "me/more",
    "docs/more",
]


@pytest.mark.parametrize("path", UNKNOWN)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "OPTIONS"])
def test_an_undeclared_path_is_a_404_problem(api: ApiClient, path: str, method: str) -> None:
    kwargs: dict[str, Any] = {"json": {}} if method == "POST" else {}
    response = api.request(method, path, **kwargs)
    body = assert_problem(response, 404, "not_found")
    assert body["instance"] == f"/api/{path}"


def test_the_api_root_is_a_404_problem(api: ApiClient) -> None:
    response = requests.get(api.base_url, timeout=30, allow_redirects=False)
    body = assert_problem(response, 404, "not_found")
    assert body["instance"] == "/api"


def test_head_of_an_undeclared_path_is_a_404_without_body(api: ApiClient) -> None:
    response = api.request("HEAD", "nope")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.content == b""


def test_declared_dynamic_paths_still_reach_their_functions(api: ApiClient) -> None:
    # The catch-all leaves the dynamic [param] routes' paths alone (they come after it on Vercel).
    assert api.get(f"vin/{VIN}").status_code == 200
    assert_problem(api.get(f"vehicles/{SOME_ID}"), 401, "unauthorized")
    assert_problem(api.get(f"vehicles/{SOME_ID}/maintenance"), 401, "unauthorized")
    assert_problem(api.get(f"vehicles/{SOME_ID}/maintenance/{SOME_ID}"), 401, "unauthorized")
