"""Hostile parameters to every endpoint: never a 5xx, and every client error with the JSON error body.

Hypothesis draws parameter sets no client should send: numbers of
thousands of digits, negative, float, empty or repeated ``limit`` and
``offset``, filters with numbers beyond every integer type, text that is not
UTF-8 once decoded, NUL characters, unknown parameters, path ids of every
kind, and JSON bodies with wrong types, huge numbers and deep nesting. Each
set goes over real HTTP to one endpoint of

- ``qfilter serve`` (the reference service) on SQLite, PostgreSQL and MariaDB;
- an app of one's own built with :class:`qfilter.integrations.fastapi.QFilter`
  over a table of typed columns (Integer, SmallInteger, BigInteger,
  Boolean, DateTime, JSON, and tags through a many-to-many), on the same
  three databases.

The answer must be no server error, and a client error must carry the
error body: ``{"code": <the status>, "message": "...", ...}``. The
endpoints are read from each app's routes, so a new one is covered without
editing this file (a check makes sure the reading finds every operation of
the OpenAPI document).
"""

# No "from __future__ import annotations": the embedded app's routes are declared in a function, and
# FastAPI must resolve their Annotated[..., Depends(devices.listing)] where `devices` is a local.
import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from fastapi import Depends, FastAPI, HTTPException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_support import BACKENDS, USER_HEADER, private_database
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from starlette.routing import Mount
from support import NOW, examples

import qfilter
from qfilter import TIMEPLUS, WAYLAY, Kind, Schema
from qfilter.integrations.fastapi import QFilter, RequestFilter, RequestListing, install_error_handlers
from qfilter.service.app import create_app, open_database
from qfilter.service.database import connect
from qfilter.service.server import serve_in_thread
from qfilter.service.waylay import WAYLAY_APIS
from qfilter.sql import install_sqlite_functions, orm_schema

EXAMPLES_PER_ENDPOINT = examples(100)
PROPERTY = settings(
    max_examples=EXAMPLES_PER_ENDPOINT,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


# -- the endpoints, read from the app's routes ---------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One method on one path template (``/config/query/{name}``)."""

    method: str
    path: str

    @property
    def placeholders(self) -> list[tuple[str, str]]:
        """Each path parameter's name and its place in the path (``("path", "{path:path}")``)."""
        return [(match[1], match[0]) for match in re.finditer(r"{(\w+)(?::\w+)?}", self.path)]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _routes(routes: Any) -> Iterator[Any]:
    """Every route, into included routers (FastAPI keeps those as branches of their own) and Starlette routers."""
    for route in routes:
        if hasattr(route, "effective_route_contexts"):  # FastAPI's included router
            yield from route.effective_route_contexts()
        elif not isinstance(route, Mount) and hasattr(route, "routes"):
            yield from _routes(route.routes)
        else:
            yield route


def endpoints(app: FastAPI) -> list[Endpoint]:
    """The app's endpoints (HEAD, which has no body to check, and OPTIONS aside); a mount is one GET below it."""
    found: set[Endpoint] = set()
    for route in _routes(app.routes):
        if isinstance(route, Mount):
            found.add(Endpoint("GET", route.path.rstrip("/") + "/{path:path}"))
            continue
        for method in getattr(route, "methods", None) or ():
            if method not in ("HEAD", "OPTIONS"):
                found.add(Endpoint(method, route.path))
    documented = {Endpoint(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item}
    missing = documented - found
    assert not missing, f"the routes' reading misses documented operations: {sorted(map(str, missing))}"
    return sorted(found, key=str)


# Building the apps touches no database: an engine that is never connected serves to read their routes.
SERVICE_ENDPOINTS = endpoints(create_app(connect("sqlite://")))


def test_every_endpoint_of_the_service_is_read_from_its_routes() -> None:
    # Not a list to keep up to date: a sample the reading must find, whatever else is added.
    shown = set(map(str, SERVICE_ENDPOINTS))
    assert {"GET /config/query", "PUT /config/query/{name}", "DELETE /api/v1beta2/savedqueries/{id}"} <= shown
    assert {"GET /openapi.json", "GET /docs", "GET /docs/assets/{path:path}"} <= shown  # outside the document too


# -- hostile values -------------------------------------------------------------------------------------

HUGE_DIGITS = st.integers(4301, 5000).map(lambda n: "9" * n)  # past int()'s limit of 4,300 digits
# Five branches, which Hypothesis draws about equally often: the huge ones are a fifth of the draws.
integer_texts = st.one_of(
    st.one_of(st.integers(-1000, 1000), st.integers()).map(str),
    st.one_of(
        st.integers(-(2**70), 2**70),
        st.sampled_from([2**15, 2**31, 2**63, 2**64, -(2**15) - 1, -(2**31) - 1, -(2**63) - 1]),
    ).map(str),
    HUGE_DIGITS,
    st.one_of(HUGE_DIGITS.map(lambda digits: "-" + digits), st.integers(1, 5000).map(lambda n: "0" * n + "1")),
    st.one_of(
        st.floats().map(str),  # 1.5, nan, inf, 1e+300
        st.sampled_from(["", " ", "-0", "+5", " 5", "5 ", "1_0", "٥", "0x10", "1e3", "NaN", "\x00", "1\x00"]),
    ),
)
"""Text that looks, or almost looks, like an integer: the raw values of ``limit``, ``offset`` and int ids."""

SURROGATES = st.sampled_from(["\ud800", "\udfff", "a\udc80b"])  # sent as bytes that are not UTF-8
hostile_texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="\x00\x01\x1f\x7f\ufffd %&=+;#?/\\\"'(),:*<>.@-", max_size=20),
    SURROGATES,
    st.sampled_from(["", " ", "..", ".", "null", "[]", "{}", "a" * 300, "ü" * 256, "\u202e", "\U0001f600"]),
)
"""Any text at all, with the characters that break parsers and databases well represented."""

