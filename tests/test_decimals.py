"""Float and decimal numbers (issue 22.5, spec section 10): read exactly, compared in the stored value's own type.

A filter's number is what it spells (an ``int`` when integral, else a
``Decimal``); memory compares an ``int`` or ``Decimal`` exactly and a float
with the nearest double; SQL compares a float column with the nearest double
and a decimal column exactly, on the column's grid, never binding what the
column cannot hold. Examples for the spec's cases, and properties that hold
memory and each database (SQLite, PostgreSQL, MariaDB) equal.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from gadgets import gadget, listed, served_gadgets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from support import examples

from qfilter import Field, Kind, MatcherError, Schema, compile_predicate
from qfilter.core.numbers import grid_comparison, read_number
from qfilter.core.sorting import parse_sort
from qfilter.memory import sort_entities
from qfilter.sql import Column, JsonObject, SqlMapping, check_mapping, compile_clause, json_keeping_numbers, orm_schema

METADATA = sa.MetaData()
TABLE = sa.Table(
    "qfilter_test_decimals",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("price", sa.Numeric(10, 2)),
    sa.Column("weight", sa.Double),
    sa.Column("n", sa.BigInteger),
    sa.Column("meta", json_keeping_numbers()),
)
SCHEMA = Schema(
    "decimals",
    (
        Field("price", Kind.NUMBER, "price"),
        Field("weight", Kind.NUMBER, "weight"),
        Field("n", Kind.NUMBER, "n"),
        Field("meta", Kind.META, "meta"),
    ),
    id_path="id",
)
MAPPING: SqlMapping = {
    "price": Column(TABLE.c.price),
    "weight": Column(TABLE.c.weight),
    "n": Column(TABLE.c.n),
    "meta": JsonObject(TABLE.c.meta),
}


@pytest.fixture(scope="module")
def engine(database: sa.Engine) -> sa.Engine:
    METADATA.create_all(database)
    return database


def _ids(conn: sa.Connection, text: str) -> list[int]:
    return sorted(conn.execute(sa.select(TABLE.c.id).where(compile_clause(text, SCHEMA, MAPPING))).scalars())


def _memory(rows: list[dict[str, Any]], text: str) -> list[int]:
    return sorted(row["id"] for row in compile_predicate(text, SCHEMA).filter(rows))


# -- reading numbers ---------------------------------------------------------------------------------------


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e300"), max_value=Decimal("1e300")))
def test_a_number_is_read_as_exactly_what_it_spells(number: Decimal) -> None:
    for spelling in (str(number), format(number, "f"), format(number, "e")):
        read = read_number(spelling.replace("E", "e").replace("+", ""))
        assert read == number, spelling
        assert isinstance(read, int) == (number == number.to_integral_value()), spelling


@pytest.mark.parametrize("text", ["1e400", "-1e309", "1" * 400])
def test_a_number_beyond_the_largest_double_is_an_error_with_its_position(text: str) -> None:
    with pytest.raises(MatcherError, match="number out of range") as raised:
        compile_predicate(f"price:>{text}", SCHEMA)
    assert raised.value.position == len("price:>")


def test_an_integer_beyond_64_bits_is_read_exactly_in_memory_and_in_sql(conn: sa.Connection) -> None:
    """``n:-9223372036854775809`` is not -2**63 (it was, read as a float, in memory only)."""
    rows: list[dict[str, Any]] = [{"id": 1, "n": -(2**63)}, {"id": 2, "n": 2**63 - 1}]
    conn.execute(sa.insert(TABLE), rows)
    for text, expected in [
        ("n:-9223372036854775809", []),
        ("n:-9223372036854775808", [1]),
        ("n:>-9223372036854775809", [1, 2]),
        ("n:9223372036854775808", []),
        ("n:<9223372036854775808", [1, 2]),
        ("n:9.223372036854775807e18", [2]),  # an exponent spelling an integer is that integer
    ]:
        assert _memory(rows, text) == expected, text
        assert _ids(conn, text) == expected, (conn.dialect.name, text)


# -- memory -------------------------------------------------------------------------------------------------


def test_memory_compares_a_decimal_exactly_and_a_float_as_the_nearest_double() -> None:
    rows: list[dict[str, Any]] = [
        {"id": 1, "price": Decimal("9.99"), "weight": 0.1},
        {"id": 2, "price": Decimal("10.00"), "weight": 0.3},
    ]
    assert _memory(rows, "price:9.99") == [1]  # a Decimal against a double 9.99 was never equal
    assert _memory(rows, "price:9.990") == [1]
    assert _memory(rows, "price:10") == [2]
    assert _memory(rows, "price:in(9.99,10)") == [1, 2]
    assert _memory(rows, "price:9.9900000000000000001") == []  # exact: not 9.99
    assert _memory(rows, "weight:0.1") == [1]
    assert _memory(rows, "weight:0.1000000000000000055") == [1]  # its nearest double is 0.1's
    assert _memory(rows, "weight:0.30000000000000004") == []  # the double of 0.1 + 0.2, not of 0.3


def test_memory_sorts_decimals_among_the_other_numbers() -> None:
    rows: list[dict[str, Any]] = [
        {"id": 1, "price": Decimal("9.99")},
        {"id": 2, "price": 10},
        {"id": 3},
        {"id": 4, "price": Decimal("-0.01")},
        {"id": 5, "price": 9.5},
        {"id": 6, "price": Decimal("NaN")},  # no number: missing, as a text would be
    ]
    ordered = [row["id"] for row in sort_entities(rows, parse_sort("price", SCHEMA), SCHEMA)]
    assert ordered == [4, 5, 1, 2, 3, 6]
    assert _memory(rows, "price:exists()") == [1, 2, 4, 5]
    assert _memory(rows, "-price:>0") == [3, 4, 6]


def test_meta_compares_the_decimals_json_carries() -> None:
    """In memory a ``meta`` value may be a Decimal (``json.loads(..., parse_float=Decimal)``): compared exactly."""
    rows: list[dict[str, Any]] = [
        {"id": 1, "meta": {"x": Decimal("9.99")}},
        {"id": 2, "meta": {"x": 9.99}},
        {"id": 3, "meta": {"x": "9.99"}},
    ]
    assert _memory(rows, "meta.x:>9.98") == [1, 2]  # a text is never a number
    assert _memory(rows, "meta.x:9.99") == [1, 2, 3]  # the same text, 9.99
    assert _memory(rows, "meta.x:eq(9.990)") == [1, 2]


# -- SQL on each database ------------------------------------------------------------------------------------

ROWS: list[dict[str, Any]] = [
    {"id": 1, "price": Decimal("9.99"), "weight": 0.1, "meta": {"x": 9.99}},
    {"id": 2, "price": Decimal("10.00"), "weight": 0.30000000000000004, "meta": {"x": 10}},
    {"id": 3, "price": Decimal("-99999999.99"), "weight": -1e300, "meta": {"x": "9.99"}},
    {"id": 4, "price": None, "weight": None, "meta": None},
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("price:9.99", [1]),  # the decimal 9.99 exactly, not the double nearest to it
        ("price:>9.99", [2]),
        ("price:9.991", []),
        ("price:>9.985", [1, 2]),
        ("price:0.001", []),  # off the column's grid: nothing, and no rounding to 0.00
        ("price:>0.001", [1, 2]),
        ("price:>=0.001", [1, 2]),
        ("price:1e30", []),  # beyond Numeric(10, 2): nothing, and no database error
        ("price:<1e30", [1, 2, 3]),  # ... every price, never the missing one
        ("-price:<1e30", [4]),
        ("price:>-1e30", [1, 2, 3]),
        ("price:-99999999.99", [3]),
        ("price:in(9.99,1e30,0.001,10)", [1, 2]),
        ("-price:9.99", [2, 3, 4]),
        ("price:not(9.99)", [2, 3]),
        ("weight:0.1", [1]),  # the nearest double, as stored
        ("weight:0.1000000000000000055", [1]),
        ("weight:0.3", []),
        ("weight:>0.3", [2]),
        ("weight:<-1e299", [3]),
        ("weight:1e300..*", []),
        ("weight:in(0.1,0.30000000000000004)", [1, 2]),
        ("meta.x:>9.98", [1, 2]),  # JSON numbers; a text is never one
        ("meta.x:9.99", [1, 3]),  # as text
        ("meta.x:eq(10.0)", [2]),
    ],
)
def test_each_database_compares_in_the_columns_own_type_as_memory_does(
    conn: sa.Connection, text: str, expected: list[int]
) -> None:
    conn.execute(sa.insert(TABLE), ROWS)
    assert _memory(ROWS, text) == expected, text
    assert _ids(conn, text) == expected, conn.dialect.name


grid_prices = st.decimals(min_value=-99999999, max_value=99999999, places=2, allow_nan=False, allow_infinity=False)
literals = st.one_of(
    grid_prices.map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**9), max_value=10**9).map(str),
    st.sampled_from(["0", "-0.0", "1e30", "-1e30", "0.001", "-0.005", "99999999.995", "1e-300", "5e2", "100000000"]),
)
operators = st.sampled_from(["", ">", ">=", "<", "<="])


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prices=st.lists(st.one_of(st.none(), grid_prices), min_size=1, max_size=6),
    weights=st.lists(st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False), max_size=6),
    filters=st.lists(st.tuples(st.sampled_from(["price", "weight"]), operators, literals), min_size=1, max_size=6),
)
def test_decimal_and_float_columns_agree_with_memory(
    engine: sa.Engine, prices: list[Decimal | None], weights: list[float], filters: list[tuple[str, str, str]]
) -> None:
    rows: list[dict[str, Any]] = [
        {"id": index, "price": price, "weight": weights[index] if index < len(weights) else None}
        for index, price in enumerate(prices)
    ]
    with engine.connect() as conn, conn.begin() as transaction:
        conn.execute(sa.insert(TABLE), [{**row, "n": None, "meta": None} for row in rows])
        for qualifier, op, literal in filters:
            text = f"{qualifier}:{op}{literal}"
            assert _ids(conn, text) == _memory(rows, text), (conn.dialect.name, text)
        transaction.rollback()


def test_a_decimal_comparison_never_binds_what_the_column_cannot_hold() -> None:
    """The grid comparison: a number on ``Numeric(10, 2)``'s grid, or the answer for every value."""
    assert grid_comparison("eq", Decimal("9.99"), scale=2, precision=10) == ("eq", Decimal("9.99"))
    assert grid_comparison("eq", Decimal("0.001"), scale=2, precision=10) is False
    assert grid_comparison("gt", Decimal("0.001"), scale=2, precision=10) == ("gt", Decimal("0.00"))
    assert grid_comparison("gte", Decimal("0.001"), scale=2, precision=10) == ("gte", Decimal("0.01"))
    assert grid_comparison("lt", 10**30, scale=2, precision=10) is True
    assert grid_comparison("gt", -(10**30), scale=2, precision=10) is True
    assert grid_comparison("eq", Decimal("99999999.99"), scale=2, precision=10) == ("eq", Decimal("99999999.99"))
    assert grid_comparison("eq", 100000000, scale=2, precision=10) is False


