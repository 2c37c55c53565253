"""The parser's fast path is Lark's LALR parser, only faster.

``qfilter.core.parser`` first tries one regular expression per term and builds the
AST from its groups; whatever it does not fully accept goes to Lark, which is
the definition of the grammar and the source of every syntax error. These
properties hold the fast path to that promise: for any text, parsing with the
fast path and parsing with Lark alone give equal ASTs *including the source
positions* (which take no part in ``==``), or identical errors (type,
message, position, hint). And the fast path does accept every well-formed
filter of terms (qualified or bare) whose functions take values, or it would
not be fast.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support import examples

from qfilter import DEFAULT_LIMITS, WAYLAY, FilterError, Function, Limits
from qfilter.core import parser
from qfilter.integrations.strategies import filter_texts


def deep(node: Any) -> Any:
    """A node as nested tuples of its type and *all* its fields, positions included."""
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return (type(node).__name__, *(deep(getattr(node, f.name)) for f in dataclasses.fields(node)))
    if isinstance(node, tuple):
        return tuple(deep(item) for item in node)
    return node


def outcome(text: str, fast_path: bool, default_qualifier: str | None, limits: Limits) -> Any:
    try:
        return ("ok", deep(parser._parse_text(text, default_qualifier, limits, fast_path)))
    except FilterError as error:
        return ("error", type(error).__name__, error.message, error.position, error.hint, error.text, str(error))


LIMITS = [DEFAULT_LIMITS, Limits(max_length=40, max_terms=2, max_matchers=1), Limits(None, None, None)]


def assert_same(text: str, default_qualifier: str | None = None, limits: Limits = DEFAULT_LIMITS) -> None:
    assert outcome(text, True, default_qualifier, limits) == outcome(text, False, default_qualifier, limits)
    if text and not text.isspace():
        fast = parser._fast_terms(text)
        if fast is not None:  # where the fast path answers, Lark parses the text to the same terms
            assert deep(fast) == deep(parser._lark_terms(text))


# Fragments that sit on the edges of the grammar: quotes and escapes, function
# names, qualifier spellings, every kind of white space the lexer knows.
FRAGMENTS = [
    "tag:",
    "name:",
    "meta.k:",
    "meta.A-b.c_1:",
    "Tag:",
    "t_9:",
    "a.:",
    "x",
    "y z",
    "-",
    "--",
    ":",
    "::",
    ",",
    ",,",
    '"',
    "'",
    '\\"',
    "\\'",
    "\\\\",
    "\\",
    '""',
    "''",
    '"a b"',
    "'c,d'",
    "like(",
    "contains(",
    "like",
    "likes(",
    ")",
    "(",
    "(x)",
    "*",
    "?",
    ".",
    "/",
    "@me",
    "now-P1W/",
    "2020-04-22T12:34:00+00:00",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x85",
    "\xa0",
    "\u2028",
    "\u3000",
    "é",
    "Ω",
]
soups = st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join)
SPECIAL = st.sampled_from(list(" \t\n,:-\"'\\()*.") + ["like(", "contains(", "\xa0", "\u2028"])


# What spec section 12 adds: keywords and parentheses, also in the pieces a mutation inserts.
BOOLEAN_SPECIAL = st.one_of(SPECIAL, st.sampled_from([" AND ", " OR ", "NOT ", "NOT(", "(", ")", "OR", " (", ") "]))


@st.composite
def mutated(draw: st.DrawFn, boolean: bool = False) -> str:
    """A valid filter with a few characters inserted, deleted or replaced."""
    text = draw(filter_texts(WAYLAY, boolean=True, max_terms=4) if boolean else filter_texts(max_terms=4))
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(BOOLEAN_SPECIAL if boolean else SPECIAL)
        if action == "insert":
            text = text[:index] + piece + text[index:]
        elif action == "delete":
            text = text[:index] + text[index + 1 :]
        else:
            text = text[:index] + piece + text[index + 1 :]
    return text


def has_function(text: str) -> bool:
    """Whether a filter holds a function matcher: those (their arguments nest) are left to Lark."""
    return any(isinstance(m, Function) for term in parser.parse(text, cache=False).terms for m in term.matchers)


SETTINGS = settings(
    max_examples=examples(400), deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow]
)
options = st.tuples(st.sampled_from([None, "name"]), st.sampled_from(LIMITS))


@SETTINGS
@given(filter_texts(), options)
def test_the_fast_path_takes_every_well_formed_filter_and_agrees_with_lark(text: str, opts: Any) -> None:
    assert text.isspace() or not text or has_function(text) or parser._fast_terms(text) is not None
    assert_same(text, *opts)


@SETTINGS
@given(filter_texts(WAYLAY, with_me=True), options)
def test_schema_shaped_filters(text: str, opts: Any) -> None:
    assert text.isspace() or not text or has_function(text) or parser._fast_terms(text) is not None
    assert_same(text, *opts)


@SETTINGS
@given(mutated(), options)
@example("tag:a:b,-c name:like", (None, DEFAULT_LIMITS))
@example("meta.x:like(a(b),contains('c\\'d') -Tag:x", (None, DEFAULT_LIMITS))
def test_mutated_filters(text: str, opts: Any) -> None:
    assert_same(text, *opts)


@SETTINGS
@given(filter_texts(WAYLAY, with_me=True, boolean=True), options)
def test_boolean_filters_agree_with_lark(text: str, opts: Any) -> None:
    # The fast path takes the terms up to the first keyword or parenthesis, Lark the rest.
    assert_same(text, *opts)


@SETTINGS
@given(mutated(boolean=True), options)
@example("tag:a tag:b OR", (None, DEFAULT_LIMITS))
@example("tag:a -tag:b (tag:c OR name:in(x)) AND", ("name", DEFAULT_LIMITS))
def test_mutated_boolean_filters(text: str, opts: Any) -> None:
    assert_same(text, *opts)


# Runs of plain terms between keywords and parentheses: the skeleton Lark reads
# stands one term in for each run (not after NOT, which takes one item), and an
# error past them is worded from the original text.
RUN_TERMS = st.sampled_from(["tag:a", "-tag:b", 'name:"x y"', "tag:in(a,b)", "meta.k:c,d", "x"])
JOINS = st.sampled_from([" AND ", " OR ", " NOT ", " (", ") ", " ", " AND NOT ", " (NOT ", ")NOT "])
TAILS = st.sampled_from(["", ")", " tag:a,", " tag:", " tag:foo(a)", " tag:a(b)", " OR", " AND )", " ,", ' "x', " NOT"])


@st.composite
def runs_of_terms(draw: st.DrawFn) -> str:
    """Keywords and parentheses between runs of terms side by side, often broken at the end."""
    pieces = [draw(JOINS) if draw(st.booleans()) else ""]
    for _ in range(draw(st.integers(1, 4))):
        pieces.append(" ".join(draw(st.lists(RUN_TERMS, min_size=1, max_size=4))))
        pieces.append(draw(JOINS))
    pieces[-1] = draw(TAILS)
    return "".join(pieces)


@SETTINGS
@given(runs_of_terms(), options)
@example("NOT tag:a tag:b tag:c OR tag:d tag:e tag:a,", (None, DEFAULT_LIMITS))
@example("(tag:a tag:b) NOT tag:c tag:d (tag:e tag:x(y))", (None, DEFAULT_LIMITS))
def test_runs_of_terms_around_keywords(text: str, opts: Any) -> None:
    assert_same(text, *opts)


# Bare terms (a schema's default qualifier, or the error without one): the fast path reads them as
# Lark's lexer does, between qualified terms and keywords, on the edges of a qualifier and a keyword.
BARE_TERMS = st.one_of(
    st.sampled_from(["x", "-x", "--x", '"a b"', "-'a b'", "in(a),b", "a.:x", "ü:x", "9x:y", "-NOT", "-AND"]),
    st.sampled_from(["ANDx", "NOTx", "x,y", "Tag:x", "AND", "OR", "NOT", "-", "foo(a)", "x)", "(x", "like(a)"]),
    st.text(alphabet="ab:.-_\"' ,()ANDORTé", min_size=1, max_size=6),
)
SIDES = st.one_of(RUN_TERMS, BARE_TERMS, JOINS.map(str.strip))


@SETTINGS
@given(st.lists(SIDES, min_size=1, max_size=8).map(" ".join), options)
@example("tag:a word tag:b", (None, DEFAULT_LIMITS))
@example('-"x" tag:a', ("name", DEFAULT_LIMITS))
def test_bare_terms_agree_with_lark(text: str, opts: Any) -> None:
    assert_same(text, *opts)


@SETTINGS
@given(soups, options)
def test_fragment_soup(text: str, opts: Any) -> None:
    assert_same(text, *opts)


@SETTINGS
@given(st.text(max_size=40), options)
def test_arbitrary_text(text: str, opts: Any) -> None:
    assert_same(text, *opts)


@pytest.mark.parametrize(
    "text",
    [
        'name:demo tag:demo -tag:not-demo resource:151CF created:"2020-04-22T12:34:00+00:00/now-P1W"',
        '  meta.x:"like(a)","x y",c -a:b  ',
        "tag:a\n",
        "tag:a\xa0tag:b",
        "tag:a\u2028",
        "meta.A-b.C:x",
        "tag:'likes(x)'",
        "tag:'it\\'s'",
        'tag:"a\\nb"',
        'tag:"a\nb"',
        "tag:a\\",
        "tag:in(a,b)",  # functions whose arguments are values: the fast path's too
        "meta.k:like(a)",
        'meta.k:contains("a\\"b"),like(*x?)',
        "tag:in( a , 'b c' ),x -tag:exists( )",
        # Bare terms (no qualifier): what Lark's lexer reads where no qualifier and no keyword matches.
        "x",
        "-x",
        "tag:a tag",
        "a.:x",
        "tag.:x",
        "ü:x",
        "9x:y",
        "tag:x like(y)",
        '"a b"',
        "-'a b',c",
        "--x",
        "--tag:x",
        "-NOT",
        "-AND tag:a",
        "ANDx ORy NOTz",
        "in(a,b),c",
        "word tag:a " * 3,
    ],
)
def test_the_fast_path_takes_these(text: str) -> None:
    assert parser._fast_terms(text) is not None
    assert_same(text)


@pytest.mark.parametrize(
    "text",
    [
        "Tag:x",
        "-Tag:x",
        "AND",
        "OR x",
        "NOT",
        "x AND",
        "foo(a)",
        "-",
        "- x",
        "x,",
        "tag:",
        "tag:a,",
        "tag:a,,b",
        "tag:a, b",
        'tag:""',
        "tag:''",
        'tag:a"b"',
        "- tag:x",
        "tag:like(",
        "tag:like()",
        "tag:like(a)b",
        'tag:like("")',
        'tag:"open',
        "tag:contains(a b)",
        "tag:likes(x)",
        "tag:a(b)",
        "tag:a)",
        "tag:x,not(in(a))",
    ],
)
def test_the_fast_path_leaves_these_to_lark(text: str) -> None:
    assert parser._fast_terms(text) is None
    for limits in LIMITS:
        for default_qualifier in (None, "name"):
            assert_same(text, default_qualifier, limits)


# --- the pre-scan's shortcut -------------------------------------------------------------
#
# A text with parentheses skips the pre-scan's loop when bounds counted in C keep it
# within every limit; small limits put the bounds right at their edge.
SHORTCUT_LIMITS = [
    Limits(max_terms=1, max_matchers=None, max_depth=None),
    Limits(max_terms=2),
    Limits(max_terms=3, max_matchers=2, max_depth=2),
    Limits(max_terms=4, max_matchers=3),
    DEFAULT_LIMITS,
]
NESTING = st.sampled_from(["(", ")", "NOT(", "(NOT(", "tag:in(", "a,", "x", " ", "AND(", ":", "in(a)", "not(in(a))"])


@SETTINGS
@given(
    st.one_of(mutated(boolean=True), runs_of_terms(), st.lists(st.one_of(NESTING, SIDES), max_size=20).map("".join)),
    st.sampled_from(SHORTCUT_LIMITS),
)
@example('(NOT(name:"0" name:"0") tag:', Limits(max_terms=2))  # the limit, not the syntax error, is said
@example("NOT(NOT(NOT()NOT(tag:in(", Limits(max_terms=4, max_matchers=3))  # a NOT after ')' is a keyword
def test_the_pre_scan_s_shortcut_changes_no_outcome(text: str, limits: Limits) -> None:
    with_shortcut = outcome(text, True, None, limits)
    original = parser.limits._within_bounds
    try:
        parser.limits._within_bounds = lambda masked, limits: False  # always the full scan
        assert outcome(text, True, None, limits) == with_shortcut
    finally:
        parser.limits._within_bounds = original


# --- the cache of parse() --------------------------------------------------------------


@pytest.fixture
def fresh_cache() -> Any:
    parser.set_cache_size(parser.DEFAULT_CACHE_SIZE)
    yield
    parser.set_cache_size(parser.DEFAULT_CACHE_SIZE)


def test_the_same_text_gives_the_same_object_from_the_cache(fresh_cache: Any) -> None:
    first = parser.parse("tag:demo name:x")
    assert parser.parse("tag:demo name:x") is first
    assert parser.cache_info().hits == 1
    fresh = parser.parse("tag:demo name:x", cache=False)
    assert fresh == first and fresh is not first
    assert parser.cache_info().hits == 1 and parser.cache_info().misses == 1


def test_the_cache_key_holds_the_default_qualifier_and_the_limits(fresh_cache: Any) -> None:
    assert parser.parse("demo", default_qualifier="name").terms[0].qualifier == "name"
    assert parser.parse("demo", default_qualifier="tag").terms[0].qualifier == "tag"
    with pytest.raises(FilterError):
        parser.parse("demo")
    parser.parse("tag:a tag:b")
    with pytest.raises(FilterError, match="limit"):
        parser.parse("tag:a tag:b", limits=Limits(max_terms=1))


def test_errors_are_not_cached(fresh_cache: Any) -> None:
    for _ in range(2):
        with pytest.raises(FilterError):
            parser.parse("tag:")
    assert parser.cache_info().currsize == 0


def test_the_cache_is_bounded_and_can_be_resized_or_turned_off(fresh_cache: Any) -> None:
    parser.set_cache_size(2)
    for word in "abc":
        parser.parse(f"tag:{word}")
    assert parser.cache_info().currsize == 2
    parser.set_cache_size(0)
    assert parser.parse("tag:a") is not parser.parse("tag:a")
    assert parser.cache_info().currsize == 0
    parser.set_cache_size(8)
    parser.parse("tag:a")
    parser.clear_cache()
    assert parser.cache_info().currsize == 0
    with pytest.raises(ValueError):
        parser.set_cache_size(-1)


def test_parse_still_wants_a_str() -> None:
    with pytest.raises(TypeError):
        parser.parse(b"tag:a")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        parser.parse(["tag:a"])  # type: ignore[arg-type]


# A run of terms restored from the skeleton after a NOT or a parenthesised OR, with a
# nested function Lark must read: the restored sequence once held the NOT or the OR
# among its terms, and reading the filter's terms raised AttributeError.
@pytest.mark.parametrize(
    "text",
    ["NOT tag:a tag:b tag:not(all(x))", "(tag:a OR tag:b) tag:c tag:not(all(x))"],
)
def test_terms_restored_after_a_not_or_an_or_are_terms(text: str) -> None:
    for default_qualifier in (None, "name"):
        assert_same(text, default_qualifier)
    parsed = parser.parse(text, cache=False)
    assert [term.qualifier for term in parsed.terms] == ["tag"] * len(parsed.terms)
    assert str(parsed) == text
