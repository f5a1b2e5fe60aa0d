"""The route table and its handlers agree: each handler takes exactly what its operation declares.

And importing the route table (what every function does at cold start) stays cheap: no
pydantic, no schemas, no resource module, no upstream library until a request needs one.
"""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path

import pytest

from lib.contract import inputs, queries
from lib.contract.routes import ALL_ROUTES
from lib.contract.routing import Operation
from lib.http.request import Request
from lib.supabase.caller import Anonymous, Call

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = [
    pytest.param(operation, id=f"{method} {route.path}")
    for route in ALL_ROUTES
    for method, operation in route.operations.items()
]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_each_handler_takes_what_its_operation_declares(operation: Operation) -> None:
    # Resource modules import the input and query models for annotations only (TYPE_CHECKING).
    hints = typing.get_type_hints(operation.resolve(), localns={**vars(inputs), **vars(queries)})
    returned = hints.pop("return")
    assert returned.__name__ == "Response", operation.handler
    (annotation,) = hints.values()
    if annotation is Request:
        # The bare request: for a handler that needs no caller, no input and no collaborator.
        assert operation.auth == "none"
        assert operation.body is None
        assert operation.query is None
        return
    expected_kind = Call if operation.auth == "required" else Anonymous
    assert typing.get_origin(annotation) is expected_kind, (operation.handler, annotation)
    body, query = typing.get_args(annotation)
    assert body is (operation.body or type(None)), (operation.handler, body, operation.body)
    assert query is (operation.query or type(None)), (operation.handler, query, operation.query)


def _fresh_interpreter(code: str) -> str:
    """What `code` prints in a new interpreter at the repo root (nothing imported before it)."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_importing_the_route_table_and_the_endpoint_loads_no_model_and_no_upstream_library() -> None:
    code = (
        "import sys\n"
        "import lib.contract.routes, lib.http.endpoint, lib.pipeline\n"
        "heavy = ('pydantic', 'httpx', 'postgrest', 'supabase_auth', 'jose', 'vininfo')\n"
        "light = ('lib.resources', 'lib.contract.fields', 'lib.contract.inputs', 'lib.contract.queries',"
        " 'lib.contract.outputs', 'lib.contract.openapi', 'lib.supabase.clients', 'lib.supabase.tokens')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith(light)))\n"
    )
    loaded = _fresh_interpreter(code)
    assert loaded == "[]"


def test_a_validation_builds_only_its_model_and_looks_for_no_pydantic_plugin() -> None:
    # Cold starts: models are built on first use (defer_build), and lib.contract.fields keeps
    # pydantic from importing importlib.metadata to look for plugins.
    code = (
        "import sys\n"
        "from pydantic import BaseModel\n"
        "from lib.contract import outputs, queries\n"
        "queries.VehicleListQuery.model_validate({})\n"
        "models = {m for module in (queries, outputs) for m in vars(module).values()"
        " if isinstance(m, type) and issubclass(m, BaseModel)}\n"
        "built = sorted(m.__name__ for m in models if m.__pydantic_complete__)\n"
        "print(built, 'importlib.metadata' in sys.modules, 'lib.contract.inputs' in sys.modules)\n"
    )
    loaded = _fresh_interpreter(code)
    # A list's query defines the query models, not the request bodies (lib.contract.inputs).
    assert loaded == "['VehicleListQuery'] False False"
