"""No input makes the library fail other than with a FilterError, or hang.

Every text goes through the whole pipeline (parse, bind to each preset,
compile, run on entities). Hypothesis' per-example deadline turns a
super-linear blow-up into a failure instead of a hung test run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import examples

from qfilter import PRESETS, FilterError, FilterLimitError, Limits, compile_predicate, parse
from qfilter.integrations.strategies import filter_texts

LEAP_DAY_NIGHT = datetime(2024, 2, 29, 23, 59, tzinfo=UTC)
ENTITIES = [
    {"name": "a", "meta": {"tags": ["x"], "k": [1, None, {"d": 1}]}, "attrs": {"created": "2020-01-01"}},
    {"name": None, "attrs": {"created": "not a time", "created_by": 7}},
    {},
]
SPECIAL = list(" \t\n,:-/\\\"'()*?@.%_+Pnow0123456789TZ") + ["like(", "contains(", "meta.", "tag:", "created:"]


def run_everything(text: str) -> None:
    for schema in PRESETS.values():
        try:
            predicate = compile_predicate(text, schema, now=LEAP_DAY_NIGHT, user="u")
        except FilterError as error:
            assert error.text == text
            assert error.position is None or 0 <= error.position <= len(text)
            assert error.render().startswith(error.kind)
            continue
        predicate.filter(ENTITIES)


@settings(max_examples=examples(500), deadline=timedelta(seconds=2))
@given(st.text(max_size=200))
def test_arbitrary_text(text: str) -> None:
    run_everything(text)


@settings(max_examples=examples(500), deadline=timedelta(seconds=2))
@given(st.lists(st.sampled_from(SPECIAL), max_size=60).map("".join))
def test_texts_made_of_the_grammar_s_own_characters(text: str) -> None:
    run_everything(text)


@st.composite
def mutated_filters(draw: st.DrawFn) -> str:
    text = draw(filter_texts(PRESETS[draw(st.sampled_from(sorted(PRESETS)))]))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(text)))
        match draw(st.sampled_from(["insert", "delete", "replace"])):
            case "insert":
                text = text[:where] + draw(st.sampled_from(SPECIAL)) + text[where:]
            case "delete":
                text = text[:where] + text[where + 1 :]
            case "replace":
                text = text[:where] + draw(st.sampled_from(SPECIAL)) + text[where + 1 :]
    return text


@settings(max_examples=examples(500), deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow])
@given(mutated_filters())
def test_mutated_valid_filters(text: str) -> None:
    run_everything(text)


@pytest.mark.parametrize(
    "piece",
    ['"', "'", "\\", ",", "-", ":", "tag:", "tag:a,", 'tag:"\\', "like(", "a" * 7, " ", "-tag:x "],
)
def test_long_pathological_inputs_are_rejected_or_parsed_promptly(piece: str) -> None:
    text = (piece * (4096 // len(piece)))[:4096]
    run_everything(text)
    with pytest.raises(FilterLimitError):
        parse(text + piece)


def test_a_million_characters_are_refused_before_parsing() -> None:
    text = "tag:" + "a" * 1_000_000
    with pytest.raises(FilterLimitError) as caught:
        parse(text)
    assert "1000004 characters" in caught.value.message
    assert len(caught.value.render()) < 400


@settings(max_examples=examples(50), deadline=timedelta(seconds=5))
@given(st.sampled_from(['"', "\\", ",", "tag:a ", "-", "tag:'x", "()"]))
def test_unlimited_parser_stays_linear_on_large_inputs(piece: str) -> None:
    unlimited = Limits(max_length=None, max_terms=None, max_matchers=None)
    text = piece * (200_000 // len(piece))
    try:
        parse(text, limits=unlimited)
    except FilterError:
        pass
