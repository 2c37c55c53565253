"""Spec sections 9, 10 and 11: function matchers, NUMBER and BOOLEAN fields, GitHub-style time ranges.

Every example of those sections is here with the spec's answer, checked in
memory and in SQL on SQLite, PostgreSQL and MariaDB (each example stores its entities
and states the names it expects), plus the errors the sections ask for and
Hypothesis properties: no input makes parse or bind raise anything but a
FilterError, and every generated filter of every kind binds, round-trips and
runs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import NOW, examples

from qfilter import (
    WAYLAY,
    Field,
    FilterError,
    Function,
    Kind,
    MatcherError,
    Schema,
    TimeExpressionError,
    UnknownFunctionError,
    Value,
    compile_predicate,
    parse,
)
from qfilter.cli import main
from qfilter.core.explain import describe
from qfilter.core.functions import FUNCTION_NAMES, FUNCTIONS
from qfilter.core.plan import to_plan
from qfilter.integrations.strategies import filters, period_texts, spellings
from qfilter.memory import compile_plan
from qfilter.service.tables import METADATA, WAYLAY_SQL, WAYLAY_TABLE, insert_waylay_queries
from qfilter.sql import (
    Column,
    JsonArray,
    JsonObject,
    SqlMapping,
    UtcDateTime,
    check_mapping,
    compile_clause,
    exact_string,
    json_keeping_numbers,
)

ME = "users/alice"

ITEMS_METADATA = sa.MetaData()
ITEMS = sa.Table(
    "qfilter_test_function_items",
    ITEMS_METADATA,
    sa.Column("name", exact_string(), primary_key=True),
    sa.Column("owner", sa.String(255)),
    sa.Column("tags", json_keeping_numbers()),
    sa.Column("prio", sa.Integer()),
    sa.Column("active", sa.Boolean()),
    sa.Column("created", UtcDateTime()),
    sa.Column("meta", json_keeping_numbers()),
)
SCHEMA = Schema(
    "items",
    (
        Field("name", Kind.TEXT, "name"),
        Field("owner", Kind.USER, "owner"),
        Field("tag", Kind.EXACT, "tags", many=True),
        Field("prio", Kind.NUMBER, "prio"),
        Field("active", Kind.BOOLEAN, "active"),
        Field("created", Kind.TIME, "created"),
        Field("meta", Kind.META, "meta"),
    ),
)
MAPPING: SqlMapping = {
    "name": Column(ITEMS.c.name),
    "owner": Column(ITEMS.c.owner),
    "tag": JsonArray(ITEMS.c.tags),
    "prio": Column(ITEMS.c.prio),
    "active": Column(ITEMS.c.active),
    "created": Column(ITEMS.c.created),
    "meta": JsonObject(ITEMS.c.meta),
}


@pytest.fixture(scope="module")
def engine(database: sa.Engine) -> sa.Engine:
    """Each database in turn (the conftest's ``database``), with the reference tables and this module's table."""
    with database.begin() as conn:
        METADATA.create_all(conn)
        ITEMS_METADATA.create_all(conn)
    return database


def item(name: str, **values: Any) -> dict[str, Any]:
    return {"name": name, **values}


def store(conn: sa.Connection, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    conn.execute(sa.insert(ITEMS), [{c.name: e.get(c.name) for c in ITEMS.c} for e in entities])
    return entities


def check(conn: sa.Connection, query: str, entities: list[dict[str, Any]], expected: list[str]) -> None:
    """Memory (closures and generated code) keeps exactly ``expected`` of ``entities``, and so does the database."""
    plan = to_plan(query, SCHEMA, now=NOW, user=ME)
    for specialise in (False, True):
        kept = compile_plan(plan, specialise=specialise).filter(entities)
        assert sorted(e["name"] for e in kept) == sorted(expected), f"memory ({specialise=})"
    clause = compile_clause(query, SCHEMA, MAPPING, now=NOW, user=ME)
    found = conn.execute(sa.select(ITEMS.c.name).where(clause)).scalars()
    assert sorted(found) == sorted(expected), conn.dialect.name


# -- section 9: the spec's own examples, on a JSON array and on an association table ----------------------

TAGGED = {
    "prj-open": ["prj:a"],
    "prj-done": ["prj:a:Done"],
    "mixed": ["prj:b:Done", "prj:c"],
    "untagged": [],
    "done": ["Done"],
    "done-and-more": ["Done", "x"],
    "abc-def": ["abc", "def"],
    "abc": ["abc"],
    "abc-x": ["abc", "x"],
}
SPEC_EXAMPLES = [
    # some tag starts with prj: and does not end with :Done
    ('tag:all(like("prj:*"), not(like("*:Done")))', ["prj-open", "mixed"]),
    # some tag is not Done: no tags, or the single tag Done, do not match
    ("tag:not(Done)", ["prj-open", "prj-done", "mixed", "done-and-more", "abc-def", "abc", "abc-x"]),
    # every tag is abc or def: an entity without tags matches
    ("-tag:not(in(abc, def))", ["untagged", "abc-def", "abc"]),
    # no tags
    ("-tag:exists()", ["untagged"]),
    ("tag:exists()", [name for name, tags in TAGGED.items() if tags]),
]


@pytest.mark.parametrize(("query", "expected"), SPEC_EXAMPLES)
def test_spec_examples_on_a_json_array(conn: sa.Connection, query: str, expected: list[str]) -> None:
    entities = store(conn, [item(name, tags=tags) for name, tags in TAGGED.items()])
    check(conn, query, entities, expected)


@pytest.mark.parametrize(("query", "expected"), SPEC_EXAMPLES)
def test_spec_examples_on_an_association_table(conn: sa.Connection, query: str, expected: list[str]) -> None:
    entities: list[dict[str, Any]] = [{"name": name, "meta": {"tags": tags}} for name, tags in TAGGED.items()]
    insert_waylay_queries(conn, entities)
    kept = compile_predicate(query, WAYLAY, now=NOW).filter(entities)
    assert sorted(e["name"] for e in kept) == sorted(expected), "memory"
    clause = compile_clause(query, WAYLAY, WAYLAY_SQL, now=NOW)
    assert sorted(conn.execute(sa.select(WAYLAY_TABLE.c.name).where(clause)).scalars()) == sorted(expected)


# -- section 9: each function of the table ---------------------------------------------------------------


def test_equals_and_eq_are_exact_and_numeric_for_numbers(conn: sa.Connection) -> None:
    entities = store(
        conn,
        [
            item("abc", tags=["abc"], prio=5, meta={"n": 5}),
            item("ABC", tags=["ABC"], prio=4, meta={"n": 5.0}),
            item("text-5", tags=["5"], meta={"n": "5"}),
            item("text-5.0", meta={"n": "5.0"}),
            item("none"),
        ],
    )
    check(conn, "tag:equals(abc)", entities, ["abc"])
    check(conn, "tag:EQ(ABC)", entities, ["ABC"])
    check(conn, "prio:eq(5)", entities, ["abc"])
    check(conn, "prio:eq(5.0)", entities, ["abc"])
    # eq(5) holds for 5 and 5.0; under meta. a text equals by its text only
    check(conn, "meta.n:eq(5)", entities, ["abc", "ABC", "text-5"])
    check(conn, "meta.n:eq(5.0)", entities, ["abc", "ABC", "text-5.0"])
    check(conn, "meta.n:5", entities, ["abc", "text-5"])  # a plain matcher keeps comparing text (section 6)


def test_in_and_in_ignore_case(conn: sa.Connection) -> None:
    entities = store(
        conn,
        [
            item("a", tags=["abc"], owner=ME, prio=1, meta={"k": "Straße"}),
            item("b", tags=["ÄBC"], owner="users/bob", prio=2, meta={"k": 2.0}),
            item("c", tags=["def", "xyz"], owner="users/carol", prio=3, meta={"k": "STRASSE"}),
            item("none"),
        ],
    )
    check(conn, "tag:in(abc, def)", entities, ["a", "c"])
    check(conn, "tag:in(ABC)", entities, [])
    check(conn, "tag:inIgnoreCase(ABC, äbc)", entities, ["a", "b"])
    check(conn, "owner:in(@me, users/bob)", entities, ["a", "b"])
    check(conn, "owner:inIgnoreCase(USERS/BOB,@me)", entities, ["a", "b"])
    check(conn, "prio:in(1, 3, 7)", entities, ["a", "c"])
    check(conn, "meta.k:in(2, Straße)", entities, ["a", "b"])
    # str.lower on both sides, not case folding: STRASSE lowers to strasse, not straße
    check(conn, "meta.k:inIgnoreCase(straße)", entities, ["a"])


def test_like_matches_the_whole_text_ignoring_case_and_contains_is_case_sensitive(conn: sa.Connection) -> None:
    entities = store(
        conn,
        [
            item("Demo-1", tags=["prj:a"], owner="users/alice"),
            item("demo-2", tags=["prj:a:Done", "done"], owner="Users/Bob"),
            item("other", tags=["x"], owner="team/x"),
        ],
    )
    check(conn, "tag:like(PRJ:?)", entities, ["Demo-1"])
    check(conn, "tag:like(*done)", entities, ["demo-2"])
    check(conn, "owner:like(users/*)", entities, ["Demo-1", "demo-2"])
    check(conn, "tag:contains(Done)", entities, ["demo-2"])
    check(conn, "tag:contains(done)", entities, ["demo-2"])
    check(conn, "tag:contains(DONE)", entities, [])
    check(conn, "name:contains(Demo)", entities, ["Demo-1"])
    check(conn, "name:like(demo-?)", entities, ["Demo-1", "demo-2"])
    check(conn, "name:equals(demo-2)", entities, ["demo-2"])


def test_comparisons_are_numeric_and_a_text_never_satisfies_them(conn: sa.Connection) -> None:
    entities = store(
        conn,
        [
            item("five", prio=5, meta={"n": 5, "list": [1, "9", 20]}),
            item("half", prio=0, meta={"n": 0.5}),
            item("text", meta={"n": "9"}),
            item("bool", meta={"n": True}),
            item("big", prio=10**9, meta={"n": 1e16}),
            item("none"),
        ],
    )
    check(conn, "prio:lt(5)", entities, ["half"])
    check(conn, "prio:lte(5)", entities, ["five", "half"])
    check(conn, "prio:gt(5)", entities, ["big"])
    check(conn, "prio:gte(0.5)", entities, ["five", "big"])
    check(conn, "meta.n:gt(1)", entities, ["five", "big"])
    check(conn, "meta.n:lt(1)", entities, ["half"])
    check(conn, "meta.n:gte(1e16)", entities, ["big"])
    check(conn, "meta.list:gt(10)", entities, ["five"])  # 20; the text "9" is no number
    check(conn, "meta.list:all(gt(1), lt(10))", entities, [])


def test_not_all_any_and_plain_values_inside_them(conn: sa.Connection) -> None:
    entities = store(
        conn,
        [
            item("DEMO-1", tags=["a", "b"], prio=1),
            item("demo-2", tags=["b"], prio=7),
            item("prod", tags=["c"], prio=3),
            item("nothing"),
        ],
    )
    # under name a plain value means "contains, ignoring case"
    check(conn, "name:not(demo)", entities, ["prod", "nothing"])
    check(conn, "name:any(demo-1, prod)", entities, ["DEMO-1", "prod"])
    check(conn, "tag:not(b)", entities, ["DEMO-1", "prod"])
    check(conn, "tag:any(a, c)", entities, ["DEMO-1", "prod"])
    check(conn, "tag:all(not(a), not(c))", entities, ["DEMO-1", "demo-2"])
    check(conn, "-tag:any(a, c)", entities, ["demo-2", "nothing"])
    check(conn, "prio:all(>1, <5)", entities, ["prod"])
    check(conn, "prio:not(1..3)", entities, ["demo-2"])
    check(conn, "prio:any(1, 7)", entities, ["DEMO-1", "demo-2"])


def test_exists_is_about_the_field(conn: sa.Connection) -> None:
    entities = store(
        conn,
        [
            item("full", owner=ME, tags=["x"], prio=0, active=False, created=NOW, meta={"k": {"deep": 1}}),
            item("null-meta", tags=[None], meta={"k": None}),
            item("empty", tags=[], meta={}),
            item("none"),
        ],
    )
    for qualifier in ("owner", "tag", "prio", "active", "created", "meta.k"):
        check(conn, f"{qualifier}:exists()", entities, ["full"])
        check(conn, f"-{qualifier}:exists()", entities, ["null-meta", "empty", "none"])


def test_at_me_needs_a_user_inside_functions_too() -> None:
    with pytest.raises(FilterError) as caught:
        compile_predicate("owner:in(users/bob, @me)", SCHEMA)
    assert caught.value.position == 20


# -- section 9: errors point at the function name ----------------------------------------------------------


def test_an_unknown_function_is_an_error_suggesting_the_closest() -> None:
    with pytest.raises(UnknownFunctionError) as caught:
        parse("tag:inignorcase(a)")
    error = caught.value
    assert error.position == 4
    assert "did you mean inIgnoreCase?" in (error.hint or "")
    assert all(name in (error.hint or "") for name in FUNCTION_NAMES)
    assert error.render().splitlines()[2] == "  " + " " * 4 + "^"


@pytest.mark.parametrize("text", ["tag:in(a,b)", "tag:a(b)", "tag:x,pump(north)", "name:not(likes(x))"])
def test_word_and_parenthesis_always_start_a_function(text: str) -> None:
    try:
        parsed = parse(text)
    except UnknownFunctionError as error:
        assert text[error.position or 0 :].split("(")[0] in ("a", "pump", "likes")
    else:
        assert isinstance(parsed.terms[0].matchers[0], Function)


@pytest.mark.parametrize(("text", "position"), [("name:pump (north)", 10), ("tag:a)b", 5), ("tag:(x)", 4)])
def test_a_bare_parenthesis_is_an_error_that_says_to_quote(text: str, position: int) -> None:
    with pytest.raises(FilterError) as caught:
        parse(text)
    assert caught.value.position == position
    assert "quote" in (caught.value.hint or "")
    assert parse('name:"pump (north)"').terms[0].matchers == (Value("pump (north)"),)


@pytest.mark.parametrize(
    ("query", "position", "words"),
    [
        ("tag:lt(5)", 4, "NUMBER, TIME and META"),
        ("name:gt(x)", 5, "TIME, META and NUMBER"),
        ("created:in(2020)", 8, "TEXT, EXACT, USER, META, NUMBER and BOOLEAN"),
        ("owner:contains(x)", 6, "TEXT, EXACT and META"),
        ("prio:like(5*)", 5, "TEXT, EXACT, USER and META"),
        ("active:inIgnoreCase(true)", 7, "TEXT, EXACT, USER and META"),
        ("tag:not(lt(5))", 8, "NUMBER"),
    ],
)
def test_a_function_the_kind_does_not_take_names_the_kinds_that_do(query: str, position: int, words: str) -> None:
    with pytest.raises(MatcherError) as caught:
        to_plan(query, SCHEMA, now=NOW, user=ME)
    assert caught.value.position == position
    assert all(word in (caught.value.hint or "") for word in words.replace(" and ", ", ").split(", "))


@pytest.mark.parametrize(
    ("query", "position", "words"),
    [
        ("tag:like()", 4, "takes one argument"),
        ("tag:exists(a)", 4, "takes no argument"),
        ("tag:in(not(a))", 7, "values, not functions"),
        ("tag:not(exists())", 8, "whole field"),
        ("meta.k:gt(abc)", 10, "not a number"),
        ("created:gt(abc)", 11, "invalid timestamp"),
    ],
)
def test_wrong_arguments_are_errors_at_the_name_or_the_argument(query: str, position: int, words: str) -> None:
    with pytest.raises(FilterError) as caught:
        to_plan(query, SCHEMA, now=NOW, user=ME)
    assert caught.value.position == position
    assert words in caught.value.message


def test_function_names_are_read_in_any_case_and_written_in_the_spec_s_spelling() -> None:
    for spec in FUNCTIONS.values():
        written = spec.name.upper() + "()" if spec.max_arguments == 0 else spec.name.swapcase() + "(x)"
        if spec.nests:
            written = spec.name.swapcase() + "(x)"
        assert str(parse(f"meta.k:{written}").terms[0].matchers[0]).startswith(spec.name + "(")


# -- section 10: NUMBER and BOOLEAN fields -----------------------------------------------------------------

NUMBERED = {"neg": -2.5, "zero": 0, "one": 1, "five": 5, "six": 6, "big": 1000}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("prio:5", ["five"]),
        ("prio:5.0", ["five"]),
        ("prio:5e0", ["five"]),
        ("prio:>5", ["six", "big"]),
        ("prio:>=5", ["five", "six", "big"]),
        ("prio:<5", ["neg", "zero", "one"]),
        ("prio:<=5", ["neg", "zero", "one", "five"]),
        ("prio:1..5", ["one", "five"]),
        ("prio:*..5", ["neg", "zero", "one", "five"]),
        ("prio:5..*", ["five", "six", "big"]),
        ("prio:-2.5", ["neg"]),
        ("prio:1e3", ["big"]),
        ("-prio:1..5", ["neg", "zero", "six", "big", "none"]),
        ("prio:0,>=0", ["zero"]),
    ],
)
def test_number_matchers_in_memory(query: str, expected: list[str]) -> None:
    entities: list[dict[str, Any]] = [{"name": name, "prio": value} for name, value in NUMBERED.items()]
    entities += [{"name": "none"}, {"name": "text", "prio": "5"}, {"name": "bool", "prio": True}]
    kept = compile_predicate(query, SCHEMA, now=NOW).filter(entities)
    assert sorted(e["name"] for e in kept) == sorted(expected + (["text", "bool"] if query.startswith("-") else []))


@pytest.mark.parametrize(
    ("query", "expected"),
    [("prio:5", ["five"]), ("prio:>5", ["six", "big"]), ("prio:1..5", ["one", "five"]), ("prio:*..0", ["zero"])],
)
def test_number_matchers_in_sql(conn: sa.Connection, query: str, expected: list[str]) -> None:
    entities = store(conn, [item(name, prio=int(value)) for name, value in NUMBERED.items() if value == int(value)])
    check(conn, query, entities, expected)


@pytest.mark.parametrize(("query", "position"), [("prio:abc", 5), ("prio:>=x", 7), ("prio:1..b", 8), ("prio:*..*", 5)])
def test_any_other_number_matcher_is_an_error_naming_the_token(query: str, position: int) -> None:
    with pytest.raises(MatcherError) as caught:
        to_plan(query, SCHEMA, now=NOW)
    assert caught.value.position == position


def test_booleans(conn: sa.Connection) -> None:
    entities = store(conn, [item("on", active=True), item("off", active=False), item("none")])
    check(conn, "active:true", entities, ["on"])
    check(conn, "active:FALSE", entities, ["off"])
    check(conn, "-active:True", entities, ["off", "none"])
    check(conn, "active:in(true,false)", entities, ["on", "off"])
    # the value must be a boolean, not its text
    texts = [{"name": "text", "active": "true"}, {"name": "one", "active": 1}]
    assert compile_predicate("active:true", SCHEMA).filter(texts) == []
    with pytest.raises(MatcherError) as caught:
        to_plan("active:yes", SCHEMA)
    assert caught.value.position == 7


def test_a_mapping_onto_a_column_that_cannot_hold_the_kind_is_refused() -> None:
    wrong = {**MAPPING, "prio": Column(ITEMS.c.name)}
    with pytest.raises(ValueError, match="'prio'"):
        check_mapping(SCHEMA, wrong)
    with pytest.raises(ValueError, match="'active'"):
        check_mapping(SCHEMA, {**MAPPING, "active": Column(ITEMS.c.owner)})
    check_mapping(SCHEMA, MAPPING)


# -- section 11: GitHub-style ranges -----------------------------------------------------------------------

EDGES = {
    "march-end": datetime(2020, 3, 31, 23, 59, 59, 999999, tzinfo=UTC),
    "april-start": datetime(2020, 4, 1, tzinfo=UTC),
    "april-22-noon": datetime(2020, 4, 22, 12, tzinfo=UTC),
    "april-end": datetime(2020, 4, 30, 23, 59, 59, 999999, tzinfo=UTC),
    "may-start": datetime(2020, 5, 1, tzinfo=UTC),
    "2021": datetime(2021, 6, 1, tzinfo=UTC),
    "yesterday": NOW - timedelta(hours=12),
}
APRIL = ["april-start", "april-22-noon", "april-end"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("created:>=2020-04", [*APRIL, "may-start", "2021", "yesterday"]),  # same as 2020-04/
        ("created:>2020-04", ["may-start", "2021", "yesterday"]),  # end(2020-04) = 2020-05-01
        ("created:<2020-04", ["march-end"]),  # same as /2020-04
        ("created:<=2020-04", ["march-end", *APRIL]),
        ("created:>2020-04-22T12:00:00Z", ["april-end", "may-start", "2021", "yesterday"]),
        ("created:<=2020-04-22T12:00:00Z", ["march-end", "april-start", "april-22-noon"]),
        ("created:2020-04..2020-04", APRIL),  # both ends included, a date is its whole period
        ("created:2020-04..2020-05", [*APRIL, "may-start"]),
        ("created:2020-04-01..2020-04-22T12:00:00Z", ["april-start", "april-22-noon"]),
        ("created:2021..*", ["2021", "yesterday"]),
        ("created:*..2020-03", ["march-end"]),
        ("created:now-P1D..now", ["yesterday"]),
        ("created:>=now-P1D", ["yesterday"]),
        ("created:2021/2020", []),  # end before start: valid, matches nothing
        ("created:2020-05..2020-04", []),
        ("-created:2020-04..2020-04", ["march-end", "may-start", "2021", "yesterday", "none"]),
        ("created:lt(2020-04)", ["march-end"]),
        ("created:lte(2020-04)", ["march-end", "april-start"]),  # a reduced x is its first instant
        ("created:gt(2020-04-30T23:59:59.999999Z)", ["may-start", "2021", "yesterday"]),
        ("created:gte(2020-05)", ["may-start", "2021", "yesterday"]),
        ("created:not(2020)", ["2021", "yesterday"]),
    ],
)
def test_time_ranges(conn: sa.Connection, query: str, expected: list[str]) -> None:
    entities = store(conn, [item(name, created=moment) for name, moment in EDGES.items()] + [item("none")])
    check(conn, query, entities, expected)


@pytest.mark.parametrize(("github", "iso"), [(">=2020-04", "2020-04/"), ("<2020-04", "/2020-04"), ("2020..*", "2020/")])
def test_ranges_mean_what_the_intervals_they_repeat_mean(github: str, iso: str) -> None:
    assert to_plan(f"created:{github}", SCHEMA, now=NOW) == to_plan(f"created:{iso}", SCHEMA, now=NOW)


def test_explain_calls_an_interval_ending_before_it_starts_empty() -> None:
    assert "an empty interval" in describe(to_plan("created:2021/2020", SCHEMA, now=NOW))
    assert "an empty interval" in describe(to_plan("created:2021..2020", SCHEMA, now=NOW))
    assert "an empty interval" not in describe(to_plan("created:2020/2021", SCHEMA, now=NOW))
    for after_the_last in ("created:>9999", "created:gt(9999-12-31T23:59:59.999999Z)"):
        assert "no time of the years 1 to 9999 is after it" in describe(to_plan(after_the_last, SCHEMA, now=NOW))
    assert "an empty interval" not in describe(to_plan("created:9999", SCHEMA, now=NOW))


@pytest.mark.parametrize(
    ("query", "position", "token"),
    [
        ("created:now-P10000Y/", 8, "now-P10000Y"),
        ("created:now-PT99999999999H/", 12, "PT99999999999H"),
        ("created:P99999999999D/now", 8, "P99999999999D"),
        ('created:"0001-01-01T00:00:00+05:00/"', 9, "0001-01-01T00:00:00+05:00"),
        ("created:/now+P8000Y", 9, "now+P8000Y"),
        ("created:9999/P1Y", 13, "P1Y"),  # arithmetic past the range, unlike a period's own end
        ('created:"9999-12-31T23:00:00-05:00/"', 9, "9999-12-31T23:00:00-05:00"),
    ],
)
def test_every_time_out_of_range_is_a_time_error_at_its_token(query: str, position: int, token: str) -> None:
    with pytest.raises(TimeExpressionError) as caught:
        to_plan(query, SCHEMA, now=NOW)
    assert caught.value.position == position
    assert repr(token) in caught.value.message


TOP = {
    "9998-end": datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    "9999-start": datetime(9999, 1, 1, tzinfo=UTC),
    "9999-12-31": datetime(9999, 12, 31, 12, tzinfo=UTC),
    "last": datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # A period ending past the last instant is open at its end: no time of the years 1 to 9999 is after it.
        ("created:9999", ["9999-start", "9999-12-31", "last"]),
        ("created:9999-12", ["9999-12-31", "last"]),
        ("created:9999-12-31", ["9999-12-31", "last"]),
        ("created:2020..9999", [*TOP, "2020"]),
        ("created:9999..*", ["9999-start", "9999-12-31", "last"]),
        ("created:*..9999-12-31", [*TOP, "2020"]),
        ("created:<=9999", [*TOP, "2020"]),
        ("created:>9999", []),  # after the year 9999: no time is
        ("created:>9999-12-31T23:59:59.999999Z", []),
        ("created:gt(9999-12-31T23:59:59.999999Z)", []),
        ("created:lte(9999-12-31T23:59:59.999999Z)", [*TOP, "2020"]),
        ("-created:9999", ["9998-end", "2020", "none"]),
    ],
)
def test_the_last_periods_of_the_range_are_open_at_their_end(
    conn: sa.Connection, query: str, expected: list[str]
) -> None:
    moments = {**TOP, "2020": datetime(2020, 4, 22, tzinfo=UTC)}
    entities = store(conn, [item(name, created=moment) for name, moment in moments.items()] + [item("none")])
    check(conn, query, entities, expected)


def test_a_time_out_of_range_only_in_the_filter_s_zone_is_an_error_too() -> None:
    far_east = timezone(timedelta(hours=14))
    with pytest.raises(TimeExpressionError):
        to_plan("created:9999-12-31T23:00:00Z/", SCHEMA, now=NOW, tz=far_east)
    to_plan("created:9999-12-31T23:00:00Z/", SCHEMA, now=NOW)


# -- properties --------------------------------------------------------------------------------------------

PROPERTY = settings(
    max_examples=examples(500), deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow]
)
ENTITIES = [
    {"name": "a", "owner": ME, "tags": ["x", 5, None, {"o": 1}], "prio": 5, "active": True, "meta": {"k": [1, "x"]}},
    {"name": "b", "created": "2020-01-01", "prio": "5", "active": "true", "meta": {"k": {"x": 1}}},
    {"name": "c", "created": "soon", "tags": "x"},
    {},
]


@PROPERTY
@given(filters(SCHEMA, with_me=True))
def test_every_generated_filter_binds_round_trips_and_runs(parsed: Any) -> None:
    assert parse(str(parsed)) == parsed
    plan = to_plan(parsed, SCHEMA, now=NOW, user=ME)
    assert compile_plan(plan, specialise=False).filter(ENTITIES) == compile_plan(plan, specialise=True).filter(ENTITIES)


@PROPERTY
@given(filters(SCHEMA, with_me=True).flatmap(lambda f: st.tuples(st.just(f), spellings(f))))
def test_every_spelling_of_a_function_parses_to_the_same_ast(case: tuple[Any, str]) -> None:
    parsed, text = case
    assert parse(text) == parsed


years_near_the_ends = st.one_of(st.integers(1, 3), st.integers(9997, 9999))
zones = st.one_of(st.just(UTC), st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))))


@st.composite
def edge_times(draw: st.DrawFn) -> str:
    """Timestamps and periods near the ends of the representable range, in every form a TIME field takes."""
    year = draw(years_near_the_ends)
    stamp = draw(
        st.sampled_from(
            [
                f"{year:04d}",
                f"{year:04d}-12",
                f"{year:04d}-01-01",
                f"{year:04d}-12-31T23:59:59.999999",
                f"{year:04d}-01-01T00:00:00+05:00",
                f"{year:04d}-12-31T23:59:59-14:00",
            ]
        )
    )
    big = draw(st.integers(1, 10**14))
    period = draw(
        st.one_of(
            period_texts(),
            st.sampled_from([f"P{big}Y", f"P{big}M", f"P{big}W", f"P{big}D", f"PT{big}H", f"PT{big}S", f"P{big}.5D"]),
        )
    )
    now = draw(st.sampled_from(["now", f"now-{period}", f"now+{period}"]))
    token = draw(st.sampled_from([stamp, now]))
    form = draw(
        st.sampled_from(
            [
                "{t}",
                "{t}/",
                "/{t}",
                "{t}/{p}",
                "{p}/{t}",
                ">{t}",
                ">={t}",
                "<{t}",
                "<={t}",
                "{t}..*",
                "*..{t}",
                "{t}..{t}",
                "gt({t})",
                "lte({t})",
                "not({t})",
            ]
        )
    )
    return "created:" + (form.format(t=token, p=period) if "(" in form else json.dumps(form.format(t=token, p=period)))


@settings(max_examples=examples(1000), deadline=timedelta(seconds=2))
@given(
    edge_times(), zones, st.sampled_from([NOW, datetime(9999, 12, 31, 23, tzinfo=UTC), datetime(1, 1, 2, tzinfo=UTC)])
)
def test_parse_and_bind_raise_only_filter_errors_near_the_ends_of_time(text: str, zone: Any, now: datetime) -> None:
    try:
        plan = to_plan(text, SCHEMA, now=now, tz=zone)
    except FilterError as error:
        assert error.text == text
        assert error.position is not None and 0 <= error.position <= len(text)
        return
    compile_plan(plan, specialise=False).filter(ENTITIES)
    compile_clause(plan, SCHEMA, MAPPING).compile(dialect=sa.create_engine("sqlite://").dialect)


pieces = st.sampled_from(
    [*FUNCTION_NAMES, "(", ")", ",", " ", '"', "'", "prio:", "tag:", "created:", "active:", "meta.k:", "-", "*", ".."]
    + [">", ">=", "<", "5", "1e400", "true", "x", "now", "P1D", "/", "9999", "@me", "all(", "not(", "exists()"]
)


@settings(max_examples=examples(1000), deadline=timedelta(seconds=2))
@given(st.lists(pieces, max_size=30).map("".join))
def test_soups_of_the_new_syntax_raise_only_filter_errors(text: str) -> None:
    try:
        plan = to_plan(text, SCHEMA, now=NOW, user=ME)
    except FilterError:
        return
    compile_plan(plan).filter(ENTITIES)


# -- SQL shape: bound parameters, one IN, EXISTS/IS NOT NULL ---------------------------------------------


def sql_of(query: str, dialect: str = "sqlite") -> str:
    engine = sa.create_engine("sqlite://" if dialect == "sqlite" else "postgresql+psycopg://")
    statement = sa.select(ITEMS.c.name).where(compile_clause(query, SCHEMA, MAPPING, now=NOW, user=ME))
    return str(statement.compile(dialect=engine.dialect))


def test_in_is_one_in_and_exists_is_not_null_and_values_are_bound() -> None:
    assert sql_of("owner:in(secret-a, secret-b, secret-c)").count(" IN (") == 1
    assert "secret" not in sql_of("owner:in(secret-a, secret-b)")
    assert "IS NOT NULL" in sql_of("owner:exists()")
    assert "EXISTS" in sql_of("tag:exists()")
    assert "12345" not in sql_of("prio:>12345 meta.k:gt(12345)", "postgresql")


# -- the command line --------------------------------------------------------------------------------------


def test_cli_explain_filter_and_sql_handle_the_new_forms(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["explain", 'tag:all(like("prj:*"),not(like("*:Done"))) -tag:exists() created:2021/2020']) == 0
    out = capsys.readouterr().out
    assert "tag:all(like(prj:*),not(like(*:Done)))" in out
    assert "matching 'prj:*' and not matching '*:Done'" in out
    assert "an empty interval" in out
    entities = [{"name": name, "meta": {"tags": tags}} for name, tags in TAGGED.items()]
    path = tmp_path / "items.json"
    path.write_text(json.dumps(entities))
    assert main(["filter", "--", "-tag:not(in(abc, def))", str(path)]) == 0
    assert sorted(e["name"] for e in json.loads(capsys.readouterr().out)) == ["abc", "abc-def", "untagged"]
    assert main(["sql", "--dialect", "postgresql", "tag:in(a,b) meta.prio:gt(5) created:>=2020"]) == 0
    assert "IN" in capsys.readouterr().out


def test_cli_unknown_function_exits_2_with_a_caret_under_its_name(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["explain"], ["sql"]):
        assert main([*command, "name:x tag:inignorcase(a)"]) == 2
        lines = capsys.readouterr().err.splitlines()
        assert "did you mean inIgnoreCase?" in lines[0]
        assert lines[2] == "  " + " " * len("name:x tag:") + "^"