NUMERIC_FORMS = ["{n}", ">{n}", ">={n}", "<{n}", "<={n}", "{n}..{m}", "*..{n}", "{n}..*", "in({n},{m})", "eq({n})"]
NUMERIC_FORMS += ["gt({n})", "lt({n})", "not({n})", "any({n},{m})"]


def numeric_terms(qualifiers: list[str]) -> st.SearchStrategy[str]:
    """Terms that compare a field with numbers of any size: ``firmware:>=2147483648``, ``-slot:1..99999``."""
    numbers = st.one_of(integer_texts.filter(lambda text: len(text) < 200), st.floats().map(repr))
    return st.builds(
        lambda sign, qualifier, form, n, m: f"{sign}{qualifier}:{form.format(n=n, m=m)}",
        st.sampled_from(["", "-"]),
        st.sampled_from(qualifiers),
        st.sampled_from(NUMERIC_FORMS),
        numbers,
        numbers,
    )


Q_ALPHABET = "abcmetagnz.:()\"',*?-<>=/ @0123456789\x00ORANDNOT\\"
# Matchers of every kind (section 2 to 11), valid for some fields and not for others. (Built from a list:
# qfilter.integrations.strategies.filter_texts makes better filters, at some 50 ms each, too slow for a
# few thousand requests; tests/test_sql_differential.py uses it where the filters' meaning matters.)
MATCHER_SAMPLES = ["demo", '"a b"', "'x,y'", "x*", "*a?b*", "like(*a*)", "in(a,b)", "not(x)", "exists()"]
MATCHER_SAMPLES += ["contains(x)", "@me", "users/alice", "now-P1W/", "2020-04..2021", ">=2020-04", "2020/"]
MATCHER_SAMPLES += ["9999-12-31", "created:9999", "true", "FALSE", "gt(5)", ">10", "5..12", "", "a,b", "all(x,y)"]


