"""Seeking past a row in a ``sort=`` order (``qfilter.core.backend.build_seek``): the rest of the order, everywhere.

The order is stated once in core (missing values last in both directions,
ties by id); the seek composes the rows after a position from each backend's
comparisons. The properties hold it to the order itself: in memory, the
entities a seek keeps are exactly those after the position in
``sort_entities``' order; in SQL (SQLite, PostgreSQL, MariaDB), the rows a
seek keeps are memory's, and a walk page by page, each page seeking past the
last row of the one before (a cursor), is the whole order, each row once.
The listing helpers' own walk (random filters, sorts and page sizes, from
the first page to the end along ``next``, each cursor signed, read back and
sought past) gives memory's answer on each database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import NOW, examples

from qfilter import Field, Kind, Schema
from qfilter.core.backend import Position, build_seek
from qfilter.core.sorting import parse_sort
from qfilter.integrations import listing
from qfilter.integrations.strategies import filter_texts
from qfilter.memory import MemoryCompiler, MemoryOrdering, position_of, sort_entities
from qfilter.sql import Column, SqlCompiler, SqlMapping, UtcDateTime

BRUSSELS = ZoneInfo("Europe/Brussels")
ITEMS = Schema(
    "items",
    (
        Field("name", Kind.TEXT, "name"),
        Field("owner", Kind.USER, "owner"),
        Field("created", Kind.TIME, "created"),
        Field("seen", Kind.TIME, "seen"),
        Field("prio", Kind.NUMBER, "prio"),
        Field("active", Kind.BOOLEAN, "active"),
        Field("code", Kind.EXACT, "code"),
    ),
    timezone=BRUSSELS,  # of "seen", stored without an offset
)
TABLE = sa.Table(
    "seek_items",
    sa.MetaData(),
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(16)),
    sa.Column("owner", sa.String(16)),
    sa.Column("created", UtcDateTime()),
    sa.Column("seen", sa.DateTime()),  # wall-clock times in the schema's zone
    sa.Column("prio", sa.Integer()),
    sa.Column("active", sa.Boolean()),
    sa.Column("code", sa.Integer()),  # an EXACT field on an integer column: ordered by its text, "10" before "9"
)
MAPPING: SqlMapping = {name: Column(TABLE.c[name]) for name in ITEMS.qualifiers}
T0 = datetime(2021, 1, 10, tzinfo=UTC)  # no change of Brussels' offset for days around it


def ids(entities: list[dict[str, Any]]) -> list[str]:
    return [entity["id"] for entity in entities]


TEXTS = st.text(st.sampled_from("aAbB éz_%€😀"), max_size=3)


@st.composite
def rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Up to 10 rows with few distinct values, so that ties (and ties of ties) are common."""
    count = draw(st.integers(1, 10))
    numbers = draw(st.lists(st.integers(0, 99), min_size=count, max_size=count, unique=True))
    return [
        {
            "id": draw(st.sampled_from(["", "x", "X"])) + str(number),
            "name": draw(st.none() | TEXTS),
            "owner": draw(st.none() | st.sampled_from(["users/a", "users/b", "users/B"])),
            "created": draw(st.none() | st.integers(0, 3).map(lambda h: T0 + timedelta(hours=h))),
            "seen": draw(st.none() | st.integers(0, 3).map(lambda h: datetime(2021, 1, 10, 12 + h))),
            "prio": draw(st.none() | st.integers(-2, 2)),
            "active": draw(st.none() | st.booleans()),
            "code": draw(st.none() | st.sampled_from([9, 10, 100, -1])),
        }
        for number in numbers
    ]


SORTS = st.lists(
    st.tuples(st.sampled_from(ITEMS.qualifiers), st.booleans()),
    max_size=3,
    unique_by=lambda pair: pair[0],
).map(lambda pairs: ",".join(("-" if down else "") + name for name, down in pairs))


# -- in memory ------------------------------------------------------------------------------------------


@settings(max_examples=examples(500), deadline=None)
@given(items=rows(), sort=SORTS, pick=st.integers(0, 9))
def test_in_memory_a_seek_keeps_exactly_the_entities_after_the_position(
    items: list[dict[str, Any]], sort: str, pick: int
) -> None:
    keys = parse_sort(sort, ITEMS)
    ordered = sort_entities(items, keys, ITEMS)
    at = items[pick % len(items)]
    after = MemoryCompiler(ITEMS).after(keys, position_of(at, keys, ITEMS))
    assert ids([entity for entity in ordered if after(entity)]) == ids(ordered[ordered.index(at) + 1 :])
    assert ids(after.filter(items)) == ids([entity for entity in items if after(entity)])


def test_a_position_reads_values_as_the_order_does() -> None:
    keys = parse_sort("-created,seen,code,name", ITEMS)
    entity = {"id": 7, "created": "2021-01-10T01:00:00+01:00", "seen": datetime(2021, 1, 10, 12), "code": 10}
    assert position_of(entity, keys, ITEMS) == Position(
        (datetime(2021, 1, 10, tzinfo=UTC), datetime(2021, 1, 10, 11, tzinfo=UTC), "10", None), 7
    )


def test_a_position_must_fit_its_keys_and_name_its_row() -> None:
    keys = parse_sort("name", ITEMS)
    with pytest.raises(ValueError, match="1 sort keys has 2 values"):
        build_seek(keys, Position(("a", "b"), "x1"), MemoryOrdering(ITEMS))
    with pytest.raises(ValueError, match="needs the row's id"):
        build_seek(keys, Position(("a",), None), MemoryOrdering(ITEMS))


