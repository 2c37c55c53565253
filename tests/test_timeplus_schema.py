"""Every answer of the Timeplus saved-query resource validates against Timeplus' own definitions.

``tests/schemas/timeplus.json`` holds the definitions and the saved-query
operations' responses copied from Timeplus' public swagger (its
``$comment`` names the repository, path and commit). A session of requests,
as a Timeplus user would send them and as they go wrong (list, paging by the
``Link`` header, get, create, replace, delete; 404s, bad filters and
parameters, bad bodies, 405, 413, 414, 415), runs against the service over
real HTTP on each database; every answer is recorded. Each 2xx answer must
be a status the swagger gives that operation, with a body valid against its
schema (none for 204); each 4xx body must be a valid ``ErrorResponse``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from service_support import BACKENDS, USER_HEADER, private_database
from support import NOW

from qfilter.service.app import create_app, open_database
from qfilter.service.server import serve_in_thread

SCHEMA_FILE = Path(__file__).parent / "schemas" / "timeplus.json"
TIMEPLUS: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
SAVED = "/api/v1beta2/savedqueries"


@dataclass(frozen=True)
class Answer:
    method: str
    path: str
    status: int
    content: bytes

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}: {self.content[:300]!r}"


def _validator(schema: dict[str, Any]) -> jsonschema.Draft4Validator:
    """A validator of ``schema`` whose ``#/definitions/...`` references are the swagger's definitions."""
    return jsonschema.Draft4Validator({**schema, "definitions": TIMEPLUS["definitions"]})


ERROR_RESPONSE = _validator({"$ref": "#/definitions/ErrorResponse"})


def _operation(answer: Answer) -> dict[str, Any]:
    """The swagger's operation for the answered request (the collection or one saved query)."""
    rest = answer.path.removeprefix(SAVED)
    template = "/v1beta2/savedqueries" if rest in ("", "/") else "/v1beta2/savedqueries/{id}"
    operations: dict[str, Any] = TIMEPLUS["paths"][template]
    assert answer.method.lower() in operations, f"the swagger has no such operation: {answer}"
    operation: dict[str, Any] = operations[answer.method.lower()]
    return operation


def _problems(answer: Answer) -> list[str]:
    """What is wrong with ``answer`` by the swagger; empty when it conforms."""
    if 200 <= answer.status < 300:
        responses = _operation(answer)["responses"]
        if str(answer.status) not in responses:
            return [f"the swagger gives this operation {sorted(responses)}, not {answer.status}"]
        schema = responses[str(answer.status)].get("schema")
        if schema is None:
            return [] if answer.content == b"" else ["a body where the swagger has none"]
        return [error.message for error in _validator(schema).iter_errors(json.loads(answer.content))]
    if 400 <= answer.status < 500:
        return [error.message for error in ERROR_RESPONSE.iter_errors(json.loads(answer.content))]
    return [f"neither a success nor a client error: {answer.status}"]


def _session(client: httpx.Client) -> None:
    """The requests of a Timeplus user, right and wrong; the client records every answer."""
    alice = {USER_HEADER: "users/alice"}
    body = {"name": "streaming_iot", "description": "get the latest data from iot stream", "sql": "select * from iot"}
    first = client.post(SAVED, json={**body, "tags": ["iot"]}, headers=alice).json()
    client.post(SAVED, json={"name": "anonymous one", "sql": "select 1"})  # no user: the stand-in owner
    for number in range(5):
        client.post(SAVED, json={"name": f"page {number}", "sql": f"select {number}", "tags": ["paged"]})
    client.get(SAVED)
    client.get(SAVED, params={"q": "created_by:@me sql:iot"}, headers=alice)
    client.get(SAVED, params={"q": "created_by:anonymous"})
    client.get(SAVED, params={"sort": "-name", "limit": 0})
    page = client.get(SAVED, params={"q": "tag:paged", "limit": 2})
    while "next" in page.links:
        page = client.get(page.links["next"]["url"])
    client.get(f"{SAVED}/{first['id']}")
    client.put(f"{SAVED}/{first['id']}", json={"name": "streaming_iot", "sql": "select 2"}, headers=alice)
    client.put(f"{SAVED}/{first['id']}", json={"name": "streaming_iot", "sql": "select 3", "tags": []})
    client.delete(f"{SAVED}/{first['id']}")
    # 404s: the deleted one, an id no saved query has, one no saved query can have, a path below an id.
    client.get(f"{SAVED}/{first['id']}")
    client.put(f"{SAVED}/{first['id']}", json=body)
    client.delete(f"{SAVED}/{first['id']}")
    client.get(f"{SAVED}/a%00b")
    client.get(f"{SAVED}/{'x' * 300}")
    client.get(f"{SAVED}/x/y")
    # 400s: filters, parameters, bodies, the user header.
    client.get(SAVED, params={"q": "resource:x"})
    client.get(SAVED, params={"q": "created_by:@me"})
    client.get(SAVED, params={"q": 'name:"open'})
    client.get(SAVED, params={"limit": "many"})
    client.get(SAVED, params={"limit": "101"})
    client.get(SAVED, params={"offset": "-1"})
    client.get(f"{SAVED}?q=a&q=b")
    client.get(f"{SAVED}?q=%FF")
    client.get(SAVED, params={"sort": "tag"})
    client.get(SAVED, headers={USER_HEADER: "u" * 300})
    client.post(SAVED, json={"sql": "select 1"})
    client.post(SAVED, json={"name": "x", "sql": "s", "tags": "iot"})
    client.post(SAVED, content=b"{broken", headers={"Content-Type": "application/json"})
    client.post(SAVED, json=["not", "an", "object"])
    client.put(f"{SAVED}/anything", json={"name": ""})
    # 405, 413, 414, 415.
    client.patch(f"{SAVED}/anything", json=body)
    client.delete(SAVED)
    client.post(SAVED, json={**body, "sql": "x" * 2**20})
    client.get(SAVED, params={"q": "name:" + "a" * 9000})
    client.post(SAVED, content=json.dumps(body).encode(), headers={"Content-Type": "text/plain"})


