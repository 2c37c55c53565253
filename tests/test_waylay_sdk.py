"""Waylay's own queries SDK (``waylay-sdk-queries``) against a real ``qfilter serve``: every answer validates.

The SDK is installed from the package index into a virtualenv of its own,
built once per test session: it needs pydantic < 2.12 (its serializer breaks
on 2.12), which must not touch the project's environment. A client script
runs in that venv (:data:`CLIENT`) and does what a user migrating from
Waylay would: list with several filters and a sort, page to the end by
following ``next``, get, create, replace and delete, on ``/queries/v1/query``
(the path the SDK calls), plus the seed's ``/config/query`` through the
SDK's own request function. It prints, per call, the HTTP status, the type
the SDK returned, and whether the raw body validates *strictly* against the
SDK's model (``model_validate_json(..., strict=True)``). The SDK falls back
to an unvalidated object when its model refuses a body, logging a warning;
the script records those warnings, and the test fails on any. A probe first
checks that this detection works: a body without ``_links.execute`` must be
caught by both.
"""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from service_support import qfilter_serve

import qfilter
from qfilter.core.sorting import parse_sort
from qfilter.memory import sort_entities
from qfilter.service.demo import demo_entities

SDK_REQUIREMENTS = (
    "waylay-sdk-queries[types]==0.6.8.*",  # [types]: the models the SDK validates answers with
    "waylay-sdk-core==1.0.0",
    "pydantic>=2.11,<2.12",  # the SDK's serializer breaks with pydantic 2.12
)
FILTERS = [
    "",
    "tag:demo",
    "name:temperature resource:151CF",
    "tag:demo,'ab c'",
    "-tag:demo created:2020..*",
    "created_by:users/bob OR meta.name:pressure",
]
PAGE = 7  # the page size of the walk along "next": 48 demo entities make 7 pages, the last one short
CREATED: dict[str, Any] = {
    "name": "sdk-made Größe",
    "meta": {"name": "made by the SDK", "tags": ["sdk", "demo"], "resource": "sdk-1"},
    "query": {"resource": "sdk-1", "metric": "temperature", "freq": "PT1H", "aggregation": "mean"},
}
REPLACED: dict[str, Any] = {"meta": {"tags": ["sdk", "replaced"]}, "query": {"resource": "sdk-1", "metric": "humidity"}}
SDK_USER = "users/sdk"

