"""lib.resources.health without a stack: its body is the contract's Health."""

from __future__ import annotations

import json

from lib.contract.outputs import Health
from lib.resources import health
from lib.supabase.transport import ConnectFailed
from tests.resources import fakes
from tests.resources.fakes import FakeDatabase, Query


def test_ok_when_the_database_answers_through_postgrest() -> None:
    database = FakeDatabase(lambda query: True)
    response = health.check_health(fakes.anonymous(fakes.deps(database)))
    assert response.status == 200
    body = json.loads(response.body)
    assert Health.model_validate(body).model_dump(mode="json") == body
    assert body["checks"] == {"database": "ok"}
    (query,) = database.queries
    assert (query.target, query.token, query.admin) == ("rpc:healthcheck", None, False)


def test_degraded_is_503_with_retry_after() -> None:
    def down(query: Query) -> bool:
        raise ConnectFailed("refused")

    response = health.check_health(fakes.anonymous(fakes.deps(FakeDatabase(down))))
    assert response.status == 503
    assert response.headers["Retry-After"]
    body = json.loads(response.body)
    assert (body["status"], body["checks"]["database"]) == ("degraded", "unavailable")
    assert Health.model_validate(body).model_dump(mode="json") == body


def test_a_wrong_answer_is_an_error_status() -> None:
    response = health.check_health(fakes.anonymous(fakes.deps(FakeDatabase(lambda query: "yes"))))
    assert json.loads(response.body)["checks"]["database"] == "error"
