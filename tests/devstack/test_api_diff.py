"""devstack.api_diff on small synthetic document pairs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from devstack.api_diff import breaking, classify, leaf_differences
from devstack.api_diff_schema import Change


def base() -> dict[str, Any]:
    """A tiny document: one GET with a query parameter, one POST with a body, a problem response."""
    return {
        "openapi": "3.1.0",
        "paths": {
            "/api/things": {
                "get": {
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "maximum": 100},
                        },
                        {"$ref": "#/components/parameters/X-Request-Id"},
                    ],
                    "responses": {
                        "200": {
                            "description": "OK",
                            "headers": {"ETag": {"schema": {"type": "string"}}},
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
                            },
                        },
                        "404": {"$ref": "#/components/responses/Problem404"},
                    },
                    "security": [{"bearerAuth": []}],
                },
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ThingCreate"}}
                        },
                    },
                    "responses": {"201": {"description": "Created"}},
                    "security": [],
                },
            },
            "/api/other": {"get": {"responses": {"200": {"description": "OK"}}}},
        },
        "components": {
            "parameters": {
                "X-Request-Id": {"name": "X-Request-Id", "in": "header", "schema": {"type": "string"}}
            },
            "responses": {"Problem404": {"description": "Not Found", "x-problem-codes": ["not_found"]}},
            "schemas": {
                "Thing": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "kind": {"type": "string", "enum": ["a", "b"]},
                        "child": {"$ref": "#/components/schemas/Thing"},
                    },
                    "required": ["id", "kind"],
                },
                "ThingCreate": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": 64},
                        "kind": {"enum": ["a", "b"], "type": "string"},
                        "year": {"type": "integer", "minimum": 1981, "maximum": "<current UTC year + 2>"},
                        "note": {"anyOf": [{"type": "string", "pattern": "^[a-z]+$"}, {"type": "null"}]},
                    },
                    "required": ["name"],
                },
            },
        },
    }


def changed(edit: Any) -> list[Change]:
    old = base()
    new = copy.deepcopy(old)
    edit(new)
    return classify(old, new)


def kinds(changes: list[Change]) -> set[str]:
    return {change.kind for change in changes}


def test_identical_documents_have_no_changes() -> None:
    assert classify(base(), base()) == []
    assert list(leaf_differences(base(), base())) == []


BREAKING_EDITS: dict[str, Any] = {
    "path removed": lambda d: d["paths"].pop("/api/other"),
    "method removed": lambda d: d["paths"]["/api/things"].pop("post"),
    "response status removed": lambda d: d["paths"]["/api/things"]["get"]["responses"].pop("404"),
    "response header removed": lambda d: d["paths"]["/api/things"]["get"]["responses"]["200"].pop("headers"),
    "response property removed": lambda d: d["components"]["schemas"]["Thing"]["properties"].pop("kind"),
    "response property renamed": lambda d: d["components"]["schemas"]["Thing"]["properties"].update(
        {"type": d["components"]["schemas"]["Thing"]["properties"].pop("kind")}
    ),
    "response property may be absent": lambda d: d["components"]["schemas"]["Thing"]["required"].remove(
        "kind"
    ),
    "response property nullable": lambda d: d["components"]["schemas"]["Thing"]["properties"]["id"].update(
        {"type": ["string", "null"]}
    ),
    "new required field": lambda d: (
        d["components"]["schemas"]["ThingCreate"]["properties"].update({"colour": {"type": "string"}}),
        d["components"]["schemas"]["ThingCreate"]["required"].append("colour"),
    ),
    "field now required": lambda d: d["components"]["schemas"]["ThingCreate"]["required"].append("kind"),
    "request field removed": lambda d: d["components"]["schemas"]["ThingCreate"]["properties"].pop("kind"),
    "new required parameter": lambda d: d["paths"]["/api/things"]["get"]["parameters"].append(
        {"name": "owner", "in": "query", "required": True, "schema": {"type": "string"}}
    ),
    "parameter now required": lambda d: d["paths"]["/api/things"]["get"]["parameters"][0].update(
        {"required": True}
    ),
    "query parameter removed": lambda d: d["paths"]["/api/things"]["get"]["parameters"].pop(0),
    "parameter maximum lowered": lambda d: d["paths"]["/api/things"]["get"]["parameters"][0]["schema"].update(
        {"maximum": 50}
    ),
    "type narrowed": lambda d: d["components"]["schemas"]["ThingCreate"]["properties"]["note"]["anyOf"].pop(
        1
    ),
    "enum narrowed": lambda d: d["components"]["schemas"]["ThingCreate"]["properties"]["kind"].update(
        {"enum": ["a"]}
    ),
    "pattern changed": lambda d: d["components"]["schemas"]["ThingCreate"]["properties"]["note"]["anyOf"][
        0
    ].update({"pattern": "^[a-y]+$"}),
    "pattern added": lambda d: d["components"]["schemas"]["ThingCreate"]["properties"]["name"].update(
        {"pattern": "^[a-z]+$"}
    ),
    "maxLength lowered": lambda d: d["components"]["schemas"]["ThingCreate"]["properties"]["name"].update(
        {"maxLength": 32}
    ),
    "minimum raised": lambda d: d["components"]["schemas"]["ThingCreate"]["properties"]["year"].update(
        {"minimum": 1990}
    ),
    "placeholder bound changed": lambda d: d["components"]["schemas"]["ThingCreate"]["properties"][
        "year"
    ].update({"maximum": "<current UTC year + 1>"}),
    "problem code removed": lambda d: d["components"]["responses"]["Problem404"].update(
        {"x-problem-codes": []}
    ),
    "authentication now required": lambda d: d["paths"]["/api/things"]["post"].update(
        {"security": [{"bearerAuth": []}]}
    ),
}


@pytest.mark.parametrize("name", sorted(BREAKING_EDITS))
def test_breaking(name: str) -> None:
    changes = changed(BREAKING_EDITS[name])
    assert breaking(changes), f"{name}: {changes}"


def test_a_body_becoming_required_is_breaking() -> None:
    old = base()
    old["paths"]["/api/things"]["post"]["requestBody"]["required"] = False
    assert breaking(classify(old, base()))


NON_BREAKING_EDITS: dict[str, Any] = {
    "path added": lambda d: d["paths"].update(
        {"/api/new": {"get": {"responses": {"200": {"description": "OK"}}}}}
    ),
    "method added": lambda d: d["paths"]["/api/other"].update(
        {"post": {"responses": {"204": {"description": "x"}}}}
    ),
    "response status added": lambda d: d["paths"]["/api/other"]["get"]["responses"].update(
        {"503": {"description": "x"}}
    ),
    "response property added": lambda d: d["components"]["schemas"]["Thing"]["properties"].update(
        {"extra": {"type": "string"}}
    ),
    "optional field added": lambda d: d["components"]["schemas"]["ThingCreate"]["properties"].update(
        {"colour": {"type": "string"}}
    ),
    "optional parameter added": lambda d: d["paths"]["/api/things"]["get"]["parameters"].append(
        {"name": "q", "in": "query", "required": False, "schema": {"type": "string"}}
    ),
    "maxLength raised": lambda d: d["components"]["schemas"]["ThingCreate"]["properties"]["name"].update(
        {"maxLength": 128}
    ),
    "enum widened": lambda d: d["components"]["schemas"]["ThingCreate"]["properties"]["kind"].update(
        {"enum": ["a", "b", "c"]}
    ),
    "field now optional": lambda d: d["components"]["schemas"]["ThingCreate"].update({"required": []}),
    "problem code added": lambda d: d["components"]["responses"]["Problem404"].update(
        {"x-problem-codes": ["not_found", "gone"]}
    ),
    "description changed": lambda d: d["paths"]["/api/other"]["get"]["responses"]["200"].update(
        {"description": "Fine"}
    ),
    "authentication dropped": lambda d: d["paths"]["/api/things"]["get"].update({"security": []}),
}


@pytest.mark.parametrize("name", sorted(NON_BREAKING_EDITS))
def test_non_breaking(name: str) -> None:
    changes = changed(NON_BREAKING_EDITS[name])
    assert not breaking(changes), f"{name}: {changes}"


def test_a_description_is_a_difference_but_no_classified_change() -> None:
    old, new = base(), base()
    new["paths"]["/api/other"]["get"]["responses"]["200"]["description"] = "Fine"
    assert classify(old, new) == []
    assert list(leaf_differences(old, new)) == ["/paths/~1api~1other/get/responses/200/description changed"]


def test_changes_name_their_place() -> None:
    changes = changed(BREAKING_EDITS["enum narrowed"])
    assert [str(change) for change in changes] == [
        "[breaking] POST /api/things request body (application/json).kind: enum narrowed"
    ]


def test_a_recursive_schema_terminates() -> None:
    changes = changed(
        lambda d: d["components"]["schemas"]["Thing"]["properties"]["child"].update({"description": "nested"})
    )
    assert not breaking(changes)