CLIENT = r'''
import asyncio, json, logging, sys, time

import httpx
import jwt
from pydantic import ValidationError
from waylay.sdk import WaylayClient
from waylay.sdk.api.exceptions import ApiError
from waylay.services.queries.models import DeleteResponse, QueriesListResponse, QueryResponse

BASE_URL = sys.argv[1]
PLAN = json.loads(sys.argv[2])

fallbacks = []  # the SDK's warnings: it logs one whenever it falls back from its model to an untyped object


class Recorder(logging.Handler):
    def emit(self, record):
        fallbacks.append(record.getMessage())


logging.getLogger("waylay").addHandler(Recorder(logging.WARNING))
responses = []


async def keep(response):
    await response.aread()
    responses.append(response)


def strictly(model, text):
    """None when the body validates strictly against the SDK's model, else the error."""
    try:
        model.model_validate_json(text, strict=True)
    except ValidationError as error:
        return str(error)
    return None


calls = []


async def call(operation, model, request):
    """Run one SDK call; record its answer, what the SDK made of it, and the strict validation of its body."""
    seen = len(fallbacks)
    try:
        result, refused = await request, None
    except ApiError as error:
        result, refused = None, error.response.status_code
    response = responses[-1]
    calls.append(
        {
            "operation": operation,
            "method": response.request.method,
            "url": str(response.url),
            "status": response.status_code,
            "refused": refused,
            "sdk_type": type(result).__name__,
            "strict_error": strictly(model, response.text) if model is not None else None,
            "fallbacks": fallbacks[seen:],
            "body": response.json() if response.content else None,
        }
    )
    return result


def probe(client):
    """Whether both checks catch a body the model refuses: the seed's listing item without its execute link."""
    body = {
        "messages": [], "count": 1, "offset": 0, "limit": 1, "total_count": 1,
        "queries": [{"name": "x", "attrs": {}, "_links": {"self": {"href": "http://x/q/x"}}}],
        "_links": {"self": {"href": "http://x/q"}},
    }
    seen = len(fallbacks)
    response = httpx.Response(200, json=body, request=httpx.Request("GET", "http://x/q"))
    client.api_client.deserialize(response, response_type={"200": QueriesListResponse})
    refused = strictly(QueriesListResponse, response.text) is not None
    return {"fallback_logged": len(fallbacks) > seen, "strict_refused": refused}


async def main():
    claims = {"tenant": "qfilter-test", "domain": "127.0.0.1", "sub": "users/sdk", "exp": int(time.time()) + 3600}
    token = jwt.encode(claims, "a dummy key: the service checks no token" * 2, algorithm="HS256")
    client = WaylayClient.from_token(token, gateway_url=BASE_URL, options={"event_hooks": {"response": [keep]}})
    manage = client.queries.manage
    found = {"probe": probe(client)}
    for q in PLAN["filters"]:
        await call(f"list {q}", QueriesListResponse, manage.list(query={"q": q, "limit": 100}))
    await call("sorted", QueriesListResponse, manage.list(query={"q": "tag:demo", "sort": "-created", "limit": 5}))
    page = await call("page", QueriesListResponse, manage.list(query={"limit": PLAN["page"]}))
    while page is not None and page.links.next is not None:
        page = await call(
            "page",
            QueriesListResponse,
            client.api_client.request("GET", page.links.next.href, response_type={"200": QueriesListResponse}),
        )
    first = calls[0]["body"]["queries"][0]["name"]
    await call("get", QueryResponse, manage.get(first))
    created = PLAN["created"]
    headers = {"X-User-Id": PLAN["user"]}
    await call("create", QueryResponse, manage.post(json=created, headers=headers))
    await call("get created", QueryResponse, manage.get(created["name"]))
    await call("replace", QueryResponse, manage.update(created["name"], json=PLAN["replaced"], headers=headers))
    await call("delete", DeleteResponse, manage.remove(created["name"]))
    await call("get deleted", None, manage.get(created["name"]))
    await call(
        "seed path",
        QueriesListResponse,
        client.api_client.request(
            "GET", "/config/query", params={"q": "tag:demo", "limit": 2}, response_type={"200": QueriesListResponse}
        ),
    )
    await client.api_client.aclose()
    found["calls"] = calls
    print(json.dumps(found))


asyncio.run(main())
'''


@pytest.fixture(scope="session")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of a venv holding Waylay's queries SDK and its pins, from the package index (once a session)."""
    home = tmp_path_factory.mktemp("waylay-sdk")
    subprocess.run([sys.executable, "-m", "venv", str(home / "venv")], check=True, timeout=120)
    python = home / "venv" / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *SDK_REQUIREMENTS],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr
    return python


