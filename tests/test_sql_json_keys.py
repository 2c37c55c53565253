"""``meta.<key>`` with keys a JSON path cannot spell as they are, on SQLite, PostgreSQL and MariaDB.

A parsed filter's keys are letters, digits, ``_`` and ``-``; a hand-built
``Term("meta.a\\"b", ...)`` can hold anything. SQLite's and MariaDB's JSON
paths compare keys as the document spells them (escapes included), so such
keys are looked up among the object's decoded keys instead. Memory is the
reference: every database must find exactly what it finds, with the key in
the document written escaped (``json.dumps``) or as it is, and never fail.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql
from support import examples

from qfilter import Field, Kind, Schema, compile_predicate
from qfilter.core.ast import Filter, Function, Matcher, Term, Value
from qfilter.sql import JsonObject, SqlMapping, compile_clause, exact_string

KEYS_METADATA = sa.MetaData()
# The JSON as text the test writes: escaped (json.dumps' default) or as it is, as other writers do
# (a JSON column type would have SQLAlchemy write it).
ITEMS = sa.Table(
    "qfilter_test_json_keys",
    KEYS_METADATA,
    sa.Column("name", exact_string(), primary_key=True),
    sa.Column("meta", sa.Text()),
)
SCHEMA = Schema("keys", (Field("meta", Kind.META, "meta"),))
# SQLite's and MariaDB's JSON functions read JSON text; PostgreSQL's need the text cast to json.
MAPPINGS: dict[str, SqlMapping] = {
    "sqlite": {"meta": JsonObject(sa.type_coerce(ITEMS.c.meta, sa.JSON()))},
    "postgresql": {"meta": JsonObject(sa.cast(ITEMS.c.meta, postgresql.JSON()))},
    "mysql": {"meta": JsonObject(sa.type_coerce(ITEMS.c.meta, sa.JSON()))},
}


@pytest.fixture(scope="module")
def engine(database: sa.Engine) -> sa.Engine:
    with database.begin() as conn:
        KEYS_METADATA.create_all(conn)
    return database


def store(conn: sa.Connection, entities: list[dict[str, Any]], *, ascii_only: bool) -> None:
    rows = [{"name": e["name"], "meta": json.dumps(e["meta"], ensure_ascii=ascii_only)} for e in entities]
    conn.execute(sa.insert(ITEMS), rows)


def term(path: str, matcher: Matcher, *, excluded: bool = False) -> Filter:
    return Filter((Term("meta." + path, (matcher,), excluded=excluded),))


def found(conn: sa.Connection, query: Filter) -> list[str]:
    clause = compile_clause(query, SCHEMA, MAPPINGS[conn.dialect.name])
    return sorted(conn.execute(sa.select(ITEMS.c.name).where(clause)).scalars())


def kept(query: Filter, entities: list[dict[str, Any]]) -> list[str]:
    return sorted(e["name"] for e in compile_predicate(query, SCHEMA).filter(entities))


# -- the keys of the issue, and their neighbours -------------------------------------------------------

ODD_KEYS = ['a"b', "a\\b", "$", "[", "a[0]", "a b", "é", "Zürich", "😀", "*", "'", "", "a]", '"', 'a\\"b', "x y.z"]
# Each key once with each kind of value, and the keys a naive path would confuse them with.
NEIGHBOURS = {"a": "a-plain", "b": "b-plain", "0": "zero", "x y": {"z": "nested"}}


def _entities() -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = [{"name": "neighbours", "meta": dict(NEIGHBOURS)}]
    for index, key in enumerate(ODD_KEYS):
        entities.append({"name": f"text-{index}", "meta": {key: f"v{index}", "a": "other"}})
        entities.append({"name": f"list-{index}", "meta": {key: ["x", index]}})
        entities.append({"name": f"nested-{index}", "meta": {key: {"k": f"v{index}"}}})
    entities.append({"name": "all", "meta": {key: "all" for key in ODD_KEYS}})
    return entities


@pytest.mark.parametrize("ascii_only", [True, False], ids=["escaped", "as-is"])
@pytest.mark.parametrize("index", range(len(ODD_KEYS)), ids=[repr(k) for k in ODD_KEYS])
def test_a_key_is_found_whatever_it_holds(conn: sa.Connection, index: int, ascii_only: bool) -> None:
    key = ODD_KEYS[index]
    entities = _entities()
    store(conn, entities, ascii_only=ascii_only)
    paths = key.split(".")  # "x y.z" is the path x y, z: a key holding a dot cannot be named
    if len(paths) > 1:
        expectations = [(term(key, Value("nested")), ["neighbours"])]
    else:
        expectations = [
            (term(key, Value(f"v{index}")), [f"text-{index}"]),
            (term(key, Value("all")), ["all"]),
            (term(key, Value(str(index))), [f"list-{index}"]),
            (term(key, Function("gte", (Value(str(index)),))), [f"list-{index}"]),
            (term(key + ".k", Value(f"v{index}")), [f"nested-{index}"]),
            (term(key, Function("exists")), [f"text-{index}", f"list-{index}", f"nested-{index}", "all"]),
        ]
    for query, expected in expectations:
        assert kept(query, entities) == sorted(expected), f"memory on {query}"
        assert found(conn, query) == sorted(expected), f"{conn.dialect.name} on {query}"
        excluded = Filter((Term(query.terms[0].qualifier, query.terms[0].matchers, excluded=True),))
        rest = sorted(set(e["name"] for e in entities) - set(expected))
        assert found(conn, excluded) == rest, f"{conn.dialect.name} on {excluded}"


def test_a_key_with_a_dot_is_not_a_path_of_two(conn: sa.Connection) -> None:
    """``meta.a.b`` is the key b inside a, as in memory, never a key spelled ``a.b``."""
    entities = [{"name": "dotted", "meta": {"a.b": "x"}}, {"name": "nested", "meta": {"a": {"b": "x"}}}]
    store(conn, entities, ascii_only=True)
    for query, expected in [(term("a.b", Value("x")), ["nested"]), (term("a", Value("x")), [])]:
        assert kept(query, entities) == expected
        assert found(conn, query) == expected, conn.dialect.name


def test_a_star_ending_is_only_a_reminder(conn: sa.Connection) -> None:
    """Memory reads a path's ``[*]`` ending as a reminder that lists are looked into: ``a[*]`` is ``a``."""
    entities = [{"name": "list", "meta": {"a": ["x", "y"]}}, {"name": "literal", "meta": {"a[*]": "x"}}]
    store(conn, entities, ascii_only=True)
    query = term("a[*]", Value("x"))
    assert kept(query, entities) == ["list"]
    assert found(conn, query) == ["list"], conn.dialect.name


