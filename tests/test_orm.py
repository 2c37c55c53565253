"""Filters over an application's own ORM models: mappings from relationships, typed columns, async engines.

The model has what ordinary applications have: a many-to-one (a device's
owner), a one-to-many (its ports), a many-to-many through an association
table (its tags), a path through two relationships (a port's vendor), integer,
boolean, time and JSON columns. Its schema and SQL mapping are declared once,
with :func:`qfilter.sql.orm_schema`. The differential property (memory =
SQLite = PostgreSQL) runs over it on sync engines, and once more through async
ones (aiosqlite, asyncpg); a FastAPI app with an async engine and its own
sign-in is exercised over real HTTP.
"""

# No "from __future__ import annotations": FastAPI must resolve the routes' Annotated[...] in _app().
import asyncio
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import Depends, FastAPI, Header
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from support import NOW, examples
from test_sql_differential import INSTANTS, META_KEYS, cases, fragments, json_values, texts

from qfilter import CurrentUserError, Field, Kind, Schema, compile_predicate
from qfilter.core.ast import Filter
from qfilter.core.plan import DEFAULT_USER_HINT
from qfilter.integrations import listing
from qfilter.integrations.fastapi import QFilter, RequestListing, install_error_handlers
from qfilter.service.server import serve_in_thread
from qfilter.sql import (
    Column,
    JsonObject,
    Related,
    UtcDateTime,
    check_mapping,
    compile_clause,
    exact_string,
    folded_case,
    install_sqlite_functions,
    json_keeping_numbers,
    orm_mapping,
    orm_schema,
)

ME = "users/alice"


class Base(DeclarativeBase):
    pass


device_tags = sa.Table(
    "orm_device_tags",
    Base.metadata,
    sa.Column("device_id", sa.ForeignKey("orm_devices.id"), primary_key=True),
    sa.Column("tag_id", sa.ForeignKey("orm_tags.id"), primary_key=True, index=True),
)


class User(Base):
    __tablename__ = "orm_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(index=True)
    token: Mapped[str | None] = mapped_column(unique=True)


class Tag(Base):
    __tablename__ = "orm_tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)


class Port(Base):
    __tablename__ = "orm_ports"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(sa.ForeignKey("orm_devices.id"), index=True)
    name: Mapped[str] = mapped_column(index=True)
    vendor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orm_users.id"))
    vendor: Mapped[User | None] = relationship()


class Device(Base):
    __tablename__ = "orm_devices"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    count: Mapped[int | None] = mapped_column(sa.BigInteger)
    active: Mapped[bool | None]
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    meta: Mapped[dict[str, Any] | None] = mapped_column(json_keeping_numbers())
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orm_users.id"), index=True)
    owner: Mapped[User | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=device_tags)
    ports: Mapped[list[Port]] = relationship()


PATHS = {
    "name": "name",
    "tag": "tags.name",
    "owner": "owner.email",
    "port": "ports.name",
    "vendor": "ports.vendor.email",
    "user": ("owner.email", "ports.vendor.email"),
    "count": "count",
    "digits": "count",
    "active": "active",
    "created": "created_at",
    "meta": "meta",
}
DEVICES, DEVICES_SQL = orm_schema(
    Device, PATHS, kinds={"owner": Kind.USER, "user": Kind.USER, "digits": Kind.TEXT}, default_qualifier="name"
)


# -- declaring once ------------------------------------------------------------------------------------


def test_orm_schema_reads_the_kinds_from_the_columns() -> None:
    kinds = {field.qualifier: field.kind for field in DEVICES.fields}
    assert kinds == {
        "name": Kind.TEXT,  # one text value: a fragment search
        "tag": Kind.EXACT,  # many, through a many-to-many: exact, like a tag
        "owner": Kind.USER,  # given
        "port": Kind.EXACT,
        "vendor": Kind.EXACT,
        "user": Kind.USER,
        "count": Kind.NUMBER,  # an Integer column: compared as a number
        "digits": Kind.TEXT,
        "active": Kind.BOOLEAN,  # a Boolean column: true or false
        "created": Kind.TIME,
        "meta": Kind.META,
    }
    assert DEVICES.by_qualifier["user"].paths == ("owner.email", "ports.vendor.email")
    assert [field.qualifier for field in DEVICES.fields if field.many] == ["tag", "port", "vendor", "user"]
    check_mapping(DEVICES, DEVICES_SQL, table=Device)


