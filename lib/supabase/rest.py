"""A thin PostgREST client over the shared connection pool: the subset of postgrest-py the API uses.

`postgrest` costs a cold function about half a second of compiling (Vercel ships no
bytecode): the package imports its sync and async halves, pydantic and its models.
The API calls a handful of its methods, so this module sends the same requests
postgrest-py 2.x sends for those calls (same URL, query string, headers and body, less
its X-Client-Info and httpx's transport headers) and reads the answers the same way: a
2xx body as JSON (its text if it is not JSON), any other status as PostgREST's error
JSON, or as an error made from the status when the body is not one. Retrying is the
caller's decision, never this client's; transport failures and timeouts are raised as
lib.supabase.transport's TransportError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from lib.supabase.transport import Pool, Response

# postgrest-py sends the schema in both profile headers, even for `public`.
_SCHEMA = "public"
_RESERVED = ',:()"\\'  # characters that make postgrest-py quote a filter value
# httpx's default Accept, which postgrest-py's requests carry: PostgREST negotiates on it.
_ACCEPT = "*/*"


class RestError(Exception):
    """PostgREST's error answer: `code` (SQLSTATE, PGRST… or HTTP status), `message`, `hint`, `details`."""

    def __init__(self, error: Mapping[str, Any]) -> None:
        self.message: str | None = error.get("message")
        self.code: str | None = error.get("code")
        self.hint: str | None = error.get("hint")
        self.details: Any = error.get("details")
        super().__init__(f"Error {self.code}: {self.message}" if self.code else "Empty error")


@dataclass(frozen=True)
class RestResponse:
    """A successful answer: `data` is its JSON (its text when it is not JSON; [] when empty)."""

    data: Any


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _filter_value(value: Any) -> str:
    # As postgrest-py serialises a filter value: None and booleans as PostgREST spells them.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _sanitize(value: str) -> str:
    return _quote(value) if any(char in value for char in _RESERVED) else value


def _rpc_query_param(value: Any) -> Any:
    # A GET call's arguments go in the query string: lists as Postgres array literals,
    # objects as JSON (postgrest-py's rpc_query_param); _query renders the scalars.
    if isinstance(value, list | tuple):
        elements = ("NULL" if element is None else _array_element(str(element)) for element in value)
        return "{" + ",".join(elements) + "}"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return value


def _array_element(element: str) -> str:
    needs_quotes = (
        element == ""
        or element.lower() == "null"
        or any(char in element for char in '{},"\\')
        or any(char.isspace() for char in element)
    )
    return _quote(element) if needs_quotes else element


