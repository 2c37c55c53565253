"""The generated in-memory predicate answers exactly as the closures that define it.

``qfilter.memory`` writes each filter out as Python for speed (``check`` for
one entity, ``select`` for ``Predicate.filter``) and hands anything unusual
back to the closures. These properties compare the two on entities of every
shape: the Waylay and Timeplus shapes, and odd ones (values of other types,
tuples, lists where none are expected, dict subclasses, objects, datetimes).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import NOW, examples

from qfilter import TIMEPLUS, WAYLAY, bind, parse
from qfilter.core.plan import Context, Plan
from qfilter.integrations.strategies import filter_texts
from qfilter.memory import compile_plan

WORDS = ["demo", "Demo", "not-demo", "151CF", "x", "true", "1", "1.5", "users/alice", "@me", "ab c", "é"]
KEYS = [
    "name",
    "meta",
    "tags",
    "resource",
    "query",
    "data",
    "attrs",
    "created",
    "created_by",
    "modified",
    "modified_by",
    "description",
    "k",
    "id",
    "created_at",
    "last_updated_at",
    "last_updated_by",
    "sql",
]


class Text(str):
    """A str subclass: not the exact type the generated code expects."""


times = st.one_of(
    st.sampled_from(["2020-04-22T12:34:00+00:00", "2021-01-01", "2019-12-31T23:59:59", "2026-11-20 10:00", "nope"]),
    st.datetimes(min_value=datetime(2018, 1, 1), max_value=datetime(2027, 1, 1)),
    st.datetimes(min_value=datetime(2018, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)),
)
scalars = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(WORDS).map(Text),
    times,
    st.integers(-2, 2),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.booleans(),
    st.none(),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(KEYS)
    return st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(keys, children, max_size=4),
        st.dictionaries(keys, children, max_size=3).map(OrderedDict),
        st.dictionaries(keys, children, max_size=3).map(lambda d: SimpleNamespace(**d)),
    )


values = st.recursive(scalars, _containers, max_leaves=12)


@st.composite
def waylay_like(draw: st.DrawFn) -> Any:
    """Mostly the real shape, with any part swapped for an arbitrary value now and then."""

    def maybe(value: st.SearchStrategy[Any]) -> Any:
        return draw(st.one_of(value, values)) if draw(st.integers(0, 5)) == 0 else draw(value)

    words = st.sampled_from(WORDS)
    entity = {
        "name": maybe(words.map(lambda w: f"{w} temperature")),
        "meta": maybe(
            st.fixed_dictionaries(
                {"tags": st.lists(st.one_of(words, words, scalars), max_size=3)},
                optional={"resource": words, "description": words, "k": st.one_of(words, st.lists(words))},
            )
        ),
        "attrs": maybe(st.fixed_dictionaries({"created": times}, optional={"modified": times, "created_by": words})),
        "query": maybe(
            st.one_of(
                st.fixed_dictionaries({"resource": words}),
                st.fixed_dictionaries(
                    {"data": st.lists(st.fixed_dictionaries({"resource": st.one_of(words, values)}), max_size=3)}
                ),
            )
        ),
    }
    return entity


entities = st.lists(st.one_of(waylay_like(), waylay_like(), values), min_size=1, max_size=8)
meta_keys = st.sampled_from(["k", "tags", "resource", "description", "k.id"])


def _same(text: str, schema: Any, found: list[Any]) -> None:
    plan = bind(parse(text, default_qualifier=schema.default_qualifier), schema, Context(now=NOW, user="users/alice"))
    fast = compile_plan(plan, specialise=True)
    slow = compile_plan(plan, specialise=False)
    assert [fast(e) for e in found] == [slow(e) for e in found]
    assert [id(e) for e in fast.filter(found)] == [id(e) for e in slow.filter(found)]
    assert [id(e) for e in fast.filter(iter(found))] == [id(e) for e in slow.filter(found)]


SETTINGS = settings(
    max_examples=examples(400), deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow]
)


@SETTINGS
@given(filter_texts(WAYLAY, values=st.sampled_from(WORDS), meta_keys=meta_keys, with_me=True), entities)
def test_waylay_filters(text: str, found: list[Any]) -> None:
    _same(text, WAYLAY, found)


@SETTINGS
@given(filter_texts(TIMEPLUS, values=st.sampled_from(WORDS), with_me=True), st.lists(values, min_size=1, max_size=8))
def test_timeplus_filters_on_any_values(text: str, found: list[Any]) -> None:
    _same(text, TIMEPLUS, found)


def test_known_shapes() -> None:
    found: list[Any] = [
        {"name": "Demo 1", "meta": {"tags": ["demo", 5, None]}, "query": {"data": [{"resource": "151CF"}, None]}},
        {"name": ["x", "demo"], "meta": {"tags": ("demo",), "resource": Text("151CF")}},
        {"name": 5, "meta": {"tags": [True, "1", 1.5]}, "query": {"data": [{"resource": ["151CF"]}, "x"]}},
        {"meta": OrderedDict(tags=["demo"]), "attrs": {"created": datetime(2021, 1, 1)}},
        {"meta": {"tags": [["demo"]]}, "attrs": {"created": [None, "2021-01-01", datetime(2030, 1, 1, tzinfo=UTC)]}},
        SimpleNamespace(name="demo", meta={"tags": ["demo"]}),
        {"query": {"data": [{"resource": "151CF"}]}, "attrs": {"created": "2020-05-01T00:00:00Z"}},
        {"query": {"data": [{"resource": ["151CF"]}]}},
        {"query": {"data": [{"resource": 5}, {"resource": "151CF"}]}},
        {},
        [],
        None,
        "demo",
    ]
    for text in [
        "name:demo",
        "name:demo,1 -name:x",
        "tag:demo",
        "tag:demo,1 tag:true",
        "-tag:demo -tag:1.5",
        "resource:151CF",
        "-resource:151CF,x",
        'created:"2020-04-22T12:34:00+00:00/now-P1W"',
        "created:2021 -created:2021-01-01",
        "created:2020/2022,2021/",
        "meta.tags:like(de*) meta.resource:contains(51)",
        "meta.k.id:x",
        "user:@me",
    ]:
        _same(text, WAYLAY, found)


def test_the_generated_code_takes_over_after_enough_entities() -> None:
    from qfilter import memory

    def fresh_plan(key: str) -> Plan:  # a shape no other test generated code for
        return bind(parse(f"meta.takeover_{key}:demo"), WAYLAY, Context(now=NOW))

    entity = {"meta": {"takeover_calls": "demo"}}
    by_calls = compile_plan(fresh_plan("calls"))
    assert by_calls._select is None
    for _ in range(memory.SPECIALISE_AFTER):
        assert by_calls(entity)
    assert by_calls._select is not None and by_calls(entity)
    few = compile_plan(fresh_plan("few"))
    assert few.filter([{"meta": {"takeover_few": "demo"}}] * 3) == [{"meta": {"takeover_few": "demo"}}] * 3
    assert few._select is None
    many = compile_plan(fresh_plan("many"))
    assert len(many.filter([{"meta": {"takeover_many": "demo"}}, {}] * memory.SPECIALISE_AFTER)) == (
        memory.SPECIALISE_AFTER
    )
    assert many._select is not None
    streamed = compile_plan(fresh_plan("streamed"))
    assert streamed.filter(iter([{"meta": {"takeover_streamed": "demo"}}, {}])) == [
        {"meta": {"takeover_streamed": "demo"}}
    ]
    assert streamed._select is not None


def test_a_shape_already_generated_is_used_at_once() -> None:
    """A filter that differs from an earlier one only in its values reuses that one's generated code."""
    first = compile_plan(bind(parse("meta.reused:one"), WAYLAY, Context(now=NOW)), specialise=True)
    assert first._select is not None
    second = compile_plan(bind(parse("meta.reused:two"), WAYLAY, Context(now=NOW)))
    assert second._select is not None
    assert second.filter([{"meta": {"reused": "two"}}, {"meta": {"reused": "one"}}]) == [{"meta": {"reused": "two"}}]
