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