# -- in SQL: the same rows, and a walk by cursor ------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(database: sa.Engine) -> Iterator[sa.Engine]:
    TABLE.create(database, checkfirst=True)
    yield database
    TABLE.drop(database)


COMPILER = SqlCompiler(MAPPING, id_column=TABLE.c.id, schema=ITEMS)


def _stored(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{column.name: item.get(column.name) for column in TABLE.columns} for item in items]


@settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(items=rows(), sort=SORTS, pick=st.integers(0, 9), page=st.integers(1, 4))
def test_in_sql_a_seek_keeps_memorys_rows_and_a_cursor_walk_is_the_whole_order(
    engine: sa.Engine, items: list[dict[str, Any]], sort: str, pick: int, page: int
) -> None:
    keys = parse_sort(sort, ITEMS)
    ordered = ids(sort_entities(items, keys, ITEMS))
    by_id = {item["id"]: item for item in items}
    at = items[pick % len(items)]
    memory = MemoryCompiler(ITEMS)
    expected = ids(memory.after(keys, position_of(at, keys, ITEMS)).filter(sort_entities(items, keys, ITEMS)))
    statement = sa.select(TABLE.c.id).order_by(*COMPILER.order(keys))
    with engine.begin() as conn:
        conn.execute(TABLE.delete())
        conn.execute(TABLE.insert(), _stored(items))
        assert list(conn.scalars(statement)) == ordered
        after = COMPILER.after(keys, position_of(at, keys, ITEMS))
        assert list(conn.scalars(statement.where(after))) == expected
        walked: list[str] = []
        while True:
            last = by_id[walked[-1]] if walked else None
            seek = statement if last is None else statement.where(COMPILER.after(keys, position_of(last, keys, ITEMS)))
            found = list(conn.scalars(seek.limit(page)))
            if not found:
                break
            walked.extend(found)
        conn.execute(TABLE.delete())
    assert walked == ordered


def test_sql_seeks_with_bound_parameters_only() -> None:
    keys = parse_sort("name,-prio", ITEMS)
    clause = COMPILER.after(keys, Position(("x'; DROP TABLE seek_items; --", 2), "x1"))
    compiled = clause.compile(dialect=sa.create_engine("sqlite://").dialect)
    assert "DROP" not in str(compiled)
    assert "x'; DROP TABLE seek_items; --" in compiled.params.values()


def test_ordering_or_seeking_without_an_id_column_is_an_error_naming_it() -> None:
    compiler = SqlCompiler(MAPPING)
    with pytest.raises(ValueError, match="id_column"):
        compiler.order(parse_sort("name", ITEMS))
    assert len(compiler.with_id_column(TABLE.c.id).order(parse_sort("name", ITEMS))) == 3  # name IS NULL, name, id


# -- the listing helpers' walk by cursor: random filters, sorts and page sizes, memory = each database -------

KEY = b"the key of this module's cursors"
FILTER_VALUES = st.sampled_from(["a", "B", "é", "z", "%", "users/a", "users/B", "9", "10", "-1"])
FILTERS = filter_texts(ITEMS, values=FILTER_VALUES, max_terms=2)


def _walk(first: str, page: Any) -> list[str]:
    """The ids of a listing walked from the query string ``first`` along ``next``; ``page(params)`` reads one page."""
    query_string, walked = first, []
    while True:
        params = listing.read_query_string(query_string, ITEMS, now=NOW, cursor_key=KEY)
        rows, total = page(params)
        body = listing.page_body(rows, total=total, params=params, base_url="http://x/items", cursor_key=KEY)
        walked += [row["id"] for row in body["items"]]
        assert body["total"] == total and body["offset"] == len(walked) - body["count"]
        following = body["_links"].get("next")
        if following is None:
            return walked
        assert body["items"], "a page with a next link and nothing in it"
        query_string = urlsplit(following["href"]).query


@settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(items=rows(), q=FILTERS, sort=SORTS, limit=st.integers(1, 4))
def test_a_listing_walked_by_cursor_is_memorys_answer_on_each_database(
    engine: sa.Engine, items: list[dict[str, Any]], q: str, sort: str, limit: int
) -> None:
    first = urlencode({"q": q, "sort": sort, "limit": limit})
    stored = _stored(items)
    memory = MemoryCompiler(ITEMS)

    def in_memory(params: listing.ListingParams) -> tuple[list[Any], int]:
        matches = params.order_by(memory)(params.where(memory).filter(stored))
        return list(params.fetch_from(matches)), len(matches)

    plan = listing.read_query_string(first, ITEMS, now=NOW).plan
    expected = ids(sort_entities(memory.where(plan).filter(stored), parse_sort(sort, ITEMS), ITEMS))
    assert _walk(first, in_memory) == expected
    with engine.begin() as conn:
        conn.execute(TABLE.delete())
        conn.execute(TABLE.insert(), stored)

        def in_sql(params: listing.ListingParams) -> tuple[list[Any], int]:
            where = params.where(COMPILER)
            statement = sa.select(*TABLE.columns).where(where, params.seek(COMPILER))
            found = conn.execute(statement.order_by(*params.order_by(COMPILER)).limit(params.fetch))
            total = conn.execute(sa.select(sa.func.count()).select_from(TABLE).where(where)).scalar_one()
            return [dict(row._mapping) for row in found], total

        walked = _walk(first, in_sql)
        conn.execute(TABLE.delete())
    assert walked == expected