def test_orm_mapping_is_what_the_issue_asks_for() -> None:
    mapping = orm_mapping(
        Device, {"name": "name", "tag": "tags.name", "owner": "owner.email", "created": "created_at", "meta": "meta"}
    )
    assert isinstance(mapping["name"], Column)
    assert isinstance(mapping["tag"], Related)
    assert isinstance(mapping["owner"], Related)
    assert isinstance(mapping["meta"], JsonObject)


def test_the_schema_also_filters_orm_objects_in_memory() -> None:
    alice, bob = User(email=ME), User(email="bob")
    devices = [
        Device(name="a", tags=[Tag(name="lab")], owner=alice, ports=[Port(name="eth0", vendor=bob)], count=5),
        Device(name="b", tags=[Tag(name="other")], owner=bob, active=True),
    ]
    for text, expected in [
        ("tag:lab", ["a"]),
        ("-tag:lab", ["b"]),
        ("owner:@me", ["a"]),
        ("vendor:bob", ["a"]),
        ("user:bob", ["a", "b"]),
        ("count:5 digits:5", ["a"]),
        ("active:true", ["b"]),
    ]:
        predicate = compile_predicate(text, DEVICES, user=ME)
        assert [device.name for device in predicate.filter(devices)] == expected, text


# -- the association table from the issue: the join is built, or the mapping is refused ----------------


def _issue_devices(conn: sa.Connection) -> None:
    conn.execute(sa.insert(Tag), [{"id": 1, "name": "lab"}, {"id": 2, "name": "other"}])
    conn.execute(sa.insert(Device), [{"id": 1, "name": "in lab"}, {"id": 2, "name": "elsewhere"}])
    conn.execute(sa.insert(device_tags), [{"device_id": 1, "tag_id": 1}, {"device_id": 2, "tag_id": 2}])


def test_related_joins_the_value_table_through_the_association_table(sqlite_engine: sa.Engine) -> None:
    schema = Schema("devices", (Field("tag", Kind.EXACT, "tags.name", many=True),))
    core = {"tag": Related(device_tags, device_tags.c.device_id, Tag.name)}  # the mapping of the issue
    check_mapping(schema, core, table=Device)
    with sqlite_engine.connect() as conn:
        _issue_devices(conn)
        for mapping in (core, orm_mapping(Device, {"tag": "tags.name"}), DEVICES_SQL):
            assert _names(conn, "tag:lab", schema if mapping is core else DEVICES, mapping) == ["in lab"]
            assert _names(conn, "-tag:lab", schema if mapping is core else DEVICES, mapping) == ["elsewhere"]
        conn.rollback()


def _names(conn: sa.Connection, text: str, schema: Schema, mapping: Any) -> list[str]:
    where = compile_clause(text, schema, mapping, now=NOW, user=ME)
    return list(conn.execute(sa.select(Device.name).where(where).order_by(Device.name)).scalars())


other_metadata = sa.MetaData()
unrelated = sa.Table(
    "unrelated", other_metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("label", sa.String)
)
FLOATS = sa.Table("floats", other_metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("x", sa.Float))


def test_tables_not_connected_to_the_filtered_table_are_refused_when_built() -> None:
    with pytest.raises(ValueError, match="unrelated"):  # no foreign key leads from device_tags to it
        Related(device_tags, device_tags.c.device_id, unrelated.c.label)
    schema = Schema("devices", (Field("name", Kind.TEXT, "name"), Field("label", Kind.EXACT, "label")))
    mapping = {"name": Column(Device.name), "label": Column(unrelated.c.label)}
    with pytest.raises(ValueError, match="'label' is about table 'unrelated', not the filtered table 'orm_devices'"):
        check_mapping(schema, mapping, table=Device)
    with pytest.raises(ValueError, match="'label' is about table 'unrelated'"):
        QFilter(schema, sql_mapping=mapping)  # when the dependency is made, not at the first request


