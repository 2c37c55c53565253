"""``sort=`` (language reference, "Sorting listings"): one order in memory and in SQL, stable paging.

SQL on SQLite, PostgreSQL and MariaDB, on a table as it comes and on one
with what the index recipe asks for (``sort_indexes``: missing columns, code-point
text); an ORM model's many-to-one path sorts, a to-many one is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from support import examples

from qfilter import WAYLAY, Field, Kind, Schema
from qfilter.core.sorting import SortKey, parse_sort, sortable_fields
from qfilter.integrations import listing
from qfilter.integrations.fastapi import RequestListing
from qfilter.memory import position_of, sort_entities
from qfilter.sql import (
    Column,
    SqlCompiler,
    SqlMapping,
    UtcDateTime,
    create_sort_indexes,
    exact_string,
    install_sqlite_functions,
    missing_flag,
    order_by,
    orm_mapping,
    orm_schema,
)

ITEMS = Schema(
    "items",
    (
        Field("name", Kind.TEXT, "name"),
        Field("owner", Kind.USER, "owner"),
        Field("created", Kind.TIME, "created"),
        Field("prio", Kind.NUMBER, "prio"),
        Field("active", Kind.BOOLEAN, "active"),
        Field("tag", Kind.EXACT, "tags", many=True),
    ),
)
TABLE = sa.Table(
    "items",
    sa.MetaData(),
    sa.Column("id", exact_string(64), primary_key=True),  # "x1" and "X1" two keys on MariaDB too
    sa.Column("name", sa.String(64)),  # the database's collation: ordered by code point all the same
    sa.Column("owner", sa.String(64)),
    sa.Column("created", UtcDateTime()),
    sa.Column("prio", sa.Integer()),
    sa.Column("active", sa.Boolean()),
)
MAPPING: SqlMapping = {
    "name": Column(TABLE.c.name),
    "owner": Column(TABLE.c.owner),
    "created": Column(TABLE.c.created),
    "prio": Column(TABLE.c.prio),
    "active": Column(TABLE.c.active),
}
T0 = datetime(2021, 3, 1, tzinfo=UTC)


def keys(text: str) -> tuple[SortKey, ...]:
    return parse_sort(text, ITEMS)


def ids(entities: list[dict[str, Any]]) -> list[str]:
    return [entity["id"] for entity in entities]


# -- the parameter --------------------------------------------------------------------------------------


def test_a_sort_is_qualifiers_with_an_optional_minus() -> None:
    parsed = keys("-created,name")
    assert [(key.field.qualifier, key.descending) for key in parsed] == [("created", True), ("name", False)]
    assert ",".join(map(str, parsed)) == "-created,name"
    assert parse_sort(None, ITEMS) == () and parse_sort("  ", ITEMS) == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nmae", "'nmae' is not a field"),
        ("tag", "'tag' cannot be sorted by"),  # many values: no one order
        ("name,", "empty item"),
        ("-", "empty item"),
        ("name,-name", "twice"),
    ],
)
def test_an_unknown_or_unsortable_field_is_a_400_naming_the_sortable_ones(text: str, message: str) -> None:
    with pytest.raises(listing.ParameterError) as caught:
        listing.read_query_string(f"sort={text}", ITEMS)
    assert caught.value.parameter == "sort"
    assert message in caught.value.message
    if "empty" not in message and "twice" not in message:
        assert "sortable fields: name, owner, created, prio, active" in caught.value.message
    assert listing.error_body(caught.value)["parameter"] == "sort"


def test_the_waylay_preset_sorts_by_its_single_valued_fields() -> None:
    assert [f.qualifier for f in sortable_fields(WAYLAY)] == [
        "name",
        "created_by",
        "modified_by",
        "created",
        "modified",
    ]
    restricted = WAYLAY.with_fields(WAYLAY.fields, sortable=("name",))
    with pytest.raises(listing.ParameterError, match="sortable fields: name$"):
        listing.read_query_string("sort=created", restricted)


def test_sort_is_carried_into_the_links() -> None:
    params = listing.read_query_string("q=name:a&sort=-created,name&limit=1", ITEMS)
    body = listing.page_body([{}], total=3, params=params, base_url="http://x/items")
    for link in ("self", "next", "last"):
        assert "sort=-created%2Cname" in body["_links"][link]["href"]


# -- the order ------------------------------------------------------------------------------------------

ENTITIES: list[dict[str, Any]] = [
    {"id": "4", "name": "b", "created": "2021-03-02T00:00:00Z", "prio": 2, "active": True},
    {"id": "1", "name": "B", "prio": 10, "active": False},
    {"id": "3", "name": "é", "created": "2021-03-01T00:00:00Z", "prio": 2},
    {"id": "2", "created": "2021-03-02T03:00:00+05:00", "prio": "high", "active": "yes"},
]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["1", "4", "3", "2"]),  # code points: "B" < "b" < "é"; no name last
        ("-name", ["3", "4", "1", "2"]),  # missing last in both directions
        ("created", ["3", "2", "4", "1"]),  # instants: 03-02T03:00+05:00 is 03-01T22:00Z
        ("-created", ["4", "2", "3", "1"]),
        ("prio", ["3", "4", "1", "2"]),  # numerically; ties by id; a text is no number
        ("-prio,-name", ["1", "3", "4", "2"]),  # prio ties by name, descending: "é" > "b"
        ("active", ["1", "4", "2", "3"]),  # false first; "yes" is no boolean
        ("", ["1", "2", "3", "4"]),  # no key: by id
    ],
)
def test_the_order_in_memory(sort: str, expected: list[str]) -> None:
    assert ids(sort_entities(ENTITIES, keys(sort), ITEMS)) == expected


def test_ties_break_by_the_id_as_it_is_typed_numbers_numerically_in_memory_and_in_sql() -> None:
    # Memory once compared ids by their text ("10" before "9") where SQL and Django compare an integer column's.
    entities = [{"id": number, "name": "same"} for number in (10, 9, 100, 2)]
    assert [e["id"] for e in sort_entities(entities, keys("name"), ITEMS)] == [2, 9, 10, 100]
    mixed: list[dict[str, object]] = [{"id": "b"}, {"id": 10}, {"id": "B"}, {"id": 9.5}, {}]
    assert [e.get("id") for e in sort_entities(mixed, (), ITEMS)] == [9.5, 10, "B", "b", None]  # numbers, texts, none
    table = sa.Table(
        "numbered", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String)
    )
    engine = sa.create_engine("sqlite://")
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), entities)
        statement = sa.select(table.c.id).order_by(
            *order_by(keys("name"), ITEMS, {"name": Column(table.c.name)}, id_column=table.c.id)
        )
        assert list(conn.scalars(statement)) == [2, 9, 10, 100]
    engine.dispose()


# -- memory = SQLite = PostgreSQL = MariaDB, paging through every page ------------------------------------

# The same rows in a table with what sort_indexes asks for: text columns compared by code point on
# MariaDB too (exact_string), a generated missing column beside each nullable one, and the indexes.
FLAGGED = sa.Table(
    "items_flagged",
    sa.MetaData(),
    sa.Column("id", exact_string(64), primary_key=True),
    sa.Column("name", exact_string(64)),
    sa.Column("owner", exact_string(64)),
    sa.Column("created", UtcDateTime()),
    sa.Column("prio", sa.Integer()),
    sa.Column("active", sa.Boolean()),
    *(sa.Column(f"{name}_missing", sa.Boolean(), missing_flag(name)) for name in MAPPING),
)
FLAGGED_MAPPING: SqlMapping = {name: Column(FLAGGED.c[name], missing=FLAGGED.c[f"{name}_missing"]) for name in MAPPING}
TABLES = {"plain": (TABLE, MAPPING), "flagged": (FLAGGED, FLAGGED_MAPPING)}


@pytest.fixture(scope="module")
def engine(database: sa.Engine) -> Iterator[sa.Engine]:
    TABLE.create(database, checkfirst=True)
    FLAGGED.create(database, checkfirst=True)
    create_sort_indexes(database, ITEMS, FLAGGED_MAPPING, id_column=FLAGGED.c.id)
    yield database
    TABLE.drop(database)
    FLAGGED.drop(database)


TEXTS = st.text(st.sampled_from("aAbB éÉ z_%ß€😀"), max_size=4)


@st.composite
def rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(0, 12))
    made = []
    for number in draw(st.lists(st.integers(0, 99), min_size=count, max_size=count, unique=True)):
        made.append(
            {
                "id": draw(st.sampled_from(["", "x", "X"])) + str(number),
                "name": draw(st.none() | TEXTS),
                "owner": draw(st.none() | st.sampled_from(["users/a", "users/b", "users/B"])),
                "created": draw(st.none() | st.integers(0, 5).map(lambda h: T0 + timedelta(hours=h))),
                "prio": draw(st.none() | st.integers(-3, 3)),
                "active": draw(st.none() | st.booleans()),
            }
        )
    return made


SORTS = st.lists(
    st.tuples(st.sampled_from(["name", "owner", "created", "prio", "active"]), st.booleans()),
    max_size=3,
    unique_by=lambda pair: pair[0],
).map(lambda pairs: ",".join(("-" if down else "") + name for name, down in pairs))


@settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(items=rows(), sort=SORTS, page=st.integers(1, 5), table=st.sampled_from(sorted(TABLES)))
def test_paging_with_sort_returns_each_entity_once_in_the_order_memory_gives(
    engine: sa.Engine, items: list[dict[str, Any]], sort: str, page: int, table: str
) -> None:
    """By offset and by cursor (a seek past each page's last row), with and without missing columns."""
    stored, mapping = TABLES[table]
    order = keys(sort)
    expected = ids(sort_entities(items, order, ITEMS))
    by_id = {item["id"]: item for item in items}
    compiler = SqlCompiler(mapping, id_column=stored.c.id)
    with engine.begin() as conn:
        conn.execute(stored.delete())
        if items:
            conn.execute(stored.insert(), items)
        statement = sa.select(stored.c.id).order_by(*order_by(order, ITEMS, mapping, id_column=stored.c.id))
        seen: list[str] = []
        for offset in range(0, len(items) + page, page):
            seen.extend(conn.scalars(statement.offset(offset).limit(page)).all())
        walked: list[str] = []
        while found := list(
            conn.scalars(
                statement.where(compiler.after(order, position_of(by_id[walked[-1]], order, ITEMS))).limit(page)
                if walked
                else statement.limit(page)
            )
        ):
            walked.extend(found)
        conn.execute(stored.delete())
    assert seen == expected
    assert walked == expected


# -- the FastAPI dependency ------------------------------------------------------------------------------


def test_the_fastapi_listing_sorts_in_sql_and_in_memory_alike_and_links_keep_sort(tmp_path: Any) -> None:
    # Dependencies as default values: the annotations are strings here (PEP 563), resolved in this module.
    import httpx
    from fastapi import Depends, FastAPI

    from qfilter.integrations.fastapi import QFilter, install_error_handlers
    from qfilter.service.server import serve_in_thread

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'items.sqlite3'}")
    install_sqlite_functions(engine)
    TABLE.create(engine)
    with engine.begin() as conn:
        conn.execute(TABLE.insert(), [{**e, "created": None, "active": None, "prio": e["prio"]} for e in ENTITIES[:3]])
    in_table = ITEMS.with_fields(f for f in ITEMS.fields if f.qualifier in MAPPING)
    in_sql = QFilter(in_table, compiler=SqlCompiler(MAPPING, id_column=TABLE.c.id, schema=in_table))
    shorthand = QFilter(in_table, sql_mapping=MAPPING)  # compiler=SqlCompiler(MAPPING) without the id column
    in_memory = QFilter(in_table)  # compiler=MemoryCompiler(in_table)
    app = FastAPI()
    install_error_handlers(app)

    def rows(statement: sa.Select[Any], page: RequestListing) -> dict[str, Any]:
        with engine.connect() as conn:
            found = list(conn.scalars(statement.offset(page.offset).limit(page.limit)))
        return page.page(found, total=3, items_key="ids")

    @app.get("/sql")
    def sql(page: RequestListing = Depends(in_sql.listing)) -> dict[str, Any]:  # noqa: B008
        return rows(sa.select(TABLE.c.id).where(page.where).order_by(*page.order_by(default="name")), page)

    @app.get("/shorthand")
    def sql_shorthand(page: RequestListing = Depends(shorthand.listing)) -> dict[str, Any]:  # noqa: B008
        return rows(sa.select(TABLE.c.id).where(page.where).order_by(*page.order_by(TABLE.c.id, default="name")), page)

    @app.get("/memory")
    def memory(page: RequestListing = Depends(in_memory.listing)) -> dict[str, Any]:  # noqa: B008
        ordered = page.order_by(default="name")(page.where.filter(ENTITIES[:3]))  # the same seam as /sql
        return page.page([e["id"] for e in page.window(ordered)], total=len(ordered), items_key="ids")

    @app.get("/sorted")
    def memory_sorted(page: RequestListing = Depends(shorthand.listing)) -> dict[str, Any]:  # noqa: B008
        ordered = page.sorted(page.predicate().filter(ENTITIES[:3]), default="name")
        return page.page([e["id"] for e in page.params.window(ordered)], total=len(ordered), items_key="ids")

    with serve_in_thread(app) as base, httpx.Client(base_url=base) as client:
        for path in ("/sql", "/shorthand", "/memory", "/sorted"):
            assert client.get(path).json()["ids"] == ["1", "4", "3"]  # the default order: name
            body = client.get(path, params={"sort": "-prio,-name", "limit": "2"}).json()
            assert body["ids"] == ["1", "3"]
            assert "sort=-prio%2C-name" in body["_links"]["next"]["href"]
            bad = client.get(path, params={"sort": "nmae"})
            assert bad.status_code == 400 and bad.json()["parameter"] == "sort"
            assert "name, owner, created, prio, active" in bad.json()["message"]
    engine.dispose()