def q_texts(schema: Schema) -> st.SearchStrategy[str]:
    """Filters: plausible terms, numbers beyond every column type, boolean forms, junk, and the over-long."""
    qualifiers = [f"{item.qualifier}.prio" if item.kind is Kind.META else item.qualifier for item in schema.fields]
    plain = st.builds(
        lambda sign, qualifier, matcher: f"{sign}{qualifier}:{matcher}",
        st.sampled_from(["", "-"]),
        st.sampled_from([*qualifiers, "nmae", "meta", "meta.a.b"]),
        st.one_of(st.sampled_from(MATCHER_SAMPLES), hostile_texts),
    )
    term = st.one_of(plain, numeric_terms(qualifiers))
    return st.one_of(
        term,
        st.lists(term, min_size=2, max_size=4).map(" ".join),
        st.builds(lambda a, b: f"({a} OR {b}) AND NOT {a}", term, term),
        hostile_texts,
        st.text(alphabet=Q_ALPHABET, max_size=60),
        st.integers(4097, 4500).map(lambda n: "name:" + "x" * n),  # past the length limit
    )


def sort_texts(schema: Schema) -> st.SearchStrategy[str]:
    keys = st.builds(str.__add__, st.sampled_from(["", "-", "+", "--"]), st.sampled_from(schema.qualifiers))
    return st.one_of(st.lists(keys, max_size=4).map(",".join), hostile_texts, st.just(",,"), st.just("-"))


now_and_then = st.integers(0, 3).map(lambda n: n == 0)  # a quarter of the draws
EXTRA_NAMES = ["cursor", "page", "tz", "fields", "q[]", "Q", "limit ", "", "_", "offset[]", "sort_by"]


def query_strings(schema: Schema) -> st.SearchStrategy[str]:
    """Whole query strings: each listing parameter half the time, now and then twice, unknown ones, bad escapes."""
    values = {"q": q_texts(schema), "sort": sort_texts(schema), "limit": integer_texts, "offset": integer_texts}
    listing = st.fixed_dictionaries({}, optional=values)
    repeated = st.lists(st.sampled_from(sorted(values)).flatmap(lambda name: st.tuples(st.just(name), values[name])))
    extra = st.tuples(st.one_of(st.sampled_from(EXTRA_NAMES), hostile_texts), st.one_of(hostile_texts, integer_texts))
    junk = st.sampled_from(["", "&", "&&", "%", "%zz", "q=%FF", "limit=%ED%A0%80", "sort=%C3", "=", "q", ";", "+"])

    # The rarer hostilities now and then only: each is refused before the values are read, so always
    # having one would leave the values' checks untried.
    @st.composite
    def build(draw: st.DrawFn) -> str:
        pairs = list(draw(listing).items())
        if draw(now_and_then):
            pairs += draw(repeated.map(lambda found: found[:2]))
        pairs += draw(st.lists(extra, max_size=3))
        tail = [draw(junk)] if draw(now_and_then) else []
        return "&".join([f"{_encoded(name)}={_encoded(value)}" for name, value in draw(st.permutations(pairs))] + tail)

    return build()