def test_columns_of_the_wrong_type_are_refused_naming_both_types() -> None:
    schema = Schema("floats", (Field("x", Kind.EXACT, "x"),))
    with pytest.raises(ValueError, match=r"'x' \(exact\) cannot be matched against floats.x of type FLOAT"):
        check_mapping(schema, {"x": Column(FLOATS.c.x)})
    with pytest.raises(ValueError, match=r"'x' \(exact\).*FLOAT"):
        QFilter(schema, sql_mapping={"x": Column(FLOATS.c.x)})
    when = Schema("devices", (Field("when", Kind.TIME, "when"),))
    with pytest.raises(ValueError, match="'when' is a time: its column orm_devices.count must be a DateTime"):
        check_mapping(when, {"when": Column(Device.count)})
    with pytest.raises(ValueError, match="'tag'.*needs a JSON column"):
        check_mapping(Schema("d", (Field("tag", Kind.META, "tag"),)), {"tag": JsonObject(Device.name)})
    missing = Schema("devices", (Field("name", Kind.TEXT, "name"), Field("serial", Kind.EXACT, "serial")))
    with pytest.raises(ValueError, match="no location for 'serial'"):
        QFilter(missing, sql_mapping={"name": Column(Device.name)})


def test_orm_paths_that_cannot_be_exact_are_refused_naming_the_qualifier() -> None:
    with pytest.raises(ValueError, match="'tag': 'tags' ends at a relationship: name a column of Tag"):
        orm_mapping(Device, {"tag": "tags"})
    with pytest.raises(ValueError, match="'x': Device has no relationship 'nothing'"):
        orm_mapping(Device, {"x": "nothing.name"})
    with pytest.raises(ValueError, match="'x': Device has no column attribute 'serial'"):
        orm_mapping(Device, {"x": "serial"})
    with pytest.raises(ValueError, match="'blob'.*no filter can read a BLOB column"):
        orm_schema(Measure, {"blob": "raw"})

    class Local(DeclarativeBase):
        pass

    class Owner(Local):
        __tablename__ = "owners"
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str]

    class Thing(Local):
        __tablename__ = "things"
        id: Mapped[int] = mapped_column(primary_key=True)
        owner_id: Mapped[int] = mapped_column(sa.ForeignKey("owners.id"))
        # A join condition of its own: the path would lose its extra criterion, so it is refused.
        active_owner: Mapped[Owner] = relationship(
            primaryjoin=lambda: sa.and_(Thing.owner_id == Owner.id, Owner.email != ""), viewonly=True
        )

    with pytest.raises(ValueError, match="'who'.*join condition of its own"):
        orm_mapping(Thing, {"who": "active_owner.email"})


class Measure(Base):
    __tablename__ = "orm_measures"
    id: Mapped[int] = mapped_column(primary_key=True)
    raw: Mapped[bytes]


def test_exact_matches_on_typed_columns_bind_the_columns_type(sqlite_engine: sa.Engine) -> None:
    """Declared EXACT, Integer and Boolean columns compare in their own type (inferred, they are NUMBER, BOOLEAN)."""
    exact, exact_sql = orm_schema(
        Device,
        {"name": "name", "count": "count", "active": "active"},
        kinds={"count": Kind.EXACT, "active": Kind.EXACT},
    )
    with sqlite_engine.connect() as conn:
        conn.execute(
            sa.insert(Device),
            [{"id": 1, "name": "a", "count": 5, "active": True}, {"id": 2, "name": "b", "count": None, "active": None}],
        )
        assert _names(conn, "count:5", exact, exact_sql) == ["a"]
        assert _names(conn, "count:05", exact, exact_sql) == []  # memory reads 5 as "5" only
        assert _names(conn, "count:99999999999999999999", exact, exact_sql) == []  # no overflow error
        assert _names(conn, "-count:5", exact, exact_sql) == ["b"]
        assert _names(conn, "active:true", exact, exact_sql) == ["a"]
        assert _names(conn, "active:yes", exact, exact_sql) == []
        # Inferred from the columns: a number and a boolean, with their own matchers.
        assert _names(conn, "count:>=5", DEVICES, DEVICES_SQL) == ["a"]
        assert _names(conn, "count:1..4", DEVICES, DEVICES_SQL) == []
        assert _names(conn, "-count:5.0", DEVICES, DEVICES_SQL) == ["b"]
        assert _names(conn, "active:TRUE", DEVICES, DEVICES_SQL) == ["a"]
        conn.rollback()
    statement = str(sa.select(Device.id).where(compile_clause("count:5", exact, exact_sql)).compile(sqlite_engine))
    assert "orm_devices.count = ?" in statement  # the column as it is: its index serves


