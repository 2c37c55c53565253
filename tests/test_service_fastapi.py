"""qfilter.integrations.fastapi embedded in an app of one's own (in memory, no SQL), over real HTTP."""

# No "from __future__ import annotations": the routes are defined in a function, and FastAPI must
# resolve their Annotated[..., Depends(devices.listing)] where `devices` is a local.
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException
from support import NOW

import qfilter
from qfilter import Field, Kind, Schema
from qfilter.integrations.fastapi import QFilter, RequestFilter, RequestListing, install_error_handlers
from qfilter.service.server import serve_in_thread

DEVICES = Schema(
    "devices",
    (
        Field("name", Kind.TEXT, "name"),
        Field("owner", Kind.USER, "owner"),
        Field("seen", Kind.TIME, "seen"),
    ),
    default_qualifier="name",
)
ROWS = [
    {"name": "boiler", "owner": "ann", "seen": "2026-11-23T11:00:00Z"},
    {"name": "Boat", "owner": "bob", "seen": "2026-01-01T00:00:00Z"},
    {"name": "car", "owner": "ann", "seen": "2025-06-01T00:00:00Z"},
]


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    devices = QFilter(
        DEVICES,
        user_header="X-Remote-User",
        max_limit=2,
        default_limit=1,
        examples={"mine": "owner:@me"},
        clock=lambda: NOW,
    )

    @app.get("/devices")
    def list_devices(listing: Annotated[RequestListing, Depends(devices.listing)]) -> dict[str, Any]:
        matches = sorted(listing.predicate().filter(ROWS), key=lambda row: row["name"])
        return listing.page(
            matches[listing.offset : listing.offset + listing.limit], total=len(matches), items_key="devices"
        )

    @app.get("/names")
    def names(search: Annotated[RequestFilter, Depends(devices.filter)]) -> list[str]:
        return [row["name"] for row in search.predicate().filter(ROWS)]

    @app.get("/whoami")
    def whoami(user: Annotated[str | None, Depends(devices.current_user)]) -> dict[str, str | None]:
        return {"user": user}

    @app.get("/devices/{number}")
    def by_number(number: int) -> dict[str, Any]:
        return ROWS[number % len(ROWS)]

    @app.get("/private")
    def private() -> None:
        raise HTTPException(403, detail={"reason": "no token"}, headers={"WWW-Authenticate": "Bearer"})

    @app.get("/broken")
    def broken() -> None:
        raise RuntimeError("SELECT secret FROM passwords at /srv/app.py line 7")

    @app.get("/broken-async")
    async def broken_async() -> None:
        raise KeyError("secret")

    return app


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with serve_in_thread(_app()) as base_url, httpx.Client(base_url=base_url) as http:
        yield http


def test_listing_with_the_apps_own_settings(client: httpx.Client) -> None:
    body = client.get("/devices", params={"q": "bo"}).json()  # bare word: the default qualifier, name
    assert [row["name"] for row in body["devices"]] == ["Boat"]
    assert (body["limit"], body["total"]) == (1, 2)
    assert body["_links"]["next"]["href"].endswith("/devices?q=bo&limit=1&offset=1")
    too_many = client.get("/devices", params={"limit": 3})
    assert too_many.status_code == 400 and "between 0 and 2" in too_many.json()["message"]


def test_at_me_reads_the_configured_header(client: httpx.Client) -> None:
    assert client.get("/names", params={"q": "owner:@me"}, headers={"X-Remote-User": "ann"}).json() == ["boiler", "car"]
    refused = client.get("/names", params={"q": "owner:@me"}, headers={"X-User-Id": "ann"})
    assert refused.status_code == 400 and "X-Remote-User" in refused.json()["message"]
    assert client.get("/whoami", headers={"X-Remote-User": "bob"}).json() == {"user": "bob"}
    assert client.get("/whoami").json() == {"user": None}


def test_now_comes_from_the_clock(client: httpx.Client) -> None:
    assert client.get("/names", params={"q": "seen:now-PT2H/"}).json() == ["boiler"]
    assert client.get("/names", params={"q": "seen:now-P1Y/"}).json() == [
        row["name"] for row in qfilter.compile_predicate("seen:now-P1Y/", DEVICES, now=NOW).filter(ROWS)
    ]


def test_fastapis_422_becomes_a_400(client: httpx.Client) -> None:
    response = client.get("/devices/seven")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 400 and body["message"].startswith("path.number: ")
    assert body["errors"][0]["location"] == "path.number"


