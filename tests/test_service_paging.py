"""The reference service pages by cursor and counts its way, over real HTTP, on SQLite, PostgreSQL and MariaDB.

A walk along ``next`` while others insert and delete (between its pages,
and from a thread writing all along) sees every entity that existed
throughout exactly once, in the order asked for. A cursor a client has
touched is a 400 with the error body, never a 500 nor a page. Capped and
absent counts say what they know, in the Waylay body and in the saved-query
list's headers.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_support import BACKENDS, private_database
from support import NOW, examples

import qfilter
from qfilter.core.sorting import parse_sort
from qfilter.integrations.listing import Counting
from qfilter.memory import sort_entities
from qfilter.service import tables as reference
from qfilter.service.app import create_app, open_database
from qfilter.service.database import run_write
from qfilter.service.server import serve_in_thread

KEY = "the service's cursor key, for these tests"
QUERIES = "/config/query"
SAVED = "/api/v1beta2/savedqueries"
USERS = ["users/a", "users/b", None]
SORTS = ["", "-name", "created", "-created", "created_by,-created", "-modified,name", "-modified_by"]


@dataclass
class Service:
    client: httpx.Client
    engine: sa.Engine
    backend: str
    cursors: dict[str, tuple[str, str]] = field(default_factory=dict)


@pytest.fixture(scope="module", params=BACKENDS)
def service(request: pytest.FixtureRequest) -> Iterator[Service]:
    with tempfile.TemporaryDirectory() as directory:
        with private_database(request.param, request, Path(directory)) as url:
            engine = open_database(url, demo=False)
            try:
                app = create_app(engine, clock=lambda: NOW, cursor_key=KEY)
                with serve_in_thread(app) as base_url, httpx.Client(base_url=base_url, timeout=60.0) as client:
                    yield Service(client, engine, request.param)
            finally:
                engine.dispose()


def entity(number: int, name: str | None = None) -> dict[str, Any]:
    """An entity with few distinct times and users, so that ties and missing values are common."""
    attrs: dict[str, Any] = {}
    if number % 5:
        attrs["created"] = (NOW - timedelta(days=number % 4)).isoformat()
    if number % 3:
        attrs["modified"] = (NOW - timedelta(hours=number % 2)).isoformat()
    for key, user in (("created_by", USERS[number % 3]), ("modified_by", USERS[number % 2])):
        if user:
            attrs[key] = user
    return {"name": name or f"e{number:03}", "meta": {"tags": ["even" if number % 2 == 0 else "odd"]}, "attrs": attrs}


def reset(service: Service, entities: list[dict[str, Any]]) -> None:
    """Only ``entities`` in the service's tables."""

    def replace(conn: sa.Connection) -> None:
        for table in (reference.WAYLAY_TAGS_TABLE, reference.WAYLAY_RESOURCES_TABLE, reference.WAYLAY_TABLE):
            conn.execute(table.delete())
        reference.insert_waylay_queries(conn, entities)

    run_write(service.engine, replace)


def page(client: httpx.Client, href: str) -> dict[str, Any]:
    response = client.get(href)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def walk(client: httpx.Client, first: str, between: Any = None) -> list[dict[str, Any]]:
    """Every page from ``first`` along ``next``; ``between()`` runs before each page after the first."""
    pages = [page(client, first)]
    while "next" in pages[-1]["_links"]:
        assert pages[-1]["queries"], "a page with a next link and nothing in it"
        assert "cursor=" in pages[-1]["_links"]["next"]["href"]
        if between is not None:
            between()
        pages.append(page(client, pages[-1]["_links"]["next"]["href"]))
    return pages


def names(pages: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for body in pages for item in body["queries"]]


def in_order(entities: list[dict[str, Any]], sort: str) -> list[str]:
    return [e["name"] for e in sort_entities(entities, parse_sort(sort, qfilter.WAYLAY), qfilter.WAYLAY)]


# -- walks while others write ------------------------------------------------------------------------------