def _encoded(text: str) -> str:
    """Percent-encoded UTF-8; a lone surrogate becomes the bytes a careless encoder writes (not UTF-8)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


RAW_PATH_VALUES = ["%FF", "%C3%28", "%ED%A0%80", "%00", "%2e%2e", "%2F", "a%2Fb", "%25", "%", "%zz", "..", "."]


def path_values(known: list[str]) -> st.SearchStrategy[str]:
    """A path parameter as sent: a known id, any text encoded, numbers, or raw escapes."""
    return st.one_of(
        st.sampled_from(known).map(_encoded),
        hostile_texts.map(_encoded),
        integer_texts.map(_encoded),
        st.sampled_from(RAW_PATH_VALUES),
    )


class Digits(str):
    """A JSON number written as is (Python's json refuses to write one of over 4,300 digits)."""


def json_text(value: Any) -> str:
    """``value`` as JSON text, allowing what no encoder allows: NaN, huge numbers, lone surrogates."""
    if isinstance(value, Digits):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(key)}:{json_text(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(json_text(item) for item in value) + "]"
    return json.dumps(value)


FIELD_NAMES = ["name", "meta", "query", "sql", "tags", "description", "resource", "data", "attrs", "_links", "id"]
FIELD_NAMES += ["created_at", "created_by", "last_updated_at", "firmware", "active", "prio"]
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**70), 2**70),
    st.floats(),  # NaN and infinities too: written as NaN/Infinity, which is no JSON
    hostile_texts,
    st.integers(20, 5000).map(lambda n: Digits("9" * n)),
    st.sampled_from([Digits("1e999"), Digits("-1e999"), Digits("1E-400"), Digits("0.0000000000000000000001")]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), hostile_texts), children, max_size=5),
    ),
    max_leaves=16,
)
entity_like = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.sampled_from(["kept", "new one"]), hostile_texts, json_scalars),
        "sql": st.one_of(st.just("select 1"), json_values),
        "meta": st.one_of(
            st.fixed_dictionaries({}, optional={"tags": json_values, "resource": json_values}), json_values
        ),
        "query": json_values,
        "tags": st.one_of(st.lists(hostile_texts, max_size=4), json_values),
        "description": json_values,
        "attrs": json_values,
    },
)


def _nested(depth: int, kind: str) -> str:
    if kind == "lists":
        return "[" * depth + "]" * depth
    return '{"name": "deep", "meta": ' + '{"a": ' * depth + "1" + "}" * depth + "}"


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # keeps a lone surrogate: bytes no JSON reader takes


bodies = st.one_of(
    entity_like.map(json_text).map(_utf8),
    json_values.map(json_text).map(_utf8),
    st.builds(_nested, st.integers(1, 5000), st.sampled_from(["lists", "objects"])).map(_utf8),
    st.binary(max_size=64),  # mostly not UTF-8
    st.sampled_from(["", "{", '{"name": }', "[1, 2", "null", '"text"', "\ufeff{}", '{"name": "a"} trailing']).map(
        _utf8
    ),
)
"""Request bodies, as bytes."""

CONTENT_TYPES = ["application/json"] * 6 + [
    "application/json; charset=latin-1",
    "application/problem+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
]
user_headers = st.one_of(
    st.none(),
    st.sampled_from([b"users/alice", b""]),
    # What an HTTP client can send: no control characters, no white space around (the raw-socket tests
    # of test_service_hostile.py send those).
    st.binary(max_size=300).map(lambda raw: bytes(b for b in raw if b >= 0x20 and b != 0x7F).strip(b" ")),
)


@dataclass(frozen=True)
class HostileRequest:
    method: str
    target: str
    body: bytes | None
    headers: dict[bytes, bytes]

    def __str__(self) -> str:
        shown = self.body[:200] if self.body is not None else None
        return f"{self.method} {self.target[:300]} headers={self.headers!r} body={shown!r}"


def hostile_requests(
    endpoint: Endpoint, schema: Schema, known: dict[str, list[str]]
) -> st.SearchStrategy[HostileRequest]:
    """Requests to ``endpoint``: its path filled with hostile ids, any query string, any body."""

    # Made once: a strategy made inside each draw costs milliseconds to validate.
    placeholders = [(place, path_values(known.get(name, ["kept"]))) for name, place in endpoint.placeholders]
    queries = query_strings(schema)

    @st.composite
    def build(draw: st.DrawFn) -> HostileRequest:
        path = endpoint.path
        for place, values in placeholders:
            path = path.replace(place, draw(values))
        query = draw(queries)
        writes = endpoint.method in ("POST", "PUT", "PATCH")
        body = draw(bodies) if writes or draw(st.integers(0, 9)) == 0 else None  # now and then a GET with a body
        headers: dict[bytes, bytes] = {}
        if body is not None:
            headers[b"content-type"] = draw(st.sampled_from(CONTENT_TYPES)).encode()
        user = draw(user_headers) if draw(now_and_then) else None
        if user is not None:
            headers[USER_HEADER.encode()] = user
        return HostileRequest(endpoint.method, f"{path}?{query}" if query else path, body, headers)

    return build()