def test_the_openapi_document(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/devices"]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert set(parameters) == {"q", "sort", "limit", "offset", "X-Remote-User"}
    assert parameters["q"]["examples"] == {"mine": {"summary": "mine", "value": "owner:@me"}}
    assert "`owner`" in parameters["q"]["description"] and "X-Remote-User" in parameters["q"]["description"]
    assert parameters["limit"]["schema"]["type"] == "integer" and parameters["limit"]["schema"]["maximum"] == 2
    assert parameters["X-Remote-User"]["in"] == "header"
    # Text, absent when not sent: a query parameter or a header is never a JSON null.
    assert {name: parameter["schema"].get("type") for name, parameter in parameters.items()} == {
        "q": "string",
        "sort": "string",
        "limit": "integer",
        "offset": "integer",
        "X-Remote-User": "string",
    }
    assert not any("anyOf" in parameter["schema"] for parameter in parameters.values())
    assert parameters["X-Remote-User"]["schema"]["maxLength"] == 255
    for path in document["paths"].values():
        for method in path.values():
            assert "422" not in method["responses"]
    assert "400" in document["paths"]["/devices/{number}"]["get"]["responses"]


def test_a_user_header_is_read_as_utf_8(client: httpx.Client) -> None:
    """HTTP hands header bytes over as Latin-1; the user id is the UTF-8 text the client sent."""
    assert client.get("/whoami", headers={b"X-Remote-User": "zoë".encode()}).json() == {"user": "zoë"}
    bad = client.get("/whoami", headers={b"X-Remote-User": b"\xff\xfe"})
    assert bad.status_code == 400
    assert bad.json()["parameter"] == "X-Remote-User" and "UTF-8" in bad.json()["message"]


@pytest.mark.parametrize("path", ["/devices", "/names"])
@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("q=bo&q=car", "q"),
        ("sort=name&sort=-name", "sort"),
        ("q=name:%FF", "query"),  # not UTF-8: Starlette alone would search for U+FFFD
        ("q=name:%ED%A0%80", "query"),  # an encoded surrogate
    ],
)
def test_a_repeated_or_undecodable_parameter_is_a_400(
    client: httpx.Client, path: str, query: str, parameter: str
) -> None:
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 400 and body["parameter"] == parameter and body["message"]


@pytest.mark.parametrize(
    "query", ["limit=1&limit=2", "offset=0&offset=1", "limit=" + "9" * 5000, "offset=" + "9" * 5000]
)
def test_a_repeated_or_huge_page_parameter_is_a_400(client: httpx.Client, query: str) -> None:
    response = client.get(f"/devices?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["parameter"] == query.partition("=")[0]


@pytest.mark.parametrize("path", ["/broken", "/broken-async"])
def test_an_unexpected_error_is_a_json_500_that_leaks_nothing(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == 500 and body["message"]
    assert "secret" not in response.text and "Traceback" not in response.text
    assert client.get("/names").status_code == 200  # and the app goes on serving


def test_other_http_errors_get_the_error_shape_and_keep_fastapis_detail(client: httpx.Client) -> None:
    unknown = client.get("/nothing/here")
    assert unknown.status_code == 404
    assert unknown.json() == {"code": 404, "message": "Not Found", "detail": "Not Found"}
    wrong_method = client.delete("/devices")
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == 405
    assert wrong_method.headers["allow"] == "GET"
    private = client.get("/private")
    assert private.status_code == 403 and private.headers["www-authenticate"] == "Bearer"
    assert private.json() == {"code": 403, "message": "Forbidden", "detail": {"reason": "no token"}}


# -- paging by cursor and counting, through the dependency -------------------------------------------------

GADGETS = Schema(
    "gadgets",
    (Field("name", Kind.TEXT, "name"), Field("size", Kind.NUMBER, "size"), Field("tag", Kind.EXACT, "tags", many=True)),
)
GADGET_ROWS = [
    {"id": number, "name": name, "size": size, "tags": ["odd"] if number % 2 else []}
    for number, (name, size) in enumerate([("b", 3), ("a", 1), ("c", None), ("a", 2), ("d", 3), ("e", 1), ("b", 1)])
]
CURSOR_KEY = b"the gadgets' key, 32 bytes long."


def _gadget_app(**options: Any) -> FastAPI:
    """A memory listing that pages by cursor (``options`` for its ``QFilter``)."""
    import sqlalchemy as sa

    from qfilter.sql import Column, SqlCompiler

    app = FastAPI()
    install_error_handlers(app)
    gadgets = QFilter(GADGETS, clock=lambda: NOW, default_sort="name", **options)

    @app.get("/gadgets")
    def list_gadgets(listing: Annotated[RequestListing, Depends(gadgets.listing)]) -> dict[str, Any]:
        matches = listing.order_by()(listing.where.filter(GADGET_ROWS))
        counted = None if not listing.counting.counts else len(matches[: listing.counting.at_most])
        page = listing.fetch_from(matches) if listing.cursor_key else listing.window(matches)
        return listing.page(page, total=counted, items_key="gadgets")

    metadata = sa.MetaData()
    table = sa.Table(
        "gadgets",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String),
        sa.Column("size", sa.Integer),
    )
    # One connection for every thread the test client's app runs in.
    engine = sa.create_engine("sqlite://", poolclass=sa.StaticPool, connect_args={"check_same_thread": False})
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{key: row[key] for key in ("id", "name", "size")} for row in GADGET_ROWS])
    # The table keeps no tags; "tag" is mapped so that the mapping is whole (no route filters on it here).
    mapping = {"name": Column(table.c.name), "size": Column(table.c.size), "tag": Column(table.c.name)}
    compiler = SqlCompiler(mapping, id_column=table.c.id, schema=GADGETS)
    in_sql = QFilter(GADGETS, compiler=compiler, clock=lambda: NOW, default_sort="name", **options)

    @app.get("/sql-gadgets")
    def list_sql_gadgets(listing: Annotated[RequestListing, Depends(in_sql.listing)]) -> dict[str, Any]:
        statement = sa.select(table).where(listing.where, listing.seek()).order_by(*listing.order_by())
        with engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(statement.offset(listing.offset).limit(listing.fetch))]
            counted = conn.execute(sa.select(sa.func.count()).select_from(table).where(listing.where)).scalar_one()
        return listing.page(rows, total=counted, items_key="gadgets")

    return app


