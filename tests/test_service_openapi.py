"""Schemathesis against the running service's OpenAPI document, over real HTTP.

Every generated request, valid or not, must get an answer that is no server
error, conforms to the document, and, when it is a client error, has the
error body (``code`` and a ``message`` that says what is wrong). The run is
bounded: a few dozen examples per operation and backend.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from service_support import BACKENDS, private_database
from support import NOW, examples

from qfilter.service.app import create_app, open_database
from qfilter.service.saved_queries import SAVED_QUERIES_PREFIX
from qfilter.service.server import serve_in_thread
from qfilter.service.waylay import WAYLAY_APIS

EXAMPLES_PER_OPERATION = examples(40)
EXECUTE_PATHS = {f"{api.execute_prefix}/{{name}}" for api in WAYLAY_APIS}


@pytest.fixture(scope="module", params=BACKENDS)
def service_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The service on a database of its own holding the demo set (the schemathesis run writes to it)."""
    with tempfile.TemporaryDirectory() as directory:
        with private_database(request.param, request, Path(directory)) as url:
            engine = open_database(url, demo=True)
            try:
                with serve_in_thread(create_app(engine, clock=lambda: NOW)) as base_url:
                    yield base_url
            finally:
                engine.dispose()


def _openapi_document() -> dict[str, Any]:
    """The document the service serves; building the app touches no database."""
    return create_app(sa.create_engine("sqlite://")).openapi()


# Loaded when the module is collected (schemathesis' fixture loader does not work with current pytest);
# test_the_served_document_is_this_one checks that the running service serves the same document.
schema = schemathesis.openapi.from_dict(_openapi_document())


def test_the_served_document_is_this_one(service_url: str) -> None:
    assert httpx.get(f"{service_url}/openapi.json").json() == _openapi_document()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_generated_request_gets_a_sound_answer(case: Any, service_url: str) -> None:
    response = case.call(base_url=service_url)
    status = response.status_code
    # The execute links' targets answer their documented 501: the service runs no queries.
    not_implemented = case.path in EXECUTE_PATHS and status == 501
    assert status < 500 or not_implemented, f"{case.method} {case.path}: server error {status}: {response.text[:500]}"
    assert status != 422, "validation errors must be 400s"
    if status >= 400:
        body = response.json()
        assert body["code"] == status, body
        assert isinstance(body["message"], str) and body["message"].strip(), body
    # A request the document allows can still be refused with a 400: `q` is a language the schema
    # cannot describe (a string that is no filter, `@me` without the header), a PUT may name
    # another entity than its URL. So "schema-valid means accepted" is not checked.
    excluded = [schemathesis.checks.positive_data_acceptance]
    if not_implemented:
        excluded.append(schemathesis.checks.not_a_server_error)
    case.validate_response(response, excluded_checks=excluded)


# -- the documented 200 bodies and error examples ---------------------------------------------------------


def _conforms(body: Any, schema: dict[str, Any], document: dict[str, Any]) -> None:
    """``body`` is valid under ``schema``, whose ``$ref``s point into ``document``'s components."""
    jsonschema.validate(body, {**schema, "components": document["components"]})


def test_the_listings_document_the_bodies_they_answer(service_url: str) -> None:
    document = _openapi_document()
    for api in WAYLAY_APIS:
        documented = document["paths"][api.prefix]["get"]["responses"]["200"]["content"]["application/json"]
        assert documented["schema"]["$ref"] == "#/components/schemas/WaylayQueryPage"
        for query in ("limit=2", "limit=2&offset=2&q=tag:demo", "limit=0"):
            body = httpx.get(f"{service_url}{api.prefix}?{query}").json()
            assert body["messages"] == [] and body["queries"] is not None  # the Waylay search API's shape
            _conforms(body, documented["schema"], document)
        with pytest.raises(jsonschema.ValidationError):  # the schema holds the page to its shape
            _conforms({**body, "queries": [{"_links": {}}]}, documented["schema"], document)
    page = document["components"]["schemas"]["WaylayQueryPage"]
    assert {"queries", "messages", "_links", "count", "offset", "limit"} <= set(page["required"])
    saved = document["paths"][SAVED_QUERIES_PREFIX]["get"]["responses"]["200"]["content"]["application/json"]
    created = httpx.post(f"{service_url}{SAVED_QUERIES_PREFIX}", json={"name": "listed", "sql": "SELECT 1"})
    try:
        listed = httpx.get(f"{service_url}{SAVED_QUERIES_PREFIX}?limit=3").json()
        assert listed and saved["schema"]["type"] == "array"
        _conforms(listed, saved["schema"], document)
    finally:
        httpx.delete(f"{service_url}{SAVED_QUERIES_PREFIX}/{created.json()['id']}")


def test_error_examples_other_than_400_hold_no_filter_fields() -> None:
    document = _openapi_document()
    seen = set()
    for path in document["paths"].values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                if status in ("200", "201", "204", "400") or "application/json" not in response.get("content", {}):
                    continue
                content = response["content"]["application/json"]
                assert set(content["schema"]["properties"]) == {"code", "message", "system"}, status
                example = content["example"]
                assert example["code"] == int(status) and example["message"], example
                _conforms(example, content["schema"], document)
                seen.add(status)
    assert {"404", "503"} <= seen, seen
