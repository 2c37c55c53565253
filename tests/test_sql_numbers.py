"""Numbers against integer columns of every width, on SQLite, PostgreSQL (psycopg and asyncpg) and MariaDB.

Spec section 10: a literal beyond the column type's range matches nothing
for equality (``in()`` drops it), a comparison or range keeps its in-range
part, and no filter is ever a database error. Floats are compared exactly,
as Python compares them with integers. The examples state the names they
expect; the property compares the database with memory on values at and
beyond each width's boundary.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import mysql, postgresql, sqlite
from support import examples

from qfilter import Field, Kind, Schema, compile_predicate
from qfilter.core.sorting import parse_sort
from qfilter.memory import sort_entities
from qfilter.sql import Column, Related, SqlMapping, compile_clause, exact_string, order_by


class _Level(sa.TypeDecorator[int]):
    """An application's own integer type: a SMALLINT underneath."""

    impl = sa.SmallInteger()
    cache_ok = True


MARIADB = ("mysql", "mariadb")

# column: (its type, bits on PostgreSQL, (bits, unsigned) on MariaDB). SQLite keeps 64 bits in any of them.
WIDTHS: dict[str, tuple[sa.types.TypeEngine[Any], int, tuple[int, bool]]] = {
    "small": (sa.SmallInteger(), 16, (16, False)),
    "int": (sa.Integer(), 32, (32, False)),
    "big": (sa.BigInteger(), 64, (64, False)),
    "level": (_Level(), 16, (16, False)),
    "tiny": (sa.SmallInteger().with_variant(mysql.TINYINT(), *MARIADB), 16, (8, False)),
    "utiny": (sa.SmallInteger().with_variant(mysql.TINYINT(unsigned=True), *MARIADB), 16, (8, True)),
    "usmall": (sa.Integer().with_variant(mysql.SMALLINT(unsigned=True), *MARIADB), 32, (16, True)),
    "medium": (sa.Integer().with_variant(mysql.MEDIUMINT(), *MARIADB), 32, (24, False)),
    "umedium": (sa.Integer().with_variant(mysql.MEDIUMINT(unsigned=True), *MARIADB), 32, (24, True)),
    "uint": (sa.BigInteger().with_variant(mysql.INTEGER(unsigned=True), *MARIADB), 64, (32, True)),
    "ubig": (sa.BigInteger().with_variant(mysql.BIGINT(unsigned=True), *MARIADB), 64, (64, True)),
}

NUMBERS_METADATA = sa.MetaData()
ITEMS = sa.Table(
    "qfilter_test_numbers",
    NUMBERS_METADATA,
    sa.Column("name", exact_string(), primary_key=True),
    *(sa.Column(column, type_) for column, (type_, _, _) in WIDTHS.items()),
)
READINGS = sa.Table(
    "qfilter_test_number_readings",
    NUMBERS_METADATA,
    sa.Column("item", exact_string(), sa.ForeignKey(ITEMS.c.name), primary_key=True),
    sa.Column("value", sa.Integer(), primary_key=True),
)
SCHEMA = Schema(
    "numbers",
    (
        *(Field(column, Kind.NUMBER, column) for column in WIDTHS),
        Field("code", Kind.EXACT, "int"),  # text matched against an integer column
        Field("reading", Kind.NUMBER, "readings[*]"),
    ),
    id_path="name",
)
MAPPING: SqlMapping = {
    **{column: Column(ITEMS.c[column]) for column in WIDTHS},
    "code": Column(ITEMS.c.int),
    "reading": Related(READINGS, READINGS.c.item, READINGS.c.value),
}


def bounds(column: str, database: str) -> range:
    """The integers ``column`` holds on ``database``, as the database documents them (not as qfilter works them out)."""
    if column == "reading":
        column = "int"
    _, pg_bits, (maria_bits, unsigned) = WIDTHS[column]
    if database == "sqlite":
        bits, unsigned = 64, False
    elif database == "postgresql":
        bits, unsigned = pg_bits, False
    else:
        bits = maria_bits
    return range(2**bits) if unsigned else range(-(2 ** (bits - 1)), 2 ** (bits - 1))


@pytest.fixture(scope="module")
def engine(database: sa.Engine) -> sa.Engine:
    with database.begin() as conn:
        NUMBERS_METADATA.create_all(conn)
    return database


