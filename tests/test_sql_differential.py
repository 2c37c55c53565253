"""The SQL compiler agrees with the in-memory compiler, on SQLite, PostgreSQL and MariaDB.

For random entity sets and random filters, the names that memory keeps, that
SQLite returns, that PostgreSQL returns and that MariaDB returns must be the same, for every
storage shape: plain columns (with NULLs), association tables, JSON array
columns (``json`` and ``jsonb``), JSON objects for ``meta.<path>``, aware and
naive (wall-clock, in a zone with summer time) time columns, with filters read
in random request zones (``tz=``: spec section 5, the filter's own times move,
the stored ones do not). On MariaDB the
flat table's text columns keep the database's default collation (case- and
accent-insensitive, PAD SPACE), which the compiler must see through. A fourth
shape is an application's own vocabulary (``tests/gadgets.py``, issue 22): a
hybrid property, two column properties (a correlated count, a folded code), a
case-insensitive field with its generated folded column, a Python enum stored
by name, a float and a decimal column; memory filters the model's objects.
The flat schema has an application's own functions too
(``tests/own_functions.py``: ``startsWith``, ``multipleOf``, ``shorterThan``),
drawn beside the built-ins.

Each example inserts its entities in a transaction that is rolled back, on
one engine per database for the whole module. QFILTER_SQL_EXAMPLES sets the
number of examples per shape (default 500 under the ``ci`` profile: the four
shapes on three databases are a sixth of the suite's time, which must stay
under CI's 15 minutes).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from gadgets import GADGETS, GADGETS_SQL, Gadget, GadgetBase, gadget_entities, insert_gadgets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from own_functions import OWN_FUNCTIONS
from sqlalchemy.dialects import mysql
from support import NOW, examples

from qfilter import TIMEPLUS, WAYLAY, Argument, Field, Kind, Schema, Term, compile_predicate
from qfilter.core.ast import Filter, Function, Value
from qfilter.core.functions import BUILTIN_FUNCTIONS, FunctionMatcher, FunctionTable
from qfilter.core.plan import json_number
from qfilter.core.times import to_instant
from qfilter.core.values import as_text, field_values
from qfilter.integrations.strategies import expressions_of, interval_texts, user_ids
from qfilter.service.tables import (
    METADATA,
    TIMEPLUS_SQL,
    TIMEPLUS_TABLE,
    WAYLAY_SQL,
    WAYLAY_TABLE,
    insert_saved_queries,
    insert_waylay_queries,
)
from qfilter.sql import (
    Column,
    JsonArray,
    JsonObject,
    SqlMapping,
    compile_clause,
    exact_string,
    install_sqlite_functions,
    json_keeping_numbers,
)

ME = "users/alice"
EXAMPLES = int(os.environ.get("QFILTER_SQL_EXAMPLES", examples(500)))
BRUSSELS = ZoneInfo("Europe/Brussels")

# -- a third shape: plain columns, a json array, a jsonb object, naive times ---------------------------

DEFAULT_COLLATION = sa.String().with_variant(mysql.VARCHAR(255), "mysql", "mariadb")
FLAT_METADATA = sa.MetaData()
FLAT_TABLE = sa.Table(
    "qfilter_test_flat",
    FLAT_METADATA,
    sa.Column("name", exact_string(), primary_key=True),  # a key: "a" and "A" are two names
    sa.Column("resource", DEFAULT_COLLATION, index=True),
    sa.Column("tags", json_keeping_numbers()),  # json, not jsonb, on PostgreSQL
    sa.Column("created_by", DEFAULT_COLLATION),
    sa.Column("modified_by", DEFAULT_COLLATION),
    # naive: wall-clock time in Brussels, to the microsecond on MariaDB too
    sa.Column("created", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")),
    sa.Column("meta", json_keeping_numbers(binary=True)),
    sa.Column("prio", sa.Integer()),
    sa.Column("active", sa.Boolean()),
)
FLAT = Schema(
    "flat",
    (
        Field("name", Kind.TEXT, "name"),
        Field("resource", Kind.EXACT, "resource"),
        Field("tag", Kind.EXACT, "tags"),
        Field("created_by", Kind.USER, "created_by"),
        Field("user", Kind.USER, ("created_by", "modified_by")),
        Field("created", Kind.TIME, "created"),
        Field("meta", Kind.META, "meta"),
        Field("prio", Kind.NUMBER, "prio"),
        Field("active", Kind.BOOLEAN, "active"),
    ),
    timezone=BRUSSELS,
    functions=OWN_FUNCTIONS,  # an application's own functions (issue 22): startsWith, multipleOf, shorterThan
)
FLAT_SQL: SqlMapping = {
    "name": Column(FLAT_TABLE.c.name),
    "resource": Column(FLAT_TABLE.c.resource),
    "tag": JsonArray(FLAT_TABLE.c.tags),
    "created_by": Column(FLAT_TABLE.c.created_by),
    "user": (Column(FLAT_TABLE.c.created_by), Column(FLAT_TABLE.c.modified_by)),
    "created": Column(FLAT_TABLE.c.created),
    "meta": JsonObject(FLAT_TABLE.c.meta),
    "prio": Column(FLAT_TABLE.c.prio),
    "active": Column(FLAT_TABLE.c.active),
}


def insert_flat(conn: sa.Connection, entities: Sequence[Mapping[str, Any]]) -> None:
    if entities:
        conn.execute(sa.insert(FLAT_TABLE), [{c.name: e.get(c.name) for c in FLAT_TABLE.c} for e in entities])


@dataclass(frozen=True)
class Shape:
    schema: Schema
    mapping: SqlMapping
    key: sa.ColumnElement[Any]
    identify: Callable[[Any], str]
    """An entity's key, as ``key`` holds it (entities are dicts, or a model's objects)."""
    insert: Callable[[sa.Connection, Sequence[Any]], Any]


SHAPES = {
    "waylay": Shape(WAYLAY, WAYLAY_SQL, WAYLAY_TABLE.c.name, lambda e: e["name"], insert_waylay_queries),
    "timeplus": Shape(TIMEPLUS, TIMEPLUS_SQL, TIMEPLUS_TABLE.c.id, lambda e: e["id"], insert_saved_queries),
    "flat": Shape(FLAT, FLAT_SQL, FLAT_TABLE.c.name, lambda e: e["name"], insert_flat),
    "gadgets": Shape(GADGETS, GADGETS_SQL, Gadget.__table__.c.name, lambda g: g.name, insert_gadgets),
}

# -- databases -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engines(request: pytest.FixtureRequest) -> Iterator[list[sa.Engine]]:
    """SQLite in memory, PostgreSQL and MariaDB unless unavailable outside CI (conftest decides)."""
    sqlite = sa.create_engine("sqlite://", poolclass=sa.StaticPool)
    install_sqlite_functions(sqlite)
    found = [sqlite]
    for fixture in ("postgres_url", "mysql_url"):
        try:
            url = request.getfixturevalue(fixture)
        except pytest.skip.Exception:
            continue
        found.append(sa.create_engine(url))
    for engine in found:
        with engine.begin() as conn:
            METADATA.create_all(conn)
            FLAT_METADATA.create_all(conn)
            GadgetBase.metadata.create_all(conn)
    yield found
    for engine in found:
        engine.dispose()


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_every_database_takes_part(engines: list[sa.Engine], dialect: str) -> None:
    """Outside CI a missing server only narrows the comparison; say so rather than pass silently."""
    if dialect not in [engine.dialect.name for engine in engines]:
        pytest.skip(f"no {dialect}: the differential tests compared memory with the other databases only")


def check_agreement(
    engines: list[sa.Engine],
    shape: Shape,
    entities: list[Any],
    filters: list[Filter],
    tz: tzinfo | None = None,
) -> None:
    """Memory and every database keep the same entities; ``tz`` is the zone the filters are read in."""
    expected = [
        sorted(map(shape.identify, compile_predicate(f, shape.schema, now=NOW, user=ME, tz=tz).filter(entities)))
        for f in filters
    ]
    clauses = [compile_clause(f, shape.schema, shape.mapping, now=NOW, user=ME, tz=tz) for f in filters]
    for engine in engines:
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                shape.insert(conn, entities)
                for parsed, clause, want in zip(filters, clauses, expected, strict=True):
                    statement = sa.select(shape.key).where(clause)
                    got = sorted(conn.execute(statement).scalars())
                    assert got == want, f"{engine.dialect.name} disagrees with memory on {str(parsed)!r}, tz={tz}"
                    # Built for this database only (as the service does), it is the same SQL.
                    own = compile_clause(
                        parsed, shape.schema, shape.mapping, now=NOW, user=ME, tz=tz, dialect=engine.dialect
                    )
                    own_sql = sa.select(shape.key).where(own).compile(engine)
                    assert str(own_sql) == str(statement.compile(engine)), str(parsed)
            finally:
                transaction.rollback()


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        # stored: 00:30 on 1 July in Brussels, the flat schema's zone (22:30 UTC on 30 June)
        ("created:2020-06-30T22:30:00Z/PT1S", None, True),
        ("created:2020-06-30T22:30:00Z/PT1S", UTC, True),
        ("created:2020-06-30T22:30:00Z/PT1S", ZoneInfo("America/New_York"), True),
        # the filter's own times without offset are the request's: 18:30 in New York is 22:30 UTC
        ("created:2020-06-30T18:30:00/PT1S", ZoneInfo("America/New_York"), True),
        ("created:2020-07-01T00:30:00/PT1S", ZoneInfo("America/New_York"), False),
        ("created:2020-07-01T00:30:00/PT1S", None, True),
        ("created:2020-06-30", UTC, True),
        ("created:2020-06-30", None, False),  # Brussels' 30 June ended at 22:00 UTC
        ("created:2020-07-01", None, True),
        ("created:2020-07-01", UTC, False),
    ],
)
def test_a_request_zone_moves_the_filters_times_never_the_stored_ones(
    engines: list[sa.Engine], text: str, tz: tzinfo | None, expected: bool
) -> None:
    # spec section 5 (amended): a naive stored time is always in the schema's zone, in memory and in SQL
    entities = [{"name": "summer", "created": datetime(2020, 7, 1, 0, 30)}]
    want = ["summer"] if expected else []
    assert [e["name"] for e in compile_predicate(text, FLAT, now=NOW, tz=tz).filter(entities)] == want
    clause = compile_clause(text, FLAT, FLAT_SQL, now=NOW, tz=tz)
    for engine in engines:
        with engine.connect() as conn, conn.begin() as transaction:
            insert_flat(conn, entities)
            assert list(conn.execute(sa.select(FLAT_TABLE.c.name).where(clause)).scalars()) == want, engine.dialect.name
            transaction.rollback()


# -- values: few, so that filters hit; with the characters SQL treats specially ----------------------

FRAGMENTS = [
    "demo",
    "demo ",  # trailing space: MariaDB's PAD SPACE collations would find it equal to "demo"
    " ",
    "Demo",
    "DEMO",
    "prio1",
    "ü",
    "Ünïcode",
    "température",
    "ÄÖÜ",
    "äöü",
    "Σ",
    "σ",
    "ς",
    "ΣΑΣ",
    "ß",
    "SS",
    "İ",
    "i̇",
    "I",
    "ı",
    "%",
    "_",
    "/",
    "\\",
    "'",
    '"',
    ";",
    "--",
    "a%b",
    "a_b",
    "x y",
    "*",
    "?",
    "[a]",
    "office-7",
    "151CF",
    "5",
    "1e-05",
    "true",
]
# A few values are drawn often, so that filters select some entities and not others.
COMMON = ["demo", "demo ", "Demo", "ü", "Ünïcode", "ΣΑΣ", "ß", "İ", "%", "_", "a%b", "\\", "'", "5", "1e-05", "true"]
text_chars = st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")
fragments = st.one_of(
    st.sampled_from(COMMON),
    st.sampled_from(COMMON),
    st.sampled_from(FRAGMENTS),
    st.text(text_chars, min_size=1, max_size=4),
)
texts = st.lists(fragments, min_size=1, max_size=2).map("".join)
users = st.one_of(user_ids, st.just(ME))
META_KEYS = ["a", "b", "k-1", "n", "real"]

INSTANTS = [
    datetime(2020, 1, 1, tzinfo=UTC),
    datetime(2020, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    datetime(2019, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2020, 2, 29, 12, tzinfo=UTC),
    datetime(2021, 10, 31, 0, 30, tzinfo=UTC),  # 02:30 in Brussels, the first time
    datetime(2021, 10, 31, 1, 0, tzinfo=UTC),  # 02:00 in Brussels, the second time
    datetime(2021, 10, 31, 1, 30, tzinfo=UTC),  # 02:30 in Brussels, the second time
    datetime(2021, 10, 31, 2, 0, tzinfo=UTC),
    NOW - timedelta(days=1),
    NOW,
]
OFFSETS = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30)), BRUSSELS]
instants = st.sampled_from(INSTANTS)


def _spell(moment: datetime, zone: Any, style: str) -> str:
    local = moment.astimezone(zone)
    if style == "naive":  # no offset: the schema's zone
        return local.replace(tzinfo=None).isoformat()
    text = local.isoformat()
    return text.replace("+00:00", "Z") if style == "Z" else text


instant_texts = st.builds(_spell, instants, st.sampled_from(OFFSETS), st.sampled_from(["offset", "Z", "naive"]))
bound_tokens = st.one_of(
    instant_texts,
    st.sampled_from(["2020", "2020-01", "2020-01-01", "2021-10-31", "now", "now-P1D", "NOW-PT24H"]),
)
periods = st.sampled_from(["P1D", "PT1H", "PT30M", "P1M", "PT0.000001S"])
intervals = st.one_of(
    st.builds("{}/{}".format, bound_tokens, bound_tokens),
    bound_tokens.map("{}/".format),
    bound_tokens.map("/{}".format),
    st.builds("{}/{}".format, bound_tokens, periods),
    st.builds("{}/{}".format, periods, bound_tokens),
    st.sampled_from(["2020", "2020-01", "2020-01-01", "2021-10-31", "2021-10"]),
    interval_texts(),
)

# JSON scalars: SQLite and PostgreSQL ``json`` keep every number's spelling.
FLOATS = [0.5, 1e-05, 5.0, 0.1, 1.5e-07, 123.456, 2.5, -3.25, 0.0, 1e16, 1e20, -0.0, 0.30000000000000004]
json_numbers = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(0, 10),
    st.sampled_from(FLOATS),
    st.floats(allow_nan=False, allow_infinity=False),
)
# jsonb stores numerics: integral floats from 1e16 up, and -0.0, lose their float
# spelling there (docs/sql.md). Such values are left out of jsonb columns.
jsonb_numbers = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(0, 10),
    st.sampled_from([x for x in FLOATS if abs(x) < 1e16 and str(x) != "-0.0"]),
    st.floats(-1e15, 1e15).map(lambda x: x or 0.0),
)


def json_containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(META_KEYS), inner, max_size=3))


def json_values_of(numbers: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(st.one_of(st.none(), st.booleans(), numbers, texts), json_containers, max_leaves=6)


json_values = json_values_of(json_numbers)
jsonb_values = json_values_of(jsonb_numbers)


def meta_objects(values: st.SearchStrategy[Any], **extra: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keyed = st.fixed_dictionaries({}, optional={**dict.fromkeys(META_KEYS, values), **extra})
    return st.one_of(st.none(), keyed, st.lists(keyed, max_size=2))


# -- filters -------------------------------------------------------------------------------------------

MATCHER_TEXTS = st.one_of(
    fragments,
    fragments.map(str.upper),
    fragments.map(str.lower),
    st.sampled_from(["5", "5.0", "1e-05", "0.5", "true", "false", "0.0", "-0.0", "1e+16", "1e+20", "123.456"]),
)
GLOBS = st.lists(st.one_of(st.sampled_from(["*", "?", "**"]), fragments), min_size=1, max_size=3).map("".join)


def texts_in(data: Any, keys: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Every scalar's text in some JSON data, with the keys that lead to it (as memory looks into lists)."""
    if isinstance(data, Mapping):
        return [found for key, value in data.items() for found in texts_in(value, (*keys, key))]
    if isinstance(data, list):  # one level: a list in a list holds nothing a filter can reach
        return [found for value in data if not isinstance(value, list) for found in texts_in(value, keys)]
    text = as_text(data)
    return [(keys, text)] if text else []


