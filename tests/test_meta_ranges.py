"""Spec section 10 (amended): number ranges under ``meta.``.

Unquoted ``>N``, ``>=N``, ``<N``, ``<=N``, ``N..M``, ``N..*`` and ``*..M``
with JSON number operands mean ``gt(N)`` and its siblings under ``meta.``:
only JSON numbers satisfy them. Quoted, or with operands that are not
numbers, they keep their literal text meaning. Each example is checked in
memory (closures and generated code) and in SQL on SQLite, PostgreSQL and
MariaDB; then the plan's equivalence with the functions, the canonical text,
the explanation, the hints, and a Hypothesis property of memory against SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import NOW, examples

from qfilter import WAYLAY, Field, FilterError, Kind, MatcherError, Schema, Value, compile_predicate, parse
from qfilter.core.explain import describe
from qfilter.core.plan import Compare, to_plan
from qfilter.integrations.strategies import filters, number_range_texts, number_texts, spellings
from qfilter.memory import compile_plan
from qfilter.sql import Column, JsonObject, SqlMapping, compile_clause, exact_string, json_keeping_numbers

ITEMS_METADATA = sa.MetaData()
ITEMS = sa.Table(
    "qfilter_test_meta_range_items",
    ITEMS_METADATA,
    sa.Column("name", exact_string(), primary_key=True),
    sa.Column("meta", json_keeping_numbers()),
)
SCHEMA = Schema("meta-items", (Field("name", Kind.EXACT, "name"), Field("meta", Kind.META, "meta")))
MAPPING: SqlMapping = {"name": Column(ITEMS.c.name), "meta": JsonObject(ITEMS.c.meta)}

PRIO: dict[str, Any] = {
    "five": 5,
    "ten": 10,
    "ten-and-a-half": 10.5,
    "twelve": 12,
    "thirteen": 13,
    "minus-three": -3,
    "big": 1e20,
    "text-eleven": "11",  # text: never a number, whatever it spells
    "text-gt-10": ">10",
    "text-range": "5..12",
    "text-gt-abc": ">abc",
    "yes": True,  # a boolean is not a number
    "object": {"x": 11},
    "list": [3, 20],  # a list holds when one element does
}
ENTITIES: list[dict[str, Any]] = [{"name": name, "meta": {"prio": value}} for name, value in PRIO.items()]
ENTITIES += [{"name": "no-prio", "meta": {}}, {"name": "null-prio", "meta": {"prio": None}}]
NUMBERS_ABOVE_TEN = ["ten-and-a-half", "twelve", "thirteen", "big", "list"]


@pytest.fixture(scope="module")
def engine(database: sa.Engine) -> sa.Engine:
    with database.begin() as conn:
        ITEMS_METADATA.create_all(conn)
    return database


@pytest.fixture
def stored(engine: sa.Engine) -> Iterator[sa.Connection]:
    with engine.connect() as conn:
        transaction = conn.begin()
        conn.execute(sa.insert(ITEMS), [{"name": e["name"], "meta": e["meta"]} for e in ENTITIES])
        yield conn
        transaction.rollback()


def in_memory(query: str) -> list[str]:
    plan = to_plan(query, SCHEMA, now=NOW)
    answers = [sorted(e["name"] for e in compile_plan(plan, specialise=s).filter(ENTITIES)) for s in (False, True)]
    assert answers[0] == answers[1], "closures and generated code disagree"
    return answers[0]


def in_sql(conn: sa.Connection, query: str) -> list[str]:
    clause = compile_clause(query, SCHEMA, MAPPING, now=NOW)
    return sorted(conn.execute(sa.select(ITEMS.c.name).where(clause)).scalars())


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("meta.prio:>10", NUMBERS_ABOVE_TEN),
        ("meta.prio:>=10", ["ten", *NUMBERS_ABOVE_TEN]),
        ("meta.prio:<5", ["minus-three", "list"]),
        ("meta.prio:<=5", ["five", "minus-three", "list"]),
        ("meta.prio:5..12", ["five", "ten", "ten-and-a-half", "twelve"]),  # each value: 3 and 20 are both out
        ("meta.prio:12..*", ["twelve", "thirteen", "big", "list"]),
        ("meta.prio:*..-3", ["minus-three"]),
        ("meta.prio:>-2.5", ["five", "ten", "ten-and-a-half", "twelve", "thirteen", "big", "list"]),
        ("meta.prio:>=1e20", ["big"]),
        ("meta.prio:10.5..10.5", ["ten-and-a-half"]),
        ("meta.prio:13..5", []),  # a range ending before it starts: nothing
        # Quoted, or not a number range: literal text, as in version 1.
        ('meta.prio:">10"', ["text-gt-10"]),
        ("meta.prio:'5..12'", ["text-range"]),
        ("meta.prio:>abc", ["text-gt-abc"]),
        # Excluded: every entity without a number above 10, those without a prio too.
        ("-meta.prio:>10", sorted({e["name"] for e in ENTITIES} - set(NUMBERS_ABOVE_TEN))),
        (
            "meta.prio:not(>10)",
            ["five", "ten", "minus-three", "text-eleven", "text-gt-10", "text-range"]
            + ["text-gt-abc", "yes", "object", "list"],
        ),
        ("meta.prio:>10,<13", ["ten-and-a-half", "twelve", "list"]),  # the matchers of a term: each some value
    ],
)
def test_number_ranges_under_meta(stored: sa.Connection, query: str, expected: list[str]) -> None:
    assert in_memory(query) == sorted(expected)
    assert in_sql(stored, query) == sorted(expected), stored.dialect.name


@pytest.mark.parametrize(
    ("ranged", "function"),
    [
        ("meta.prio:>10", "meta.prio:gt(10)"),
        ("meta.prio:>=10", "meta.prio:gte(10)"),
        ("meta.prio:<10", "meta.prio:lt(10)"),
        ("meta.prio:<=-1.5e3", "meta.prio:lte(-1.5e3)"),
        ("meta.prio:5..12", "meta.prio:all(gte(5),lte(12))"),
        ("meta.prio:5..*", "meta.prio:gte(5)"),
        ("meta.prio:*..12", "meta.prio:lte(12)"),
        ("meta.a.b:not(>1)", "meta.a.b:not(gt(1))"),
    ],
)
def test_a_number_range_is_the_spec_s_function(ranged: str, function: str) -> None:
    assert to_plan(ranged, WAYLAY, now=NOW) == to_plan(function, WAYLAY, now=NOW)


@settings(max_examples=examples(300))
@given(number_range_texts())
def test_every_number_range_binds_to_comparisons(text: str) -> None:
    try:
        plan = to_plan(f"meta.k:{text}", WAYLAY, now=NOW)
    except MatcherError as error:  # 1e400: a number too large for a float, as gt(1e400) is
        assert "out of range" in error.message
        return
    (condition,) = plan.groups[0].alternatives[0]
    parts = getattr(condition, "predicates", (condition,))
    assert all(isinstance(part, Compare) and part.op != "eq" for part in parts)
    quoted = to_plan(f'meta.k:"{text}"', WAYLAY, now=NOW)
    assert quoted != plan and str(quoted.filter) == f'meta.k:"{text}"'


def test_quoted_and_bare_ranges_are_different_matchers_with_their_own_canonical_text() -> None:
    bare, quoted = parse("meta.k:>10"), parse("meta.k:'>10'")
    assert bare != quoted
    assert (str(bare), str(quoted)) == ("meta.k:>10", 'meta.k:">10"')
    assert parse(str(quoted)) == quoted and parse(str(bare)) == bare
    # Elsewhere quotes are spelling only: a quoted word is the bare word.
    assert parse('meta.k:"abc"') == parse("meta.k:abc")
    assert Value("abc", quoted=True) == Value("abc")
    assert parse('meta.k:">abc"') == parse("meta.k:>abc")


def test_other_kinds_read_the_range_forms_as_before() -> None:
    # A tag is text, quoted or not; created:>2020 stays a time range.
    tagged = [{"name": "a", "meta": {"tags": [">10"]}}, {"name": "b", "meta": {"tags": ["11"]}}]
    for query in ("tag:>10", 'tag:">10"'):
        assert [e["name"] for e in compile_predicate(query, WAYLAY, now=NOW).filter(tagged)] == ["a"]
    assert to_plan('created:">2020"', WAYLAY, now=NOW).groups == to_plan("created:>2020", WAYLAY, now=NOW).groups


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("meta.prio:>10", "metadata prio a number greater than 10"),
        ("meta.prio:5..12", "metadata prio a number between 5 and 12"),
        ("meta.prio:*..3", "metadata prio a number at most 3"),
        ('meta.prio:">10"', "metadata prio equal to '>10'"),
        ("meta.prio:>abc", "metadata prio equal to '>abc'"),
        ("meta.prio:not(<=0)", "metadata prio not a number at most 0"),
    ],
)
def test_explain_words_number_ranges_as_numbers(query: str, words: str) -> None:
    assert words in describe(to_plan(query, WAYLAY, now=NOW))


@pytest.mark.parametrize(
    ("query", "function"),
    [("meta.prio:gt(abc)", "gt"), ("meta.prio:lte(>5)", "lte"), ("meta.prio:gte(1..5)", "gte")],
)
def test_hints_under_meta_only_suggest_what_works_there(query: str, function: str) -> None:
    # A function's argument is a number: the range forms (meta.k:>5) are matchers, not arguments.
    with pytest.raises(MatcherError) as caught:
        to_plan(query, WAYLAY, now=NOW)
    hint = caught.value.hint or ""
    assert hint == f"{function}() takes a JSON number: 5, -2.5, 1e3"
    assert ">5" not in hint and ".." not in hint


def test_a_number_too_large_for_a_float_is_an_error_as_in_gt() -> None:
    for query in ("meta.prio:>1e400", "meta.prio:1..1e400", "meta.prio:gt(1e400)"):
        with pytest.raises(MatcherError, match="number out of range: '1e400'"):
            to_plan(query, WAYLAY, now=NOW)


# -- property: memory and SQL agree on random ranges over random JSON values -------------------------------

json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    number_texts(),  # a number's text: never a number
    st.sampled_from([">10", "5..12", "x"]),
    st.lists(st.integers(-20, 20), max_size=3),
)


@settings(
    max_examples=examples(150),
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(json_values, min_size=1, max_size=6), st.lists(number_range_texts(), min_size=1, max_size=2))
def test_memory_and_sql_agree_on_random_ranges(engine: sa.Engine, values: list[Any], ranges: list[str]) -> None:
    entities: list[dict[str, Any]] = [{"name": f"e{i}", "meta": {"k": value}} for i, value in enumerate(values)]
    query = "meta.k:" + ",".join(ranges)
    try:
        plan = to_plan(query, SCHEMA, now=NOW)
    except FilterError:  # 1e400
        return
    expected = sorted(e["name"] for e in compile_plan(plan).filter(entities))
    with engine.connect() as conn, conn.begin() as transaction:
        conn.execute(sa.insert(ITEMS), entities)
        clause = compile_clause(plan, SCHEMA, MAPPING)
        assert sorted(conn.execute(sa.select(ITEMS.c.name).where(clause)).scalars()) == expected, query
        transaction.rollback()


@settings(max_examples=examples(200))
@given(filters(SCHEMA).flatmap(lambda f: st.tuples(st.just(f), spellings(f))))
def test_generated_meta_filters_round_trip_in_every_spelling(case: tuple[Any, str]) -> None:
    parsed, text = case
    assert parse(str(parsed)) == parsed
    assert parse(text) == parsed
