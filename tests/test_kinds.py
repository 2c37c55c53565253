"""Every kind has its traits, and every place that reads values has a reading for it (issue 19, point 5).

The traits (``qfilter.core.kinds``) are one table; the places a kind's
values are read in are exhaustive matches on its ``Reading`` that mypy
checks (``tests/test_typing.py`` shows mypy naming a missing case). These
tests are the run-time side: a kind added to the enum without its traits,
or with traits the backends and the strategies cannot serve, fails here,
naming the kind.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
from hypothesis import Phase, find, settings

from qfilter import Field, Function, Kind, Schema, Value, compile_predicate
from qfilter.core.explain import describe
from qfilter.core.functions import BUILTINS, FUNCTIONS
from qfilter.core.kinds import KINDS, traits
from qfilter.core.optimise import ONE_LOOKUP_KINDS
from qfilter.core.plan import to_plan
from qfilter.core.sorting import SORTABLE_KINDS, sortable_fields
from qfilter.integrations.openapi_text import q_examples
from qfilter.integrations.strategies import filters, matchers
from qfilter.memory.closures import readable, reading
from qfilter.sql.mappings import kind_locations

FIRST = settings(max_examples=500, database=None, phases=[Phase.generate])


def _field(kind: Kind) -> Field:
    return Field("meta" if kind is Kind.META else "x", kind, "x")


def _schema(kind: Kind) -> Schema:
    return Schema(kind.value, (_field(kind),))


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_has_its_traits(kind: Kind) -> None:
    assert KINDS[kind].kind is kind
    assert traits(kind).textual == (traits(kind).reads == "text")
    assert (kind in SORTABLE_KINDS) == traits(kind).sortable
    assert (kind in ONE_LOOKUP_KINDS) == traits(kind).one_lookup
    assert {"not", "all", "any", "exists"} <= traits(kind).functions  # every kind takes the combinators


def test_the_kinds_say_which_built_in_functions_they_take() -> None:
    builtin = {function.name for function in BUILTINS}
    for kind, kind_traits in KINDS.items():
        assert kind_traits.functions <= builtin, kind
    for function in BUILTINS:
        assert function.kinds == {kind for kind in Kind if function.name in traits(kind).functions}, function.name


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_is_read_in_memory_and_located_in_sql(kind: Kind) -> None:
    assert readable(kind, UTC)(None) is (kind is Kind.META)  # META reads anything: a null is no value elsewhere
    assert reading(kind, UTC)(None) is None
    locations, classes = kind_locations(kind)
    assert locations and classes


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_s_plain_matchers_and_examples_bind_and_read_in_words(kind: Kind) -> None:
    schema = _schema(kind)
    qualifier = "meta.key" if kind is Kind.META else "x"
    plain, newer = traits(kind).examples
    for example in (plain, newer):
        plan = to_plan(f"{qualifier}:{example}", schema, user="users/alice")
        assert describe(plan).startswith("selected entities must have ")
        compile_predicate(plan).filter([{"x": None}, {}])
    assert all(to_plan(example, schema, user="users/alice") for example in q_examples(schema).values())
    assert traits(kind).plain_words(Value(plain)) and traits(kind).phrase("x", Value(plain))
    assert (sortable_fields(schema) != []) == traits(kind).sortable


@pytest.mark.parametrize("kind", list(Kind))
def test_the_strategies_draw_every_kind_s_matchers_plain_and_functions(kind: Kind) -> None:
    schema = _schema(kind)
    drawn = find(matchers(kind), lambda matcher: isinstance(matcher, Function), settings=FIRST)
    assert isinstance(drawn, Function) and drawn.name.lower() in FUNCTIONS
    plain = find(matchers(kind), lambda matcher: isinstance(matcher, Value), settings=FIRST)
    assert isinstance(plain, Value) and plain.text

    def binds(parsed: Any) -> bool:
        to_plan(parsed, schema, user="users/alice")
        return bool(parsed.terms)

    assert find(filters(schema, with_me=True), binds, settings=FIRST).terms