def test_the_fastapi_dependencies_are_typed_by_their_compiler() -> None:
    """mypy checks the assert_type lines: where is a ColumnElement[bool] in SQL and a Predicate in memory, no Any."""
    from typing import assert_type

    from qfilter.integrations.fastapi import QFilter
    from qfilter.memory import EntityOrder, MemoryCompiler, Predicate

    in_table = ITEMS.with_fields(f for f in ITEMS.fields if f.qualifier in MAPPING)
    sql_type = QFilter[sa.ColumnElement[bool], list[sa.ColumnElement[Any]]]
    assert_type(QFilter(in_table, sql_mapping=MAPPING), sql_type)
    assert_type(QFilter(in_table, compiler=SqlCompiler(MAPPING, id_column=TABLE.c.id)), sql_type)
    assert_type(QFilter(in_table), QFilter[Predicate, EntityOrder])
    assert_type(QFilter(in_table, compiler=MemoryCompiler(in_table)), QFilter[Predicate, EntityOrder])
    params = listing.read_query_string("q=name:a&sort=-prio", in_table)
    compiler = SqlCompiler(MAPPING, id_column=TABLE.c.id)
    where = assert_type(params.where(compiler), sa.ColumnElement[bool])
    order = assert_type(params.order_by(compiler), list[sa.ColumnElement[Any]])
    assert isinstance(where, sa.ColumnElement) and len(order) == 3  # prio IS NULL, prio DESC, id
    with pytest.raises(TypeError, match="not both"):
        QFilter(in_table, sql_mapping=MAPPING, compiler=compiler)  # type: ignore[call-overload]