def store(conn: sa.Connection, entities: list[dict[str, Any]]) -> None:
    conn.execute(sa.insert(ITEMS), [{c.name: e.get(c.name) for c in ITEMS.c} for e in entities])
    readings = [{"item": e["name"], "value": v} for e in entities for v in e.get("readings", ())]
    if readings:
        conn.execute(sa.insert(READINGS), readings)


def found(conn: sa.Connection, query: str) -> list[str]:
    clause = compile_clause(query, SCHEMA, MAPPING)
    return sorted(conn.execute(sa.select(ITEMS.c.name).where(clause)).scalars())


def check(conn: sa.Connection, query: str, entities: list[dict[str, Any]], expected: list[str]) -> None:
    """Memory keeps exactly ``expected`` (names) of ``entities``, and so does the database, which stores them."""
    kept = compile_predicate(query, SCHEMA).filter(entities)
    assert sorted(e["name"] for e in kept) == sorted(expected), f"memory on {query!r}"
    assert found(conn, query) == sorted(expected), f"{conn.dialect.name} on {query!r}"


# -- the filters on a 32-bit column ------------------------------------------------------------

LOW32, HIGH32 = -(2**31), 2**31 - 1
INT_ENTITIES: list[dict[str, Any]] = [
    {"name": "five", "int": 5, "readings": [5, 7]},
    {"name": "two", "int": 2, "readings": [2]},
    {"name": "three", "int": 3},
    {"name": "lowest", "int": LOW32, "readings": [LOW32]},
    {"name": "highest", "int": HIGH32, "readings": [HIGH32]},
    {"name": "none"},
]
EVERY = ["five", "two", "three", "lowest", "highest", "none"]
VALUED = ["five", "two", "three", "lowest", "highest"]
INT_EXAMPLES = [
    ("int:2147483648", []),
    ("-int:2147483648", EVERY),
    ("NOT int:2147483648", EVERY),
    ("int:>=2147483648", []),
    ("int:>3000000000", []),
    ("int:<3000000000", VALUED),
    ("-int:<3000000000", ["none"]),
    ("NOT int:<3000000000", ["none"]),
    ("int:>-3000000000", VALUED),
    ("int:<=-2147483649", []),
    ("int:1..3000000000", ["five", "two", "three", "highest"]),
    ("int:-3000000000..3", ["two", "three", "lowest"]),
    ("int:3000000000..*", []),
    ("int:*..3000000000", VALUED),
    ("-int:1..3000000000", ["lowest", "none"]),
    ("int:in(5,3000000000)", ["five"]),
    ("int:in(3000000000,-3000000000)", []),
    ("-int:in(5,3000000000)", ["two", "three", "lowest", "highest", "none"]),
    ("int:not(in(5,3000000000))", ["two", "three", "lowest", "highest"]),
    ("int:eq(3000000000)", []),
    ("int:not(eq(3000000000))", VALUED),
    ("int:not(lt(3000000000))", []),
    ("int:gt(2147483646)", ["highest"]),
    ("int:2147483647", ["highest"]),
    ("int:-2147483648", ["lowest"]),
    ("int:gte(-2147483648),lt(3)", ["two", "lowest"]),
    # floats against integers, exactly as Python compares them
    ("int:>2.5", ["five", "three", "highest"]),
    ("int:>=2.5", ["five", "three", "highest"]),
    ("int:<2.5", ["two", "lowest"]),
    ("int:<=3.0", ["two", "three", "lowest"]),
    ("int:eq(2.0)", ["two"]),
    ("int:2.5", []),
    ("-int:2.5", EVERY),
    ("int:in(2.0,2.5,5)", ["five", "two"]),
    ("int:1e20", []),
    ("int:<1e20", VALUED),
    ("int:>-1e20", VALUED),
    ("int:-1e20..1e20", VALUED),
    ("int:2.5..5.5", ["five", "three"]),
    ("int:2147483646.5..2147483647.5", ["highest"]),
    ("int:1e0", []),
    ("int:5e0", ["five"]),
    # an association table of integers: IN (subquery) and, excluded, NOT EXISTS
    ("reading:7", ["five"]),
    ("reading:3000000000", []),
    ("-reading:3000000000", EVERY),
    ("reading:<3000000000", ["five", "two", "lowest", "highest"]),
    ("-reading:<3000000000", ["three", "none"]),
    ("reading:in(2,3000000000)", ["two"]),
    ("reading:>6.5", ["five", "highest"]),
    # EXACT text on the integer column: the integer's canonical decimal text
    ("code:5", ["five"]),
    ("code:3000000000", []),
    ("-code:3000000000", EVERY),
    ("code:in(5,3000000000,99999999999999999999999)", ["five"]),
    ("code:2147483647", ["highest"]),
    ("code:05", []),
    ("code:" + "9" * 30, []),
]


