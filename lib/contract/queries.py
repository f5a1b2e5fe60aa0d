"""Query parameter models: what a list's query string may say, as docs/api.md §4 defines it.

A module of their own, apart from the request bodies (lib.contract.inputs): a list's first
request validates its query and defines only these classes. The same models generate the
OpenAPI document's parameters.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from lib.contract.fields import AnyInt, Cursor, Limit, SortKey, VehicleStatus


class Query(BaseModel):
    """Base of query parameter models: strings in, types out, unknown names rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # as lib.contract.inputs.Input's


class PageQuery(Query):
    """limit and cursor, shared by every list."""

    limit: Limit = 20
    cursor: Cursor | None = None


class VehicleListQuery(PageQuery):
    """Filters and sort of GET /api/vehicles."""

    status: VehicleStatus | None = None
    make: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    model: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    model_year: AnyInt | None = None
    year_min: AnyInt | None = None
    year_max: AnyInt | None = None
    owner_id: UUID | None = None
    q: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    sort: SortKey = "-created_at"


class AuditQuery(PageQuery):
    """Filters of GET /api/admin/audit."""

    table: Literal["vehicles", "maintenance_records", "user_roles"] | None = None
    record_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    actor_id: UUID | None = None