def seen_values(schema: Schema, entities: list[dict[str, Any]]) -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """Per qualifier, the texts the entities hold there (for ``meta``, with their key paths)."""
    seen: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for target in schema.fields:
        if target.kind is Kind.META:
            found = [f for e in entities for f in texts_in(e.get(target.qualifier)) if 1 <= len(f[0]) <= 2]
        elif target.kind is Kind.TIME:
            moments = [to_instant(v, schema.timezone) for e in entities for v in field_values(target)(e)]
            found = [((), moment.isoformat()) for moment in moments if moment is not None]
        else:
            found = [((), t) for e in entities for _, t in texts_in(field_values(target)(e))]
        seen[target.qualifier] = sorted(set(found))
    return seen


def pieces(text: str) -> st.SearchStrategy[str]:
    """Non-empty substrings of ``text``, and the text in another letter case."""
    cut = st.tuples(st.integers(0, len(text) - 1), st.integers(1, len(text))).map(
        lambda ends: text[min(ends[0], ends[1] - 1) : ends[1]]
    )
    return st.one_of(st.just(text), cut, st.just(text.upper()), st.just(text.lower()))


def globs_of(text: str) -> st.SearchStrategy[str]:
    """Globs that match ``text`` (ignoring case), or nearly do."""
    return st.sampled_from(
        [text, text.upper(), text[:1] + "*", "*" + text[-1:], "?" + text[1:], text[:-1] + "?", "*" + text + "?"]
    )


