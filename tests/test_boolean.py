"""Spec section 12: AND, OR, NOT and parentheses.

Every example of the section is here with the spec's answer, checked in
memory (closures, and the generated code where the plan has its shape) and
in SQL on SQLite, PostgreSQL and MariaDB, on an association table (the
reference Waylay tables) and on a JSON array column; then the section's
rules one by one (keywords, canonical text, limits), and Hypothesis
properties: a filter without keywords or parentheses parses to the AST it
always had, and every boolean filter round-trips through its canonical text
and any of its spellings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from support import NOW, examples

from qfilter import WAYLAY, Field, FilterLimitError, FilterSyntaxError, Kind, Limits, Schema, Term, Value, parse
from qfilter.core import parser
from qfilter.core.ast import And, Filter, Not, Or, Sequence
from qfilter.core.explain import describe, logic_tree
from qfilter.core.plan import to_plan
from qfilter.integrations.strategies import filter_texts, filters, spellings
from qfilter.memory import compile_plan
from qfilter.service.tables import METADATA, WAYLAY_SQL, WAYLAY_TABLE, insert_waylay_queries
from qfilter.sql import Column as SqlColumn
from qfilter.sql import JsonArray, SqlMapping, compile_clause, exact_string

ITEMS_METADATA = sa.MetaData()
ITEMS = sa.Table(
    "qfilter_test_boolean_items",
    ITEMS_METADATA,
    sa.Column("name", exact_string(), primary_key=True),
    sa.Column("resource", sa.String(255)),
    sa.Column("tags", sa.JSON()),
)
ITEMS_SCHEMA = Schema(
    "boolean-items",
    (
        Field("name", Kind.TEXT, "name"),
        Field("resource", Kind.EXACT, "resource"),
        Field("tag", Kind.EXACT, "tags", many=True),
    ),
)
ITEMS_MAPPING: SqlMapping = {
    "name": SqlColumn(ITEMS.c.name),
    "resource": SqlColumn(ITEMS.c.resource),
    "tag": JsonArray(ITEMS.c.tags),
}

# name -> (tags, resource)
ROWS: dict[str, tuple[list[str], str | None]] = {
    "a": (["a"], None),
    "b": (["b"], None),
    "ab": (["a", "b"], None),
    "ac": (["a", "c"], None),
    "c": (["c"], None),
    "orbit": ([], None),
    "box": (["b"], None),
    "res-y": (["a"], "y"),
}
EVERY = sorted(ROWS)


def flat_entities() -> list[dict[str, Any]]:
    return [{"name": name, "tags": tags, "resource": resource} for name, (tags, resource) in ROWS.items()]


def waylay_entities() -> list[dict[str, Any]]:
    return [
        {"name": name, "meta": {"tags": tags, **({"resource": resource} if resource else {})}}
        for name, (tags, resource) in ROWS.items()
    ]


@pytest.fixture(scope="module")
def engine(database: sa.Engine) -> sa.Engine:
    """Each database in turn (the conftest's ``database``), with the reference tables and this module's table."""
    with database.begin() as conn:
        METADATA.create_all(conn)
        ITEMS_METADATA.create_all(conn)
    return database


@pytest.fixture
def conn(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection holding :data:`ROWS` in both shapes, in a transaction rolled back afterwards."""
    with engine.connect() as connection:
        transaction = connection.begin()
        connection.execute(sa.insert(ITEMS), flat_entities())
        insert_waylay_queries(connection, waylay_entities())
        yield connection
        transaction.rollback()


def in_memory(query: str | Filter, schema: Schema, entities: list[dict[str, Any]]) -> list[str]:
    """The names memory keeps, the same with and without generated code."""
    plan = to_plan(query, schema, now=NOW)
    found = [sorted(e["name"] for e in compile_plan(plan, specialise=s).filter(entities)) for s in (False, True)]
    assert found[0] == found[1], "closures and generated code disagree"
    return found[0]


def in_sql(conn: sa.Connection, query: str | Filter, schema: Schema, mapping: SqlMapping, table: sa.Table) -> list[str]:
    clause = compile_clause(query, schema, mapping, now=NOW)
    return sorted(conn.execute(sa.select(table.c.name).where(clause)).scalars())


def check(conn: sa.Connection, query: str | Filter, expected: list[str], schema_default: str | None = None) -> None:
    """Memory and the database keep exactly ``expected``, on the JSON array and on the association table."""
    items = dataclasses.replace(ITEMS_SCHEMA, default_qualifier=schema_default)
    waylay = dataclasses.replace(WAYLAY, default_qualifier=schema_default)
    assert in_memory(query, items, flat_entities()) == sorted(expected), "memory, flat"
    assert in_memory(query, waylay, waylay_entities()) == sorted(expected), "memory, waylay"
    assert in_sql(conn, query, items, ITEMS_MAPPING, ITEMS) == sorted(expected), f"{conn.dialect.name}, JSON"
    assert in_sql(conn, query, waylay, WAYLAY_SQL, WAYLAY_TABLE) == sorted(expected), f"{conn.dialect.name}, table"


def but(*names: str) -> list[str]:
    return [name for name in EVERY if name not in names]


# -- the section's examples --------------------------------------------------------------------------------

SPEC_EXAMPLES = [
    # side-by-side terms keep the seed's meaning: either tag
    ("tag:a tag:b", ["a", "b", "ab", "ac", "box", "res-y"]),
    # (tag a OR tag b) AND (name x OR resource y)
    ("tag:a tag:b (name:x OR resource:y)", ["box", "res-y"]),
    # tag a AND NOT tag c
    ("tag:a NOT tag:c", ["a", "ab", "res-y"]),
    # NOT tag:a equals -tag:a
    ("NOT tag:a", but("a", "ab", "ac", "res-y")),
    ("-tag:a", but("a", "ab", "ac", "res-y")),
    # A AND B: both; A OR B: either
    ("tag:a AND tag:b", ["ab"]),
    ("tag:a OR tag:c", ["a", "ab", "ac", "c", "res-y"]),
    # AND binds tighter than OR: b OR (a AND c)
    ("tag:b OR tag:a AND tag:c", ["b", "ab", "box", "ac"]),
    ("tag:a AND tag:c OR tag:b", ["b", "ab", "box", "ac"]),
    # NOT binds tighter than AND: (NOT a) AND b
    ("NOT tag:a AND tag:b", ["b", "box"]),
    ("NOT (tag:a AND tag:b)", but("ab")),
    ("NOT (tag:a OR tag:b)", ["c", "orbit"]),
    ("-tag:a -tag:b", ["c", "orbit"]),
    # every parenthesised or NOT item of a sequence is one more conjunct
    ("tag:a (tag:b)", ["ab"]),
    ("(tag:a OR tag:b) -tag:c", ["a", "b", "ab", "box", "res-y"]),
    ("tag:b NOT tag:a tag:c", ["b", "box", "c"]),
    ("NOT NOT tag:a", ["a", "ab", "ac", "res-y"]),
    ("name:x OR resource:y OR tag:c", ["box", "res-y", "ac", "c"]),
    ("((tag:a))", ["a", "ab", "ac", "res-y"]),
    ("NOT(tag:a OR tag:c) OR name:box", ["b", "box", "orbit"]),
]


@pytest.mark.parametrize(("query", "expected"), SPEC_EXAMPLES)
def test_spec_examples(conn: sa.Connection, query: str, expected: list[str]) -> None:
    check(conn, query, expected)


DEFAULT_EXAMPLES = [
    # under a default qualifier, AND, OR and NOT are keywords...
    ("x OR tag:c", ["box", "ac", "c"]),
    ("NOT x", but("box")),
    ("bo AND x", ["box"]),
    # ...and the quoted word is a word: "or" in the name, ignoring case
    ('"OR"', ["orbit"]),
    ("'AND' OR 'NOT'", []),
    # lower case is never a keyword
    ("or", ["orbit"]),
]


@pytest.mark.parametrize(("query", "expected"), DEFAULT_EXAMPLES)
def test_keywords_under_a_default_qualifier(conn: sa.Connection, query: str, expected: list[str]) -> None:
    check(conn, query, expected, schema_default="name")


@pytest.mark.parametrize("query", ["OR", "x OR", "AND x", "x AND OR y", "(OR)", "NOT", "x NOT", "NOT)"])
def test_a_keyword_where_a_term_belongs_is_an_error_even_with_a_default_qualifier(query: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse(query, default_qualifier="name")
    assert caught.value.position is not None
    assert "OR" in caught.value.message or "AND" in caught.value.message or "NOT" in caught.value.message


def test_a_keyword_is_a_whole_upper_case_word_outside_quotes() -> None:
    assert parse("tag:OR tag:AND,NOT") == Filter(
        (Term("tag", (Value("OR"),)), Term("tag", (Value("AND"), Value("NOT"))))
    )
    assert parse("a and b", default_qualifier="name").terms == tuple(
        Term("name", (Value(word),)) for word in ("a", "and", "b")
    )
    assert parse("ORDER NOTE ANDROID", default_qualifier="name").expression is None
    assert parse("-OR", default_qualifier="name") == Filter((Term("name", (Value("OR"),), excluded=True),))
    assert parse('"OR"', default_qualifier="name") == Filter((Term("name", (Value("OR"),)),))
    quoted = parse("tag:'a OR b' name:\"(x)\"")
    assert quoted == Filter((Term("tag", (Value("a OR b"),)), Term("name", (Value("(x)"),))))


def test_or_of_one_association_field_is_the_plan_and_the_sql_of_side_by_side_terms() -> None:
    # An OR of values of one field must not become one subquery per value and row (issue 13).
    assert to_plan("tag:a OR tag:b", WAYLAY) == to_plan("tag:a tag:b", WAYLAY)
    assert to_plan("NOT tag:a", WAYLAY) == to_plan("-tag:a", WAYLAY)
    assert to_plan("-tag:a AND -tag:b", WAYLAY) == to_plan("-tag:a -tag:b", WAYLAY)
    for url in ("sqlite://", "postgresql+psycopg://"):
        dialect = sa.create_engine(url).dialect
        one = compile_clause("tag:a OR tag:b", WAYLAY, WAYLAY_SQL).compile(dialect=dialect)
        other = compile_clause("tag:a tag:b", WAYLAY, WAYLAY_SQL).compile(dialect=dialect)
        assert str(one) == str(other)


# -- the AST, canonical text and the round trip -------------------------------------------------------------

T = {name: Term("tag", (Value(name),)) for name in "abcd"}


@pytest.mark.parametrize(
    ("text", "expression", "canonical"),
    [
        ("tag:a OR tag:b", Or((Sequence((T["a"],)), Sequence((T["b"],)))), "tag:a OR tag:b"),
        ("tag:a  or_x:y", None, "tag:a or_x:y"),
        (
            "tag:a\tAND\n(tag:b OR tag:c)",
            And((Sequence((T["a"],)), Or((Sequence((T["b"],)), Sequence((T["c"],)))))),
            "tag:a AND (tag:b OR tag:c)",
        ),
        ("tag:a OR (tag:b OR tag:c)", Or(tuple(Sequence((T[n],)) for n in "abc")), "tag:a OR tag:b OR tag:c"),
        ("(tag:a AND tag:b) AND tag:c", And(tuple(Sequence((T[n],)) for n in "abc")), "tag:a AND tag:b AND tag:c"),
        (
            "(tag:a AND tag:b) OR tag:c",
            Or((And((Sequence((T["a"],)), Sequence((T["b"],)))), Sequence((T["c"],)))),
            "tag:a AND tag:b OR tag:c",
        ),
        ("tag:a (tag:b)", Sequence((T["a"], Sequence((T["b"],)))), "tag:a (tag:b)"),
        ("tag:a ( tag:b tag:c )", Sequence((T["a"], Sequence((T["b"], T["c"])))), "tag:a (tag:b tag:c)"),
        ("NOT (tag:a)", Not(T["a"]), "NOT tag:a"),
        ("NOT(tag:a tag:b)", Not(Sequence((T["a"], T["b"]))), "NOT (tag:a tag:b)"),
        ("NOT NOT tag:a", Not(Not(T["a"])), "NOT NOT tag:a"),
        ("tag:a NOT tag:b", Sequence((T["a"], Not(T["b"]))), "tag:a NOT tag:b"),
        ("(tag:a tag:b)", None, "tag:a tag:b"),
        ("((tag:a))", None, "tag:a"),
    ],
)
def test_the_ast_and_the_canonical_text(text: str, expression: Any, canonical: str) -> None:
    parsed = parse(text)
    assert parsed.expression == expression
    assert str(parsed) == canonical
    assert parse(canonical) == parsed
    assert parsed.terms == tuple(term for term in T.values() if f"tag:{term.matchers[0]}" in text) or expression is None


def test_the_canonical_text_keeps_only_the_parentheses_the_meaning_needs() -> None:
    assert str(parse("((tag:a OR tag:b)) AND ((NOT (tag:c)))")) == "(tag:a OR tag:b) AND NOT tag:c"
    assert str(parse("(tag:a tag:b) (tag:c)")) == "(tag:a tag:b) (tag:c)"


@settings(max_examples=examples(400))
@given(filters(WAYLAY, with_me=True, boolean=True).flatmap(lambda f: st.tuples(st.just(f), spellings(f))))
def test_every_boolean_filter_round_trips_through_its_canonical_text_and_any_spelling(case: Any) -> None:
    parsed, text = case
    assert parse(str(parsed)) == parsed
    assert parse(text) == parsed
    assert parse(text, cache=False) == parser._parse_text(text, None, parser.DEFAULT_LIMITS, fast_path=False)


@settings(max_examples=examples(400))
@given(filters(WAYLAY, with_me=True).flatmap(lambda f: st.tuples(st.just(f), spellings(f))))
def test_a_filter_without_keywords_or_parentheses_parses_to_the_ast_it_always_had(case: Any) -> None:
    # The AST of sections 1 to 8 is Filter(terms): the terms as written, in order, no expression.
    built, text = case
    for fast_path in (True, False):
        parsed = parser._parse_text(text, None, parser.DEFAULT_LIMITS, fast_path=fast_path)
        assert type(parsed) is Filter and parsed.expression is None
        assert parsed == Filter(built.terms)
        assert [term.position for term in parsed.terms] == [
            text.index(str(term)[:1], term.position) for term in parsed.terms
        ]


@settings(max_examples=examples(200))
@given(st.lists(st.from_regex(r"[a-zA-Z0-9_]{1,8}", fullmatch=True), min_size=1, max_size=6))
def test_bare_words_that_are_not_keywords_keep_their_meaning_under_a_default_qualifier(words: list[str]) -> None:
    parsed = parse(" ".join(words), default_qualifier="name")
    if any(word in ("AND", "OR", "NOT") for word in words):
        return
    assert parsed == Filter(tuple(Term("name", (Value(word),)) for word in words))


def test_plans_and_explain_show_the_structure() -> None:
    plan = to_plan("tag:a tag:b (name:x OR resource:y) NOT tag:c", WAYLAY)
    tree = logic_tree(plan)
    assert tree.splitlines()[0] == "AND"
    assert "  OR\n    OR [name]" in tree and "NOT OR [tag]" in tree
    assert describe(plan) == (
        "selected entities must (have tag a or have tag b), and (have a name containing 'x', or have resource y), "
        "and not have tag c"
    )
    nested = to_plan("NOT (tag:a AND name:x) OR tag:b", WAYLAY)
    assert logic_tree(nested).splitlines()[:3] == ["OR", "  NOT", "    AND"]
    assert describe(nested).startswith("selected entities must not (have tag a, and have a name containing 'x'), or")


# -- limits -----------------------------------------------------------------------------------------------


def nested(levels: int, inner: str = "tag:a OR tag:b") -> str:
    return "(" * levels + inner + ")" * levels


def test_empty_parentheses_are_a_syntax_error() -> None:
    for text, position in [("()", 0), ("tag:a ( )", 6), ("(())", 1)]:
        with pytest.raises(FilterSyntaxError) as caught:
            parse(text)
        assert caught.value.position == position


def test_sixteen_levels_and_sixty_four_operators_parse_compile_and_run(conn: sa.Connection) -> None:
    deep = parse(nested(15, "NOT tag:a OR tag:b"))  # 15 parentheses and a NOT: 16 levels
    assert parse(nested(16)).expression is not None
    # 64 operators need 65 terms: they count together, so the term limit must allow 129.
    wide = Limits(max_terms=129)
    chain = " OR (".join(f"tag:l{i}" for i in range(16)) + " OR " + " AND ".join(f"-tag:x{i}" for i in range(49))
    both = parse(chain + ")" * 15, limits=wide)
    assert parser._operators(both.expression) == 64  # type: ignore[arg-type]
    for query, expected in [(deep, but("a", "ab", "ac", "res-y") + ["ab"]), (both, EVERY)]:
        check(conn, query, sorted(set(expected)))
    with pytest.raises(FilterLimitError, match="more terms and operators than the limit of 64"):
        parse(chain + ")" * 15)


@pytest.mark.parametrize(
    ("text", "position"),
    [
        (nested(17), 16),
        ("NOT " * 17 + "tag:a", 64),
        ("NOT (" * 8 + "NOT tag:a" + ")" * 8, 40),
        ("tag:" + "not(" * 17 + "a" + ")" * 17, 4 + 16 * 4 + 3),  # the 17th function's parenthesis
        (nested(1000), 16),
        ("NOT " * 1000 + "tag:a", 64 * 4),  # the 65th NOT: over the term limit first
    ],
)
def test_deeper_nesting_is_a_limit_error_raised_before_lark_parses(
    text: str, position: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(text: str) -> Filter:
        raise AssertionError("Lark should not see a filter over the limits")

    monkeypatch.setattr(parser.reading, "_lark_filter", never)
    with pytest.raises(FilterLimitError) as caught:
        parse(text, cache=False)
    assert caught.value.position == position


def test_the_depth_limit_is_configurable_and_never_off() -> None:
    assert parse(nested(20), limits=Limits(max_depth=20)).expression is not None
    with pytest.raises(FilterLimitError):
        parse(nested(3), limits=Limits(max_depth=2))
    with pytest.raises(FilterLimitError):  # None: the safe ceiling, not unbounded recursion
        parse(nested(parser.MAX_SAFE_DEPTH + 1), limits=Limits(max_depth=None))
    assert parse(nested(parser.MAX_SAFE_DEPTH), limits=Limits(max_depth=None)).expression is not None


def test_the_safe_ceiling_really_is_safe_in_every_stage(conn: sa.Connection) -> None:
    text = nested(parser.MAX_SAFE_DEPTH // 2, "NOT (tag:a OR name:x)")
    parsed = parse(text, limits=Limits(max_depth=None))
    plan = to_plan(parsed, WAYLAY)
    assert parse(str(parsed), limits=Limits(max_depth=None)) == parsed
    logic_tree(plan), describe(plan)
    check(conn, parsed, ["b", "c", "orbit"])


@pytest.mark.parametrize(
    "text",
    [
        " ".join(["tag:a"] * 65),
        " OR ".join(["tag:a"] * 33),
        "(" + " ".join(["tag:a"] * 40) + ") AND (" + " ".join(["tag:b"] * 30) + ")",
        "tag:" + ",".join(["a"] * 33),
        "(tag:in(a, b)," + ",".join(["a"] * 33) + ")",
    ],
)
def test_terms_operators_and_matchers_over_the_limits_are_refused_before_lark_parses(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(text: str) -> Filter:
        raise AssertionError("Lark should not see a filter over the limits")

    monkeypatch.setattr(parser.reading, "_lark_filter", never)
    with pytest.raises(FilterLimitError):
        parse(text, cache=False)


@settings(max_examples=examples(300))
@given(filter_texts(WAYLAY, with_me=True, boolean=True), st.sampled_from([Limits(), Limits(40, 3, 1, 2)]))
def test_the_pre_scan_counts_what_the_parsed_filter_holds(text: str, limits: Limits) -> None:
    # It must never refuse a valid filter within the limits, and refuse the ones over them as the parser would.
    parsed = parser._parse_text(text, None, Limits(None, None, None, None))
    try:
        parser._prescan(text, limits)
    except FilterLimitError as early:
        if "nest" in early.message:
            return  # depth is the pre-scan's alone
        with pytest.raises(FilterLimitError) as late:  # over a limit indeed (which one first may differ)
            parser._checked(parsed, text, None, limits)
        same_limit = late.value.message == early.message
        if same_limit and ("matchers" in early.message or parsed.expression is None):
            assert late.value.position == early.position
    else:
        parser._checked(parsed, text, None, limits)
