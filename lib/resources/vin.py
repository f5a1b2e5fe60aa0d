"""GET /api/vin/{vin}: decoding a VIN with vininfo's tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from lib.contract.vin import CheckDigit, VinFormatError, check_digit_status, is_north_american, normalise_vin
from lib.http.response import Response
from lib.supabase.caller import Anonymous

_REGIONS = {
    "North America": "North America",
    "South America": "South America",
    "Europe": "Europe",
    "Asia": "Asia",
    "Africa": "Africa",
    "Oceania": "Oceania",
}
# ISO 3779 position 10 letters/digits in their 30-year cycle, starting 1980 (A).
_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"


@dataclass(frozen=True)
class VinReport:
    """What GET /api/vin/{vin} answers."""

    vin: str
    check_digit: CheckDigit
    wmi: str
    manufacturer: str | None
    region: str | None
    country: str | None
    model_year: int | None

    @property
    def valid(self) -> bool:
        """Well-formed and, where mandatory, with a correct check digit."""
        return self.check_digit != "invalid"


def likely_model_year(vin: str, *, today_year: int | None = None) -> int | None:
    """The most likely model year from position 10 (position 7 disambiguates North American cycles)."""
    code = vin[9]
    if code not in _YEAR_CODES:
        return None
    offset = _YEAR_CODES.index(code)
    current = today_year if today_year is not None else datetime.now(UTC).year
    candidates = [
        1980 + offset + 30 * cycle for cycle in range(4) if 1980 + offset + 30 * cycle <= current + 1
    ]
    if not candidates:
        return None
    if is_north_american(vin):
        # 49 CFR 565: from 2010, a letter in position 7 marks the 2010+ cycle, a digit the 1980-2009 one.
        later = [year for year in candidates if year >= 2010]
        earlier = [year for year in candidates if year < 2010]
        chosen = later if vin[6].isalpha() else earlier
        return max(chosen) if chosen else None
    return max(candidates)


def decode_vin(vin: str) -> VinReport:
    """Decode a normalised VIN with vininfo's tables."""
    from vininfo import Vin

    info = Vin(vin)
    region = _REGIONS.get(str(info.region)) if info.region else None
    return VinReport(
        vin=vin,
        check_digit=check_digit_status(vin),
        wmi=vin[:3],
        manufacturer=_text(info.manufacturer),
        region=region,
        country=_text(info.country),
        model_year=likely_model_year(vin),
    )


def _text(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def lookup_vin(call: Anonymous[None, None]) -> Response:
    """GET /api/vin/{vin}: decode a VIN; 422 only when it is malformed.

    The body is the contract's VinDecoded, built by hand: this function loads no model, which
    keeps its cold start small (tests/resources/test_vin.py checks it against the model).
    """
    from urllib.parse import unquote

    from lib.http.problems import FieldError, ValidationFailed
    from lib.http.response import json_response

    try:
        vin = normalise_vin(unquote(call.request.params.get("vin", "")))
    except VinFormatError as error:
        raise ValidationFailed([FieldError("vin", "vin_format", str(error))]) from None
    report = decode_vin(vin)
    return json_response(
        {
            "vin": report.vin,
            "valid": report.valid,
            "check_digit": report.check_digit,
            "wmi": report.wmi,
            "manufacturer": report.manufacturer,
            "region": report.region,
            "country": report.country,
            "model_year": report.model_year,
        }
    )
