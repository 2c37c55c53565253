"""The grammar (spec section 1): what parses to what, and the canonical text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import examples

from qfilter import (
    WAYLAY,
    Filter,
    FilterError,
    FilterLimitError,
    FilterSyntaxError,
    Function,
    Limits,
    Term,
    Value,
    compile_predicate,
    parse,
)
from qfilter.integrations.listing import error_body
from qfilter.integrations.strategies import filter_texts, filters, spellings


def term(qualifier: str, *values: str, excluded: bool = False) -> Term:
    return Term(qualifier, tuple(Value(v) for v in values), excluded)


def test_seed_search_filter() -> None:
    assert parse("name:demo tag:demo -tag:not-demo resource:151CF") == Filter(
        (
            term("name", "demo"),
            term("tag", "demo"),
            term("tag", "not-demo", excluded=True),
            term("resource", "151CF"),
        )
    )


def test_seed_general_aspects_example() -> None:
    parsed = parse("""created:"2020-04-22T12:34:00+00:00/" tag:demo,'ab c'""")
    assert parsed.terms == (term("created", "2020-04-22T12:34:00+00:00/"), term("tag", "demo", "ab c"))


@pytest.mark.parametrize("text", ["", "   ", "\t\n "])
def test_empty_filter_has_no_terms(text: str) -> None:
    assert parse(text) == Filter()


def test_surrounding_and_repeated_white_space_is_ignored() -> None:
    assert parse("  tag:a \t\n tag:b  ") == parse("tag:a tag:b")


def test_bare_matcher_may_hold_colons_and_dashes() -> None:
    assert parse("created:2020-04-22T12:34:00+00:00/ tag:a:b-c").terms == (
        term("created", "2020-04-22T12:34:00+00:00/"),
        term("tag", "a:b-c"),
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r'tag:"a \"b\" c"', 'a "b" c'),
        (r"tag:'it\'s'", "it's"),
        (r'tag:"back\\slash"', "back\\slash"),
        (r'tag:"keep \n as is"', "keep \\n as is"),
        ('tag:"a,b:c d"', "a,b:c d"),
        ("tag:'say \"hi\"'", 'say "hi"'),
    ],
)
def test_quoted_matchers_and_escapes(text: str, value: str) -> None:
    assert parse(text).terms == (term("tag", value),)


def test_function_matchers_and_dotted_qualifiers() -> None:
    parsed = parse('meta.description:like(temp*) meta.a.b:contains("x y") meta.k:v')
    assert parsed.terms == (
        Term("meta.description", (Function("like", (Value("temp*"),)),)),
        Term("meta.a.b", (Function("contains", (Value("x y"),)),)),
        term("meta.k", "v"),
    )


def test_quoted_function_text_is_a_plain_value() -> None:
    assert parse('name:"like(x)"').terms == (term("name", "like(x)"),)


def test_words_that_only_look_like_functions_are_values() -> None:
    assert parse("tag:likes tag:like tag:contains tag:in").terms == (
        term("tag", "likes"),
        term("tag", "like"),
        term("tag", "contains"),
        term("tag", "in"),
    )


def test_nested_functions_any_name_case_and_spaces_inside() -> None:
    parsed = parse('tag:ALL( like("prj:*") , Not(like( "*:Done" )) ) tag:inIGNORECASE(a,b) tag:exists()')
    assert parsed.terms == (
        Term(
            "tag",
            (
                Function(
                    "all",
                    (Function("like", (Value("prj:*"),)), Function("not", (Function("like", (Value("*:Done"),)),))),
                ),
            ),
        ),
        Term("tag", (Function("inIgnoreCase", (Value("a"), Value("b"))),)),
        Term("tag", (Function("exists"),)),
    )
    assert str(parsed) == "tag:all(like(prj:*),not(like(*:Done))) tag:inIgnoreCase(a,b) tag:exists()"


def test_default_qualifier_turns_bare_words_into_terms() -> None:
    assert parse("word -other tag:x", default_qualifier="name").terms == (
        term("name", "word"),
        term("name", "other", excluded=True),
        term("tag", "x"),
    )


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("tag:", 4, "empty matcher"),
        ("tag:a,,b", 6, "empty matcher"),
        ("tag:a,", 6, "empty matcher"),
        ('tag:""', 4, "empty matcher"),
        ("tag:a tag:", 10, "empty matcher"),
        ('tag:"abc', 4, "unterminated quote"),
        ("tag:'abc", 4, "unterminated quote"),
        ("demo", 0, "expected 'qualifier:matcher'"),
        ("Name:x", 0, "invalid qualifier"),
        ("- tag:x", 1, "expected a qualifier after '-'"),
        ("tag:x -", 7, "expected a qualifier after '-'"),
        ("tag:like(x", 10, "expected ')'"),
        ("tag:in(a,)", 9, "empty matcher"),
        ("tag:pump (x)", 9, "expected 'qualifier:matcher'"),  # a group since spec section 12
        ("tag:a,'b'c", 9, "unexpected"),
    ],
)
def test_syntax_errors_say_what_and_where(text: str, position: int, words: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse(text)
    error = caught.value
    assert words in error.message
    assert error.position == position
    rendered = error.render().splitlines()
    assert rendered[1].strip() == text.strip()
    assert rendered[2].index("^") == 2 + position


def test_syntax_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse("tag:")


def test_limits_are_enforced_and_configurable() -> None:
    with pytest.raises(FilterLimitError) as too_long:
        parse("tag:" + "a" * 5000)
    assert too_long.value.position == 4096
    with pytest.raises(FilterLimitError) as too_many_terms:
        parse(" ".join(["tag:a"] * 65))
    assert too_many_terms.value.position == 64 * 6
    with pytest.raises(FilterLimitError):
        parse("tag:" + ",".join(["a"] * 33))
    relaxed = Limits(max_length=None, max_terms=None, max_matchers=None)
    assert len(parse(" ".join(["tag:a"] * 200), limits=relaxed).terms) == 200
    assert len(parse("tag:" + ",".join(["a"] * 40), limits=relaxed).terms[0].matchers) == 40


def test_positions_point_into_the_original_text() -> None:
    parsed = parse('  tag:a,"b c" -name:x')
    first, second = parsed.terms
    assert first.position == 2
    assert [m.position for m in first.matchers] == [6, 9]
    assert second.position == 14
    assert parsed.source == '  tag:a,"b c" -name:x'


def test_canonical_text_quotes_only_when_needed() -> None:
    parsed = parse("""tag:'plain' tag:"a b" tag:'say "x"' meta.k:like('a,b') tag:"like(x)" tag:\\ tag:"(" """)
    assert str(parsed) == 'tag:plain tag:"a b" tag:"say \\"x\\"" meta.k:like("a,b") tag:"like(x)" tag:\\ tag:"("'


def test_nodes_are_hashable_and_immutable() -> None:
    parsed = parse("tag:a -tag:b")
    assert {parsed: 1}[parse("tag:a  -tag:b")] == 1
    with pytest.raises(AttributeError):
        parsed.terms = ()  # type: ignore[misc]


@settings(max_examples=examples(400))
@given(filters())
def test_canonical_text_round_trips_any_ast(parsed: Filter) -> None:
    assert parse(str(parsed)) == parsed


@settings(max_examples=examples(300))
@given(filters(WAYLAY, with_me=True).flatmap(lambda f: st.tuples(st.just(f), spellings(f))))
def test_every_spelling_parses_to_the_same_ast(case: tuple[Filter, str]) -> None:
    parsed, text = case
    assert parse(text) == parsed


@settings(max_examples=examples(200))
@given(filter_texts())
def test_canonical_text_is_a_fixed_point(text: str) -> None:
    canonical = str(parse(text))
    assert str(parse(canonical)) == canonical


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ('tag:"open', "syntax error"),
        ("tag:a " * 70, "filter too large"),
        ("nmae:x", "unknown qualifier"),
        ("tag:inignorcase(a)", "unknown function"),
        ("created:like(x)", "invalid matcher"),
        ("created:2020-13", "invalid time"),
        ("created_by:@me", "no current user"),
    ],
)
def test_every_error_text_says_its_kind_once(text: str, kind: str) -> None:
    with pytest.raises(FilterError) as caught:
        compile_predicate(text, WAYLAY)
    error = caught.value
    assert error.kind == kind
    headline = error.render().splitlines()[0]
    assert headline.lower().count(kind) == 1, headline
    assert headline.lower().startswith(kind)
    body = error_body(error)
    assert body["error"] == kind
    for shown in (str(body["message"]), str(body["detail"]), str(error)):
        assert shown.lower().count(kind) <= 1, shown


@pytest.mark.parametrize(
    ("text", "example"),
    [
        ("created:2020-04-22T12:00:00 00:00/", "created:2020-04-22T12:00:00%2B00:00/"),
        ("tag:a created:/2020-04-22T12:00 0130 tag:b", "created:/2020-04-22T12:00%2B0130"),
        ("created:now P1D/", "created:now%2BP1D/"),
        ("created:2020-01-01T00:00:00 05..*", "created:2020-01-01T00:00:00%2B05..*"),
    ],
)
def test_a_plus_a_url_made_a_space_is_named_in_the_hint(text: str, example: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse(text)
    hint = caught.value.hint or ""
    assert "'+' in a URL is a space" in hint and "%2B" in hint and example in hint
    assert caught.value.position == text.index(" ", text.index("created:")) + 1


@pytest.mark.parametrize("text", ["tag:12:00 word", "created:now 00:00", "created:12:00 -00:00/", "name:x 00:00"])
def test_other_bare_words_keep_the_default_qualifier_hint(text: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse(text)
    assert "%2B" not in (caught.value.hint or "")
    assert "to search names" in (caught.value.hint or "")
