"""lib.resources.vin without a stack: its body is the contract's VinDecoded."""

from __future__ import annotations

import json

import pytest

from lib.contract.outputs import VinDecoded
from lib.http.problems import ValidationFailed
from lib.resources import vin
from tests.resources import fakes


def lookup(raw: str) -> dict[str, object]:
    request = fakes.request("GET", f"/api/vin/{raw}", {"vin": raw})
    response = vin.lookup_vin(fakes.anonymous(fakes.deps(), req=request))
    body: dict[str, object] = json.loads(response.body)
    return body


def test_a_vin_is_decoded_in_the_contracts_shape() -> None:
    body = lookup("%201hgcm82633a004352")
    assert VinDecoded.model_validate(body).model_dump(mode="json") == body
    assert (body["vin"], body["valid"], body["check_digit"], body["wmi"]) == (
        "1HGCM82633A004352",
        True,
        "valid",
        "1HG",
    )
    assert body["model_year"] == 2003


def test_a_wrong_check_digit_is_200_and_invalid() -> None:
    body = lookup("1HGCM82634A004352")
    assert (body["valid"], body["check_digit"]) == (False, "invalid")


def test_a_malformed_vin_is_422() -> None:
    with pytest.raises(ValidationFailed) as refused:
        lookup("NOT-A-VIN")
    assert refused.value.errors[0].code == "vin_format"


def test_the_model_year_follows_position_7_in_north_america() -> None:
    assert vin.likely_model_year("1HGCM82633A004352", today_year=2026) == 2003
    assert vin.likely_model_year("5YJ3E1EA7KF000000", today_year=2026) == 2019
