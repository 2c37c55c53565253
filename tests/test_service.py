"""The reference service over real HTTP (uvicorn on 127.0.0.1), on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from service_support import BACKENDS, USER_HEADER, private_database
from support import NOW

import qfilter
from qfilter.core.sorting import parse_sort
from qfilter.memory import sort_entities
from qfilter.service.app import create_app, load_entities, open_database
from qfilter.service.demo import demo_entities
from qfilter.service.server import serve_in_thread

ALICE = "users/alice"

# Entities beyond the demo set, for the corners: nothing at all, nulls, LIKE's special characters.
EXTRA_ENTITIES: list[dict[str, Any]] = [
    {"name": "bare"},
    {"name": "nulls", "meta": {"tags": None, "resource": None, "description": None}, "attrs": {"created": None}},
    {"name": "percent 100% under_score", "meta": {"tags": ["x%", "x_"], "description": "50% off_peak"}},
    {"name": "ZZ upper", "meta": {"tags": ["demo"], "count": 3, "flag": True}, "attrs": {"created_by": ALICE}},
    {"name": "😀 emoji", "meta": {"tags": ["😀"], "resource": "😀-1"}, "query": {"data": [{"resource": "151CF"}]}},
]


@dataclass
class Service:
    client: httpx.Client
    entities: list[dict[str, Any]]
    backend: str


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(request: pytest.FixtureRequest) -> Iterator[Service]:
    """A read-only service holding the demo set and the extras, loaded from a file as --load does."""
    with tempfile.TemporaryDirectory() as directory:
        entities = demo_entities() + EXTRA_ENTITIES
        path = Path(directory) / "entities.json"
        path.write_text(json.dumps(entities, ensure_ascii=False), encoding="utf-8")
        with private_database(request.param, request, Path(directory)) as url:
            engine = open_database(url, demo=False)
            try:
                load_entities(engine, json.loads(path.read_text(encoding="utf-8")))
                app = create_app(engine, clock=lambda: NOW)
                with serve_in_thread(app) as base_url, httpx.Client(base_url=base_url) as client:
                    yield Service(client, json.loads(path.read_text(encoding="utf-8")), request.param)
            finally:
                engine.dispose()


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    """A service on an empty database of its own, for tests that write."""
    with tempfile.TemporaryDirectory() as directory:
        with private_database(request.param, request, Path(directory)) as url:
            engine = open_database(url, demo=False)
            try:
                with serve_in_thread(create_app(engine, clock=lambda: NOW)) as base_url:
                    with httpx.Client(base_url=base_url) as client:
                        yield client
            finally:
                engine.dispose()


def _names(body: dict[str, Any]) -> list[str]:
    return [entity["name"] for entity in body["queries"]]


def _expected(service: Service, q: str, user: str | None = None) -> list[str]:
    predicate = qfilter.compile_predicate(q, qfilter.WAYLAY, now=NOW, user=user)
    return sorted(entity["name"] for entity in predicate.filter(service.entities))


def _listing(service: Service, headers: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
    response = service.client.get("/config/query", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- the listing -------------------------------------------------------------------------------------


def test_first_page_has_the_seed_shape(loaded: Service) -> None:
    body = _listing(loaded)
    assert list(body) == ["messages", "queries", "_links", "count", "offset", "limit", "total", "total_count"]
    assert (body["messages"], body["count"], body["offset"], body["limit"]) == ([], 10, 0, 10)
    assert body["total"] == body["total_count"] == len(loaded.entities)
    assert _names(body) == sorted(entity["name"] for entity in loaded.entities)[:10]
    assert set(body["_links"]) == {"self", "next", "last"}
    total = len(loaded.entities)
    assert body["_links"]["last"]["href"].endswith(f"?limit=10&offset={(total - 1) // 10 * 10}")


def test_each_query_links_to_itself(loaded: Service) -> None:
    body = _listing(loaded, q="name:émoji,😀 -tag:x", limit=100)
    body |= _listing(loaded, q="name:Zürich-3-humidity-2")
    for entity in _listing(loaded, q="name:😀")["queries"] + body["queries"]:
        links = entity.pop("_links")
        href = links["self"]["href"]
        assert href.startswith(str(loaded.client.base_url) + "/config/query/")
        assert links["execute"]["href"] == href.replace("/config/query/", "/data/query/", 1)
        again = loaded.client.get(href).json()
        again.pop("_links")
        assert again == entity
        assert entity in loaded.entities  # read back exactly as loaded


def test_the_execute_links_answer_501(loaded: Service) -> None:
    """This service stores query definitions and runs none: the execute targets say so, in the error body."""
    q = "name:Zürich-3-humidity-2"
    (seed,) = _listing(loaded, q=q)["queries"]
    (current,) = loaded.client.get("/queries/v1/query", params={"q": q}).json()["queries"]
    targets = [seed["_links"]["execute"]["href"], current["_links"]["execute"]["href"]]
    assert targets[1].endswith("/queries/v1/data/" + quote(seed["name"], safe=""))
    for target in [*targets, "/data/query/no%20such", "/queries/v1/data/no%20such"]:
        response = loaded.client.get(target)
        assert response.status_code == 501, target
        body = response.json()
        assert (body["code"], body["system"]) == (501, "neutron") and "does not run them" in body["message"]


def test_both_waylay_paths_list_the_same_entities(loaded: Service) -> None:
    """``/queries/v1/query`` (the path of Waylay's SDK) answers as ``/config/query`` does, with its own links."""
    params: dict[str, Any] = {"q": "tag:demo", "sort": "-modified", "limit": 5, "offset": 3}
    seed = _listing(loaded, **params)
    current = loaded.client.get("/queries/v1/query", params=params).json()
    assert current["total"] == current["total_count"] == seed["total"]
    assert _names(current) == _names(seed) and len(_names(seed)) == 5
    assert {
        rel: link["href"].replace("/queries/v1/query", "/config/query") for rel, link in current["_links"].items()
    } == {rel: link["href"] for rel, link in seed["_links"].items()}
    for ours, theirs in zip(current["queries"], seed["queries"], strict=True):
        assert ours["_links"]["self"]["href"] == theirs["_links"]["self"]["href"].replace("/config/", "/queries/v1/")
        assert ours["_links"]["execute"]["href"].endswith("/queries/v1/data/" + quote(ours["name"], safe=""))
        assert {k: v for k, v in ours.items() if k != "_links"} == {k: v for k, v in theirs.items() if k != "_links"}


def test_paging_walks_every_match_once(loaded: Service) -> None:
    """Following `next` (by cursor) visits every match in name order; `last` (by offset) is the final page."""
    names: list[str] = []
    href: str | None = "/config/query?q=tag:demo&limit=4"
    pages = []
    while href is not None:
        response = loaded.client.get(href)
        assert response.status_code == 200
        body = response.json()
        pages.append(body)
        names += _names(body)
        href = body["_links"].get("next", {}).get("href")
    expected = _expected(loaded, "tag:demo")
    assert names == expected and len(expected) > 8
    assert all(page["total"] == len(expected) for page in pages)
    assert all("cursor=" in page["_links"]["next"]["href"] for page in pages[:-1])
    assert [page["offset"] for page in pages] == list(range(0, len(expected), 4))
    last_offset = (len(expected) - 1) // 4 * 4
    assert all(page["_links"]["last"]["href"].endswith(f"offset={last_offset}") for page in pages[:-1])
    assert pages[-1]["_links"]["last"] == pages[-1]["_links"]["self"]  # the last page is this one
    assert _names(loaded.client.get(pages[0]["_links"]["last"]["href"]).json()) == _names(pages[-1])
    # and back: first and prev on every page but the first, prev the page before
    assert "first" not in pages[0]["_links"] and "prev" not in pages[0]["_links"]
    for before, page in zip(pages, pages[1:], strict=False):
        assert page["_links"]["prev"] == before["_links"]["self"]
        assert page["_links"]["first"] == pages[0]["_links"]["self"]


def test_limit_zero_counts_without_items(loaded: Service) -> None:
    body = _listing(loaded, q="tag:demo", limit=0)
    assert (body["queries"], body["count"], body["total"]) == ([], 0, len(_expected(loaded, "tag:demo")))
    assert set(body["_links"]) == {"self"}


def test_an_offset_past_the_end(loaded: Service) -> None:
    total = len(loaded.entities)
    body = _listing(loaded, offset=total + 5, limit=10)
    assert (body["queries"], body["count"], body["offset"], body["total"]) == ([], 0, total + 5, total)
    assert "next" not in body["_links"]
    assert body["_links"]["last"]["href"].endswith(f"offset={(total - 1) // 10 * 10}")


def test_a_huge_offset_is_served(loaded: Service) -> None:
    body = _listing(loaded, offset=2**63 - 1)
    assert (body["count"], body["total"]) == (0, len(loaded.entities))


def test_one_page_has_no_next_nor_last(loaded: Service) -> None:
    body = _listing(loaded, limit=100)
    assert body["count"] == body["total"] == len(loaded.entities)
    assert set(body["_links"]) == {"self"}


def test_hrefs_encode_q(loaded: Service) -> None:
    body = _listing(loaded, q="tag:'ab c' name:&", limit=1)
    assert body["total"] == 0
    body = _listing(loaded, q="tag:'ab c'", limit=1)
    href = body["_links"]["next"]["href"]
    assert "?q=tag%3A%27ab+c%27&limit=1&cursor=" in href
    assert _names(loaded.client.get(href).json()) == _expected(loaded, "tag:'ab c'")[1:2]


@pytest.mark.parametrize("sort", ["-name", "created", "-modified,name", "created_by,-created", "-modified_by"])
def test_sort_orders_as_memory_does(loaded: Service, sort: str) -> None:
    """``sort=`` orders in SQL as memory does (missing values last, ties by name), paged and in the links."""
    expected = [
        entity["name"] for entity in sort_entities(loaded.entities, parse_sort(sort, qfilter.WAYLAY), qfilter.WAYLAY)
    ]
    names: list[str] = []
    href: str | None = f"/config/query?sort={sort}&limit=7"
    while href is not None:
        body = loaded.client.get(href).json()
        names += _names(body)
        assert "sort=" in body["_links"]["self"]["href"]
        href = body["_links"].get("next", {}).get("href")
    assert names == expected


def test_a_bad_sort_is_a_400(loaded: Service) -> None:
    response = loaded.client.get("/config/query", params={"sort": "tag"})
    assert response.status_code == 400 and response.json()["parameter"] == "sort"


# -- bad requests ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "parameter", "fragment"),
    [
        ({"limit": "101"}, "limit", "between 0 and 100"),
        ({"limit": "-1"}, "limit", "between 0 and 100"),
        ({"limit": "ten"}, "limit", "'ten'"),
        ({"offset": "-1"}, "offset", "offset must be an integer"),
        ({"offset": "1.5"}, "offset", "'1.5'"),
        ({"q": "tga:demo"}, "q", "did you mean 'tag'"),
        ({"q": "tag:demo tag:"}, "q", "empty matcher"),
        ({"q": 'name:"open'}, "q", "position 5"),
        ({"q": "created:now-P1D"}, "q", "now-P1D/"),
        ({"q": "name:foo(x)"}, "q", "unknown function 'foo'"),  # like() is a function matcher since issue 11
        ({"q": "created:like(x)"}, "q", "takes no like()"),
        ({"q": "name:a\x00b"}, "q", "NUL"),
    ],
)
def test_bad_parameters_are_400_naming_the_problem(
    loaded: Service, params: dict[str, str], parameter: str, fragment: str
) -> None:
    response = loaded.client.get("/config/query", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 400 and body["parameter"] == parameter
    assert fragment in body["message"]


def test_a_bad_filter_body_shows_where(loaded: Service) -> None:
    body = loaded.client.get("/config/query", params={"q": "tag:demo nmae:x"}).json()
    assert body["position"] == 9 and body["filter"] == "tag:demo nmae:x"
    assert body["detail"].splitlines()[-2:] == ["  tag:demo nmae:x", "           ^"]


def test_at_me_without_the_header_is_a_400_that_names_the_header(loaded: Service) -> None:
    response = loaded.client.get("/config/query", params={"q": "created_by:@me"})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "no current user" and USER_HEADER in body["message"]
    empty = loaded.client.get("/config/query", params={"q": "user:@me"}, headers={USER_HEADER: ""})
    assert empty.status_code == 400


@pytest.mark.parametrize("q", ["created_by:@me", "modified_by:@me", "user:@me -tag:demo", "-user:@me"])
def test_at_me_is_the_header_user(loaded: Service, q: str) -> None:
    body = _listing(loaded, headers={USER_HEADER: ALICE}, q=q, limit=100)
    assert _names(body) == _expected(loaded, q, user=ALICE)
    assert body["total"] > 0


# -- the differential test: SQL in the service against the in-memory compiler ----------------------

SPEC_FILTERS = [
    "",
    "   ",
    # text fragments, ignoring case, with LIKE's special characters
    "name:demo",
    "name:DEMO",
    "name:ünïcode",
    "name:ÜNÏCODE",
    "name:energy_%",
    "name:_",
    "name:%",
    "name:100%",
    "name:😀",
    "name:'demo temperature'",
    'name:"demo temperature 0"',
    # exact values, one of many
    "resource:151CF",
    "resource:APL4995",
    "resource:office-7",
    "resource:151cf",
    "-resource:151CF",
    "tag:demo",
    "tag:Demo",
    "tag:'ab c'",
    "tag:Größe",
    "tag:x%",
    "tag:x_",
    "tag:😀",
    # the combination logic (the seed's examples, on this data)
    "tag:demo,prio1",
    "tag:demo tag:old",
    "tag:demo tag:prio1 -tag:old",
    "-tag:demo",
    "-tag:demo,preview",
    "-tag:demo -tag:old",
    "-tag:preview name:demo,pressure name:office,co2",
    "name:co2 resource:office-7 -name:2",
    "name:demo tag:demo -tag:not-demo resource:151CF",
    "resource:APL4995 name:office tag:prio1,demo -tag:preview",
    "name:temperature resource:151D8",
    # users
    "created_by:users/alice",
    "modified_by:users/bob",
    "user:users/bob",
    "-created_by:users/alice",
    "created_by:users/alice,users/bob",
    # time intervals, every form
    "created:2020",
    "created:2020-04",
    "created:2022-10-06",
    "created:2020/2022",
    "created:2022/2020",
    "created:2021-03-23T10:26:34.002468+00:00/",
    "created:/2021-03-23T10:26:34.002468+00:00",
    'created:"2021-03-23T10:26:34.002468+00:00/"',
    'created:"2021-03-23 10:26/2021-03-24"',
    "created:2021-03-23T12:26:34+02:00/2021-09",
    "created:2021-03-23T10:26+0000/P1D",
    "created:2019/P1Y",
    "created:P6M/2023-01-01",
    "created:P1W/2020-08-15",
    "created:PT36H/2020-08-14T00:00Z",
    "created:1587558840000/",
    "created:now-P2Y/",
    "created:/now-P5Y",
    "modified:now-P1Y/now",
    "modified:NOW-P1Y/",
    "-modified:2021/",
    "created:2019 created:2024 -modified:2019",
    # metadata
    "meta.description:contains(hourly)",
    "meta.description:contains(Hourly)",
    "meta.description:contains(%)",
    "-meta.description:contains(hourly)",
    "meta.name:temperature",
    "meta.name:like(temp*)",
    "meta.name:like(?o2)",
    "meta.name:like(TEMP*)",
    "meta.name:like(*_*)",
    "meta.description:like(*50%*)",
    "meta.resource:151CF",
    "meta.tags:demo",
    "meta.tags:like(d*)",
    "meta.count:3",
    "meta.flag:true",
    "meta.missing:x",
    "-meta.missing:x",
    "meta.name:'Ünïcode-température'",
]


@pytest.mark.parametrize("q", SPEC_FILTERS)
def test_sql_selects_what_memory_selects(loaded: Service, q: str) -> None:
    body = _listing(loaded, q=q, limit=100)
    assert _names(body) == _expected(loaded, q)
    assert body["total"] == body["count"]


def test_the_filters_cover_both_outcomes(loaded: Service) -> None:
    """A differential test is only worth something if the filters select neither all nor nothing."""
    sizes = [len(_expected(loaded, q)) for q in SPEC_FILTERS]
    assert sum(0 < size < len(loaded.entities) for size in sizes) > len(SPEC_FILTERS) * 3 // 4


# -- writing Waylay query entities -----------------------------------------------------------------


def test_create_read_replace_delete(fresh: httpx.Client) -> None:
    name = "Zürich Ünïcode 😀 query"
    url = "/config/query/" + quote(name, safe="")
    created = fresh.post(
        "/config/query",
        json={"name": name, "meta": {"tags": ["new"], "resource": "R1"}, "attrs": {"created_by": "forged"}},
        headers={USER_HEADER: ALICE},
    )
    assert created.status_code == 201, created.text
    entity = created.json()
    assert entity["attrs"] == {"created": NOW.isoformat(), "created_by": ALICE}
    assert entity["_links"]["self"]["href"] == created.headers["location"]
    assert created.headers["location"].endswith(url)
    assert fresh.get(url).json() == entity

    listed = fresh.get(
        "/config/query", params={"q": "name:ünïcode tag:new created_by:@me"}, headers={USER_HEADER: ALICE}
    )
    assert listed.json()["queries"] == [entity]

    replaced = fresh.put(url, json={"meta": {"tags": ["changed"]}}, headers={USER_HEADER: "users/bob"})
    assert replaced.status_code == 200, replaced.text
    attrs = replaced.json()["attrs"]
    assert attrs == {
        "created": NOW.isoformat(),
        "created_by": ALICE,
        "modified": NOW.isoformat(),
        "modified_by": "users/bob",
    }
    assert replaced.json()["meta"] == {"tags": ["changed"]}
    assert fresh.get("/config/query", params={"q": "tag:new"}).json()["total"] == 0
    assert fresh.get("/config/query", params={"q": "tag:changed modified_by:users/bob"}).json()["total"] == 1

    assert fresh.delete(url).status_code == 204
    gone = fresh.get(url)
    assert gone.status_code == 404
    assert gone.json()["code"] == 404 and name in gone.json()["message"]
    assert fresh.delete(url).status_code == 404
    assert fresh.get("/config/query").json()["total"] == 0


def test_the_current_waylay_path_writes_what_the_seed_path_reads(fresh: httpx.Client) -> None:
    """``/queries/v1/query`` answers a create and a delete 200 with a body, as Waylay's v1 API; one table for both."""
    name = "v1 Größe"
    one = "/queries/v1/query/" + quote(name, safe="")
    created = fresh.post(
        "/queries/v1/query", json={"name": name, "query": {"metric": "m"}}, headers={USER_HEADER: ALICE}
    )
    assert created.status_code == 200, created.text
    entity = created.json()
    assert entity["attrs"] == {"created": NOW.isoformat(), "created_by": ALICE}
    assert entity["_links"] == {
        "self": {"href": created.headers["location"]},
        "execute": {"href": created.headers["location"].replace("/queries/v1/query/", "/queries/v1/data/")},
    }
    assert created.headers["location"].endswith(one)
    seed_path = fresh.get("/config/query/" + quote(name, safe="")).json()
    assert {k: v for k, v in seed_path.items() if k != "_links"} == {k: v for k, v in entity.items() if k != "_links"}
    assert fresh.post("/queries/v1/query", json={"name": name}).status_code == 409
    assert fresh.post("/config/query", json={"name": name}).status_code == 409

    replaced = fresh.put(one, json={"meta": {"tags": ["v1"]}}, headers={USER_HEADER: "users/bob"})
    assert replaced.status_code == 200 and replaced.json()["attrs"]["modified_by"] == "users/bob"
    assert _names(fresh.get("/config/query", params={"q": "tag:v1"}).json()) == [name]

    deleted = fresh.delete(one)
    assert deleted.status_code == 200
    assert deleted.json() == {
        "messages": [{"code": "deleted", "message": f"deleted the query {name!r}", "level": "info"}]
    }
    assert fresh.get("/config/query/" + quote(name, safe="")).status_code == 404
    missing = fresh.delete(one)
    assert missing.status_code == 404 and missing.json()["system"] == "neutron"


def test_create_without_a_user_records_none(fresh: httpx.Client) -> None:
    entity = fresh.post("/config/query", json={"name": "anonymous"}).json()
    assert entity["attrs"] == {"created": NOW.isoformat()}


def test_a_name_is_unique(fresh: httpx.Client) -> None:
    assert fresh.post("/config/query", json={"name": "twice"}).status_code == 201
    again = fresh.post("/config/query", json={"name": "twice"})
    assert again.status_code == 409 and again.json()["code"] == 409


def test_replace_needs_an_existing_entity_of_the_same_name(fresh: httpx.Client) -> None:
    assert fresh.put("/config/query/nothing", json={}).status_code == 404
    fresh.post("/config/query", json={"name": "one"})
    mismatch = fresh.put("/config/query/one", json={"name": "two"})
    assert mismatch.status_code == 400 and "differs" in mismatch.json()["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "a/b"}, "'/'"),
        ({"name": "x" * 256}, "name"),
        ({"name": "ok", "meta": {"tags": "demo"}}, "meta.tags"),
        ({"name": "ok", "meta": {"tags": [1]}}, "meta.tags.0"),
        ({"name": "ok", "meta": []}, "meta"),
        ({"name": "ok", "query": {"data": [{"resource": 5}]}}, "query.data.0.resource"),
        ({"name": "ok", "meta": {"note": "a\x00b"}}, "NUL"),
        ({"name": "ok", "meta": {"tags": ["t" * 256]}}, "meta.tags.0"),
        ({"name": "ok", "query": {"resource": "r" * 256}}, "query.resource"),
        ([1, 2], "body"),
    ],
)
def test_a_bad_entity_is_a_400_naming_the_field(fresh: httpx.Client, body: Any, fragment: str) -> None:
    response = fresh.post("/config/query", json=body)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["code"] == 400 and fragment in answer["message"]