def _json_body(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _query_value(value: Any) -> str:
    # As httpx renders a query parameter (primitive_value_to_str): JSON's booleans, None empty.
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def _query(params: list[tuple[str, Any]]) -> str:
    """The query string httpx builds from `params` (urlencode, `+` for a space), "" for none."""
    return urlencode([(name, _query_value(value)) for name, value in params])


def _proxy_status_code(response: Response) -> str | None:
    # PostgREST names its error in `Proxy-Status: PostgREST; error=PGRST…` as well; that
    # is the code left when the body is not its error JSON.
    for member in _split(response.header("Proxy-Status") or "", ","):
        name, *parameters = _split(member, ";")
        if _unquote(name).lower() != "postgrest":
            continue
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip() == "error":
                return _unquote(value) or None
        return None
    return None


def _split(value: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    in_quotes = escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif in_quotes and char == "\\":
            escaped = True
        elif char == '"':
            in_quotes = not in_quotes
        elif char == separator and not in_quotes:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _error(response: Response) -> RestError:
    try:
        body = json.loads(response.body)
    except ValueError:
        body = None
    # postgrest-py accepts an object whose message, code and hint are strings or absent
    # (null); anything else is not PostgREST's error and is described by its status.
    if isinstance(body, dict) and all(
        isinstance(body.get(name), str | None) for name in ("message", "code", "hint")
    ):
        return RestError({name: body.get(name) for name in ("message", "code", "hint", "details")})
    return RestError(
        {
            "message": response.reason or f"Request failed with status {response.status}",
            "code": _proxy_status_code(response) or str(response.status),
            "hint": None,
            "details": response.text or None,
        }
    )


class Query:
    """One request, built by chaining filters as postgrest-py does; `execute()` sends it."""

    def __init__(
        self,
        client: RestClient,
        method: str,
        url: str,
        *,
        params: list[tuple[str, Any]],
        headers: dict[str, str],
        body: Any = None,
    ) -> None:
        self._client = client
        self._method = method
        self._url = url
        self._params = params
        self._headers = headers
        self._body = body

    def eq(self, column: str, value: Any) -> Query:
        """Only rows whose `column` equals `value`."""
        return self._filter(column, f"eq.{_filter_value(value)}")

    def in_(self, column: str, values: Iterable[Any]) -> Query:
        """Only rows whose `column` is one of `values`."""
        listed = ",".join(_sanitize(_filter_value(value)) for value in values)
        return self._filter(column, f"in.({listed})")

    def _filter(self, column: str, condition: str) -> Query:
        self._params.append((_sanitize(column), condition))
        return self

    def execute(self) -> RestResponse:
        """Send it once. Raises RestError for an error answer, TransportError on a transport failure."""
        headers = {"Accept": _ACCEPT, **self._headers}
        content = None
        if self._body is not None:
            content = _json_body(self._body)
            headers["Content-Type"] = "application/json"
        query = _query(self._params)
        url = f"{self._url}?{query}" if query else self._url
        response = self._client.http.request(self._method, url, headers=headers, body=content)
        if not response.is_success:
            raise _error(response)
        try:
            data = json.loads(response.body)
        except ValueError:
            data = response.text or []
        return RestResponse(data)


class Table:
    """Requests on one table or view."""

    def __init__(self, client: RestClient, url: str) -> None:
        self._client = client
        self._url = url

    def select(self, *columns: str) -> Query:
        """GET the rows (`columns`, or all); add filters before `execute()`."""
        listed = ",".join(columns) or "*"
        return Query(
            self._client, "GET", self._url, params=[("select", listed)], headers=dict(self._client.headers)
        )

    def update(self, values: Mapping[str, Any]) -> Query:
        """PATCH the filtered rows with `values`; the answer holds the updated rows."""
        headers = {"Prefer": "return=representation", **self._client.headers}
        return Query(self._client, "PATCH", self._url, params=[], headers=headers, body=dict(values))

    def delete(self) -> Query:
        """DELETE the filtered rows; the answer holds the deleted rows."""
        headers = {"Prefer": "return=representation", **self._client.headers}
        # postgrest-py sends `{}` as the body of a DELETE: the same request, byte for byte.
        return Query(self._client, "DELETE", self._url, params=[], headers=headers, body={})


class RestClient:
    """A PostgREST client for one set of credentials (`headers`) over a shared connection pool."""

    def __init__(self, base_url: str, headers: Mapping[str, str], http: Pool) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers: dict[str, str] = {
            **headers,
            "Accept-Profile": _SCHEMA,
            "Content-Profile": _SCHEMA,
        }
        self.http = http

    def from_(self, table: str) -> Table:
        """Requests on `table`."""
        return Table(self, f"{self.base_url}/{table}")

    def rpc(self, function: str, arguments: Mapping[str, Any], get: bool = False) -> Query:
        """Call a database function: POST with `arguments` as JSON, or GET with them in the query string."""
        url = f"{self.base_url}/rpc/{function}"
        if get:
            params = [(name, _rpc_query_param(value)) for name, value in arguments.items()]
            return Query(self, "GET", url, params=params, headers=dict(self.headers))
        return Query(self, "POST", url, params=[], headers=dict(self.headers), body=dict(arguments))