NUMBER_TEXTS = st.sampled_from(["0", "-0", "5", "5.0", "-3", "1e-05", "0.5", "-0.0", "1e+16", "123.456", "2147483647"])


def numbers_in(seen: list[str]) -> st.SearchStrategy[str]:
    """Numbers in JSON syntax, often ones the entities hold."""
    found = [text for text in seen if json_number(text) is not None]
    return st.one_of(NUMBER_TEXTS, st.sampled_from(found)) if found else NUMBER_TEXTS


def number_matchers(numbers: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """The plain matchers of a NUMBER field: ``n``, ``>n``, ``>=n``, ``<n``, ``<=n``, ``a..b``, ``*..b``, ``a..*``."""
    return st.one_of(
        numbers,
        st.builds(str.__add__, st.sampled_from([">", ">=", "<", "<="]), numbers),
        st.builds("{}..{}".format, numbers, numbers),
        numbers.map("{}..*".format),
        numbers.map("*..{}".format),
    )


time_ranges = st.one_of(
    st.builds(str.__add__, st.sampled_from([">", ">=", "<", "<="]), bound_tokens),
    st.builds("{}..{}".format, bound_tokens, bound_tokens),
    bound_tokens.map("{}..*".format),
    bound_tokens.map("*..{}".format),
)


def own_arguments(spec: FunctionMatcher, kind: Kind, values: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """The arguments of an application's function: as its declaration draws them, or a prefix of a value held."""
    assert spec.strategy is not None, f"{spec.name}() says how its arguments are drawn"
    drawn: st.SearchStrategy[Any] = spec.strategy(kind).map(lambda texts: tuple(map(Value, texts)))
    if spec.arguments != (Argument.TEXT,):
        return drawn
    prefixes = values.flatmap(lambda text: st.sampled_from([text[:1], text[:2], text, text.upper()[:3]]))
    return st.one_of(drawn, prefixes.filter(bool).map(lambda text: (Value(text),)))


def functions_for(
    kind: Kind,
    plain: st.SearchStrategy[str],
    values: st.SearchStrategy[str],
    numbers: st.SearchStrategy[str],
    depth: int,
    nested: bool = False,
    table: FunctionTable = BUILTIN_FUNCTIONS,
) -> st.SearchStrategy[Function]:
    """Function matchers (spec section 9, and ``table``'s own) a field of ``kind`` takes, with arguments like the
    plain matchers.

    ``exists()`` tests the whole field: never ``nested`` inside ``not``, ``all`` or ``any``.
    """
    specs = [
        spec
        for spec in table
        if kind in spec.kinds and (depth > 0 or not spec.nests) and not (nested and spec.field_level)
    ]

    @st.composite
    def build(draw: st.DrawFn) -> Function:
        spec = draw(st.sampled_from(specs))
        if not spec.builtin:
            return Function(spec.name, draw(own_arguments(spec, kind, values)))
        count = draw(st.integers(spec.min_arguments, 3 if spec.max_arguments is None else spec.max_arguments))
        if spec.nests:
            inner: st.SearchStrategy[Any] = st.one_of(
                plain.map(Value),
                plain.map(Value),
                functions_for(kind, plain, values, numbers, depth - 1, nested=True, table=table),
            )
        elif spec.name in ("lt", "lte", "gt", "gte"):
            inner = (bound_tokens if kind is Kind.TIME else numbers).map(Value)
        elif spec.name == "like":
            inner = st.one_of(GLOBS, values.flatmap(globs_of)).map(Value)
        elif kind is Kind.NUMBER:
            inner = numbers.map(Value)
        elif kind is Kind.META and spec.name in ("equals", "eq", "in"):
            inner = st.one_of(values, numbers).map(Value)
        else:
            inner = values.map(Value)
        return Function(spec.name, tuple(draw(inner) for _ in range(count)))

    return build()


def matchers_for(kind: Kind, seen: list[str], table: FunctionTable = BUILTIN_FUNCTIONS) -> st.SearchStrategy[Any]:
    """Matchers for a kind of qualifier, often made of the texts the entities hold there: plain ones and functions."""
    from_data = st.sampled_from(seen) if seen else MATCHER_TEXTS
    numbers = numbers_in(seen)
    if kind is Kind.TIME:
        plain = st.one_of(intervals, time_ranges)
        values: st.SearchStrategy[str] = plain
    elif kind is Kind.USER:
        plain = values = st.one_of(users, st.just("@me"), from_data, from_data)
    elif kind is Kind.NUMBER:
        plain = number_matchers(numbers)
        values = numbers
    elif kind is Kind.BOOLEAN:
        plain = values = st.sampled_from(["true", "false", "TRUE", "False"])
    else:
        plain = values = st.one_of(MATCHER_TEXTS, from_data, from_data, from_data.flatmap(pieces))
    functions = functions_for(kind, plain, values, numbers, depth=2, table=table)
    if kind is Kind.META:
        return st.one_of(
            plain.map(Value),
            plain.map(Value),
            st.one_of(GLOBS, from_data.flatmap(globs_of)).map(lambda glob: Function("like", (Value(glob),))),
            values.map(lambda piece: Function("contains", (Value(piece),))),
            functions,
        )
    return st.one_of(plain.map(Value), plain.map(Value), functions)


def aimed_at(kind: Kind, text: str) -> st.SearchStrategy[Any]:
    """A matcher that the value ``text`` satisfies, or nearly does."""
    if kind is Kind.TIME:  # the time on a bound
        forms = ["{}/", "/{}", "{}/PT0.000001S", "PT1H/{}", "{}/{}", ">={}", ">{}", "<={}", "<{}", "{}..{}", "*..{}"]
        plain = st.sampled_from(forms).map(lambda form: Value(form.format(text, text)))
        compared = st.sampled_from(["lt", "lte", "gt", "gte"]).map(lambda name: Function(name, (Value(text),)))
        return st.one_of(plain, plain, compared, st.just(Function("not", (Value(f"{text}/"),))))
    if kind is Kind.NUMBER:
        forms = ["{}", ">={}", ">{}", "<={}", "<{}", "{}..{}", "*..{}", "{}..*"]
        plain = st.sampled_from(forms).map(lambda form: Value(form.format(text, text)))
        named = st.sampled_from(["eq", "lte", "gte", "in", "not"]).map(lambda name: Function(name, (Value(text),)))
        return st.one_of(plain, plain, named)
    if kind is Kind.BOOLEAN:
        return st.sampled_from([Value(text), Function("not", (Value(text),)), Function("eq", (Value(text),))])
    if kind is Kind.META:
        numeric = (
            [st.sampled_from(["eq", "lte", "gte", "gt"]).map(lambda name: Function(name, (Value(text),)))]
            if json_number(text) is not None
            else []
        )
        return st.one_of(
            st.just(Value(text)),
            globs_of(text).map(lambda glob: Function("like", (Value(glob),))),
            pieces(text).map(lambda piece: Function("contains", (Value(piece),))),
            st.just(Function("in", (Value(text), Value("x")))),
            st.just(Function("inIgnoreCase", (Value(text.upper()),))),
            st.just(Function("not", (Value(text),))),
            *numeric,
        )
    if kind in (Kind.EXACT, Kind.USER):
        return st.one_of(
            st.just(Value(text)),
            st.just(Value(text)),
            st.just(Function("in", (Value(text), Value("x")))),
            st.just(Function("inIgnoreCase", (Value(text.upper()),))),
            st.just(Function("not", (Value(text),))),
        )
    if kind is Kind.TEXT:
        return pieces(text).map(Value)
    return st.just(Value(text))


def choice_matchers(choices: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """Matchers of an enum field: its own values only (any other is an error), in plain values and functions."""
    values = st.sampled_from(choices)
    functions = functions_for(Kind.EXACT, values, values, NUMBER_TEXTS, depth=2)
    return st.one_of(values.map(Value), values.map(Value), functions)


def aimed_at_choice(text: str, choices: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """A matcher of an enum field that its value ``text`` satisfies, or nearly does."""
    return st.sampled_from(
        [
            Value(text),
            Function("in", (Value(text), Value(choices[-1]))),
            Function("inIgnoreCase", (Value(text.upper()),)),
            Function("not", (Value(text),)),
            Function("like", (Value(text[:1] + "*"),)),
        ]
    )


@st.composite
def terms(draw: st.DrawFn, schema: Schema, seen: dict[str, list[tuple[tuple[str, ...], str]]]) -> Term:
    # Exact and meta matchers hit less often than the others: drawn twice as often.
    often = [f for f in schema.fields if f.kind in (Kind.EXACT, Kind.META)]
    target = draw(st.sampled_from([*schema.fields, *often]))
    qualifier = target.qualifier
    found = seen[qualifier]
    chosen = []
    if target.choices is not None:
        aimed: bool = draw(st.booleans())
        if found and aimed:
            chosen.append(draw(aimed_at_choice(draw(st.sampled_from(found))[1], target.choices)))
        chosen += draw(st.lists(choice_matchers(target.choices), min_size=1 - len(chosen), max_size=2 - len(chosen)))
        return Term(qualifier, tuple(chosen), draw(st.booleans()))
    if found and draw(st.integers(0, 2)) != 0:
        # Aimed at a value some entity holds (for meta, at its key path too).
        keys, text = draw(st.sampled_from(found))
        found = [f for f in found if f[0] == keys]
        aimed_own = [
            own_arguments(spec, target.kind, st.just(text)).map(partial(Function, spec.name))
            for spec in schema.functions
            if target.kind in spec.kinds
        ]
        chosen.append(draw(st.one_of(aimed_at(target.kind, text), *aimed_own)))
    elif target.kind is Kind.META:
        keys = tuple(draw(st.lists(st.sampled_from(META_KEYS + ["tags", "description"]), min_size=1, max_size=2)))
    if target.kind is Kind.META:
        qualifier = ".".join([qualifier, *keys])
    texts_ = [text for _, text in found]
    own = matchers_for(target.kind, texts_, schema.function_table)
    chosen += draw(st.lists(own, min_size=1 - len(chosen), max_size=2 - len(chosen)))
    return Term(qualifier, tuple(chosen), draw(st.booleans()))


@st.composite
def value_groups(draw: st.DrawFn, schema: Schema, seen: dict[str, list[tuple[tuple[str, ...], str]]]) -> Filter:
    """An OR of plain values of one field (``tag:a tag:b``, ``-tag:a -tag:b``), which the SQL makes one ``IN``.

    Sometimes beside another term, and sometimes a term of the same field
    that is not a plain value (``tag:a tag:b,c``: the plain values become one
    ``IN``, the other alternative stays).
    """
    fields = [f for f in schema.fields if f.kind in (Kind.EXACT, Kind.USER)]
    target = draw(st.sampled_from(fields))
    held = [text for _, text in seen[target.qualifier]]
    values = st.one_of(st.sampled_from(held), st.sampled_from(held)) if held else MATCHER_TEXTS
    if target.choices is not None:
        values = st.sampled_from(target.choices)
    if target.kind is Kind.USER:
        values = st.one_of(values, users, st.just("@me"))
    excluded = draw(st.booleans())
    group = [Term(target.qualifier, (Value(v),), excluded) for v in draw(st.lists(values, min_size=2, max_size=4))]
    rest = draw(st.lists(terms(schema, seen), max_size=1))
    return Filter(tuple(draw(st.permutations(group + rest))))


# The zones a request may read its filter in (tz=); None: the schema's. Spec section 5: they change
# the filter's own dates, times and now arithmetic, never the stored times (naive ones are the schema's).
REQUEST_ZONES = [None, None, UTC, BRUSSELS, ZoneInfo("America/New_York"), timezone(timedelta(hours=5, minutes=30))]


@st.composite
def cases(draw: st.DrawFn, entities: st.SearchStrategy[list[Any]], schema: Schema) -> tuple[Any, Any]:
    """Entities, and filters (up to 4) whose values often come from those entities.

    A filter is up to 3 terms side by side, an OR of plain values of one
    field (:func:`value_groups`), or a boolean expression (spec section 12:
    AND, OR, NOT, parentheses, nested) of up to 6 terms.
    """
    found = draw(entities)
    seen = seen_values(schema, found)
    term = terms(schema, seen)
    one = st.one_of(
        st.lists(term, min_size=1, max_size=3).map(lambda ts: Filter(tuple(ts))),
        value_groups(schema, seen),
        expressions_of(term, max_terms=6).map(Filter.of),
    )
    return found, draw(st.lists(one, min_size=1, max_size=4))


def zoned_cases(
    entities: st.SearchStrategy[list[Any]], schema: Schema
) -> st.SearchStrategy[tuple[Any, Any, tzinfo | None]]:
    """:func:`cases`, and the zone the filters are read in."""
    return st.builds(lambda case, zone: (*case, zone), cases(entities, schema), st.sampled_from(REQUEST_ZONES))


# -- entities ------------------------------------------------------------------------------------------

resources_ = st.one_of(st.none(), fragments, st.integers(0, 9))
maybe_times = st.one_of(st.none(), instant_texts, st.just("soon"))  # "soon": unreadable, so no time
tag_lists = st.lists(st.one_of(fragments, st.integers(0, 9), st.none()), max_size=4)
waylay_parts = st.fixed_dictionaries(
    {
        "meta": meta_objects(json_values, tags=tag_lists, resource=resources_, description=texts),
        "attrs": st.fixed_dictionaries(
            {}, optional={"created": maybe_times, "modified": maybe_times, "created_by": users, "modified_by": users}
        ),
        "query": st.fixed_dictionaries(
            {},
            optional={
                "resource": resources_,
                "data": st.lists(st.fixed_dictionaries({}, optional={"resource": resources_}), max_size=3),
            },
        ),
    }
)


@st.composite
def waylay_entities(draw: st.DrawFn) -> list[dict[str, Any]]:
    entity_names = draw(st.lists(texts, min_size=1, max_size=8, unique=True))
    return [{"name": name, **draw(waylay_parts)} for name in entity_names]


timeplus_times = st.one_of(st.none(), instants.map(lambda m: m.strftime("%Y-%m-%d %H:%M:%S.%f")), instant_texts)
timeplus_users: st.SearchStrategy[str | dict[str, str] | None] = st.one_of(
    st.none(), users, users.map(lambda u: {"id": u}), st.just({})
)
timeplus_tags = st.one_of(
    st.none(), st.lists(st.one_of(st.none(), st.booleans(), jsonb_numbers, fragments), max_size=4), fragments
)
timeplus_parts = st.fixed_dictionaries(
    {"name": texts},
    optional={
        "description": st.one_of(st.none(), texts),
        "sql": st.one_of(st.none(), texts),
        "tags": timeplus_tags,
        "created_at": timeplus_times,
        "created_by": timeplus_users,
        "last_updated_at": timeplus_times,
        "last_updated_by": timeplus_users,
    },
)


@st.composite
def timeplus_entities(draw: st.DrawFn) -> list[dict[str, Any]]:
    return [{"id": f"id-{index}", **draw(timeplus_parts)} for index in range(draw(st.integers(1, 8)))]


# Wall-clock times in Brussels, the repeated hour of 2021-10-31 included. Wall
# times that never happen (the skipped hour of spring) are left out: docs/sql.md.
WALL_TIMES = [
    datetime(2021, 10, 31, 2, 30),
    datetime(2021, 10, 31, 2, 0),
    datetime(2021, 10, 31, 2, 59, 59, 999999),
    datetime(2021, 10, 31, 3, 0),
    datetime(2021, 10, 31, 1, 59, 59, 999999),
    datetime(2020, 1, 1, 1, 0),
    datetime(2020, 1, 1, 0, 59, 59, 999999),
    datetime(2026, 11, 23, 13, 0),
]


flat_parts = st.fixed_dictionaries(
    {
        "resource": st.one_of(st.none(), fragments),
        "tags": st.one_of(st.lists(json_values, max_size=4), json_values),
        "created_by": st.one_of(st.none(), users),
        "modified_by": st.one_of(st.none(), users),
        "created": st.one_of(st.none(), st.sampled_from(WALL_TIMES)),
        "meta": st.one_of(st.none(), st.dictionaries(st.sampled_from(META_KEYS), jsonb_values, max_size=3)),
        "prio": st.one_of(st.none(), st.integers(-3, 10), st.integers(-(2**31), 2**31 - 1)),
        "active": st.one_of(st.none(), st.booleans()),
    }
)


@st.composite
def flat_entities(draw: st.DrawFn) -> list[dict[str, Any]]:
    entity_names = draw(st.lists(texts, min_size=1, max_size=8, unique=True))
    return [{"name": name, **draw(flat_parts)} for name in entity_names]


SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@SETTINGS
@given(case=zoned_cases(waylay_entities(), WAYLAY))
def test_waylay_tables_agree_with_memory(engines: list[sa.Engine], case: Any) -> None:
    check_agreement(engines, SHAPES["waylay"], *case)


@SETTINGS
@given(case=zoned_cases(timeplus_entities(), TIMEPLUS))
def test_timeplus_table_agrees_with_memory(engines: list[sa.Engine], case: Any) -> None:
    check_agreement(engines, SHAPES["timeplus"], *case)


@SETTINGS
@given(case=zoned_cases(flat_entities(), FLAT))
def test_plain_columns_json_and_naive_times_agree_with_memory(engines: list[sa.Engine], case: Any) -> None:
    check_agreement(engines, SHAPES["flat"], *case)


# Doubles every database stores as they are (MariaDB's DOUBLE takes no subnormal), the FLOATS above among them.
gadget_floats = st.one_of(
    st.sampled_from(FLOATS), st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False)
)


@SETTINGS
@given(case=zoned_cases(gadget_entities(texts, gadget_floats), GADGETS))
def test_computed_case_insensitive_enum_float_and_decimal_fields_agree_with_memory(
    engines: list[sa.Engine], case: Any
) -> None:
    check_agreement(engines, SHAPES["gadgets"], *case)