# -- the differential property over the ORM schema ---------------------------------------------------


EMAILS = ["ann@example.com", "Bob@Example.com", ME, "ü@x", "%_@x"]
emails = st.sampled_from(EMAILS)
people = st.one_of(st.none(), emails.map(lambda email: {"email": email}))
ports = st.fixed_dictionaries({"name": fragments, "vendor": people})
device_parts = st.fixed_dictionaries(
    {
        "tags": st.lists(fragments, max_size=3, unique=True).map(lambda names: [{"name": n} for n in names]),
        "owner": people,
        "ports": st.lists(ports, max_size=3),
        "count": st.one_of(st.none(), st.integers(0, 20), st.integers(-(2**63), 2**63 - 1)),
        "active": st.one_of(st.none(), st.booleans()),
        "created_at": st.one_of(st.none(), st.sampled_from(INSTANTS)),
        "meta": st.one_of(st.none(), st.dictionaries(st.sampled_from(META_KEYS), json_values, max_size=3)),
    }
)


@st.composite
def device_entities(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Devices as memory sees them: dicts shaped like the model's attribute paths."""
    names = draw(st.lists(texts, min_size=1, max_size=6, unique=True))
    return [{"name": name, **draw(device_parts)} for name in names]


def insert_devices(conn: sa.Connection, entities: Sequence[Mapping[str, Any]]) -> None:
    """The entities as rows of the model's tables (each user and tag once)."""
    user_ids: dict[str, int] = {}
    tag_ids: dict[str, int] = {}

    def user(person: Mapping[str, str] | None) -> int | None:
        return None if person is None else user_ids.setdefault(person["email"], len(user_ids) + 1)

    devices, links, port_rows = [], [], []
    for number, entity in enumerate(entities, 1):
        devices.append(
            {
                "id": number,
                "name": entity["name"],
                "count": entity["count"],
                "active": entity["active"],
                "created_at": entity["created_at"],
                "meta": entity["meta"],
                "owner_id": user(entity["owner"]),
            }
        )
        for tag in entity["tags"]:
            links.append({"device_id": number, "tag_id": tag_ids.setdefault(tag["name"], len(tag_ids) + 1)})
        for port in entity["ports"]:
            port_rows.append({"device_id": number, "name": port["name"], "vendor_id": user(port["vendor"])})
    if user_ids:
        conn.execute(sa.insert(User), [{"id": i, "email": e} for e, i in user_ids.items()])
    if tag_ids:
        conn.execute(sa.insert(Tag), [{"id": i, "name": n} for n, i in tag_ids.items()])
    conn.execute(sa.insert(Device), devices)
    if links:
        conn.execute(sa.insert(device_tags), links)
    if port_rows:
        conn.execute(sa.insert(Port), port_rows)


def expected_names(entities: list[dict[str, Any]], filters: list[Filter]) -> list[list[str]]:
    return [
        sorted(e["name"] for e in compile_predicate(f, DEVICES, now=NOW, user=ME).filter(entities)) for f in filters
    ]


def _statements(filters: list[Filter]) -> list[sa.Select[Any]]:
    return [sa.select(Device.name).where(compile_clause(f, DEVICES, DEVICES_SQL, now=NOW, user=ME)) for f in filters]


@pytest.fixture(scope="module")
def sqlite_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://", poolclass=sa.StaticPool)
    install_sqlite_functions(engine)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def engines(sqlite_engine: sa.Engine, request: pytest.FixtureRequest) -> Iterator[list[sa.Engine]]:
    found = [sqlite_engine]
    try:
        url = request.getfixturevalue("postgres_url")
    except pytest.skip.Exception:
        url = None
    if url is not None:
        postgres = sa.create_engine(url)
        Base.metadata.create_all(postgres)
        found.append(postgres)
    yield found
    for engine in found[1:]:
        engine.dispose()


SETTINGS = settings(
    max_examples=examples(500),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@SETTINGS
@given(case=cases(device_entities(), DEVICES))
def test_orm_schema_agrees_with_memory(engines: list[sa.Engine], case: Any) -> None:
    entities, filters = case
    expected = expected_names(entities, filters)
    statements = _statements(filters)
    for engine in engines:
        with engine.connect() as conn:
            try:
                insert_devices(conn, entities)
                for parsed, statement, want in zip(filters, statements, expected, strict=True):
                    got = sorted(conn.execute(statement).scalars())
                    assert got == want, f"{engine.dialect.name} disagrees with memory on {str(parsed)!r}"
            finally:
                conn.rollback()


def test_postgresql_takes_part(engines: list[sa.Engine]) -> None:
    if len(engines) == 1:
        pytest.skip("no PostgreSQL: the ORM differential compared memory with SQLite only")
    assert [engine.dialect.name for engine in engines] == ["sqlite", "postgresql"]


# -- the same through async engines ------------------------------------------------------------------


@pytest.fixture(scope="module")
def event_loop_for_module() -> Iterator[asyncio.AbstractEventLoop]:
    """One loop for the module: pooled async connections belong to the loop that opened them."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def async_engines(
    event_loop_for_module: asyncio.AbstractEventLoop,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[AsyncEngine]]:
    """aiosqlite, and asyncpg on the test PostgreSQL server (its own database, like the sync tests)."""
    database = tmp_path_factory.mktemp("orm") / "devices.sqlite"
    found = [create_async_engine(f"sqlite+aiosqlite:///{database}")]
    try:
        url = request.getfixturevalue("postgres_url")
    except pytest.skip.Exception:
        url = None
    if url is not None:
        found.append(create_async_engine(sa.make_url(url).set(drivername="postgresql+asyncpg")))
    for engine in found:
        install_sqlite_functions(engine)  # an AsyncEngine is accepted; PostgreSQL's is left alone

    async def create() -> None:
        for engine in found:
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)

    event_loop_for_module.run_until_complete(create())
    yield found

    async def dispose() -> None:
        for engine in found:
            await engine.dispose()

    event_loop_for_module.run_until_complete(dispose())


async def _async_check(engines: list[AsyncEngine], entities: list[dict[str, Any]], filters: list[Filter]) -> None:
    expected = expected_names(entities, filters)
    statements = _statements(filters)
    for engine in engines:
        async with engine.connect() as conn:
            try:
                await conn.run_sync(insert_devices, entities)
                for parsed, statement, want in zip(filters, statements, expected, strict=True):
                    got = sorted((await conn.execute(statement)).scalars())
                    assert got == want, f"{engine.dialect.driver} disagrees with memory on {str(parsed)!r}"
            finally:
                await conn.rollback()


@settings(SETTINGS, max_examples=examples(150))
@given(case=cases(device_entities(), DEVICES))
def test_orm_schema_agrees_with_memory_through_async_engines(
    async_engines: list[AsyncEngine], event_loop_for_module: asyncio.AbstractEventLoop, case: Any
) -> None:
    event_loop_for_module.run_until_complete(_async_check(async_engines, *case))


def test_asyncpg_takes_part(async_engines: list[AsyncEngine]) -> None:
    if len(async_engines) == 1:
        pytest.skip("no PostgreSQL: the async differential ran on aiosqlite only")
    assert [engine.dialect.driver for engine in async_engines] == ["aiosqlite", "asyncpg"]


# -- a FastAPI app of one's own: async engine, ORM model, its own sign-in -----------------------------


def _app(engine: AsyncEngine) -> FastAPI:
    async def signed_in_user(authorization: Annotated[str | None, Header()] = None) -> str | None:
        """The application's own sign-in: a bearer token looked up in its users table."""
        if authorization is None or not authorization.startswith("Bearer "):
            return None
        token = authorization.removeprefix("Bearer ")
        async with engine.connect() as conn:
            found = await conn.execute(sa.select(User.email).where(User.token == token))
            return found.scalar_one_or_none()

    app = FastAPI()
    install_error_handlers(app)
    devices = QFilter(DEVICES, sql_mapping=DEVICES_SQL, current_user=signed_in_user, clock=lambda: NOW)

    @app.get("/devices")
    async def list_devices(listing: Annotated[RequestListing, Depends(devices.listing)]) -> dict[str, Any]:
        async with engine.connect() as conn:
            page = sa.select(Device.name).where(listing.where).order_by(Device.name)
            rows = (await conn.execute(page.offset(listing.offset).limit(listing.limit))).scalars().all()
            count = sa.select(sa.func.count()).select_from(Device).where(listing.where)
            total = (await conn.execute(count)).scalar_one()
        return listing.page(rows, total=total, items_key="devices")

    @app.get("/me")
    async def me(user: Annotated[str | None, Depends(devices.current_user)]) -> dict[str, str | None]:
        return {"user": user}

    return app


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    database = tmp_path_factory.mktemp("app") / "app.sqlite"
    engine = create_async_engine(f"sqlite+aiosqlite:///{database}")
    install_sqlite_functions(engine)

    async def prepare() -> None:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
            await conn.execute(
                sa.insert(User), [{"id": 1, "email": ME, "token": "t-alice"}, {"id": 2, "email": "bob", "token": None}]
            )
            await conn.run_sync(
                insert_devices_with_users,
                [
                    {"name": "Lab-Sensor", "tags": ["lab", "prio1"], "owner_id": 1, "meta": {"rack": "A3"}},
                    {"name": "lab gateway", "tags": ["other"], "owner_id": 2, "meta": None},
                    {"name": "spare", "tags": [], "owner_id": None, "meta": {"rack": "B1"}},
                ],
            )
        await engine.dispose()  # the server's loop opens its own connections

    asyncio.run(prepare())
    with serve_in_thread(_app(engine)) as base_url, httpx.Client(base_url=base_url) as http:
        yield http


def insert_devices_with_users(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    tags = sorted({tag for row in rows for tag in row["tags"]})
    conn.execute(sa.insert(Tag), [{"id": i, "name": name} for i, name in enumerate(tags, 1)])
    for number, row in enumerate(rows, 1):
        conn.execute(sa.insert(Device).values(id=number, name=row["name"], owner_id=row["owner_id"], meta=row["meta"]))
        for tag in row["tags"]:
            conn.execute(sa.insert(device_tags).values(device_id=number, tag_id=tags.index(tag) + 1))


def _listed(client: httpx.Client, q: str, **headers: str) -> list[str]:
    response = client.get("/devices", params={"q": q}, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["devices"])


def test_the_app_filters_its_own_tables_over_http(client: httpx.Client) -> None:
    assert _listed(client, "tag:lab") == ["Lab-Sensor"]
    assert _listed(client, "-tag:lab") == ["lab gateway", "spare"]  # tagged only "other": kept
    assert _listed(client, "lab -tag:other meta.rack:like(a*)") == ["Lab-Sensor"]


def test_at_me_is_the_user_the_apps_dependency_signs_in(client: httpx.Client) -> None:
    alice = {"Authorization": "Bearer t-alice"}
    assert client.get("/me", headers=alice).json() == {"user": ME}
    assert _listed(client, "owner:@me", **alice) == ["Lab-Sensor"]
    assert _listed(client, "-owner:@me", **alice) == ["lab gateway", "spare"]
    # The header of the default setting is not read: the app's sign-in decides.
    refused = client.get("/devices", params={"q": "owner:@me"}, headers={"X-User-Id": ME})
    assert refused.status_code == 400
    assert refused.json()["hint"] == "sign in: @me is the signed-in user"
    assert refused.json()["position"] == len("owner:")


# -- where the @me hint comes from, and what compile_* accept ----------------------------------------


def test_the_at_me_hint_says_how_to_give_the_user_where_the_filter_came_from() -> None:
    with pytest.raises(CurrentUserError) as library:
        compile_predicate("owner:@me", DEVICES)
    assert library.value.hint == DEFAULT_USER_HINT
    assert "user=" in DEFAULT_USER_HINT
    with pytest.raises(CurrentUserError) as over_http:
        listing.read_filter("owner:@me", schema=DEVICES, user_hint="send the current user's id in the X header")
    assert over_http.value.hint == "send the current user's id in the X header"


def test_the_plan_of_the_listing_path_is_what_the_compilers_take(sqlite_engine: sa.Engine) -> None:
    params = listing.read_query_string("q=owner:@me created:2020/&limit=5", DEVICES, user=ME, now=NOW)
    entities = [
        {"name": "mine", "owner": {"email": ME}, "created_at": datetime(2020, 5, 1, tzinfo=UTC)},
        {"name": "old", "owner": {"email": ME}, "created_at": datetime(2019, 5, 1, tzinfo=UTC)},
    ]
    assert [e["name"] for e in compile_predicate(params.plan, DEVICES).filter(entities)] == ["mine"]
    where = compile_clause(params.plan, DEVICES, DEVICES_SQL)
    with sqlite_engine.connect() as conn:
        conn.execute(sa.insert(User), [{"id": 1, "email": ME}])
        conn.execute(
            sa.insert(Device),
            [
                {"id": 1, "name": "mine", "owner_id": 1, "created_at": datetime(2020, 5, 1, tzinfo=UTC)},
                {"id": 2, "name": "old", "owner_id": 1, "created_at": datetime(2019, 5, 1, tzinfo=UTC)},
            ],
        )
        assert list(conn.execute(sa.select(Device.name).where(where)).scalars()) == ["mine"]
        conn.rollback()
    assert params.plan.context.user == ME and params.plan.tz == DEVICES.timezone


def test_install_sqlite_functions_takes_an_async_engine(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite'}")
    install_sqlite_functions(engine)

    async def lower() -> str:
        async with engine.connect() as conn:
            found = (await conn.execute(sa.text("SELECT qfilter_lower('ÄÖÜ İ')"))).scalar_one()
        await engine.dispose()
        return str(found)

    assert asyncio.run(lower()) == "ÄÖÜ İ".lower()


# -- case-insensitive fields (issue 22.3): str.lower on both sides, index-friendly on every database -----------


def test_a_case_insensitive_field_folds_every_comparison_of_its_text() -> None:
    schema = Schema(
        "labels",
        (Field("label", Kind.EXACT, "labels", many=True, ignore_case=True), Field("owner", Kind.USER, "owner")),
    )
    insensitive = schema.with_fields([schema.fields[0], Field("owner", Kind.USER, "owner", ignore_case=True)])
    entities = [{"labels": ["Prod", "ΣΑΣ"], "owner": "Ann"}, {"labels": ["dev"], "owner": "bob"}, {"labels": []}]
    for text, expected in [
        ("label:prod", [0]),
        ("label:PROD", [0]),
        ("-label:prod", [1, 2]),
        ("label:σας", [0]),  # str.lower maps a final capital sigma to ς
        ("label:equals(DEV)", [1]),
        ("label:in(x,Dev)", [1]),
        ("label:contains(RO)", [0]),
        ("label:not(prod)", [0, 1]),  # some label is not prod, ignoring case
        ("owner:@me", [0]),
    ]:
        found = compile_predicate(text, insensitive, user="ANN").filter(entities)
        assert [entities.index(e) for e in found] == expected, text
    assert compile_predicate("owner:@me", schema, user="ANN").filter(entities) == []  # that field is exact
    with pytest.raises(ValueError, match="ignore_case is for TEXT, EXACT and USER fields"):
        Field("n", Kind.NUMBER, "n", ignore_case=True)


def test_orm_schema_declares_case_insensitive_fields_and_finds_their_folded_column() -> None:
    from gadgets import GADGETS, GADGETS_SQL, Gadget

    label = GADGETS_SQL["label"]
    assert GADGETS.by_qualifier["label"].ignore_case and isinstance(label, Column)
    assert label.folded is Gadget.__table__.c.label_folded  # the generated column of folded_case("label")
    with pytest.raises(ValueError, match="ignore_case given for qualifiers without a path: nope"):
        orm_schema(Device, {"name": "name"}, ignore_case={"nope"})
    with pytest.raises(ValueError, match="'count'.*ignore_case is for TEXT, EXACT and USER fields"):
        orm_schema(Device, {"count": "count"}, ignore_case={"count"})


ITEMS_METADATA = sa.MetaData()
ITEMS = sa.Table(
    "qfilter_test_ci_items",
    ITEMS_METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("label", exact_string(100)),
)
sa.Index("ix_qfilter_test_ci_items_label_folded", folded_case(ITEMS.c.label))  # the expression index recipe
ITEMS_SCHEMA = Schema("items", (Field("label", Kind.EXACT, "label", ignore_case=True),))


def _plan(conn: sa.Connection, statement: sa.Select[Any]) -> str:
    """The database's plan of ``statement``, as text (an index it may use is named in it)."""
    compiled = statement.compile(conn, compile_kwargs={"literal_binds": True})
    match conn.dialect.name:
        case "sqlite":
            return str(conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all())
        case "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a handful of rows: say whether it can
            return str(conn.exec_driver_sql(f"EXPLAIN {compiled}").all())
        case _:  # MariaDB: the indexes it may use for the WHERE (possible_keys)
            return str(conn.exec_driver_sql(f"EXPLAIN {compiled}").mappings().all())


@pytest.fixture(scope="module")
def any_engine(database: sa.Engine) -> Iterator[sa.Engine]:
    from gadgets import GadgetBase

    GadgetBase.metadata.create_all(database)
    if database.dialect.name != "mysql":  # MariaDB has no index on an expression: the generated column is its way
        ITEMS_METADATA.create_all(database)
    yield database
    if database.dialect.name != "mysql":
        ITEMS_METADATA.drop_all(database)


def test_a_case_insensitive_field_is_index_friendly_on_every_database(any_engine: sa.Engine) -> None:
    from gadgets import GADGETS, GADGETS_SQL, Gadget, gadget, insert_gadgets

    stored = [gadget(f"g{index}", label=label) for index, label in enumerate(["Prod", "PROD", "dev", "İx", None])]
    with any_engine.connect() as conn, conn.begin():
        insert_gadgets(conn, stored)
        where = compile_clause("label:prod", GADGETS, GADGETS_SQL)
        assert sorted(conn.execute(sa.select(Gadget.name).where(where)).scalars()) == ["g0", "g1"]
        assert sorted(
            conn.execute(sa.select(Gadget.name).where(compile_clause("label:i̇x", GADGETS, GADGETS_SQL))).scalars()
        ) == ["g3"]
        assert "ix_qfilter_test_gadgets_label_folded" in _plan(conn, sa.select(Gadget.name).where(where))
        if conn.dialect.name != "mysql":
            conn.execute(sa.insert(ITEMS), [{"id": 1, "label": "Prod"}, {"id": 2, "label": "dev"}])
            clause = compile_clause("label:PROD", ITEMS_SCHEMA, {"label": Column(ITEMS.c.label)})
            assert list(conn.execute(sa.select(ITEMS.c.id).where(clause)).scalars()) == [1]
            assert "ix_qfilter_test_ci_items_label_folded" in _plan(conn, sa.select(ITEMS.c.id).where(clause))
        conn.rollback()


def test_a_folded_column_must_hold_text() -> None:
    schema = Schema("items", (Field("label", Kind.EXACT, "label", ignore_case=True),))
    with pytest.raises(ValueError, match="its folded column qfilter_test_ci_items.id must be a String"):
        check_mapping(schema, {"label": Column(ITEMS.c.label, folded=ITEMS.c.id)})


@pytest.fixture(scope="module")
def gadgets_on_postgresql(postgres_url: str) -> Iterator[httpx.Client]:
    from gadgets import gadget, served_gadgets

    stored = [gadget("a", label="Prod"), gadget("b", label="PROD"), gadget("c", label="dev"), gadget("d")]
    with served_gadgets(postgres_url, stored) as client:
        yield client


def test_a_case_insensitive_field_through_the_fastapi_dependency_on_postgresql(
    gadgets_on_postgresql: httpx.Client,
) -> None:
    from gadgets import listed

    client = gadgets_on_postgresql
    assert listed(client, q="label:prod") == ["a", "b"]
    assert listed(client, q="-label:Prod") == ["c", "d"]
    assert listed(client, q="label:in(DEV,x)") == ["c"]
    assert listed(client, q="label:like(p*)", sort="-label") == ["a", "b"]  # by code point: "Prod" after "PROD"
    described = client.get("/openapi.json").json()["paths"]["/gadgets"]["get"]["parameters"]
    assert "`label` (ignoring case)" in next(p for p in described if p["name"] == "q")["description"]