@pytest.mark.parametrize(("query", "expected"), INT_EXAMPLES)
def test_a_number_beyond_a_32_bit_column_is_no_error(conn: sa.Connection, query: str, expected: list[str]) -> None:
    store(conn, INT_ENTITIES)
    check(conn, query, INT_ENTITIES, expected)


# -- every width, at its boundaries --------------------------------------------------------------------


@pytest.mark.parametrize("column", list(WIDTHS))
def test_each_width_holds_its_boundaries_and_nothing_beyond(conn: sa.Connection, column: str) -> None:
    held = bounds(column, conn.dialect.name)
    low, high = held.start, held.stop - 1
    middle = 0 if low < 0 else 1
    entities: list[dict[str, Any]] = [
        {"name": "low", column: low},
        {"name": "high", column: high},
        {"name": "middle", column: middle},
        {"name": "none"},
    ]
    valued = ["low", "high", "middle"]
    # Beyond 64 bits a filter's integer is read as a float (spec section 10), so the step beyond a
    # 64-bit boundary is a number a float holds exactly, and 2**64 - 1 is named by a comparison.
    above = high + 1 if high + 1 < 2**63 else 2**65
    below = low - 1 if low - 1 >= -(2**63) else -(2**65)
    queries = [
        (f"{column}:{low}", ["low"]),
        (f"{column}:{below}", []),
        (f"{column}:{above}", []),
        (f"-{column}:{above}", [*valued, "none"]),
        (f"{column}:<{low}", []),
        (f"{column}:<={low}", ["low"]),
        (f"{column}:<{above}", valued),
        (f"{column}:>{below}", valued),
        (f"{column}:{below}..{above}", valued),
        (f"{column}:{above}..*", []),
        (f"{column}:*..{below}", []),
        (f"{column}:in({below},{above},{middle})", ["middle"]),
        (f"NOT {column}:<{above}", ["none"]),
        (f"{column}:{float(2**64)}", []),
        (f"{column}:<{float(2**64)}", valued),
        (f"{column}:>{float(-(2**64))}", valued),
    ]
    if high < 2**63:
        queries += [
            (f"{column}:{high}", ["high"]),
            (f"{column}:>{high}", []),
            (f"{column}:>={high}", ["high"]),
            (f"{column}:>{high - 1}", ["high"]),
        ]
    else:  # MariaDB's BIGINT UNSIGNED
        queries += [(f"{column}:>{2**63 - 1}", ["high"]), (f"{column}:>={float(2**64)}", [])]
    store(conn, entities)
    for query, expected in queries:
        check(conn, query, entities, sorted(expected))


def test_sqlite_holds_64_bits_in_a_narrow_column(conn: sa.Connection) -> None:
    """SQLite does not enforce a declared width: a SMALLINT column holding 100000 is found by small:100000."""
    if conn.dialect.name != "sqlite":
        pytest.skip("the other databases refuse such a value when it is stored")
    entities: list[dict[str, Any]] = [{"name": "wide", "small": 100_000, "tiny": 2**62}, {"name": "none"}]
    store(conn, entities)
    check(conn, "small:100000", entities, ["wide"])
    check(conn, "small:>32767", entities, ["wide"])
    check(conn, "tiny:4611686018427387904", entities, ["wide"])
    check(conn, "tiny:>9223372036854775807", entities, [])


def test_mariadb_unsigned_bigint_reaches_2_to_the_64(conn: sa.Connection) -> None:
    """A BIGINT UNSIGNED holds numbers beyond 64-bit signed, which a filter reads as floats: compared exactly."""
    if conn.dialect.name not in MARIADB:
        pytest.skip("only MariaDB has unsigned columns")
    entities = [{"name": "top", "ubig": 2**64 - 1}, {"name": "over", "ubig": 2**63}, {"name": "zero", "ubig": 0}]
    store(conn, entities)
    check(conn, "ubig:>1e19", entities, ["top"])
    check(conn, "ubig:>=9223372036854775808", entities, ["over", "top"])  # 2**63, read as a float
    check(conn, "ubig:9223372036854775808", entities, ["over"])
    check(conn, "ubig:18446744073709551616", entities, [])  # 2**64
    check(conn, "ubig:<0", entities, [])
    check(conn, "ubig:-1..0", entities, ["zero"])