# -- an ORM model: a many-to-one path sorts through the foreign key, a to-many one does not sort ----------


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "sorting_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(exact_string(64))
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sorting_teams.id"))
    team: Mapped[Team | None] = relationship()


class Team(Base):
    __tablename__ = "sorting_teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(exact_string(64))


class Device(Base):
    __tablename__ = "sorting_devices"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(exact_string(64))
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sorting_users.id"))
    owner: Mapped[User | None] = relationship()
    ports: Mapped[list[Port]] = relationship()


class Port(Base):
    __tablename__ = "sorting_ports"
    device_id: Mapped[int] = mapped_column(sa.ForeignKey("sorting_devices.id"), primary_key=True)
    number: Mapped[int] = mapped_column(primary_key=True)


DEVICE_PATHS = {"name": "name", "owner": "owner.email", "team": "owner.team.name", "port": "ports.number"}
DEVICES, DEVICES_SQL = orm_schema(Device, DEVICE_PATHS, default_qualifier="name")


def test_an_orm_schema_sorts_by_its_single_valued_paths_and_not_by_a_to_many_one() -> None:
    assert [f.qualifier for f in sortable_fields(DEVICES)] == ["name", "owner", "team"]  # port: many
    with pytest.raises(listing.ParameterError, match="'port' cannot be sorted by; sortable fields: name, owner, team"):
        listing.read_query_string("sort=port", DEVICES)