def test_a_key_with_u0000_matches_nothing_and_fails_nowhere(conn: sa.Connection) -> None:
    """PostgreSQL text cannot hold U+0000: such a key matches nothing on every database (docs/sql.md)."""
    store(conn, [{"name": "nul", "meta": {"a\x00b": "x"}}, {"name": "other", "meta": {"a": "x"}}], ascii_only=True)
    assert found(conn, term("a\x00b", Value("x"))) == []
    assert found(conn, term("a\x00b", Value("x"), excluded=True)) == ["nul", "other"]


def test_sqlite_spells_a_fraction_its_own_way_under_a_key_with_a_quote_and_a_bracket(conn: sa.Connection) -> None:
    """The one limit (docs/sql.md): SQLite has no path to a key holding both ``"`` and ``[``.

    Its member is then read from the value, which SQLite spells ``1.0e-05``
    where memory spells ``1e-05``; numeric comparisons and every other
    value are as in memory, on every database.
    """
    key = 'a"[0]'
    entities = [{"name": "small", "meta": {key: 1e-05}}, {"name": "half", "meta": {key: 2.5}}]
    store(conn, entities, ascii_only=True)
    for query, expected in [
        (term(key, Function("lt", (Value("1"),))), ["small"]),
        (term(key, Value("2.5")), ["half"]),
        (term(key, Function("gt", (Value("0"),))), ["half", "small"]),
    ]:
        assert kept(query, entities) == expected
        assert found(conn, query) == expected, conn.dialect.name
    spelled = term(key, Value("1e-05"))
    assert kept(spelled, entities) == ["small"]
    assert found(conn, spelled) == ([] if conn.dialect.name == "sqlite" else ["small"])


# -- the property: any key, any spelling ---------------------------------------------------------------

KEY_CHARACTERS = st.sampled_from(list("ab\"\\$[]*. 'é😀/\n\t") + ["\u2028"])
keys = st.text(KEY_CHARACTERS, max_size=4).filter(lambda k: "." not in k)
scalars = st.one_of(
    st.sampled_from(["x", "y", "", 'q"', "é"]),
    st.integers(-3, 3),
    st.sampled_from([2.5, -0.5, 1e-05, 1e16]),
    st.booleans(),
    st.none(),
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[str], list[Filter]]:
    """Documents with odd keys (nested to two levels), and filters naming some of them."""
    pool = draw(st.lists(keys, min_size=1, max_size=4, unique=True))
    named = st.sampled_from(pool)
    values = st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(named, inner, max_size=3)),
        max_leaves=6,
    )
    entities = [
        {"name": f"e{index}", "meta": draw(st.dictionaries(named, values, max_size=4))}
        for index in range(draw(st.integers(1, 5)))
    ]
    matchers: st.SearchStrategy[Matcher] = st.one_of(
        st.sampled_from(["x", "y", "", 'q"', "é", "1", "2.5", "true", "1e-05", "1e+16"]).map(Value),
        st.sampled_from(["exists", "gt", "lte"]).map(
            lambda name: Function(name) if name == "exists" else Function(name, (Value("0"),))
        ),
        st.sampled_from(["x*", '*"*', "?"]).map(lambda glob: Function("like", (Value(glob),))),
    )
    filters = [
        Filter(
            (
                Term(
                    "meta." + ".".join(draw(st.lists(named, min_size=1, max_size=2))),
                    (draw(matchers),),
                    excluded=draw(st.booleans()),
                ),
            )
        )
        for _ in range(draw(st.integers(1, 4)))
    ]
    return entities, pool, filters


@settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@given(case=cases(), ascii_only=st.booleans())
def test_any_key_agrees_with_memory(
    engine: sa.Engine, case: tuple[list[dict[str, Any]], list[str], list[Filter]], ascii_only: bool
) -> None:
    entities, pool, filters = case
    if engine.dialect.name == "sqlite":
        # The documented limit above: a fraction's spelling under a key with both " and [.
        assume(not any('"' in key and "[" in key for key in pool))
    with engine.connect() as conn:
        try:
            store(conn, entities, ascii_only=ascii_only)
            for query in filters:
                assert found(conn, query) == kept(query, entities), f"{engine.dialect.name} on {query}"
        finally:
            conn.rollback()