def _walk_gadgets(client: Any, first: str) -> list[dict[str, Any]]:
    pages = [client.get(first).json()]
    while "next" in pages[-1]["_links"]:
        pages.append(client.get(pages[-1]["_links"]["next"]["href"]).json())
    return pages


@pytest.mark.parametrize("path", ["/gadgets", "/sql-gadgets"])
@pytest.mark.parametrize("sort", ["", "-size", "size,-name"])
def test_the_dependency_pages_by_cursor_in_memory_and_in_sql(path: str, sort: str) -> None:
    from fastapi.testclient import TestClient

    from qfilter.core.sorting import parse_sort
    from qfilter.memory import sort_entities

    client = TestClient(_gadget_app(cursor_key=CURSOR_KEY))
    pages = _walk_gadgets(client, f"{path}?sort={sort}&limit=2")
    expected = sort_entities(GADGET_ROWS, parse_sort(sort or "name", GADGETS), GADGETS)
    assert [row["id"] for body in pages for row in body["gadgets"]] == [row["id"] for row in expected]
    assert all("cursor=" in body["_links"]["next"]["href"] for body in pages[:-1])
    assert [body["offset"] for body in pages] == [0, 2, 4, 6]
    document = client.get("/openapi.json").json()
    assert "cursor" in {parameter["name"] for parameter in document["paths"][path]["get"]["parameters"]}


def test_the_dependency_counts_as_told() -> None:
    from fastapi.testclient import TestClient

    client = TestClient(_gadget_app(cursor_key=CURSOR_KEY, count="capped:3"))
    body = client.get("/gadgets?limit=2").json()
    assert body["total_at_least"] == 4 and "total" not in body and "last" not in body["_links"]
    assert client.get("/gadgets?q=tag:odd&limit=2").json()["total"] == 3
    none = TestClient(_gadget_app(count="none")).get("/gadgets?limit=2").json()
    assert {"total", "total_count", "total_at_least"}.isdisjoint(none) and "next" in none["_links"]


def test_without_a_key_the_dependency_pages_by_offset_and_refuses_a_cursor() -> None:
    from fastapi.testclient import TestClient

    keyed = TestClient(_gadget_app(cursor_key=CURSOR_KEY))
    cursor_link = keyed.get("/gadgets?limit=2").json()["_links"]["next"]["href"]
    plain = TestClient(_gadget_app())
    assert plain.get("/gadgets?limit=2").json()["_links"]["next"]["href"].endswith("limit=2&offset=2")
    refused = plain.get(cursor_link.replace("http://testserver", ""))
    assert refused.status_code == 400 and refused.json()["parameter"] == "cursor"
    assert "takes no cursor" in refused.json()["message"]
    document = plain.get("/openapi.json").json()
    assert "cursor" not in {parameter["name"] for parameter in document["paths"]["/gadgets"]["get"]["parameters"]}


def test_a_bad_default_sort_count_or_key_is_an_error_when_the_app_is_built() -> None:
    with pytest.raises(ValueError, match="sort"):
        QFilter(GADGETS, default_sort="tag")
    with pytest.raises(ValueError, match="capped:N"):
        QFilter(GADGETS, count="some")
    with pytest.raises(ValueError, match="16 bytes"):
        QFilter(GADGETS, cursor_key="short")