@pytest.fixture(scope="module")
def session(sdk_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the SDK's client script saw, run against ``qfilter serve`` on a fresh SQLite file (the demo set)."""
    home = tmp_path_factory.mktemp("waylay-sdk-serve")
    plan = {"filters": FILTERS, "page": PAGE, "created": CREATED, "replaced": REPLACED, "user": SDK_USER}
    with qfilter_serve(["--db", f"sqlite:///{home / 'queries.sqlite3'}"], home) as base_url:
        ran = subprocess.run(
            [str(sdk_python), "-c", CLIENT, base_url, json.dumps(plan)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=home,
        )
    assert ran.returncode == 0, ran.stderr
    found: dict[str, Any] = json.loads(ran.stdout)
    found["base_url"] = base_url
    return found


def _calls(session: dict[str, Any], operation: str) -> list[dict[str, Any]]:
    calls = [call for call in session["calls"] if call["operation"] == operation]
    assert calls, f"no {operation!r} call"
    return calls


def _in_memory(q: str) -> list[str]:
    return sorted(entity["name"] for entity in qfilter.compile_predicate(q, qfilter.WAYLAY).filter(demo_entities()))


def test_the_detection_of_a_fallback_works(session: dict[str, Any]) -> None:
    """A body the SDK's model refuses is caught both ways, so the checks below can fail."""
    assert session["probe"] == {"fallback_logged": True, "strict_refused": True}


def test_every_answer_validates_strictly_with_no_fallback(session: dict[str, Any]) -> None:
    for call in session["calls"]:
        where = f"{call['operation']}: {call['method']} {call['url']} -> {call['status']}"
        assert call["fallbacks"] == [], where
        assert call["strict_error"] is None, f"{where}: {call['strict_error']}"
        if call["refused"] is None:
            assert call["sdk_type"] in ("QueriesListResponse", "QueryResponse", "DeleteResponse"), where


def test_the_sdk_calls_the_current_path(session: dict[str, Any]) -> None:
    paths = {urlsplit(call["url"]).path for call in session["calls"] if call["operation"] != "seed path"}
    (got,) = _calls(session, "get")
    one = "/queries/v1/query/"
    assert paths == {"/queries/v1/query", one + quote(got["body"]["name"]), one + quote(CREATED["name"])}


@pytest.mark.parametrize("q", FILTERS)
def test_the_filters_select_what_memory_selects(session: dict[str, Any], q: str) -> None:
    (call,) = _calls(session, f"list {q}")
    body = call["body"]
    assert [item["name"] for item in body["queries"]] == _in_memory(q)
    assert body["total_count"] == body["total"] == len(_in_memory(q))


def test_the_filters_cover_both_outcomes() -> None:
    counts = [len(_in_memory(q)) for q in FILTERS]
    assert 0 < min(counts[1:]) and max(counts[1:]) < counts[0]


def test_a_sorted_list(session: dict[str, Any]) -> None:
    (call,) = _calls(session, "sorted")
    names = [item["name"] for item in call["body"]["queries"]]
    expected = qfilter.compile_predicate("tag:demo", qfilter.WAYLAY).filter(demo_entities())
    ordered = sort_entities(expected, parse_sort("-created", qfilter.WAYLAY), qfilter.WAYLAY)
    assert names == [entity["name"] for entity in ordered][:5]
    assert "sort=-created" in call["body"]["_links"]["next"]["href"]


def test_paging_by_next_reaches_the_end_once_each(session: dict[str, Any]) -> None:
    pages = [call["body"] for call in _calls(session, "page")]
    names = [item["name"] for page in pages for item in page["queries"]]
    assert names == _in_memory("")
    assert len(pages) == -(-len(names) // PAGE)
    assert all(page["total_count"] == page["total"] == len(names) for page in pages)
    assert [page["offset"] for page in pages] == list(range(0, len(names), PAGE))
    assert "first" not in pages[0]["_links"] and "prev" not in pages[0]["_links"]
    for before, page in pairwise(pages):
        assert page["_links"]["prev"] == before["_links"]["self"]
        assert page["_links"]["first"] == pages[0]["_links"]["self"]
    assert "next" not in pages[-1]["_links"] and pages[-1]["_links"]["last"] == pages[-1]["_links"]["self"]


def test_get_create_replace_delete(session: dict[str, Any]) -> None:
    (got,) = _calls(session, "get")
    demo = {entity["name"]: entity for entity in demo_entities()}
    assert {key: value for key, value in got["body"].items() if key != "_links"} == demo[got["body"]["name"]]

    (created,) = _calls(session, "create")
    assert created["status"] == 200  # the v1 API's status, the one the SDK validates
    assert {key: created["body"][key] for key in CREATED} == CREATED
    assert created["body"]["attrs"]["created_by"] == SDK_USER
    links = created["body"]["_links"]
    assert links["self"]["href"].endswith("/queries/v1/query/" + quote(CREATED["name"]))
    assert links["execute"]["href"].endswith("/queries/v1/data/" + quote(CREATED["name"]))
    (again,) = _calls(session, "get created")
    assert again["body"] == created["body"]

    (replaced,) = _calls(session, "replace")
    assert (replaced["body"]["meta"], replaced["body"]["query"]) == (REPLACED["meta"], REPLACED["query"])
    assert replaced["body"]["attrs"]["modified_by"] == SDK_USER

    (deleted,) = _calls(session, "delete")
    assert deleted["status"] == 200 and deleted["body"]["messages"][0]["level"] == "info"
    (gone,) = _calls(session, "get deleted")
    assert gone["refused"] == gone["status"] == 404
    assert gone["body"]["code"] == 404 and gone["body"]["system"] == "neutron"


def test_the_seed_path_answers_the_sdks_model_too(session: dict[str, Any]) -> None:
    (call,) = _calls(session, "seed path")
    body = call["body"]
    assert [item["name"] for item in body["queries"]] == _in_memory("tag:demo")[:2]
    assert all(item["_links"]["execute"]["href"].split("/")[-3:-1] == ["data", "query"] for item in body["queries"])