def test_a_user_id_longer_than_255_characters_is_a_400(fresh: httpx.Client) -> None:
    response = fresh.post("/config/query", json={"name": "ok"}, headers={USER_HEADER: "u" * 256})
    assert response.status_code == 400 and USER_HEADER in response.json()["message"]
    assert fresh.post("/config/query", json={"name": "ok"}, headers={USER_HEADER: "u" * 255}).status_code == 201


def test_a_body_that_is_not_json_is_a_400(fresh: httpx.Client) -> None:
    response = fresh.post("/config/query", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "JSON" in response.json()["message"]


def test_unknown_routes_and_methods_answer_in_the_error_shape(fresh: httpx.Client) -> None:
    assert fresh.get("/nothing").json() == {"code": 404, "message": "Not Found", "system": "neutron"}
    assert fresh.patch("/config/query").json()["code"] == 405


# -- Timeplus saved queries ------------------------------------------------------------------------

SAVED = "/api/v1beta2/savedqueries"


def test_saved_query_round_trip(fresh: httpx.Client) -> None:
    request = {
        "name": "streaming_iot",
        "description": "get the latest data from iot stream",
        "sql": "select * from iot",
    }
    created = fresh.post(SAVED, json=request | {"tags": ["iot"]}, headers={USER_HEADER: ALICE})
    assert created.status_code == 201, created.text
    item = created.json()
    assert set(item) == {
        "id",
        "name",
        "description",
        "sql",
        "tags",
        "created_at",
        "created_by",
        "last_updated_at",
        "last_updated_by",
    }
    assert item["created_at"] == item["last_updated_at"] == "2026-11-23 12:00:00"
    assert item["created_by"] == item["last_updated_by"] == {"id": ALICE}
    assert fresh.get(f"{SAVED}/{item['id']}").json() == item

    other = fresh.post(SAVED, json={"name": "Größe à la carte", "sql": "select 1"}).json()
    assert other["created_by"] == other["last_updated_by"] == {"id": "anonymous", "name": "anonymous"}
    assert other["tags"] == [] and other["description"] == ""
    assert fresh.get(SAVED, params={"q": "created_by:anonymous"}).json() == [other]
    assert fresh.get(SAVED).json() == [other, item]  # by name: 'G' < 's'

    mine = fresh.get(SAVED, params={"q": "created_by:@me sql:IOT tag:iot"}, headers={USER_HEADER: ALICE})
    assert mine.json() == [item]
    assert fresh.get(SAVED, params={"q": "name:größe created:2026-11-23"}).json() == [other]
    assert fresh.get(SAVED, params={"q": "description:latest -tag:iot"}).json() == []

    updated = fresh.put(
        f"{SAVED}/{item['id']}", json={"name": "streaming_iot", "sql": "select 2"}, headers={USER_HEADER: "users/bob"}
    )
    assert updated.status_code == 200, updated.text
    changed = updated.json()
    assert changed["sql"] == "select 2" and changed["tags"] == [] and changed["id"] == item["id"]
    assert changed["created_by"] == {"id": ALICE} and changed["last_updated_by"] == {"id": "users/bob"}
    assert fresh.get(SAVED, params={"q": "modified_by:users/bob"}).json() == [changed]

    assert fresh.delete(f"{SAVED}/{item['id']}").status_code == 204
    missing = fresh.get(f"{SAVED}/{item['id']}")
    assert missing.status_code == 404 and set(missing.json()) == {"code", "message", "system"}
    assert fresh.put(f"{SAVED}/{item['id']}", json=request).status_code == 404
    assert fresh.delete(f"{SAVED}/{item['id']}").status_code == 404
    assert fresh.get(SAVED).json() == [other]


@pytest.mark.parametrize(
    ("params", "headers", "fragment"),
    [
        ({"q": "resource:x"}, {}, "unknown qualifier 'resource'"),
        ({"q": "user:@me"}, {}, USER_HEADER),
        ({"q": "modified:2023-02-30"}, {}, "2023-02-30"),
    ],
)
def test_saved_query_list_rejects_bad_filters(
    fresh: httpx.Client, params: dict[str, str], headers: dict[str, str], fragment: str
) -> None:
    response = fresh.get(SAVED, params=params, headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == 400 and fragment in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"sql": "select 1"}, "name"),
        ({"name": "x"}, "sql"),
        ({"name": "x", "sql": "s", "tags": "a"}, "tags"),
        ({"name": "x", "sql": 5}, "sql"),
        ({"name": "x", "sql": "s", "tags": ["t" * 256]}, "tags.0"),
    ],
)
def test_a_bad_saved_query_is_a_400(fresh: httpx.Client, body: dict[str, Any], fragment: str) -> None:
    response = fresh.post(SAVED, json=body)
    assert response.status_code == 400
    assert response.json()["code"] == 400 and fragment in response.json()["message"]


