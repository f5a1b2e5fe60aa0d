"""Database rows (as PostgREST returns them) in the API's JSON shape, built by the output models.

The models of lib.contract.outputs document each response in the OpenAPI document and
build it here, so the two cannot differ. A row the model cannot read (a missing column,
a malformed value) is the database's fault: 502.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from lib.contract.outputs import Output
from lib.http.problems import BadGateway
from lib.http.response import encode_json


def invalid_answer() -> BadGateway:
    """The problem for a database answer that is not what the contract returns."""
    return BadGateway("The database service answered with an invalid response")


def one(model: type[Output], row: dict[str, Any]) -> dict[str, Any]:
    """`row` in the shape of `model`, as JSON-ready data. Raises BadGateway for a malformed row."""
    try:
        return model.model_validate(row).model_dump(mode="json")
    except ValidationError:
        raise invalid_answer() from None


def page(model: type[Output], rows: Iterable[dict[str, Any]], next_cursor: str | None) -> bytes:
    """A list page's body: `{"data": [...], "next_cursor": ...}`. Raises BadGateway for a malformed row."""
    # Each row goes straight from the model to JSON (one pass, not a dict then json.dumps): pydantic
    # writes the same compact UTF-8 JSON as encode_json for every value a row holds (strings, integers,
    # booleans, null; tests/resources/test_representation.py compares the two). Floats, which no column
    # holds, could differ in exponent style (1.5e-7, not 1.5e-07).
    try:
        data = b",".join(model.model_validate(row).model_dump_json().encode() for row in rows)
    except ValidationError:
        raise invalid_answer() from None
    return b'{"data":[' + data + b'],"next_cursor":' + encode_json(next_cursor) + b"}"
