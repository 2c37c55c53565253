"""An application's own function matchers (issue 22, point 1), declared as the built-ins are (issue 19, point 5).

The functions of ``tests/own_functions.py`` (``startsWith``, ``multipleOf``,
``shorterThan``, ``xor``) are checked in memory (closures and generated
code) and in SQL on SQLite, PostgreSQL and MariaDB with each example's
expected names; then their errors (each at its place, naming the schema's
functions), their words in ``explain``, the strategies that draw them, the
OpenAPI description of ``q`` and the FastAPI dependency on PostgreSQL. The
differential property (``tests/test_sql_differential.py``) draws them too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, find, given, settings
from own_functions import MULTIPLE_OF, SHORTER_THAN, STARTS_WITH, XOR
from support import NOW, examples

from qfilter import (
    WAYLAY,
    Argument,
    Field,
    FilterError,
    Function,
    FunctionMatcher,
    Kind,
    MatcherError,
    Schema,
    UnknownFunctionError,
    Value,
    compile_predicate,
    parse,
)
from qfilter.core.explain import describe, logic_tree
from qfilter.core.functions import BUILTINS, FUNCTION_NAMES, FUNCTIONS
from qfilter.core.ir import Call
from qfilter.core.plan import to_plan
from qfilter.integrations.fastapi import QFilter, RequestListing, install_error_handlers
from qfilter.integrations.openapi_text import q_description, q_examples
from qfilter.integrations.strategies import filters, functions
from qfilter.memory import compile_plan
from qfilter.sql import Column, JsonArray, SqlMapping, compile_clause, exact_string, json_keeping_numbers

ME = "users/alice"

METADATA = sa.MetaData()
ITEMS = sa.Table(
    "qfilter_test_own_function_items",
    METADATA,
    sa.Column("name", exact_string(), primary_key=True),
    sa.Column("label", sa.String(50)),  # the database's default collation: on MariaDB case-insensitive
    sa.Column("tags", json_keeping_numbers()),
    sa.Column("prio", sa.Integer()),
    sa.Column("weight", sa.Float()),
    sa.Column("owner", sa.String(50)),
)
FIELDS = (
    Field("name", Kind.TEXT, "name"),
    Field("label", Kind.EXACT, "label"),
    Field("tag", Kind.EXACT, "tags", many=True),
    Field("prio", Kind.NUMBER, "prio"),
    Field("weight", Kind.NUMBER, "weight"),
    Field("owner", Kind.USER, "owner"),
)
SCHEMA = Schema("items", FIELDS, functions=(STARTS_WITH, MULTIPLE_OF, SHORTER_THAN, XOR))
PLAIN = Schema("items", FIELDS)
"""The same fields without the functions: two schemas may differ."""
MAPPING: SqlMapping = {
    "name": Column(ITEMS.c.name),
    "label": Column(ITEMS.c.label),
    "tag": JsonArray(ITEMS.c.tags),
    "prio": Column(ITEMS.c.prio),
    "weight": Column(ITEMS.c.weight),
    "owner": Column(ITEMS.c.owner),
}

ENTITIES: list[dict[str, Any]] = [
    {"name": "Pump north", "label": "Prod", "tags": ["pump-a", 5], "prio": 10, "weight": 2.5},
    {"name": "pumpkin", "label": "prod_1", "tags": ["x"], "prio": 3},
    {"name": "valve 50%", "label": "P%x", "tags": [], "weight": 10.0},
    {"name": "Ünïcode", "label": "über", "tags": [50], "prio": -6, "weight": 3.0},
    {"name": "empty"},
]


@pytest.fixture(scope="module")
def engine(database: sa.Engine) -> Iterator[sa.Engine]:
    METADATA.create_all(database)
    yield database
    METADATA.drop_all(database)


def kept(query: str, schema: Schema = SCHEMA) -> list[str]:
    """The names memory keeps, by the closures and by the generated code (which must agree)."""
    plan = to_plan(query, schema, now=NOW, user=ME)
    found = [sorted(e["name"] for e in compile_plan(plan, specialise=s).filter(ENTITIES)) for s in (False, True)]
    assert found[0] == found[1], query
    return found[0]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name:startsWith(pump)", ["Pump north", "pumpkin"]),
        ("name:startsWith(PUMP)", ["Pump north", "pumpkin"]),  # ignoring case, on both sides
        ("name:STARTSWITH(pump)", ["Pump north", "pumpkin"]),  # a name in any letter case
        ("name:startsWith(ü)", ["Ünïcode"]),  # str.lower: Ü is ü
        ("label:startsWith(p%)", ["valve 50%"]),  # % is a character, not a pattern
        ("label:startsWith(prod_)", ["pumpkin"]),  # and so is _
        ("label:startsWith(prod)", ["Pump north", "pumpkin"]),
        ("tag:startsWith(5)", ["Pump north", "Ünïcode"]),  # numbers in a JSON array by their text
        ("-name:startsWith(p)", ["empty", "valve 50%", "Ünïcode"]),
        ("name:not(startsWith(p))", ["empty", "valve 50%", "Ünïcode"]),
        ("-tag:startsWith(pump)", ["empty", "pumpkin", "valve 50%", "Ünïcode"]),  # no tags: kept
        ("tag:not(startsWith(pump))", ["Pump north", "pumpkin", "Ünïcode"]),  # some tag does not
        ("prio:multipleOf(3)", ["pumpkin", "Ünïcode"]),  # -6 too
        ("prio:multipleOf(5)", ["Pump north"]),
        ("weight:multipleOf(5)", []),  # 10.0 is a float: only an integer is a multiple
        ("-prio:multipleOf(2)", ["empty", "pumpkin", "valve 50%"]),  # no prio: kept
        ("name:shorterThan(7)", ["empty"]),
        ("name:shorterThan(8)", ["empty", "pumpkin", "Ünïcode"]),  # code points: Ünïcode is 7
        ("label:shorterThan(4)", ["valve 50%"]),
        ("name:xor(pump, north)", ["pumpkin"]),  # nested matchers: the field's own (a fragment here)
        ("name:xor(startsWith(v), contains(%))", []),  # both hold for "valve 50%"
        ("name:xor(startsWith(v), contains(k))", ["pumpkin", "valve 50%"]),
        ("name:all(startsWith(pump), not(north))", ["pumpkin"]),
        ("tag:any(startsWith(pump), 50)", ["Pump north", "Ünïcode"]),
        ("name:startsWith(pump) OR prio:multipleOf(3)", ["Pump north", "pumpkin", "Ünïcode"]),
        ("NOT (name:startsWith(pump) prio:multipleOf(5))", ["empty", "pumpkin", "valve 50%", "Ünïcode"]),
        ("name:startsWith(pump),shorterThan(8)", ["pumpkin"]),
    ],
)
def test_own_functions_in_memory_and_on_every_database(engine: sa.Engine, query: str, expected: list[str]) -> None:
    assert kept(query) == expected
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            conn.execute(sa.insert(ITEMS), [{c.name: e.get(c.name) for c in ITEMS.c} for e in ENTITIES])
            for dialect in (None, conn.dialect):  # for every database, and for this one only
                where = compile_clause(query, SCHEMA, MAPPING, now=NOW, user=ME, dialect=dialect)
                found = sorted(conn.execute(sa.select(ITEMS.c.name).where(where)).scalars())
                assert found == expected, f"{conn.dialect.name}: {query} (dialect={dialect})"
        finally:
            transaction.rollback()


def test_an_own_function_binds_to_a_call_of_its_declaration() -> None:
    plan = to_plan("prio:multipleOf(4)", SCHEMA)
    assert plan.groups[0].alternatives == ((Call(MULTIPLE_OF, (4,), Kind.NUMBER),),)
    assert str(parse("name:startswith( pump )", functions=SCHEMA.function_table)) == "name:startsWith(pump)"


# -- errors: at the function's name or its argument, naming the schema's functions ------------------------


@pytest.mark.parametrize(
    ("query", "position", "words", "hint"),
    [
        ("prio:multipleOf(0)", 5, "multipleOf() takes a whole number from 1 to 1000000", ""),
        ("prio:multipleOf(2.5)", 5, "takes a whole number", ""),
        ("prio:multipleOf(x)", 16, "not a number: 'x'", "multipleOf() takes a JSON number"),
        ("prio:multipleOf(1,2)", 5, "multipleOf() takes one argument, not 2", ""),
        ("name:startsWith()", 5, "startsWith() takes one argument, not 0", ""),
        ("name:xor(a)", 5, "xor() takes 2 arguments, not 1", ""),
        ("name:startsWith(not(x))", 16, "the arguments of startsWith() are values, not functions", ""),
        ("prio:startsWith(p)", 5, "'prio' is a NUMBER field and takes no startsWith()", "for TEXT and EXACT fields"),
        ("name:multipleOf(3)", 5, "'name' is a TEXT field and takes no multipleOf()", "for NUMBER fields"),
    ],
)
def test_wrong_uses_are_errors_at_their_place(query: str, position: int, words: str, hint: str) -> None:
    with pytest.raises(MatcherError) as caught:
        to_plan(query, SCHEMA)
    assert caught.value.position == position
    assert words in caught.value.message
    assert hint in (caught.value.hint or "")


def test_an_unknown_function_suggests_and_lists_the_schema_s_own() -> None:
    with pytest.raises(UnknownFunctionError) as caught:
        to_plan("name:startWith(p)", SCHEMA)
    error = caught.value
    assert error.position == 5
    assert "did you mean startsWith?" in (error.hint or "")
    assert all(name in (error.hint or "") for name in (*FUNCTION_NAMES, "startsWith", "multipleOf", "xor"))
    assert error.render().splitlines()[2] == "  " + " " * 5 + "^"


def test_two_schemas_may_differ_in_their_functions() -> None:
    assert kept("name:startsWith(pump)") == ["Pump north", "pumpkin"]
    with pytest.raises(UnknownFunctionError) as caught:
        to_plan("name:startsWith(pump)", PLAIN)  # the same text, parsed again under the other table
    assert "startsWith" not in (caught.value.hint or "")
    with pytest.raises(UnknownFunctionError):
        parse("name:startsWith(pump)")  # parse alone knows the built-ins
    grown = PLAIN.with_functions(STARTS_WITH)
    assert grown.functions == (STARTS_WITH,) and PLAIN.functions == ()
    assert kept("name:startsWith(pump)", grown) == ["Pump north", "pumpkin"]
    assert to_plan("name:startsWith(pump)", WAYLAY.with_functions(STARTS_WITH)).groups  # any schema


def test_a_filter_built_in_code_is_checked_against_the_schema_s_functions() -> None:
    from qfilter import Filter, Term, bind

    built = Filter((Term("name", (Function("startsWith", (Value("pump"),)),)),))
    assert bind(built, SCHEMA).groups[0].alternatives[0][0] == Call(STARTS_WITH, ("pump",), Kind.TEXT)
    with pytest.raises(UnknownFunctionError):
        bind(built, PLAIN)


@pytest.mark.parametrize(
    ("declare", "words"),
    [
        (lambda: FunctionMatcher("starts_with", {Kind.TEXT}, memory=bool), "letters only"),
        (lambda: FunctionMatcher("", {Kind.TEXT}, memory=bool), "letters only"),
        (lambda: FunctionMatcher("f", set(), memory=bool), "one or more Kind members"),
        (lambda: FunctionMatcher("f", {"text"}, memory=bool), "one or more Kind members"),  # type: ignore[arg-type]
        (lambda: FunctionMatcher("f", {Kind.TEXT}, ("text",), memory=bool), "Argument member"),  # type: ignore[arg-type]
        (lambda: FunctionMatcher("f", {Kind.TEXT}, (Argument.TEXT,)), "memory"),
        (lambda: FunctionMatcher("f", {Kind.TEXT}, (), repeats=True, memory=bool), "repeats"),
        (lambda: FunctionMatcher("f", {Kind.TEXT}, (Argument.TEXT,), optional=2, memory=bool), "optional"),
        (lambda: FunctionMatcher("f", {Kind.TEXT}, memory=bool, sql="x"), "sql is a function"),  # type: ignore[arg-type]
        (lambda: Schema("s", FIELDS, functions=(FunctionMatcher("LIKE", {Kind.TEXT}, memory=bool),)), "named LIKE"),
        (lambda: Schema("s", FIELDS, functions=(STARTS_WITH, STARTS_WITH)), "startsWith"),
        (lambda: Schema("s", FIELDS, functions=("startsWith",)), "FunctionMatcher"),  # type: ignore[arg-type]
    ],
)
def test_a_bad_declaration_is_refused_when_made(declare: Any, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        declare()


def test_optional_and_repeated_arguments() -> None:
    near = FunctionMatcher(
        "near", {Kind.NUMBER}, (Argument.NUMBER, Argument.NUMBER), optional=1, memory=lambda v, x, d=1: abs(v - x) <= d
    )
    every = FunctionMatcher("oneOf", {Kind.NUMBER}, (Argument.NUMBER,), repeats=True, memory=lambda v, *n: v in n)
    schema = Schema("s", (Field("prio", Kind.NUMBER, "prio"),), functions=(near, every))
    assert (near.min_arguments, near.max_arguments, near.arity()) == (1, 2, "1 to 2 arguments")
    assert (every.min_arguments, every.max_arguments) == (1, None)
    entities = [{"prio": 1}, {"prio": 4}, {"prio": 10}]
    assert [e["prio"] for e in compile_predicate("prio:near(3)", schema).filter(entities)] == [4]
    assert [e["prio"] for e in compile_predicate("prio:near(3,2)", schema).filter(entities)] == [1, 4]
    assert [e["prio"] for e in compile_predicate("prio:oneOf(1,10,11)", schema).filter(entities)] == [1, 10]
    with pytest.raises(MatcherError, match="takes 1 to 2 arguments, not 3"):
        to_plan("prio:near(1,2,3)", schema)


def test_arguments_read_as_declared() -> None:
    seen: list[tuple[object, ...]] = []

    def record(value: object, *arguments: object) -> bool:
        seen.append(arguments)
        return True

    every = (Argument.TEXT, Argument.GLOB, Argument.NUMBER, Argument.TIME, Argument.VALUE, Argument.BOUND)
    probe = FunctionMatcher("probe", {Kind.USER, Kind.NUMBER}, every, memory=record)
    schema = Schema("s", (Field("owner", Kind.USER, "owner"), Field("prio", Kind.NUMBER, "prio")), functions=(probe,))
    compile_predicate("owner:probe(@me, @me*, 2.50, 2020-04, @me, 7)", schema, user=ME, now=NOW).filter(
        [{"owner": "x"}]
    )
    text, glob, number, time, value, bound = seen[-1]
    assert (text, glob, value) == (ME, "@me*", ME)  # the current user, except in a glob
    assert str(number) == "2.50" and bound == 7
    assert str(time) == "2020-04-01 00:00:00+00:00"  # a reduced precision: its first instant
    compile_predicate("prio:probe(a, b, 1, now, 5, 2e3)", schema, now=NOW).filter([{"prio": 1}])
    assert seen[-1][4] == 5 and seen[-1][5] == 2000  # a NUMBER field's value and bound are numbers
    with pytest.raises(FilterError, match="@me needs a current user"):
        compile_predicate("owner:probe(@me, x, 1, now, a, 1)", schema)


def test_a_value_the_kind_cannot_read_satisfies_no_function() -> None:
    called: list[object] = []

    def record(value: object) -> bool:
        called.append(value)
        return True

    probe = FunctionMatcher("anyNumber", {Kind.NUMBER}, memory=record)
    schema = Schema("s", (Field("prio", Kind.NUMBER, "prio"),), functions=(probe,))
    entities = [{"prio": "5"}, {"prio": True}, {"prio": None}, {"prio": 5}, {"prio": [1.5, "x"]}]
    assert compile_predicate("prio:anyNumber()", schema).filter(entities) == [{"prio": 5}, {"prio": [1.5, "x"]}]
    assert called == [5, 1.5]


# -- the backends that lack its meaning say so --------------------------------------------------------------


def test_sql_without_the_function_s_sql_is_a_value_error_naming_it() -> None:
    memory_only = FunctionMatcher("endsWith", {Kind.TEXT}, (Argument.TEXT,), memory=lambda v, s: v.endswith(s))
    schema = PLAIN.with_functions(memory_only)
    assert compile_predicate("name:endsWith(n)", schema).filter(ENTITIES) == [ENTITIES[1]]
    with pytest.raises(ValueError, match=r"endsWith\(\) has no meaning in SQL"):
        compile_clause("name:endsWith(n)", schema, MAPPING)
    sqlite_only = FunctionMatcher(
        "endsWith",
        {Kind.TEXT},
        (Argument.TEXT,),
        memory=lambda v, s: v.endswith(s),
        sql={"sqlite": lambda v, s: v.text().endswith(s)},
    )
    schema = PLAIN.with_functions(sqlite_only)
    with pytest.raises(ValueError, match=r"endsWith\(\) has no meaning for postgresql, mysql, mariadb"):
        compile_clause("name:endsWith(n)", schema, MAPPING)
    compile_clause("name:endsWith(n)", schema, MAPPING, dialect="sqlite")  # built for SQLite alone: fine


# -- explain, strategies, OpenAPI ----------------------------------------------------------------------------


def test_explain_says_an_own_function_in_its_words() -> None:
    plan = to_plan("name:startsWith(pump) -prio:multipleOf(3) tag:not(shorterThan(2))", SCHEMA)
    assert describe(plan) == (
        "selected entities must have name starting with 'pump', ignoring case, and not have prio a multiple of 3, "
        "and have tag not shorter than 2 characters"
    )
    assert "name:startsWith(pump)" in logic_tree(plan)
    plain = FunctionMatcher("odd", {Kind.NUMBER}, memory=lambda v: v % 2 == 1)  # no words: its call
    assert (
        describe(to_plan("prio:odd()", PLAIN.with_functions(plain)))
        == "selected entities must have prio satisfying odd()"
    )
    nested = describe(to_plan("name:xor(startsWith(a), b)", SCHEMA))
    assert nested.endswith("have name matching exactly one of starting with 'a', ignoring case and containing 'b'")


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(filters(SCHEMA, with_me=True, boolean=True))
def test_the_strategies_draw_filters_with_own_functions_that_bind_and_run(parsed: Any) -> None:
    plan = to_plan(parsed, SCHEMA, now=NOW, user=ME)
    assert parse(str(parsed), functions=SCHEMA.function_table) == parsed
    compile_plan(plan).filter(ENTITIES)


@pytest.mark.parametrize("function", [STARTS_WITH, MULTIPLE_OF, SHORTER_THAN, XOR])
def test_the_strategies_draw_each_own_function(function: FunctionMatcher) -> None:
    kind = next(kind for kind in Kind if kind in function.kinds)
    schema = Schema("one", (Field("x", kind, "x"),), functions=(function,))

    def uses(parsed: Any) -> bool:
        return any(isinstance(m, Function) and m.name == function.name for t in parsed.terms for m in t.matchers)

    first = settings(max_examples=2000, database=None, phases=[Phase.generate])  # the first found, not shrunk
    found = find(filters(schema), uses, settings=first)
    to_plan(found, schema, user=ME)  # drawn with arguments its check takes
    drawn = find(functions(kind, table=schema.function_table), lambda f: f.name == function.name, settings=first)
    assert drawn.name == function.name


def test_the_built_ins_are_declared_the_same_way_and_their_table_stands() -> None:
    assert all(isinstance(function, FunctionMatcher) and function.builtin for function in BUILTINS)
    assert not any(function.builtin for function in (STARTS_WITH, MULTIPLE_OF, SHORTER_THAN, XOR))
    assert tuple(FUNCTIONS) == tuple(name.lower() for name in FUNCTION_NAMES)
    assert SCHEMA.function_table.names == (*FUNCTION_NAMES, "startsWith", "multipleOf", "shorterThan", "xor")


def test_the_openapi_description_of_q_names_an_own_function_and_shows_its_example() -> None:
    description = q_description(SCHEMA, "X-User-Id")
    assert "`startsWith()` (the value starts with x, ignoring case)" in description
    assert "`shorterThan()`" in description
    assert "`startsWith()`" not in q_description(PLAIN, "X-User-Id")
    examples_of = q_examples(SCHEMA)
    assert (
        examples_of["startsWith()"] == "name:startsWith(pump)" and examples_of["multipleOf()"] == "prio:multipleOf(5)"
    )
    for example in examples_of.values():
        compile_predicate(example, SCHEMA, user=ME)  # every example is a valid filter
    assert "startsWith()" in q_examples(WAYLAY.with_functions(STARTS_WITH))


# -- through the FastAPI dependency, on PostgreSQL ---------------------------------------------------------------


def _app(engine: sa.Engine) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    items = QFilter(SCHEMA, sql_mapping=MAPPING, dialect=engine.dialect)

    @app.get("/items")
    def list_items(listing: RequestListing = Depends(items.listing)) -> dict[str, Any]:  # noqa: B008  (FastAPI's form)
        with engine.connect() as conn:
            statement = sa.select(ITEMS.c.name).where(listing.where).order_by(*listing.order_by(ITEMS.c.name))
            names = conn.execute(statement.offset(listing.offset).limit(listing.limit)).scalars().all()
        return listing.page(names, total=len(names), items_key="items")

    return app


@pytest.fixture(scope="module")
def on_postgresql(postgres_url: str) -> Iterator[TestClient]:
    engine = sa.create_engine(postgres_url)
    METADATA.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(ITEMS), [{c.name: e.get(c.name) for c in ITEMS.c} for e in ENTITIES])
    try:
        with TestClient(_app(engine)) as client:
            yield client
    finally:
        METADATA.drop_all(engine)
        engine.dispose()


def test_own_functions_through_the_fastapi_dependency_on_postgresql(on_postgresql: TestClient) -> None:
    def listed(q: str) -> list[str]:
        answer = on_postgresql.get("/items", params={"q": q})
        assert answer.status_code == 200, answer.text
        return list(answer.json()["items"])

    assert listed("name:startsWith(PUMP)") == ["Pump north", "pumpkin"]
    assert listed("label:startsWith(prod_)") == ["pumpkin"]
    assert listed("-prio:multipleOf(2) name:shorterThan(8)") == ["empty", "pumpkin"]
    refused = on_postgresql.get("/items", params={"q": "prio:multipleOf(0)"})
    assert refused.status_code == 400
    assert refused.json()["position"] == len("prio:") and "whole number" in refused.json()["message"]
    unknown = on_postgresql.get("/items", params={"q": "name:startWith(p)"}).json()
    assert "did you mean startsWith?" in unknown["hint"]
    parameters = on_postgresql.get("/openapi.json").json()["paths"]["/items"]["get"]["parameters"]
    q = next(p for p in parameters if p["name"] == "q")
    assert "`startsWith()` (the value starts with x, ignoring case)" in q["description"]