# -- sorting by an integer column ------------------------------------------------------------------------

SORTED: list[dict[str, Any]] = [
    {"name": "p9a", "int": 9},
    {"name": "p10", "int": 10},
    {"name": "m5", "int": -5},
    {"name": "m10", "int": -10},
    {"name": "none"},
    {"name": "p100", "int": 100},
    {"name": "p9b", "int": 9},
]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        # EXACT reads the integer's text (spec section 13: text by code point), as memory does
        ("code", ["m10", "m5", "p10", "p100", "p9a", "p9b", "none"]),
        ("-code", ["p9a", "p9b", "p100", "p10", "m5", "m10", "none"]),
        # NUMBER reads the number
        ("int", ["m10", "m5", "p9a", "p9b", "p10", "p100", "none"]),
        ("-int", ["p100", "p10", "p9a", "p9b", "m5", "m10", "none"]),
    ],
)
def test_an_integer_column_sorts_as_its_kind_reads_it(conn: sa.Connection, sort: str, expected: list[str]) -> None:
    """``sort=code`` on an integer column was a PostgreSQL error (``COLLATE "C"`` on an integer)."""
    keys = parse_sort(sort, SCHEMA)
    assert [e["name"] for e in sort_entities(SORTED, keys, SCHEMA)] == expected, "memory"
    store(conn, SORTED)
    statement = sa.select(ITEMS.c.name).order_by(*order_by(keys, SCHEMA, MAPPING, id_column=ITEMS.c.name))
    assert list(conn.execute(statement).scalars()) == expected, conn.dialect.name


# -- the clause itself ----------------------------------------------------------------------------------


def _dialects() -> dict[str, sa.Dialect]:
    return {
        "sqlite": sqlite.dialect(),
        "postgresql": postgresql.dialect(),  # type: ignore[no-untyped-call]
        "mysql": mysql.dialect(),
    }


@pytest.mark.parametrize("query", [query for query, _ in INT_EXAMPLES])
def test_only_integers_the_column_holds_are_bound(query: str) -> None:
    """Whatever the filter, every parameter bound against an integer column is inside its range on that database."""
    for name, dialect in _dialects().items():
        compiled = sa.select(ITEMS.c.name).where(compile_clause(query, SCHEMA, MAPPING)).compile(dialect=dialect)
        held = bounds("int", name)
        for value in compiled.params.values():
            assert isinstance(value, str) or value in held, (name, query, compiled.params)


def test_a_clause_built_for_one_database_refuses_those_that_read_its_number_otherwise() -> None:
    """3000000000 fits SQLite's 64 bits, not PostgreSQL's integer: built for PostgreSQL, SQLite is refused."""
    clause = compile_clause("int:3000000000", SCHEMA, MAPPING, dialect="postgresql")
    dialects = _dialects()
    sa.select(ITEMS.c.name).where(clause).compile(dialect=dialects["postgresql"])
    sa.select(ITEMS.c.name).where(clause).compile(dialect=dialects["mysql"])  # the same answer there
    with pytest.raises(sa.exc.CompileError, match="built for"):
        sa.select(ITEMS.c.name).where(clause).compile(dialect=dialects["sqlite"])
    everywhere = compile_clause("int:5", SCHEMA, MAPPING, dialect="postgresql")
    for dialect in dialects.values():
        sa.select(ITEMS.c.name).where(everywhere).compile(dialect=dialect)


def test_the_statement_cache_keeps_in_range_and_beyond_apart(conn: sa.Connection) -> None:
    """The same filter shape with a number in and beyond the range: each gets its own answer, in any order."""
    store(conn, INT_ENTITIES)
    for _ in range(2):
        assert found(conn, "int:5") == ["five"]
        assert found(conn, "int:3000000000") == []
        assert found(conn, "int:<3000000000") == sorted(VALUED)
        assert found(conn, "int:<3") == ["lowest", "two"]


# -- asyncpg: the driver that types parameters from the column ----------------------------------------