NEW_NAMES = st.text(st.sampled_from("ae0_Z"), min_size=1, max_size=4).map(lambda text: f"{text} new")


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    count=st.integers(0, 14),
    doomed=st.sets(st.integers(0, 13)),
    sort=st.sampled_from(SORTS),
    limit=st.integers(1, 4),
    extra=st.data(),
)
def test_a_walk_under_inserts_and_deletes_sees_every_lasting_entity_once(
    service: Service, count: int, doomed: set[int], sort: str, limit: int, extra: st.DataObject
) -> None:
    """Between pages, entities are created (anywhere in the order) and deleted (the doomed and the new ones)."""
    initial = [entity(number) for number in range(count)]
    reset(service, initial)
    lasting = [e for number, e in enumerate(initial) if number not in doomed]
    deletable = [e["name"] for number, e in enumerate(initial) if number in doomed]
    client = service.client

    def write() -> None:
        for _ in range(extra.draw(st.integers(0, 3), label="writes")):
            delete: bool = extra.draw(st.booleans(), label="delete")
            if deletable and delete:
                gone = deletable.pop(extra.draw(st.integers(0, len(deletable) - 1), label="which"))
                assert client.delete(f"{QUERIES}/{gone}").status_code == 204
            else:
                new = {"name": extra.draw(NEW_NAMES, label="new"), "meta": {"tags": ["even"]}}
                if client.post(QUERIES, json=new).status_code == 201:  # 409 when drawn twice: nothing made
                    deletable.append(new["name"])

    seen = names(walk(client, f"{QUERIES}?{urlencode({'sort': sort, 'limit': limit})}", write))
    assert len(seen) == len(set(seen)), "an entity was seen twice"
    assert {e["name"] for e in lasting} <= set(seen), "an entity that existed throughout was missed"
    kept = {e["name"] for e in lasting}
    assert [name for name in seen if name in kept] == in_order(lasting, sort)


@pytest.mark.parametrize("sort", ["-created", "name"])
def test_a_walk_while_a_thread_writes_sees_every_lasting_entity_once(service: Service, sort: str) -> None:
    """A writer creates and deletes all through the walk, on its own connection, as another client would."""
    initial = [entity(number) for number in range(40)]
    reset(service, initial)
    lasting = [e for e in initial if int(e["name"][1:]) % 4]
    stop, started = threading.Event(), threading.Event()
    answers: list[int] = []

    def writer() -> None:
        with httpx.Client(base_url=service.client.base_url, timeout=60.0) as other:
            doomed = [e["name"] for e in initial if int(e["name"][1:]) % 4 == 0]
            number = 0
            while not stop.is_set():
                number += 1
                new = f"{'adz'[number % 3]}{number:03} new"
                answers.append(other.post(QUERIES, json={"name": new}).status_code)
                gone = doomed.pop() if doomed and number % 2 else new
                answers.append(other.delete(f"{QUERIES}/{gone}").status_code)
                started.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert started.wait(60), "the writer wrote nothing"
        seen = names(walk(service.client, f"{QUERIES}?sort={sort}&limit=3"))
    finally:
        stop.set()
        thread.join()
    assert set(answers) <= {201, 204}, answers
    assert len(seen) == len(set(seen))
    kept = {e["name"] for e in lasting}
    assert [name for name in seen if name in kept] == in_order(lasting, sort)


def test_both_waylay_paths_and_the_saved_queries_page_by_cursor(service: Service) -> None:
    initial = [entity(number) for number in range(11)]
    reset(service, initial)
    for path in (QUERIES, "/queries/v1/query"):
        pages = walk(service.client, f"{path}?q=tag:even&sort=-created&limit=2")
        assert names(pages) == in_order([e for e in initial if "even" in e["meta"]["tags"]], "-created")
        assert all(urlsplit(body["_links"]["self"]["href"]).path == path for body in pages)
    run_write(service.engine, lambda conn: conn.execute(reference.TIMEPLUS_TABLE.delete()))
    for number in range(7):
        body = {"name": f"s{number % 3}", "sql": "select 1", "tags": ["t"]}
        assert service.client.post(SAVED, json=body).status_code == 201
    stored = service.client.get(SAVED).json()
    url: str | None = f"{SAVED}?limit=2"
    walked: list[str] = []
    while url is not None:
        response = service.client.get(url)
        assert response.status_code == 200 and response.headers["x-total-count"] == "7"
        walked += [item["id"] for item in response.json()]
        url = response.links.get("next", {}).get("url")
        assert url is None or "cursor=" in url
    assert walked == [item["id"] for item in stored]  # by name, then id: the listing's own order


# -- cursors a client touched: 400 with the error body ---------------------------------------------------