def send(client: httpx.Client, request: HostileRequest) -> httpx.Response:
    return client.request(request.method, request.target, content=request.body, headers=request.headers)


def assert_sound(request: HostileRequest, response: httpx.Response, *, not_implemented: bool = False) -> None:
    """No server error; a client error in the JSON error body.

    ``not_implemented``: the endpoint is one the service documents as not
    served (an ``execute`` link's target), whose 501 must have that body too.
    """
    status = response.status_code
    if not_implemented and status == 501:
        assert response.json()["code"] == 501, f"{request}\n-> {response.text[:500]}"
        return
    assert status < 500, f"{request}\n-> {status}: {response.text[:500]}"
    if 400 <= status < 500:
        assert response.headers.get("content-type", "").startswith("application/json"), f"{request}\n-> {response}"
        body = response.json()
        assert isinstance(body, dict) and body.get("code") == status, f"{request}\n-> {body}"
        assert isinstance(body.get("message"), str) and body["message"].strip(), f"{request}\n-> {body}"


# -- the reference service ------------------------------------------------------------------------------


@dataclass
class Running:
    """A served app, the ids its paths know, and the request strategies per endpoint (made once each)."""

    client: httpx.Client
    known: dict[str, list[str]]
    made: dict[Endpoint, st.SearchStrategy[HostileRequest]] = field(default_factory=dict)

    def requests(self, endpoint: Endpoint, schema: Schema) -> st.SearchStrategy[HostileRequest]:
        if endpoint not in self.made:
            self.made[endpoint] = hostile_requests(endpoint, schema, self.known)
        return self.made[endpoint]


@pytest.fixture(scope="module", params=BACKENDS)
def service(request: pytest.FixtureRequest) -> Iterator[Running]:
    """The service on a database of its own, with a query entity and a saved query to find and change."""
    with tempfile.TemporaryDirectory() as directory, private_database(request.param, request, Path(directory)) as url:
        engine = open_database(url, demo=False)
        try:
            with serve_in_thread(create_app(engine, clock=lambda: NOW)) as base_url:
                with httpx.Client(base_url=base_url, timeout=60.0) as client:
                    assert client.post("/config/query", json={"name": "kept", "meta": {"tags": ["t"]}}).is_success
                    saved = client.post("/api/v1beta2/savedqueries", json={"name": "kept", "sql": "select 1"})
                    known = {"name": ["kept", "new one"], "id": [saved.json()["id"]], "path": ["swagger-ui.css"]}
                    yield Running(client, known)
                    assert client.get("/").status_code == 200  # still serving after it all
        finally:
            engine.dispose()


EXECUTE_PATHS = {f"{api.execute_prefix}/{{name}}" for api in WAYLAY_APIS}
"""The targets of the entities' ``execute`` links: 501, since the service runs no queries."""


def _schema_of(endpoint: Endpoint) -> Schema:
    return TIMEPLUS if endpoint.path.startswith("/api/v1beta2/savedqueries") else WAYLAY


@pytest.mark.parametrize("endpoint", SERVICE_ENDPOINTS, ids=str)
@PROPERTY
@given(data=st.data())
def test_the_service_answers_hostile_parameters_without_a_server_error(
    service: Running, endpoint: Endpoint, data: st.DataObject
) -> None:
    request = data.draw(service.requests(endpoint, _schema_of(endpoint)), label="request")
    assert_sound(request, send(service.client, request), not_implemented=endpoint.path in EXECUTE_PATHS)


# -- an app of one's own, over typed columns ------------------------------------------------------------


class Base(DeclarativeBase):
    pass


device_tags = sa.Table(
    "param_device_tags",
    Base.metadata,
    sa.Column("device_id", sa.ForeignKey("param_devices.id"), primary_key=True),
    sa.Column("tag_id", sa.ForeignKey("param_tags.id"), primary_key=True, index=True),
)


