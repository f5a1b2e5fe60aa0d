"""Route declarations: what each method of each path takes, needs and returns.

The same declarations drive request handling (lib.http.endpoint) and the OpenAPI
document, so the two cannot drift apart.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, overload

from lib.config import RatePolicy

if TYPE_CHECKING:
    from pydantic import BaseModel

    from lib.http.response import Response

# A handler takes one argument: a typed call (lib.supabase.caller.Call[Body, Query] when the
# operation authenticates its caller, Anonymous[Body, Query] when not) or, needing neither
# caller, input nor collaborators, the bare lib.http.request.Request. tests/contract/test_wiring.py
# checks each one's annotation against its operation's declared models.
Handler = Callable[[Any], "Response"]
AuthMode = Literal["none", "required"]

# Cache-Control of successful responses; errors are always no-store.
PRIVATE = "private, no-cache"
NO_STORE = "no-store"


class ModelField:
    """An Operation field holding a model, declared as the class or as its name in `module`.

    Request bodies live in lib.contract.inputs, query models in lib.contract.queries, response models in
    lib.contract.outputs. A name is resolved on first read, so importing the route table
    loads neither pydantic nor the models: each function pays for them only when it validates.
    """

    def __init__(self, module: str) -> None:
        self.module = module

    def __set_name__(self, owner: type, name: str) -> None:
        self.attribute = "_" + name

    @overload
    def __get__(self, instance: None, owner: type) -> None: ...
    @overload
    def __get__(self, instance: object, owner: type) -> type[BaseModel] | None: ...
    def __get__(self, instance: object, owner: type) -> type[BaseModel] | None:
        if instance is None:
            return None  # the dataclass field's default
        value: Any = instance.__dict__[self.attribute]
        if isinstance(value, str):
            value = getattr(importlib.import_module(self.module), value)
            instance.__dict__[self.attribute] = value
        model: type[BaseModel] | None = value
        return model

    def __set__(self, instance: object, value: type[BaseModel] | str | None) -> None:
        instance.__dict__[self.attribute] = value


@dataclass(frozen=True)
class Operation:
    """One method of a route."""

    handler: str  # "module:function", imported on first use to keep cold starts small (see Handler)
    summary: str
    auth: AuthMode = "required"
    rate_limit: RatePolicy | None = None
    body: ModelField = ModelField("lib.contract.inputs")  # a model, or its name there
    query: ModelField = ModelField("lib.contract.queries")
    response: ModelField = ModelField("lib.contract.outputs")
    success: int = 200
    errors: tuple[int, ...] = ()
    cache_control: str = PRIVATE
    permission: str | None = None
    tags: tuple[str, ...] = ()
    description: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # documented request headers
    content_type: str = "application/json"

    @property
    def body_optional(self) -> bool:
        """True when the body model has no required field, so the body may be left out."""
        return (
            self.body is not None
            and not any(f.is_required() for f in self.body.model_fields.values())
            and not getattr(self.body, "needs_a_field", False)  # e.g. PATCH: at least one field
        )

    def resolve(self) -> Handler:
        """The handler function. Raises ImportError/AttributeError if the declaration is wrong."""
        module_name, _, function = self.handler.partition(":")
        handler: Handler = getattr(importlib.import_module(module_name), function)
        return handler


@dataclass(frozen=True)
class Route:
    """A path template such as /api/vehicles/{id} and its operations by method."""

    path: str
    operations: Mapping[str, Operation]
    vercel_file: str  # the api/ file that serves it, e.g. "api/vehicles/[id]/index.py"
    aliases: tuple[str, ...] = ()  # paths a vercel.json rewrite may deliver instead

    @property
    def pattern(self) -> re.Pattern[str]:
        """A regex matching concrete paths (or aliases) and capturing the parameters."""
        alternatives = [
            re.sub(r"\\\{([a-z_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
            for path in (self.path, *self.aliases)
        ]
        return re.compile("^(?:" + "|".join(alternatives) + ")$")

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the path parameters, in order."""
        return tuple(re.findall(r"\{([a-z_]+)\}", self.path))

    def allowed_methods(self) -> list[str]:
        """Methods for the Allow header: declared ones, HEAD with GET, and OPTIONS."""
        methods = list(self.operations)
        if "GET" in methods and "HEAD" not in methods:
            methods.insert(methods.index("GET") + 1, "HEAD")
        return [*methods, "OPTIONS"]

    def operation_for(self, method: str) -> Operation | None:
        """The operation serving `method` (HEAD is served by GET)."""
        if method == "HEAD" and "HEAD" not in self.operations:
            return self.operations.get("GET")
        return self.operations.get(method)