def test_saved_query_fields_come_in_the_seed_order(fresh: httpx.Client) -> None:
    created = fresh.post(SAVED, json={"sql": "select 1", "tags": ["a"], "name": "n", "description": "d"}).json()
    order = ["id", "name", "description", "sql", "tags", "created_at", "created_by", "last_updated_at"]
    assert list(created) == [*order, "last_updated_by"]
    assert list(fresh.get(f"{SAVED}/{created['id']}").json()) == list(created)


def _saved_page(client: httpx.Client, url: str, **params: Any) -> tuple[list[dict[str, Any]], dict[str, str], int]:
    response = client.get(url, params=params or None)
    assert response.status_code == 200, response.text
    links = {str(rel): link["url"] for rel, link in response.links.items()}
    items: list[dict[str, Any]] = response.json()
    return items, links, int(response.headers["x-total-count"])


def test_the_saved_query_list_is_paged(fresh: httpx.Client) -> None:
    """Timeplus' array, one page of it: 100 by default, limit and offset as the Waylay listing reads them.

    The number of matches is the ``X-Total-Count`` header, the other pages the ``Link`` header.
    """
    for number in range(101):
        body = {"name": f"q{number:03}", "sql": "select 1", "tags": ["even" if number % 2 == 0 else "odd"]}
        assert fresh.post(SAVED, json=body).status_code == 201
    items, links, total = _saved_page(fresh, SAVED)
    assert [item["name"] for item in items] == [f"q{number:03}" for number in range(100)]
    assert total == 101 and set(links) == {"self", "next", "last"}
    rest, rest_links, _ = _saved_page(fresh, links["next"])
    assert [item["name"] for item in rest] == ["q100"] and "next" not in rest_links
    assert rest_links["prev"] == rest_links["first"] == links["self"] and rest_links["last"] == rest_links["self"]

    walked: list[str] = []
    url: str | None = f"{SAVED}?q=tag:even&limit=7&sort=-name"
    while url is not None:
        page, page_links, total = _saved_page(fresh, url)
        assert total == 51 and "sort=-name" in page_links["self"]
        walked += [item["name"] for item in page]
        url = page_links.get("next")
    assert walked == [f"q{number:03}" for number in range(100, -1, -2)]

    window, _, _ = _saved_page(fresh, SAVED, q="tag:odd", limit=3, offset=10)
    assert [item["name"] for item in window] == ["q021", "q023", "q025"]
    counted, count_links, total = _saved_page(fresh, SAVED, limit=0)
    assert (counted, total, set(count_links)) == ([], 101, {"self"})
    for bad in ({"limit": "101"}, {"limit": "ten"}, {"offset": "-1"}):
        refused = fresh.get(SAVED, params=bad)
        assert refused.status_code == 400 and refused.json()["parameter"] == next(iter(bad))


def test_saved_queries_sort_as_memory_does(fresh: httpx.Client) -> None:
    """The saved-query list takes ``sort=`` too: the order memory gives, ties by id; a bad one is a 400."""
    for name, user in [("b", ALICE), ("B", None), ("a", "users/bob"), ("é", ALICE)]:
        body = {"name": name, "description": "", "sql": "select 1", "tags": []}
        headers = {USER_HEADER: user} if user else {}
        assert fresh.post(SAVED, json=body, headers=headers).status_code == 201
    stored = fresh.get(SAVED).json()
    assert [item["name"] for item in stored] == ["B", "a", "b", "é"]  # the default order: name, by code point
    for sort in ("-name", "created_by,-name", "-created_by"):
        expected = sort_entities(stored, parse_sort(sort, qfilter.TIMEPLUS), qfilter.TIMEPLUS)
        assert fresh.get(SAVED, params={"sort": sort}).json() == expected
    bad = fresh.get(SAVED, params={"sort": "tag"})
    assert bad.status_code == 400 and bad.json()["parameter"] == "sort"
    assert "sortable fields: name, created_by, modified_by, created, modified" in bad.json()["message"]