class Tag(Base):
    __tablename__ = "param_tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)


class Device(Base):
    __tablename__ = "param_devices"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    firmware: Mapped[int | None] = mapped_column(sa.Integer)
    slot: Mapped[int | None] = mapped_column(sa.SmallInteger)
    serial: Mapped[int | None] = mapped_column(sa.BigInteger)
    active: Mapped[bool | None] = mapped_column(sa.Boolean)
    seen: Mapped[datetime | None] = mapped_column(sa.DateTime)
    meta: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    tags: Mapped[list[Tag]] = relationship(secondary=device_tags)


DEVICES, DEVICES_SQL = orm_schema(
    Device,
    {
        "name": "name",
        "firmware": "firmware",
        "slot": "slot",
        "serial": "serial",
        "active": "active",
        "seen": "seen",
        "meta": "meta",
        "tag": "tags.name",
        "code": "firmware",  # an integer column read as exact text
    },
    kinds={"code": Kind.EXACT},
    default_qualifier="name",
)
NOTHING: dict[str, Any] = {"firmware": None, "slot": None, "serial": None, "active": None, "seen": None}
ROWS: list[dict[str, Any]] = [
    # The edges of each type, and nothing at all.
    {**NOTHING, "id": 1, "name": "top", "firmware": 2**31 - 1, "slot": 2**15 - 1, "serial": 2**63 - 1, "active": True},
    {**NOTHING, "id": 2, "name": "bottom", "firmware": -(2**31), "slot": -(2**15), "serial": -(2**63), "active": False},
    {**NOTHING, "id": 3, "name": "plain", "firmware": 5, "slot": 1, "serial": 7, "seen": datetime(2020, 4, 22, 12, 0)},
    {**NOTHING, "id": 4, "name": "empty"},
]


def embedded_app(engine: sa.Engine) -> FastAPI:
    """A small app of one's own: a listing, a search, one device by its integer id."""
    app = FastAPI()
    install_error_handlers(app)
    devices = QFilter(DEVICES, sql_mapping=DEVICES_SQL, clock=lambda: NOW, dialect=engine.dialect)

    @app.get("/devices")
    def list_devices(listing: Annotated[RequestListing, Depends(devices.listing)]) -> dict[str, Any]:
        page = sa.select(Device.name).where(listing.where).order_by(*listing.order_by(Device.id, default="name"))
        with engine.connect() as conn:
            rows = conn.execute(page.offset(listing.offset).limit(listing.limit)).scalars().all()
            total = conn.execute(sa.select(sa.func.count()).select_from(Device).where(listing.where)).scalar_one()
        return listing.page(list(rows), total=total, items_key="devices")

    @app.get("/devices/names")
    def names(search: Annotated[RequestFilter, Depends(devices.filter)]) -> list[str]:
        with engine.connect() as conn:
            query = sa.select(Device.name).where(search.where).order_by(*search.order_by(Device.id))
            return list(conn.execute(query).scalars())

    @app.get("/devices/{device_id}")
    def one_device(device_id: int, user: Annotated[str | None, Depends(devices.current_user)]) -> dict[str, Any]:
        # The app's own check, as any app with an integer path id needs one: the id column is an Integer
        # (32 bits on PostgreSQL and MariaDB), and a bound parameter beyond it is a database error.
        if not -(2**31) <= device_id < 2**31:
            raise HTTPException(404, detail=f"no device {device_id}")
        with engine.connect() as conn:
            name = conn.execute(sa.select(Device.name).where(Device.id == device_id)).scalar_one_or_none()
        if name is None:
            raise HTTPException(404, detail=f"no device {device_id}")
        return {"name": name, "asked_by": user}

    return app


def _seed(engine: sa.Engine) -> None:
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(Device), [{**row, "meta": {"prio": row["id"], "x": "a"}} for row in ROWS])
        conn.execute(sa.insert(Tag), [{"id": 1, "name": "demo"}, {"id": 2, "name": "x" * 255}])
        conn.execute(sa.insert(device_tags), [{"device_id": 1, "tag_id": 1}, {"device_id": 3, "tag_id": 2}])