# -- declaring them -------------------------------------------------------------------------------------------


class _Base(DeclarativeBase):
    pass


class Reading(_Base):
    __tablename__ = "qfilter_test_readings"
    id: Mapped[int] = mapped_column(primary_key=True)
    ratio: Mapped[float | None]
    temperature: Mapped[float | None] = mapped_column(sa.Float)
    price: Mapped[Decimal | None] = mapped_column(sa.Numeric(10, 2))
    total: Mapped[Decimal | None]


def test_orm_schema_takes_float_and_decimal_columns_as_numbers() -> None:
    schema, mapping = orm_schema(Reading, {q: q for q in ("ratio", "temperature", "price", "total")})
    assert {field.qualifier: field.kind for field in schema.fields} == dict.fromkeys(
        ("ratio", "temperature", "price", "total"), Kind.NUMBER
    )
    check_mapping(schema, mapping)
    where = compile_clause("price:9.99", schema, mapping)
    statement = str(sa.select(Reading.id).where(where).compile(dialect=sqlite.dialect()))
    assert "qfilter_test_readings.price = " in statement  # the column itself: its index serves


def test_a_float_column_still_refuses_text_kinds() -> None:
    text = Schema("r", (Field("ratio", Kind.EXACT, "ratio"),))
    with pytest.raises(ValueError, match=r"'ratio' \(exact\) cannot be matched against qfilter_test_readings.ratio"):
        check_mapping(text, {"ratio": Column(Reading.ratio)})


# -- through the FastAPI dependency, on PostgreSQL --------------------------------------------------------------


@pytest.fixture(scope="module")
def gadgets_on_postgresql(postgres_url: str) -> Iterator[httpx.Client]:
    stored = [
        gadget("a", price=Decimal("9.99"), weight=0.1),
        gadget("b", price=Decimal("10.00"), weight=2.5),
        gadget("c", price=Decimal("-0.01")),
        gadget("d"),
    ]
    with served_gadgets(postgres_url, stored) as client:
        yield client


def test_prices_and_weights_through_the_fastapi_dependency_on_postgresql(gadgets_on_postgresql: httpx.Client) -> None:
    client = gadgets_on_postgresql
    assert listed(client, q="price:9.99") == ["a"]
    assert listed(client, q="price:0.001") == []
    assert listed(client, q="price:>0.001") == ["a", "b"]
    assert listed(client, q="price:<1e30") == ["a", "b", "c"]
    assert listed(client, q="weight:0.1") == ["a"]
    assert listed(client, q="", sort="-price") == ["b", "a", "c", "d"]  # missing last
    refused = client.get("/gadgets", params={"q": "price:>1e400"})
    assert refused.status_code == 400 and refused.json()["position"] == len("price:>")