@pytest.fixture(scope="module")
def asyncpg_url(postgres_url: str) -> str:
    return sa.make_url(postgres_url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def test_asyncpg_answers_every_example(asyncpg_url: str) -> None:
    """asyncpg refuses a parameter beyond the column's type ('value out of int32 range'): none is ever sent."""
    from sqlalchemy.ext.asyncio import create_async_engine

    async def run() -> None:
        engine = create_async_engine(asyncpg_url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(NUMBERS_METADATA.create_all)
            async with engine.connect() as conn:
                await conn.run_sync(store, INT_ENTITIES)
                for query, expected in INT_EXAMPLES:
                    clause = compile_clause(query, SCHEMA, MAPPING)
                    names = (await conn.execute(sa.select(ITEMS.c.name).where(clause))).scalars()
                    assert sorted(names) == sorted(expected), query
                await conn.rollback()
        finally:
            await engine.dispose()

    asyncio.run(run())


# -- the property: memory = SQL near and beyond every width's boundary --------------------------------

EDGES = sorted(
    {
        sign * (2**bits + offset)
        for bits in (7, 8, 15, 16, 23, 24, 31, 32, 53, 63, 64)
        for sign in (1, -1)
        for offset in (-1, 0, 1)
    }
)
FILTER_NUMBERS = st.one_of(
    st.sampled_from([*EDGES, 0, 1, -1, 2, 5]),
    st.sampled_from(EDGES).map(float),
    st.sampled_from(EDGES).map(lambda n: n + 0.5),
    st.sampled_from([2.5, -2.5, 0.5, 1e20, -1e20, 1e19, 1.5e19, 9.3e18, -9.3e18]),
    st.integers(-(2**65), 2**65),
)


def _spelled(number: int | float) -> str:
    return repr(number) if isinstance(number, float) else str(number)


@st.composite
def matchers(draw: st.DrawFn, number: st.SearchStrategy[int | float]) -> str:
    """A NUMBER matcher: a number, a comparison, a range, or a function of them."""
    n = _spelled(draw(number))
    form = draw(st.integers(0, 9))
    if form == 0:
        return n
    if form == 1:
        return draw(st.sampled_from([">", ">=", "<", "<="])) + n
    if form == 2:
        low, high = sorted([draw(number), draw(number)])
        return f"{_spelled(low)}..{_spelled(high)}"
    if form == 3:
        return draw(st.sampled_from([f"{n}..*", f"*..{n}"]))
    if form == 4:
        return f"in({n},{_spelled(draw(number))})"
    if form == 5:
        return f"not(in({n},{_spelled(draw(number))}))"
    if form == 6:
        return f"{draw(st.sampled_from(['eq', 'gt', 'gte', 'lt', 'lte']))}({n})"
    if form == 7:
        return f"not({draw(st.sampled_from(['eq', 'gt', 'lt']))}({n}))"
    if form == 8:
        return f"all(gte({n}),not(eq({_spelled(draw(number))})))"
    return f"{n},{draw(st.sampled_from(['>', '<']))}{_spelled(draw(number))}"


@st.composite
def cases(draw: st.DrawFn, database: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Entities with values at and near each column's boundaries on ``database``, and filters about them."""

    def values(column: str) -> st.SearchStrategy[int | None]:
        held = bounds(column, database)
        low, high = held.start, held.stop - 1
        edges = [n for n in (low, low + 1, -1, 0, 1, 2, 5, high - 1, high) if n in held]
        return st.one_of(st.none(), st.sampled_from(edges), st.integers(low, high))

    entities = []
    for index in range(draw(st.integers(1, 5))):
        entity: dict[str, Any] = {"name": f"e{index}"}
        for column in WIDTHS:
            value = draw(values(column))
            if value is not None:
                entity[column] = value
        entity["readings"] = draw(st.lists(values("reading").filter(lambda v: v is not None), max_size=3, unique=True))
        entities.append(entity)
    stored = [v for e in entities for v in e.values() if isinstance(v, int)]
    number = st.one_of(FILTER_NUMBERS, st.sampled_from(stored)) if stored else FILTER_NUMBERS
    filters = []
    for _ in range(draw(st.integers(1, 4))):
        field = draw(st.sampled_from([*WIDTHS, "reading", "code"]))
        if field == "code":
            matcher = _spelled(draw(number))
        else:
            matcher = draw(matchers(number))
        prefix = draw(st.sampled_from(["", "-", "NOT "]))
        filters.append(f"{prefix}{field}:{matcher}")
    return entities, filters


@settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_numbers_near_every_boundary_agree_with_memory(engine: sa.Engine, data: st.DataObject) -> None:
    entities, filters = data.draw(cases(engine.dialect.name))
    with engine.connect() as conn:
        try:
            store(conn, entities)
            for query in filters:
                want = sorted(e["name"] for e in compile_predicate(query, SCHEMA).filter(entities))
                assert found(conn, query) == want, f"{engine.dialect.name} disagrees with memory on {query!r}"
        finally:
            conn.rollback()