def test_a_to_many_path_of_a_field_said_single_valued_is_refused_when_the_mapping_is_built() -> None:
    single = Schema("devices", (Field("name", Kind.TEXT, "name"), Field("port", Kind.NUMBER, "ports.number")))
    with pytest.raises(ValueError, match="'port' is sortable .* mapped to Related, which holds several values"):
        orm_mapping(Device, {"name": "name", "port": "ports.number"}, schema=single)


@pytest.fixture(scope="module")
def devices(database: sa.Engine) -> Iterator[sa.Engine]:
    Base.metadata.create_all(database)
    with database.begin() as conn:
        conn.execute(sa.insert(Team), [{"id": 1, "name": "b"}, {"id": 2, "name": "A"}])
        users = [{"id": 1, "email": "zoe@x", "team_id": 1}, {"id": 2, "email": "Al@x", "team_id": 2}]
        conn.execute(sa.insert(User), [*users, {"id": 3, "email": None, "team_id": None}])
        names = ["d5", "d4", "d3", "d2", "d1", "d0"]
        owners = [1, 2, None, 3, 2, 1]
        rows = [{"id": i, "name": n, "owner_id": o} for i, (n, o) in enumerate(zip(names, owners, strict=True), 1)]
        conn.execute(sa.insert(Device), rows)
    yield database
    Base.metadata.drop_all(database)


