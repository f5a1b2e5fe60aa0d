"""Property-based fuzzing of every operation in /api/openapi.json with schemathesis (`make fuzz`).

Every operation gets 300 generated examples (positive and negative) plus schemathesis's coverage
cases, sent to the local stack as real signed-in users, and every response goes through all of
schemathesis's checks (`--checks all`). The seed is fixed: a run is reproducible.

The document is loaded from lib.contract.openapi in-process, because pytest collects the operations before
the stack exists; `test_the_served_document_is_the_fuzzed_one` proves the stack serves the same one.

What the harness adds, and why (none of it loosens a check):

* Identities. Alice calls every operation except the admin ones, which an admin calls. Bob is her
  peer: after every response the harness asserts that nothing of his reached her
  (`assert_object_level_authorisation`); schemathesis's own `object_level_authorization` check needs
  the CLI's data pool, which its pytest integration does not have.
* Targets. A generated `{id}` mostly becomes a vehicle created for that example (Alice's, or Bob's),
  so the success and refusal paths run, not only `404`; the rest keep their random UUID. Likewise a
  generated `{record_id}` under such a vehicle mostly becomes a maintenance record made for it.
* State the server issues. In positive examples, a `cursor` is one the server issued for that same
  query, an `If-Match` is the target's current ETag, and an `Idempotency-Key` is made unique: these
  values cannot be described by a schema (the document says so in their descriptions), and a
  client following the document sends exactly those. Negative examples keep what was generated.
* Named formats. The document marks the two rules no JSON Schema keyword expresses as formats:
  `vin` (the check digit of North American VINs) and `password` (bcrypt's 72-byte limit). The
  strategies below generate exactly what those formats mean.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import CHECKS, is_check_class, load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES
from schemathesis.core.transport import Response

from lib.contract.openapi import build_document
from tests.factories import create_record, create_user, create_vehicle, european_vin, north_american_vin
from tests.fuzz.conftest import World

load_all_checks()
# What `--checks all` runs on each response; a class-based check (none is built in) spans a
# whole run, which validate_response does not drive.
ALL_CHECKS = [check for check in CHECKS.get_all() if not is_check_class(check)]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
SEED = 20261125
TOKENS: dict[str, str] = {}  # account name -> access token, filled by the `world` fixture
PLACEHOLDER = "Bearer fuzz-account:"

# -- named formats ---------------------------------------------------------------------------


@st.composite
def _vins(draw: st.DrawFn) -> str:
    """Well-formed VINs with, for North American ones, the right check digit; any case, maybe padded."""
    seed = draw(st.randoms(use_true_random=False))
    wmi = draw(st.sampled_from(["1HG", "2T1", "3VW", "4S3", "5YJ", "JHM", "WVW", "KMH", "9BW", "SAL"]))
    vin = north_american_vin(wmi, seed) if wmi[0] in "12345" else wmi + european_vin(seed)[3:]
    vin = "".join(c.lower() if draw(st.booleans()) else c for c in vin) if draw(st.booleans()) else vin
    pad = draw(st.sampled_from(["", " ", "\u3000", "\xa0 "]))
    return pad + vin + pad


@st.composite
def _passwords(draw: st.DrawFn) -> str:
    """8-72 characters that are at most 72 bytes in UTF-8."""
    text = draw(st.text(min_size=8, max_size=72))
    while len(text.encode()) > 72:
        text = text[:-1]
    return text if len(text) >= 8 else text + "x" * (8 - len(text))


schemathesis.openapi.format("vin", _vins())
schemathesis.openapi.format("password", _passwords())

# -- the schema and who calls it ----------------------------------------------------------------

# schemathesis's default list of statuses that count as rejecting invalid data, plus the documented
# refusals it leaves out: 411 (no Content-Length), 413 (body over 64 KiB), 414 (URL over the
# platform's limit, refused by Vercel's edge) and 431 (header section too large). Every one is a 4xx
# refusal; nothing that accepts invalid data passes because of them.
REJECTIONS = [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "411", "413", "414", "431"]
config = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "generation": {"deterministic": True},
        "checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}},
    }
)
schema = schemathesis.openapi.from_dict(build_document(), config=config)


def caller_of(operation: Any) -> str:
    """The account that calls an operation."""
    return "admin" if operation.path.startswith("/api/admin/") else "alice"


@schema.auth()
class Accounts:
    """Bearer tokens of real users. Coverage cases are built at collection, before the users exist,
    so the header holds a placeholder until the test swaps in the token."""

    def get(self, case: Any, context: Any) -> str:
        return caller_of(context.operation)

    def set(self, case: Any, data: str, context: Any) -> None:
        token = TOKENS.get(data)
        case.headers = {
            **(case.headers or {}),
            "Authorization": f"Bearer {token}" if token else PLACEHOLDER + data,
        }


# -- the harness --------------------------------------------------------------------------------


def _is_uuid(value: object) -> bool:
    try:
        return str(uuid.UUID(str(value))) == str(value).lower()
    except ValueError:
        return False


def _positive(case: Any) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


def choose_target(case: Any, world: World) -> tuple[str, dict[str, Any] | None]:
    """Turn a generated `{id}` into something to act on: (whose it is, the row) or ("nobody", None)."""
    generated = (case.path_parameters or {}).get("id")
    if generated is None or not _is_uuid(generated):
        return "nobody", None
    bucket = int(str(generated)[0], 16)
    if case.operation.path.startswith("/api/vehicles/"):
        if bucket < 10:
            author = world.alice
            owner = "alice"
        elif bucket < 13:
            author = world.bob
            owner = "bob"
        else:
            return "nobody", None
        vehicle = create_vehicle(world.db, author, odometer_km=0)
        case.path_parameters["id"] = vehicle["id"]
        record_id = case.path_parameters.get("record_id")
        if record_id is not None and _is_uuid(record_id) and int(str(record_id)[0], 16) < 12:
            # The rest keep their random UUID: a record that does not exist under a real vehicle.
            case.path_parameters["record_id"] = create_record(world.db, vehicle, author)["id"]
        return owner, vehicle
    if case.operation.path == "/api/admin/users/{id}/role" and bucket < 10:
        user = create_user(world.db, world.settings, "member")
        case.path_parameters["id"] = user.id
        return "user", {"id": user.id}
    return "nobody", None


def _set_header(case: Any, name: str, value: str | None) -> None:
    headers = {key: item for key, item in (case.headers or {}).items() if key.lower() != name.lower()}
    if value is not None:
        headers[name] = value
    case.headers = headers


def issue_server_state(case: Any, world: World, target: dict[str, Any] | None) -> None:
    """Positive examples: cursors, ETags and idempotency keys as a client following the document has them."""
    if not _positive(case):
        return
    headers = {key.lower(): value for key, value in (case.headers or {}).items()}
    if "if-match" in headers and target is not None and headers["if-match"].strip() != "*":
        _set_header(case, "If-Match", f'"v{target["version"]}"')
    if "idempotency-key" in headers:
        _set_header(case, "Idempotency-Key", f"{headers['idempotency-key'][:222]}.{uuid.uuid4().hex}")
    # The document says redirect_to must be on an allowed origin, which no schema can spell:
    # a client following it names its own frontend (in development any 127.0.0.1 port).
    if isinstance(case.body, dict) and isinstance(case.body.get("redirect_to"), str):
        origin = world.base_url.removesuffix("/api")
        case.body = {**case.body, "redirect_to": f"{origin}/auth/confirm"}
    query = dict(case.query or {})
    if "cursor" in query and case.method in ("GET", "HEAD"):
        del query["cursor"]
        page = requests.get(
            world.base_url + case.formatted_path,
            params={**query, "limit": 1},
            headers={"Authorization": headers.get("authorization", "")},
            timeout=30,
        )
        cursor = page.json().get("next_cursor") if page.status_code == 200 else None
        if cursor is not None:
            query["cursor"] = cursor
        case.query = query


def _answer(response: Response) -> tuple[Any, ...]:
    """What a response says, without what differs between any two requests (request id, instance)."""
    try:
        body = response.json()
    except ValueError:
        return response.status_code, response.text  # no body, or the platform's plain-text 414
    return response.status_code, body.get("type"), body.get("code"), body.get("detail"), body.get("errors")


IDEMPOTENCY_KEY = re.compile(r"^[!-~](?:[ -~]{0,253}[!-~])?$")


def twin_on_a_missing_vehicle(case: Any, world: World) -> Response:
    """The same request, for a vehicle that does not exist."""
    original_id, original_headers = case.path_parameters["id"], case.headers
    case.path_parameters["id"] = str(uuid.uuid4())
    key = next((v for k, v in (case.headers or {}).items() if k.lower() == "idempotency-key"), None)
    if key is not None and IDEMPOTENCY_KEY.match(key):
        _set_header(case, "Idempotency-Key", uuid.uuid4().hex)  # a key is bound to its first request
    try:
        twin: Response = case.call(base_url=world.base_url, timeout=30)
        return twin
    finally:
        case.path_parameters["id"], case.headers = original_id, original_headers


def assert_object_level_authorisation(case: Any, response: Response, owner: str, world: World) -> None:
    """Nothing of Bob's reaches Alice: his vehicle gets exactly the answer a missing one gets."""
    status = response.status_code
    if owner == "bob" and caller_of(case.operation) == "alice":
        assert not 200 <= status < 400, f"Alice got {status} for Bob's vehicle: {case.method} {case.path}"
        twin = twin_on_a_missing_vehicle(case, world)
        assert _answer(response) == _answer(twin), "Bob's vehicle is told apart from a missing one"
    if case.method == "GET" and case.operation.path == "/api/vehicles" and status == 200:
        owners = {row["owner_id"] for row in response.json()["data"]}
        assert owners <= {world.alice.id}, f"Alice listed vehicles of {owners - {world.alice.id}}"


@pytest.fixture(scope="module", autouse=True)
def _tokens(world: World) -> None:
    TOKENS.update(world.tokens())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
def test_api(case: schemathesis.Case[Any], world: World) -> None:
    auth = case.headers.get("Authorization", "") if case.headers else ""
    if auth.startswith(PLACEHOLDER):
        case.headers["Authorization"] = f"Bearer {TOKENS[auth.removeprefix(PLACEHOLDER)]}"
    owner, target = choose_target(case, world)
    issue_server_state(case, world, target)
    response = case.call(base_url=world.base_url, timeout=30)
    assert_object_level_authorisation(case, response, owner, world)
    case.validate_response(response, checks=ALL_CHECKS)


def test_the_served_document_is_the_fuzzed_one(world: World) -> None:
    served = requests.get(f"{world.base_url}/api/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(build_document()))