EMBEDDED_ENDPOINTS = endpoints(embedded_app(sa.create_engine("sqlite://")))


@pytest.fixture(scope="module", params=BACKENDS)
def embedded(request: pytest.FixtureRequest) -> Iterator[Running]:
    with tempfile.TemporaryDirectory() as directory, private_database(request.param, request, Path(directory)) as url:
        engine = sa.create_engine(url)
        install_sqlite_functions(engine)
        try:
            _seed(engine)
            with serve_in_thread(embedded_app(engine)) as base_url:
                with httpx.Client(base_url=base_url, timeout=60.0) as client:
                    assert client.get("/devices", params={"q": "firmware:>=2147483647"}).json()["devices"] == ["top"]
                    yield Running(client, {"device_id": ["1", "4"]})
        finally:
            engine.dispose()


@pytest.mark.parametrize("endpoint", EMBEDDED_ENDPOINTS, ids=str)
@PROPERTY
@given(data=st.data())
def test_an_app_of_ones_own_answers_hostile_parameters_without_a_server_error(
    embedded: Running, endpoint: Endpoint, data: st.DataObject
) -> None:
    request = data.draw(embedded.requests(endpoint, DEVICES), label="request")
    assert_sound(request, send(embedded.client, request))


def test_the_embedded_apps_endpoints_are_read_from_its_routes() -> None:
    assert {"GET /devices", "GET /devices/names", "GET /devices/{device_id}"} <= set(map(str, EMBEDDED_ENDPOINTS))


# -- a few of the hostile cases, spelled out -------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/devices?limit=" + "9" * 5000,
        "/devices?offset=" + "9" * 5000,
        "/devices?limit=1&limit=2",
        "/devices?q=firmware:%FF",
        "/devices?q=name:a&q=name:b",
        "/devices/names?sort=name&sort=-name",
        "/devices/" + "9" * 5000,
        "/devices/1.5",
        "/devices/-" + "9" * 30,
    ],
)
def test_what_an_app_of_ones_own_refuses(embedded: Running, target: str) -> None:
    request = HostileRequest("GET", target, None, {})
    response = send(embedded.client, request)
    assert 400 <= response.status_code < 500
    assert_sound(request, response)


@pytest.mark.parametrize(
    ("q", "names"),
    [
        ("firmware:2147483648", []),  # beyond Integer: equal to nothing
        ("-firmware:2147483648", ["top", "bottom", "plain", "empty"]),
        ("firmware:>=2147483647", ["top"]),
        ("firmware:-3000000000..6", ["bottom", "plain"]),  # the range keeps its in-range part
        ("slot:>32767", []),
        ("slot:<=-32768", ["bottom"]),
        ("serial:9223372036854775807", ["top"]),
        ("serial:>9223372036854775807", []),
        ("serial:in(9223372036854775808,7)", ["plain"]),
        ("code:99999999999999999999", []),
    ],
)
def test_numbers_beyond_a_columns_type_are_answered(embedded: Running, q: str, names: list[str]) -> None:
    """Spec section 10 on integer columns: as in memory, where a number has no range, and never a database error."""
    in_memory = [row["name"] for row in qfilter.compile_predicate(q, DEVICES, now=NOW).filter(ROWS)]
    assert sorted(in_memory) == sorted(names)
    response = embedded.client.get("/devices/names", params={"q": q})
    assert response.status_code == 200, response.text
    assert sorted(response.json()) == sorted(names)


def test_a_lone_surrogate_in_a_body_is_refused_in_json(service: Running) -> None:
    body = _utf8('{"name": "\ud800"}')
    request = HostileRequest("POST", "/config/query", body, {b"content-type": b"application/json"})
    response = send(service.client, request)
    assert response.status_code == 400
    assert_sound(request, response)