def _as_entities(conn: sa.Connection) -> list[dict[str, Any]]:
    """The devices as memory reads them: the shape of the ORM paths."""
    users = {row.id: row for row in conn.execute(sa.select(User))}
    teams = {row.id: row.name for row in conn.execute(sa.select(Team))}
    made = []
    for device in conn.execute(sa.select(Device)):
        owner = users.get(device.owner_id)
        team = None if owner is None or owner.team_id is None else {"name": teams[owner.team_id]}
        held = None if owner is None else {"email": owner.email, "team": team}
        made.append({"id": device.id, "name": device.name, "owner": held})
    return made


@pytest.mark.parametrize("sort", ["owner", "-owner", "team,-name", "-team,owner"])
def test_a_many_to_one_path_sorts_and_seeks_as_memory_does(devices: sa.Engine, sort: str) -> None:
    """sort=owner (owner.email) was a 500: the value is looked up through the foreign keys, missing last."""
    order = parse_sort(sort, DEVICES)
    compiler = SqlCompiler(DEVICES_SQL, id_column=Device.id, schema=DEVICES)
    statement = sa.select(Device.id).order_by(*compiler.order(order))
    with devices.connect() as conn:
        entities = _as_entities(conn)
        expected = [entity["id"] for entity in sort_entities(entities, order, DEVICES)]
        assert list(conn.scalars(statement)) == expected
        for at in entities:
            after = compiler.after(order, position_of(at, order, DEVICES))
            assert list(conn.scalars(statement.where(after))) == expected[expected.index(at["id"]) + 1 :]