@pytest.fixture(scope="module", params=BACKENDS)
def answers(request: pytest.FixtureRequest) -> Iterator[list[Answer]]:
    """Every answer of :func:`_session`, on a service of its own over this database."""
    recorded: list[Answer] = []

    def record(response: httpx.Response) -> None:
        response.read()
        recorded.append(Answer(response.request.method, response.url.path, response.status_code, response.content))

    with tempfile.TemporaryDirectory() as directory:
        with private_database(request.param, request, Path(directory)) as url:
            engine = open_database(url, demo=False)
            try:
                with serve_in_thread(create_app(engine, clock=lambda: NOW)) as base_url:
                    with httpx.Client(base_url=base_url, event_hooks={"response": [record]}) as client:
                        _session(client)
            finally:
                engine.dispose()
    yield recorded


def test_the_session_gets_every_answer_it_means_to(answers: list[Answer]) -> None:
    assert {answer.status for answer in answers} == {200, 201, 204, 400, 404, 405, 413, 414, 415}
    pages = [a for a in answers if a.method == "GET" and a.path == SAVED and a.status == 200]
    assert len(pages) >= 7  # the lists, and the walk along the Link header's next


def test_every_answer_conforms_to_timeplus_definitions(answers: list[Answer]) -> None:
    wrong = {str(answer): problems for answer in answers if (problems := _problems(answer))}
    assert not wrong, json.dumps(wrong, indent=2)


def test_owners_are_objects_even_without_a_user(answers: list[Answer]) -> None:
    items = [item for a in answers if a.status in (200, 201) for item in _saved_queries(a)]
    anonymous = [item for item in items if item["name"] == "anonymous one"]
    assert anonymous and all(item["created_by"] == {"id": "anonymous", "name": "anonymous"} for item in anonymous)
    assert all(isinstance(item[key], dict) for item in items for key in ("created_by", "last_updated_by"))


def _saved_queries(answer: Answer) -> list[dict[str, Any]]:
    body = json.loads(answer.content)
    return body if isinstance(body, list) else [body]


def test_the_definitions_refuse_what_the_service_used_to_answer() -> None:
    """The copy of the definitions is strict enough to fail: the old error body and the old anonymous owner."""
    assert list(ERROR_RESPONSE.iter_errors({"code": 404, "message": "no saved query with id 'x'"}))
    assert not list(ERROR_RESPONSE.iter_errors({"code": 404, "message": "no such", "system": "neutron"}))
    assert list(ERROR_RESPONSE.iter_errors({"code": 404, "message": "no such", "system": "qfilter"}))
    saved_query = _validator({"$ref": "#/definitions/SavedQuery"})
    item: dict[str, Any] = {"id": "1", "name": "n", "description": "", "sql": "s", "tags": [], "created_by": None}
    assert list(saved_query.iter_errors(item))
    assert not list(saved_query.iter_errors({**item, "created_by": {"id": "anonymous", "name": "anonymous"}}))


def test_the_copy_names_its_source() -> None:
    comment = TIMEPLUS["$comment"]
    assert "timeplus-io/gluon" in comment and "spec/swagger.yaml" in comment
    assert set(TIMEPLUS["definitions"]) == {"ErrorResponse", "Owner", "SavedQuery"}
    jsonschema.Draft4Validator.check_schema({k: v for k, v in TIMEPLUS.items() if k != "paths"})
