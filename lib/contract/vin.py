"""VIN rules: the ISO 3779 format and the 49 CFR 565 check digit."""

from __future__ import annotations

import re
from typing import Literal

VIN_PATTERN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
CheckDigit = Literal["valid", "invalid", "not_applicable"]


class VinFormatError(ValueError):
    """Not 17 characters from the ISO 3779 alphabet; the message says which rule failed."""


def normalise_vin(raw: str) -> str:
    """Trim and upper-case, then check the format. Raises VinFormatError."""
    vin = raw.strip()
    if len(vin) != 17:
        raise VinFormatError(f"A VIN has 17 characters, not {len(vin)}")
    # ASCII before upper-casing: str.upper() maps some other letters onto A-Z (U+017F -> "S"); and a
    # control character is never trimmed away.
    vin = vin.upper() if vin.isascii() and not any(char < " " or char == "\x7f" for char in raw) else ""
    if VIN_PATTERN.match(vin) is None:
        raise VinFormatError("A VIN uses only A-Z and 0-9, without I, O and Q")
    return vin


def is_north_american(vin: str) -> bool:
    """VINs starting 1-5 are assigned in North America, where the check digit is mandatory."""
    return vin[0] in "12345"


def check_digit_status(vin: str) -> CheckDigit:
    """The 49 CFR 565 check digit verdict for a well-formed VIN."""
    if not is_north_american(vin):
        return "not_applicable"
    from vininfo import Vin

    # check_year=False: the check digit rule alone, whatever position 10 holds.
    return "valid" if Vin(vin).verify_checksum(check_year=False) else "invalid"