def _cursor(service: Service, path: str = QUERIES) -> tuple[str, str]:
    """A next link of ``path`` (as path and query) and its cursor, made once: a cursor outlives the rows it passed."""
    if path not in service.cursors:
        if path == SAVED:
            run_write(service.engine, lambda conn: conn.execute(reference.TIMEPLUS_TABLE.delete()))
            for number in range(6):
                assert service.client.post(SAVED, json={"name": f"s{number}", "sql": "select 1"}).status_code == 201
            link = service.client.get(f"{path}?sort=-created&limit=2").links["next"]["url"]
        else:
            reset(service, [entity(number) for number in range(6)])
            link = page(service.client, f"{path}?sort=-created&limit=2")["_links"]["next"]["href"]
        parts = urlsplit(link)
        service.cursors[path] = (f"{parts.path}?{parts.query}", parse_qs(parts.query)["cursor"][0])
    return service.cursors[path]


def refused(service: Service, href: str) -> dict[str, Any]:
    response = service.client.get(href)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["code"] == 400 and body["parameter"] == "cursor" and body["system"] == "neutron"
    return body


@settings(
    max_examples=examples(100),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(at=st.integers(0, 10**6), replacement=st.text(st.sampled_from("Aa0_-.é%~ "), max_size=3), cut=st.booleans())
def test_a_changed_cursor_is_a_400_on_every_listing(service: Service, at: int, replacement: str, cut: bool) -> None:
    for path in (QUERIES, "/queries/v1/query", SAVED):
        href, cursor = _cursor(service, path)
        at %= len(cursor)
        changed = cursor[:at] + replacement + ("" if cut else cursor[at + 1 :])
        if changed == cursor or not changed.strip():
            continue
        refused(service, href.replace(f"cursor={cursor}", urlencode({"cursor": changed})))


def test_a_foreign_cursor_is_a_400_that_says_whose_it_is(service: Service) -> None:
    href, cursor = _cursor(service)
    assert "another filter" in refused(service, f"{QUERIES}?q=tag:odd&sort=-created&cursor={cursor}")["message"]
    assert "another sort" in refused(service, f"{QUERIES}?sort=created&cursor={cursor}")["message"]
    assert "another listing" in refused(service, f"{SAVED}?sort=-created&cursor={cursor}")["message"]
    assert "not both" in refused(service, f"{href}&offset=2")["message"]
    assert page(service.client, f"{href}&offset=0")["offset"] == 2  # offset 0 is no offset


def test_a_cursor_from_another_key_is_a_400(service: Service) -> None:
    href, _ = _cursor(service)
    other = TestClient(create_app(service.engine, clock=lambda: NOW, cursor_key="another key, as after a restart"))
    response = other.get(href)
    assert response.status_code == 400 and "another key" in response.json()["message"]


# -- counts ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "totals", "has_last"),
    [
        (Counting("exact"), {"total": 9, "total_count": 9}, True),
        (Counting.capped(9), {"total": 9, "total_count": 9}, True),
        (Counting.capped(4), {"total_at_least": 5}, False),
        (Counting("none"), {}, False),
    ],
)
def test_the_service_counts_as_told(service: Service, count: Counting, totals: dict[str, int], has_last: bool) -> None:
    reset(service, [entity(number) for number in range(9)])
    client = TestClient(create_app(service.engine, clock=lambda: NOW, cursor_key=KEY, count=count))
    first = client.get(f"{QUERIES}?limit=2").json()
    assert {key: first[key] for key in ("total", "total_count", "total_at_least") if key in first} == totals
    assert ("last" in first["_links"]) == has_last and "next" in first["_links"]
    walked = [first]
    while "next" in walked[-1]["_links"]:
        walked.append(client.get(walked[-1]["_links"]["next"]["href"]).json())
    assert [item["name"] for body in walked for item in body["queries"]] == [f"e{n:03}" for n in range(9)]
    if count.mode == "capped" and not has_last:
        assert walked[-1]["total_at_least"] == 9  # the walk itself has seen them all
    saved = client.get(SAVED, params={"limit": 1})
    assert saved.status_code == 200
    if count.mode == "none":
        assert "x-total-count" not in saved.headers and "x-total-at-least" not in saved.headers


def test_a_capped_saved_query_list_says_at_least_in_a_header(service: Service) -> None:
    run_write(service.engine, lambda conn: conn.execute(reference.TIMEPLUS_TABLE.delete()))
    client = TestClient(create_app(service.engine, clock=lambda: NOW, cursor_key=KEY, count=Counting.capped(2)))
    for number in range(4):
        assert client.post(SAVED, json={"name": f"s{number}", "sql": "select 1"}).status_code == 201
    response = client.get(SAVED, params={"limit": 1})
    assert response.headers["x-total-at-least"] == "3" and "x-total-count" not in response.headers
    assert "last" not in response.links and "next" in response.links
