"""The SQL compiler on examples: the spec's cases, on SQLite, PostgreSQL and MariaDB.

Every example states the names it expects, checks that memory keeps exactly
those, and that the database returns exactly those too.
"""

from __future__ import annotations

import dataclasses
import json
import re
import runpy
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from sqlalchemy.dialects import mssql, mysql, oracle, postgresql, sqlite
from support import NOW

from qfilter import TIMEPLUS, WAYLAY, Context, Field, FilterError, Kind, Schema, bind, compile_predicate, parse
from qfilter.cli import main
from qfilter.core.errors import FilterLimitError
from qfilter.core.sorting import parse_sort
from qfilter.integrations.strategies import filter_texts
from qfilter.service.demo import demo_entities
from qfilter.service.tables import (
    METADATA,
    TIMEPLUS_SQL,
    WAYLAY_SQL,
    WAYLAY_TABLE,
    count_waylay_queries,
    delete_saved_query,
    delete_waylay_query,
    get_saved_query,
    get_waylay_query,
    insert_saved_queries,
    insert_waylay_queries,
    select_saved_queries,
    select_waylay_page,
    select_waylay_queries,
)
from qfilter.service.tables.common import page_select
from qfilter.sql import (
    MARIADB_BINARY,
    MAX_META_KEYS,
    POSTGRESQL_COLLATION,
    SUPPORTED_DIALECTS,
    Column,
    JsonArray,
    JsonObject,
    Location,
    Related,
    SqlCompiler,
    SqlMapping,
    UtcDateTime,
    check_mapping,
    compile_clause,
    exact_string,
    json_keeping_numbers,
)
from qfilter.sql.elements import fold_case

ME = "users/alice"
BRUSSELS = ZoneInfo("Europe/Brussels")

# On MariaDB: resource and the users keep the database's default collation (case- and
# accent-insensitive, PAD SPACE): matchers must compare exactly all the same.
DEFAULT_COLLATION = sa.String().with_variant(mysql.VARCHAR(255), "mysql", "mariadb")
DEVICES_METADATA = sa.MetaData()
DEVICES = sa.Table(
    "qfilter_test_devices",
    DEVICES_METADATA,
    sa.Column("name", exact_string(), primary_key=True),
    sa.Column("resource", DEFAULT_COLLATION),
    sa.Column("created_by", DEFAULT_COLLATION),
    sa.Column("modified_by", DEFAULT_COLLATION),
    sa.Column("created", UtcDateTime()),
    # naive: wall-clock time in Brussels (MariaDB's DATETIME keeps microseconds only when asked)
    sa.Column("wall", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")),
    sa.Column("tags", json_keeping_numbers()),
    sa.Column("meta", json_keeping_numbers()),
)
DEVICES_SCHEMA = Schema(
    "devices",
    (
        Field("name", Kind.TEXT, "name"),
        Field("resource", Kind.EXACT, "resource"),
        Field("user", Kind.USER, ("created_by", "modified_by"), many=True),
        Field("created", Kind.TIME, "created"),
        Field("wall", Kind.TIME, "wall"),
        Field("tag", Kind.EXACT, "tags", many=True),
        Field("meta", Kind.META, "meta"),
    ),
    timezone=BRUSSELS,
)
DEVICES_SQL: SqlMapping = {
    "name": Column(DEVICES.c.name),
    "resource": Column(DEVICES.c.resource),
    "user": (Column(DEVICES.c.created_by), Column(DEVICES.c.modified_by)),
    "created": Column(DEVICES.c.created),
    "wall": Column(DEVICES.c.wall),
    "tag": JsonArray(DEVICES.c.tags),
    "meta": JsonObject(DEVICES.c.meta),
}


@pytest.fixture(scope="module")
def engine(database: sa.Engine) -> sa.Engine:
    """Each database in turn (the conftest's ``database``), with the reference and test tables."""
    with database.begin() as conn:
        METADATA.create_all(conn)
        DEVICES_METADATA.create_all(conn)
    return database


def device(name: str, **values: Any) -> dict[str, Any]:
    return {"name": name, **values}


def store(conn: sa.Connection, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    conn.execute(sa.insert(DEVICES), [{c.name: e.get(c.name) for c in DEVICES.c} for e in entities])
    return entities


def check(conn: sa.Connection, query: str, entities: list[dict[str, Any]], expected: list[str]) -> None:
    """Memory keeps exactly ``expected`` (names) of ``entities``, and so does the database, which stores them."""
    kept = compile_predicate(query, DEVICES_SCHEMA, now=NOW, user=ME).filter(entities)
    assert sorted(e["name"] for e in kept) == sorted(expected), "memory"
    clause = compile_clause(query, DEVICES_SCHEMA, DEVICES_SQL, now=NOW, user=ME)
    found = conn.execute(sa.select(DEVICES.c.name).where(clause)).scalars()
    assert sorted(found) == sorted(expected), conn.dialect.name


# -- NULL-safe exclusions --------------------------------------------------------------------------------


def test_excluding_a_resource_keeps_entities_without_one(conn: sa.Connection) -> None:
    entities = store(conn, [device("x", resource="X"), device("y", resource="Y"), device("none")])
    check(conn, "-resource:X", entities, ["y", "none"])
    check(conn, "resource:X", entities, ["x"])


def test_exact_matches_compare_every_code_point_and_trailing_space(conn: sa.Connection) -> None:
    # MariaDB's default collation finds all four probes equal to "demo"; memory finds none.
    probes = ["DEMO", "Demo", "démo", "demo "]
    values = ["demo", *probes]
    entities = store(
        conn, [device(f"n{i}", resource=v, created_by=v, tags=[v]) for i, v in enumerate(values)] + [device("none")]
    )
    for i, value in enumerate(values):
        quoted = json.dumps(value, ensure_ascii=False)
        for query in (f"resource:{quoted}", f"user:{quoted}", f"tag:{quoted}"):
            check(conn, query, entities, [f"n{i}"])
    check(conn, "-resource:demo", entities, ["n1", "n2", "n3", "n4", "none"])


def test_excluding_a_time_keeps_entities_without_one(conn: sa.Connection) -> None:
    entities = store(
        conn,
        [
            device("old", created=datetime(2019, 5, 1, tzinfo=UTC), wall=datetime(2019, 5, 1)),
            device("new", created=datetime(2021, 5, 1, tzinfo=UTC)),
            device("none"),
        ],
    )
    check(conn, "-created:2020/", entities, ["old", "none"])
    check(conn, "-wall:2020/", entities, ["old", "new", "none"])


def test_excluding_a_user_of_two_columns_keeps_entities_with_neither(conn: sa.Connection) -> None:
    entities = store(
        conn,
        [
            device("mine", created_by=ME),
            device("edited", created_by="bob", modified_by=ME),
            device("bobs", created_by="bob"),
            device("nobody's"),
        ],
    )
    check(conn, "-user:@me", entities, ["bobs", "nobody's"])
    check(conn, "user:@me", entities, ["mine", "edited"])


def test_excluding_a_tag_keeps_entities_without_tags(conn: sa.Connection) -> None:
    entities = store(
        conn, [device("tagged", tags=["x", "y"]), device("other", tags=["y"]), device("empty", tags=[]), device("none")]
    )
    check(conn, "-tag:x", entities, ["other", "empty", "none"])


def test_excluding_a_saved_query_tag_keeps_those_without_tags(conn: sa.Connection) -> None:
    # On PostgreSQL the tags are jsonb and the match an indexable @>, which is NULL for NULL tags.
    insert_saved_queries(
        conn,
        [{"id": "1", "name": "a", "tags": ["x"]}, {"id": "2", "name": "b"}, {"id": "3", "name": "c", "tags": ["y"]}],
    )
    clause = compile_clause("-tag:x", TIMEPLUS, TIMEPLUS_SQL)
    assert [q["id"] for q in select_saved_queries(conn, clause)] == ["2", "3"]


# -- characters SQL treats specially -----------------------------------------------------------------------


LIKE_SPECIALS = [device("100%"), device("a_b"), device("ab"), device("a/b"), device("a\\b"), device("plain")]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name:%", ["100%"]),
        ("name:_", ["a_b"]),
        ("name:a_b", ["a_b"]),
        ("name:/", ["a/b"]),
        ("name:\\", ["a\\b"]),
        ("meta.k:like(a_b)", []),
        ("tag:%", []),
    ],
)
def test_like_characters_match_themselves(conn: sa.Connection, query: str, expected: list[str]) -> None:
    check(conn, query, store(conn, LIKE_SPECIALS), expected)


def test_like_globs_use_only_star_and_question_mark(conn: sa.Connection) -> None:
    pairs = [("pct", "100%"), ("under", "a_b"), ("ab", "ab"), ("axb", "aXb"), ("nl", "a\nb"), ("num", 5.0)]
    entities = store(conn, [device(n, meta={"k": v}) for n, v in pairs])
    check(conn, "meta.k:like(a?b)", entities, ["under", "axb", "nl"])
    check(conn, "meta.k:like(*%)", entities, ["pct"])
    check(conn, "meta.k:like(a_b)", entities, ["under"])
    check(conn, "meta.k:like(A*)", entities, ["under", "ab", "axb", "nl"])
    check(conn, "meta.k:like(5.?)", entities, ["num"])


# -- case folding: Python's str.lower on both databases -----------------------------------------------------


FOLDING = [
    device(n) for n in ["Ünïcode", "ÄÖÜ", "äöü", "ΣΑΣ", "σας", "Straße", "STRASSE", "İstanbul", "istanbul", "ASCII"]
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name:ü", ["Ünïcode", "ÄÖÜ", "äöü"]),
        ("name:ÜNÏ", ["Ünïcode"]),
        ("name:äöü", ["ÄÖÜ", "äöü"]),
        ("name:σ", ["ΣΑΣ", "σας"]),
        ("name:ς", ["ΣΑΣ", "σας"]),  # Python lower-cases a final capital sigma to ς
        ("name:σας", ["ΣΑΣ", "σας"]),
        ("name:ß", ["Straße"]),  # lower() keeps ß: no full case folding
        ("name:ss", ["STRASSE"]),
        ("name:i̇stanbul", ["İstanbul"]),  # 'İ'.lower() is i + combining dot
        ("name:İ", ["İstanbul"]),
        ("name:istanbul", ["istanbul"]),
        ("name:ascii", ["ASCII"]),
    ],
)
def test_names_match_ignoring_case_as_python_lowers(conn: sa.Connection, query: str, expected: list[str]) -> None:
    check(conn, query, store(conn, FOLDING), expected)


def test_meta_like_ignores_case_and_contains_does_not(conn: sa.Connection) -> None:
    entities = store(conn, [device("u", meta={"d": "Ünïcode"}), device("l", meta={"d": "ünïcode"})])
    check(conn, "meta.d:like(ü*)", entities, ["u", "l"])
    check(conn, "meta.d:contains(Ü)", entities, ["u"])


# -- meta values compared as text ------------------------------------------------------------------------


META_VALUES = [
    device("int", meta={"v": 5}),
    device("float", meta={"v": 5.0}),
    device("text", meta={"v": "5"}),
    device("small", meta={"v": 1e-05}),
    device("true", meta={"v": True}),
    device("list", meta={"v": [1, "x", [5]]}),
    device("deep", meta={"v": {"w": [{"x": 5}, {"x": "y"}]}}),
    device("top-list", meta=[{"v": 5}]),
    device("null", meta={"v": None}),
    device("none"),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("meta.v:5", ["int", "text", "top-list"]),
        ("meta.v:5.0", ["float"]),
        ("meta.v:1e-05", ["small"]),
        ("meta.v:0.00001", []),
        ("meta.v:true", ["true"]),
        ("meta.v:True", []),
        ("meta.v:x", ["list"]),
        ("meta.v.w.x:5", ["deep"]),
        ("meta.v:contains(e-0)", ["small"]),
        ("-meta.v:5", ["float", "small", "true", "list", "deep", "null", "none"]),
        ("meta.v.real:5", []),  # (5).real is no key: memory agrees since this commit
    ],
)
def test_meta_values_compare_as_their_json_text(conn: sa.Connection, query: str, expected: list[str]) -> None:
    check(conn, query, store(conn, META_VALUES), expected)


# -- times on the bounds ---------------------------------------------------------------------------------


def test_a_time_on_the_start_bound_is_in_and_on_the_end_bound_is_out(conn: sa.Connection) -> None:
    start, end = datetime(2020, 4, 22, 12, 34, tzinfo=UTC), datetime(2020, 4, 23, tzinfo=UTC)
    entities = store(
        conn,
        [
            device("start", created=start, wall=start.astimezone(BRUSSELS).replace(tzinfo=None)),
            device("end", created=end, wall=end.astimezone(BRUSSELS).replace(tzinfo=None)),
            device(
                "just-before-end",
                created=datetime(2020, 4, 22, 23, 59, 59, 999999, tzinfo=UTC),
                wall=datetime(2020, 4, 23, 1, 59, 59, 999999),
            ),
        ],
    )
    check(conn, "created:2020-04-22T12:34:00Z/2020-04-23T00:00:00Z", entities, ["start", "just-before-end"])
    check(conn, "wall:2020-04-22T12:34:00Z/2020-04-23T00:00:00Z", entities, ["start", "just-before-end"])
    check(conn, "created:2020-04-22T14:34:00+02:00/P1D", entities, ["start", "end", "just-before-end"])
    check(conn, "created:/2020-04-23T00:00:00Z", entities, ["start", "just-before-end"])
    check(conn, "created:2020-04-23T00:00:00Z/", entities, ["end"])
    check(conn, "-created:2020-04-22T12:34:00Z/2020-04-23T00:00:00Z", entities, ["end"])


def test_naive_wall_times_in_the_repeated_hour_read_as_their_first_occurrence(conn: sa.Connection) -> None:
    # On 2021-10-31 Brussels goes from 03:00 CEST back to 02:00 CET: 02:30 happens twice.
    # A naive 02:30 is the first one (00:30Z), as memory reads it (fold=0).
    entities = store(
        conn, [device("02:30", wall=datetime(2021, 10, 31, 2, 30)), device("03:00", wall=datetime(2021, 10, 31, 3))]
    )
    check(conn, "wall:2021-10-31T00:30:00Z/", entities, ["02:30", "03:00"])
    check(conn, "wall:2021-10-31T01:30:00Z/", entities, ["03:00"])  # the second 02:30
    check(conn, "wall:/2021-10-31T01:30:00Z", entities, ["02:30"])
    check(conn, "wall:2021-10-31", entities, ["02:30", "03:00"])


# -- parameters only -------------------------------------------------------------------------------------

HOSTILE = ["zq'zq", "zq;zq", "zq--zq", "zq%zq"]
# SQLAlchemy's psycopg dialect class has an unannotated __init__ (third-party typing gap).
PSYCOPG_DIALECT: sa.Dialect = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
PYMYSQL_DIALECT: sa.Dialect = mysql.pymysql.dialect()
# psycopg2's casts no parameter: its SQL is the string compiler's but for the placeholders.
PSYCOPG2_DIALECT: sa.Dialect = postgresql.psycopg2.dialect()  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    "dialect", [sqlite.dialect(), PSYCOPG_DIALECT, PYMYSQL_DIALECT], ids=["sqlite", "postgresql", "mysql"]
)
@pytest.mark.parametrize("text", HOSTILE)
def test_user_text_reaches_sql_only_as_parameters(dialect: sa.Dialect, text: str) -> None:
    quoted = json.dumps(text)
    every_position = (
        f"name:{quoted} resource:{quoted} -tag:{quoted} user:{quoted} meta.zqkey:{quoted} "
        f"meta.zqkey.zqkey:like({quoted}) -meta.zqkey:contains({quoted}) "
        f"name:{quoted},{quoted}"
    )
    for schema, mapping in [(DEVICES_SCHEMA, DEVICES_SQL), (WAYLAY, WAYLAY_SQL)]:
        if schema is WAYLAY:
            every_position = every_position.replace(" user:", " created_by:")
        compiled = (
            sa.select(sa.literal_column("1"))
            .where(compile_clause(every_position, schema, mapping))
            .compile(dialect=dialect)
        )
        assert "zq" not in str(compiled)
        values = [v for v in compiled.params.values() if isinstance(v, str)]
        escaped = text.replace("%", "/%")  # in a LIKE pattern (contains on PostgreSQL)
        assert sum(text in v or escaped in v for v in values) >= 7
        assert any("zqkey" in v for v in values)


def test_hostile_text_is_matched_literally(conn: sa.Connection) -> None:
    hostile = [device(f"n{i}", resource=text, meta={"k": text}) for i, text in enumerate(HOSTILE)]
    entities = store(conn, [*hostile, device("other")])
    check(conn, 'resource:"zq\'zq"', entities, ["n0"])
    check(conn, "meta.k:zq;zq", entities, ["n1"])
    check(conn, "name:n -meta.k:contains(--)", entities, ["n0", "n1", "n3"])


def test_a_nul_character_matches_nothing_instead_of_failing(conn: sa.Connection) -> None:
    # PostgreSQL text cannot hold U+0000; a matcher holding one matches nothing anywhere.
    entities = store(conn, [device("a", resource="a")])
    check(conn, 'resource:"a\x00b" meta.k:"\x00"', entities, [])
    check(conn, '-name:"\x00"', entities, ["a"])


# -- statement cache: the per-dialect pieces carry their own parameters -------------------------------------


def test_filters_of_the_same_shape_reuse_the_statement_cache_correctly(conn: sa.Connection) -> None:
    entities = store(conn, [device("a", tags=["x"], meta={"k": "x"}), device("b", tags=["y"], meta={"k": "y"})])
    for value, expected in [("x", ["a"]), ("y", ["b"]), ("x", ["a"]), ("z", [])]:
        check(conn, f"tag:{value} meta.k:{value}", entities, expected)


# -- the reference tables --------------------------------------------------------------------------------


def test_waylay_entities_come_back_as_they_were_stored(conn: sa.Connection) -> None:
    demo = demo_entities()
    assert insert_waylay_queries(conn, demo) == len(demo)
    assert select_waylay_queries(conn) == sorted(demo, key=lambda e: e["name"])
    assert get_waylay_query(conn, demo[1]["name"]) == demo[1]
    assert get_waylay_query(conn, "no such query") is None


def test_waylay_search_matches_memory_on_the_demo_data(conn: sa.Connection) -> None:
    demo = demo_entities()
    insert_waylay_queries(conn, demo)
    for query in ["tag:demo", "-resource:151CF name:ü", "user:@me created:2020/", "meta.description:like(*hourly)"]:
        expected = sorted(e["name"] for e in compile_predicate(query, WAYLAY, now=NOW, user=ME).filter(demo))
        clause = compile_clause(query, WAYLAY, WAYLAY_SQL, now=NOW, user=ME)
        assert [e["name"] for e in select_waylay_queries(conn, clause)] == expected, query


@pytest.mark.parametrize(
    "query",
    ["tag:demo tag:preview", "tag:in(demo,preview)", "-tag:demo -tag:preview", "tag:demo OR tag:preview OR tag:x"],
)
def test_an_or_of_tags_is_one_lookup_of_the_tag_table(conn: sa.Connection, query: str) -> None:
    """One subquery with IN, not an OR of one subquery per value (a per-row subplan on PostgreSQL)."""
    demo = demo_entities()
    insert_waylay_queries(conn, demo)
    clause = compile_clause(query, WAYLAY, WAYLAY_SQL)
    text = str(sa.select(WAYLAY_TABLE.c.name).where(clause).compile(conn))
    assert text.count("FROM waylay_query_tags") == 1, text
    assert " IN (" in text.split("FROM waylay_query_tags", 1)[1], text
    expected = sorted(e["name"] for e in compile_predicate(query, WAYLAY).filter(demo))
    assert [e["name"] for e in select_waylay_queries(conn, clause)] == expected


def test_name_contains_pattern_characters_literally(conn: sa.Connection) -> None:
    """``name:`` is a LIKE on PostgreSQL (a trigram index serves it): %, _ and / in the text match only themselves."""
    names = ["100%", "a_b", "x/y", "a/%b", "//", "a1bx y100", "A%B"]
    entities = store(conn, [device(name) for name in names])
    for text in ["100%", "a_b", "x/y", "a/%b", "//", "%", "_", "/", "a%b"]:
        expected = [name for name in names if text in name.lower()]
        check(conn, f"name:{json.dumps(text)}", entities, expected)
        check(conn, f"name:like({json.dumps(f'*{text}*')})", entities, expected)
        check(conn, f"name:contains({json.dumps(text)})", entities, [name for name in names if text in name])


def test_waylay_pages_are_ordered_by_code_point_and_counted(conn: sa.Connection) -> None:
    names = ["b", "B", "a", "Z", "é", "e", "_x", "10", "9"]
    insert_waylay_queries(conn, [{"name": n, "meta": {"tags": ["t"]}} for n in names])
    page, total = select_waylay_page(conn, compile_clause("tag:t", WAYLAY, WAYLAY_SQL), offset=2, limit=3)
    assert [e["name"] for e in page] == sorted(names)[2:5]
    assert total == len(names)
    assert delete_waylay_query(conn, "b") and not delete_waylay_query(conn, "b")
    assert count_waylay_queries(conn, compile_clause("tag:t", WAYLAY, WAYLAY_SQL)) == len(names) - 1


def test_waylay_entities_with_two_creation_times_are_refused(conn: sa.Connection) -> None:
    with pytest.raises(ValueError, match="attrs.created"):
        insert_waylay_queries(conn, [{"name": "x", "attrs": [{"created": "2020"}, {"created": "2021"}]}])
    with pytest.raises(ValueError, match="name"):
        insert_waylay_queries(conn, [{"meta": {}}])


SAVED_QUERY = {
    "id": "7b2c",
    "name": "streaming_iot",
    "description": "get the latest data from iot stream",
    "sql": "select * from iot",
    "tags": ["iot", "demo"],
    "created_at": "2023-02-01 23:22:59",
    "created_by": {"id": "users/alice", "name": "Alice"},
    "last_updated_at": "2023-02-05 11:12:13.250000",
    "last_updated_by": "users/bob",
}


def test_saved_queries_come_back_as_they_were_stored(conn: sa.Connection) -> None:
    other = {
        **SAVED_QUERY,
        "id": "1",
        "name": "another",
        "description": None,
        "tags": None,
        "created_at": "2023-02-01T23:22:59+01:00",
        "created_by": None,
        "last_updated_by": None,
    }
    insert_saved_queries(conn, [SAVED_QUERY, other])
    assert get_saved_query(conn, "7b2c") == SAVED_QUERY
    assert get_saved_query(conn, "1") == {**other, "created_at": "2023-02-01 22:22:59"}  # UTC, Timeplus' spelling
    clause = compile_clause("tag:iot user:users/bob modified:2023-02-05T11:12:13.25Z/", TIMEPLUS, TIMEPLUS_SQL)
    assert select_saved_queries(conn, clause) == [SAVED_QUERY]
    assert [q["id"] for q in select_saved_queries(conn)] == ["1", "7b2c"]
    assert delete_saved_query(conn, "1") and get_saved_query(conn, "1") is None


def test_saved_queries_with_unreadable_times_are_refused(conn: sa.Connection) -> None:
    with pytest.raises(ValueError, match="created_at"):
        insert_saved_queries(conn, [{**SAVED_QUERY, "created_at": "yesterday"}])


# -- mappings --------------------------------------------------------------------------------------------


def test_the_reference_mappings_cover_their_schemas() -> None:
    check_mapping(WAYLAY, WAYLAY_SQL)
    check_mapping(TIMEPLUS, TIMEPLUS_SQL)
    check_mapping(DEVICES_SCHEMA, DEVICES_SQL)


def test_a_bad_mapping_is_reported_with_every_problem() -> None:
    bad: dict[str, Location | Sequence[Location]] = {
        **DEVICES_SQL,
        "created": JsonArray(DEVICES.c.tags),
        "meta": Column(DEVICES.c.name),
    }
    bad["colour"] = DEVICES_SQL["name"]
    del bad["resource"]
    with pytest.raises(ValueError) as raised:
        check_mapping(DEVICES_SCHEMA, bad)
    message = str(raised.value)
    assert "'resource'" in message and "'created'" in message and "'meta'" in message and "colour" in message
    with pytest.raises(ValueError, match="DateTime"):
        check_mapping(DEVICES_SCHEMA, {**DEVICES_SQL, "created": Column(DEVICES.c.name)})


def test_a_filter_using_an_unmapped_qualifier_is_a_configuration_error() -> None:
    partial: SqlMapping = {"name": Column(DEVICES.c.name)}
    compile_clause("name:x", DEVICES_SCHEMA, partial)
    with pytest.raises(ValueError, match="'resource'") as raised:
        compile_clause("resource:x", DEVICES_SCHEMA, partial)
    assert not isinstance(raised.value, FilterError)


def test_related_finds_the_key_its_foreign_key_points_at() -> None:
    tags = WAYLAY_SQL["tag"]
    assert isinstance(tags, Related) and tags.references is WAYLAY_TABLE.c.name
    with pytest.raises(ValueError, match="references"):
        Related(DEVICES, DEVICES.c.name, DEVICES.c.resource)


def test_bad_filters_are_filter_errors_and_deep_meta_paths_are_refused() -> None:
    with pytest.raises(FilterError):
        compile_clause("colour:red", DEVICES_SCHEMA, DEVICES_SQL)
    deep = "meta." + ".".join(["k"] * (MAX_META_KEYS + 1)) + ":x"
    with pytest.raises(FilterLimitError, match="keys"):
        compile_clause(deep, DEVICES_SCHEMA, DEVICES_SQL)
    compile_clause(parse("meta." + ".".join(["k"] * MAX_META_KEYS) + ":x"), DEVICES_SCHEMA, DEVICES_SQL)


EVERY_QUALIFIER = {
    "waylay": (WAYLAY, WAYLAY_SQL),
    "timeplus": (TIMEPLUS, TIMEPLUS_SQL),
    "devices": (DEVICES_SCHEMA, DEVICES_SQL),
}


# SQLAlchemy's mssql and oracle dialect classes have unannotated __init__s (third-party typing gap).
MSSQL_DIALECT: sa.Dialect = mssql.dialect()  # type: ignore[no-untyped-call]
ORACLE_DIALECT: sa.Dialect = oracle.dialect()  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("dialect", [MSSQL_DIALECT, ORACLE_DIALECT], ids=["mssql", "oracle"])
@pytest.mark.parametrize("shape", list(EVERY_QUALIFIER))
def test_other_databases_get_a_clear_compile_error_for_every_qualifier(dialect: sa.Dialect, shape: str) -> None:
    schema, mapping = EVERY_QUALIFIER[shape]
    for target in schema.fields:
        qualifier = f"{target.qualifier}.k" if target.kind is Kind.META else target.qualifier
        matcher, like = ("2020/", "2021/") if target.kind is Kind.TIME else ("x", "like(x*)")
        for term in (f"{qualifier}:{matcher}", f"-{qualifier}:{matcher}", f"name:x {qualifier}:{matcher},{like}"):
            clause = compile_clause(term, schema, mapping, now=NOW, user=ME)
            with pytest.raises(sa.exc.CompileError) as raised:
                sa.select(sa.literal_column("1")).where(clause).compile(dialect=dialect)
            message = str(raised.value)
            assert dialect.name in message, message
            assert all(name in message for name in SUPPORTED_DIALECTS), message


@pytest.mark.parametrize("dialect", [None, "sqlite", "postgresql", "mariadb"])
def test_filters_differing_only_in_values_share_sqlalchemys_compiled_sql(dialect: str | None) -> None:
    """Every element has a cache key (no SAWarning about inherit_cache), and values are not part of it."""
    shape = (
        'name:{0} tag:{0} tag:{1} -tag:{1} resource:{0} created:"2020-01-0{2}/" meta.k:{0} meta.k.j:like({0}*) '
        "user:in({0},{1}) meta.n:gt({2}) meta.x:exists() meta.y:not({0}) name:contains({1}) (name:{0} OR tag:{1})"
    )
    keys = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", sa.exc.SAWarning)
        for values in (("a", "b", 1), ("zz", "y-y", 2)):
            clause = compile_clause(shape.format(*values), WAYLAY, WAYLAY_SQL, user=ME, dialect=dialect)
            key = sa.select(WAYLAY_TABLE.c.name).where(clause)._generate_cache_key()
            assert key is not None
            keys.append(key)
    assert keys[0] == keys[1]
    assert [b.value for b in keys[0].bindparams] != [b.value for b in keys[1].bindparams]


def test_a_clause_built_for_one_database_is_refused_by_another() -> None:
    clause = compile_clause("meta.k:x tag:x", DEVICES_SCHEMA, DEVICES_SQL, dialect=sqlite.dialect())
    sa.select(DEVICES.c.name).where(clause).compile(dialect=sqlite.dialect())
    for other in (PSYCOPG_DIALECT, PYMYSQL_DIALECT):
        with pytest.raises(sa.exc.CompileError, match=f"built for sqlite .* not {other.name}"):
            sa.select(DEVICES.c.name).where(clause).compile(dialect=other)
    # MariaDB under either name: a clause built for one compiles for the other.
    clause = compile_clause("meta.k:x", DEVICES_SCHEMA, DEVICES_SQL, dialect="mariadb")
    assert "JSON_TABLE" in str(sa.select(DEVICES.c.name).where(clause).compile(dialect=PYMYSQL_DIALECT))
    with pytest.raises(ValueError, match="not oracle"):
        compile_clause("tag:x", DEVICES_SCHEMA, DEVICES_SQL, dialect=ORACLE_DIALECT)


def test_mysql_servers_are_refused_and_mariadb_ones_are_not() -> None:
    clause = compile_clause("tag:x", DEVICES_SCHEMA, DEVICES_SQL)
    server = mysql.pymysql.dialect()
    server.server_version_info = (8, 0, 36)  # as when connected to a MySQL server
    with pytest.raises(sa.exc.CompileError, match="MariaDB, not MySQL"):
        sa.select(sa.literal_column("1")).where(clause).compile(dialect=server)
    server.is_mariadb = True
    server.server_version_info = (10, 11, 9)
    assert MARIADB_BINARY in str(sa.select(sa.literal_column("1")).where(clause).compile(dialect=server))


def test_a_bound_plan_compiles_like_its_text(conn: sa.Connection) -> None:
    entities = store(conn, [device("a", created_by=ME, wall=datetime(2020, 1, 1, 0, 30)), device("b")])
    plan = bind(parse("user:@me wall:2019-12-31T23:00:00Z/"), DEVICES_SCHEMA, Context(now=NOW, user=ME))
    found = conn.execute(sa.select(DEVICES.c.name).where(compile_clause(plan, DEVICES_SCHEMA, DEVICES_SQL)))
    assert found.scalars().all() == ["a"]
    check(conn, "user:@me wall:2019-12-31T23:00:00Z/", entities, ["a"])
    # A naive column is in the schema's zone whatever the plan's tz (spec section 5): 00:30 in
    # Brussels is 23:30Z, after the bound, for a plan bound in Tokyo too; only the filter's own
    # times without offset are Tokyo's (08:29 and 08:31 there are 23:29Z and 23:31Z).
    in_tokyo = bind(plan.filter, DEVICES_SCHEMA, Context(now=NOW, user=ME, tz=ZoneInfo("Asia/Tokyo")))
    assert in_tokyo.tz == ZoneInfo("Asia/Tokyo")
    tokyo = compile_clause(in_tokyo, DEVICES_SCHEMA, DEVICES_SQL)
    assert conn.execute(sa.select(DEVICES.c.name).where(tokyo)).scalars().all() == ["a"]
    for bound, after in (("2020-01-01T08:29", ["a"]), ("2020-01-01T08:31", [])):
        local = compile_clause(f"wall:{bound}/", DEVICES_SCHEMA, DEVICES_SQL, tz=ZoneInfo("Asia/Tokyo"))
        assert conn.execute(sa.select(DEVICES.c.name).where(local)).scalars().all() == after
    # A Plan keeps the context it was bound with: another one alongside it is refused, not ignored.
    with pytest.raises(TypeError, match="carries its own"):
        compile_clause(plan, DEVICES_SCHEMA, DEVICES_SQL, tz=ZoneInfo("Asia/Tokyo"))


def test_a_compiler_gives_an_equal_plan_the_clause_it_kept_and_any_other_plan_its_own(conn: sa.Connection) -> None:
    store(conn, [device("a", created_by=ME, wall=datetime(2020, 1, 1, 0, 30)), device("b", created_by="users/bob")])
    compiler = SqlCompiler(DEVICES_SQL, dialect=conn.dialect, schema=DEVICES_SCHEMA)

    def found(text: str, user: str = ME, schema: Schema = DEVICES_SCHEMA) -> tuple[sa.ColumnElement[bool], list[str]]:
        where = compiler.where(bind(parse(text), schema, Context(now=NOW, user=user)))
        return where, list(conn.execute(sa.select(DEVICES.c.name).where(where)).scalars())

    mine, names = found("user:@me")
    assert names == ["a"] and found("user:@me")[0] is mine  # bound anew, an equal plan: the clause kept
    assert found("user:@me", user="users/bob")[1] == ["b"]  # another user is another plan
    # The groups alone do not say it all: a naive column is in the plan's schema's zone. 00:30 held
    # naive is 23:30Z in Brussels, before midnight UTC, and 00:30Z in a schema in UTC, after it.
    in_utc = dataclasses.replace(DEVICES_SCHEMA, timezone=UTC)
    assert found("wall:2020-01-01T00:00:00Z/")[1] == []
    assert found("wall:2020-01-01T00:00:00Z/", schema=in_utc)[1] == ["a"]
    assert found("wall:2020-01-01T00:00:00Z/")[1] == []


def test_a_compiler_gives_a_sort_the_order_it_kept_for_the_same_id_column_and_its_own_for_another(
    conn: sa.Connection,
) -> None:
    store(conn, [device("a", resource="r", created_by="z"), device("b", resource="r", created_by="y")])
    store(conn, [device("c", resource="q", created_by="x")])
    compiler = SqlCompiler(DEVICES_SQL, dialect=conn.dialect, schema=DEVICES_SCHEMA)
    keys = parse_sort("resource", DEVICES_SCHEMA)

    def ordered(id_column: sa.Column[Any]) -> tuple[list[sa.ColumnElement[Any]], list[str]]:
        order = compiler.with_id_column(id_column).order(keys)  # a copy per request, as a listing makes
        return order, list(conn.execute(sa.select(DEVICES.c.name).order_by(*order)).scalars())

    by_name, names = ordered(DEVICES.c.name)
    assert names == ["c", "a", "b"]
    assert ordered(DEVICES.c.created_by)[1] == ["c", "b", "a"]  # the tie broken by this id column, not the kept one
    again, names = ordered(DEVICES.c.name)
    assert names == ["c", "a", "b"] and all(kept is made for kept, made in zip(by_name, again, strict=True))
    again.clear()  # each caller gets a list of its own
    assert ordered(DEVICES.c.name)[1] == ["c", "a", "b"]
    with pytest.raises(ValueError, match="id_column"):
        compiler.order(keys)


def test_a_page_statement_is_kept_for_the_same_clauses_and_made_anew_for_any_other(conn: sa.Connection) -> None:
    store(conn, [device("a", resource="r"), device("b", resource="r"), device("c", resource="q")])
    columns, order = [DEVICES.c.name], [DEVICES.c.name]
    in_r = DEVICES.c.resource == "r"

    def names(where: sa.ColumnElement[bool] | None, offset: int, limit: int | None) -> list[str]:
        return list(conn.execute(page_select(columns, where, order, offset, limit)).scalars())

    assert page_select(list(columns), in_r, list(order), 0, 1) is page_select(columns, in_r, order, 0, 1)
    assert names(in_r, 0, 1) == ["a"] and names(in_r, 1, 1) == ["b"] and names(in_r, 0, None) == ["a", "b"]
    # A clause equal in shape but not the same object holds its own values: kept by identity, not by SQL.
    assert names(DEVICES.c.resource == "q", 0, 1) == ["c"]
    assert names(None, 1, None) == ["b", "c"]


# -- str() of a clause: a reader's view -------------------------------------------------------------------

# SQLAlchemy writes a parameter :name, %(name)s or ? by dialect; psycopg also casts it (::VARCHAR).
_PLACEHOLDER = re.compile(r":\w+|%\(\w+\)s(?:::[A-Z]+(?: WITH(?:OUT)? TIME ZONE)?)?|\?")


def _without_placeholders(sql: object) -> str:
    """The SQL with every parameter written ``?`` and its white space as single spaces (dialects lay it out apart)."""
    return " ".join(_PLACEHOLDER.sub("?", str(sql)).split())


@settings(max_examples=60, deadline=None)
@given(text=filter_texts(DEVICES_SCHEMA, boolean=True, with_me=True))
def test_str_of_a_clause_shows_the_postgresql_sql_of_any_filter(text: str) -> None:
    clause = compile_clause(text, DEVICES_SCHEMA, DEVICES_SQL, now=NOW, user=ME)
    statement = sa.select(DEVICES.c.name).where(clause).limit(5)
    postgresql_sql = statement.compile(dialect=PSYCOPG2_DIALECT)
    assert _without_placeholders(statement) == _without_placeholders(postgresql_sql)
    # The string compile keeps the parameters, under the names it prints.
    shown = statement.compile()
    assert sorted(map(repr, shown.params.values())) == sorted(map(repr, postgresql_sql.params.values()))
    assert all(f":{name}" in str(shown) for name in shown.params)


def test_str_of_a_clause_built_for_one_database_shows_that_databases_sql() -> None:
    query = "name:sensor tag:lab meta.rack:a3"
    for dialect, marker, absent in (
        ("sqlite", "json_each", "json_array_elements"),
        ("postgresql", "json_array_elements", "json_each"),
        ("mariadb", "JSON_TABLE", "json_each"),
    ):
        shown = str(
            sa.select(DEVICES.c.name).where(compile_clause(query, DEVICES_SCHEMA, DEVICES_SQL, dialect=dialect))
        )
        assert marker in shown and absent not in shown, dialect
        assert "sensor" not in shown and "lab" not in shown, "values stay parameters"
    # Negated and combined with another clause (each then compiles as a supported dialect's part).
    both = sa.and_(
        ~compile_clause("tag:lab", DEVICES_SCHEMA, DEVICES_SQL), compile_clause("name:x", DEVICES_SCHEMA, DEVICES_SQL)
    )
    assert str(both).startswith("NOT (") and "lower(" in str(both)


def test_the_empty_filter_is_true() -> None:
    assert str(compile_clause("", WAYLAY, WAYLAY_SQL).compile(dialect=sqlite.dialect())) == "1"


# -- qfilter sql ---------------------------------------------------------------------------------------


def test_cli_prints_the_where_clause_and_its_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "--dialect", "postgresql", "tag:demo -resource:151CF created:2020/"]) == 0
    out = capsys.readouterr().out
    assert "FROM waylay_queries" in out and "WHERE" in out and "IN (SELECT" in out and "NOT" in out
    assert "'demo'" in out and "'151CF'" in out and "2020-01-01" in out
    assert main(["sql", "--schema", "timeplus", "--dialect", "sqlite", "tag:x"]) == 0
    assert "json_each" in capsys.readouterr().out
    assert main(["sql", "--dialect", "mariadb", "tag:demo name:x"]) == 0
    out = capsys.readouterr().out
    assert "COLLATE utf8mb4_nopad_bin" in out and "utf8mb4_uca1400_ai_ci" in out and "'demo'" in out


def test_cli_sql_rejects_a_bad_filter_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "tag:"]) == 2
    assert "^" in capsys.readouterr().err


# -- index use on PostgreSQL -------------------------------------------------------------------------------

POPULATE = [
    """INSERT INTO waylay_queries (name, body, meta, created, created_by)
       SELECT 'q' || i, json_build_object('name', 'q' || i), '{}'::json,
              timestamptz '2020-01-01 00:00:00+00' + i * interval '1 hour', 'users/u' || mod(i, 100)
       FROM generate_series(1, 30000) AS i""",
    "INSERT INTO waylay_query_tags SELECT 'q' || i, 't' || mod(i, 1000) FROM generate_series(1, 30000) AS i",
    "INSERT INTO waylay_query_tags SELECT 'q' || i, 'all' FROM generate_series(1, 30000) AS i",
    "INSERT INTO waylay_query_resources SELECT 'q' || i, 'r' || mod(i, 3000) FROM generate_series(1, 30000) AS i",
    "ANALYZE waylay_queries",
    "ANALYZE waylay_query_tags",
    "ANALYZE waylay_query_resources",
]


def explain(conn: sa.Connection, query: str) -> str:
    statement = sa.select(WAYLAY_TABLE.c.name).where(compile_clause(query, WAYLAY, WAYLAY_SQL, now=NOW))
    compiled = statement.compile(dialect=conn.dialect)
    return "\n".join(conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).scalars())


INDEXED = {
    "tag:t17": "ix_waylay_query_tags_tag",
    "resource:r123": "ix_waylay_query_resources_resource",
    "created:2021-03-01/2021-03-02": "ix_waylay_queries_created",
    "created_by:users/u7 created:2021-03-01/P1W": "ix_waylay_queries_created",
    "tag:t17 tag:t18 tag:t19": "ix_waylay_query_tags_tag",  # one IN: one index lookup, no per-row subplan
    "-tag:t17 -tag:t18 tag:t19": "ix_waylay_query_tags_tag",
}


@contextmanager
def reference_tables_rolled_back(url: str) -> Iterator[sa.Connection]:
    """A connection to ``url``'s database with the reference tables, in a transaction rolled back afterwards."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            METADATA.create_all(conn)
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                yield conn
            finally:
                transaction.rollback()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_exact_matches_and_time_ranges_use_indexes(postgres_url: str) -> None:
    """On 30 000 entities, the planner answers tag:, resource: and created: from their indexes."""
    with reference_tables_rolled_back(postgres_url) as conn:
        for statement in POPULATE:
            conn.exec_driver_sql(statement)
        plans = {query: explain(conn, query) for query in INDEXED}
    for query, index in INDEXED.items():
        assert index in plans[query], plans[query]
        assert "Seq Scan" not in plans[query], plans[query]
        assert "SubPlan" not in plans[query], plans[query]


@pytest.mark.postgres
def test_name_and_like_use_the_documented_trigram_index(postgres_url: str) -> None:
    """docs/sql.md's pg_trgm index serves name: and like() (skipped without pg_trgm)."""
    with reference_tables_rolled_back(postgres_url) as conn:
        try:
            with conn.begin_nested():
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except sa.exc.DBAPIError as error:
            pytest.skip(f"no pg_trgm here: {error.orig}")
        conn.exec_driver_sql(POPULATE[0])
        conn.exec_driver_sql(
            "CREATE INDEX ix_waylay_queries_name_trgm ON waylay_queries "
            'USING gin (lower(name COLLATE "und-x-icu") gin_trgm_ops)'
        )
        conn.exec_driver_sql("ANALYZE waylay_queries")
        queries = ["name:Q12345", "name:like(*1234?)"]
        plans = {query: explain(conn, query) for query in queries}
        counts = {
            q: len(conn.execute(sa.select(WAYLAY_TABLE.c.name).where(compile_clause(q, WAYLAY, WAYLAY_SQL))).all())
            for q in queries
        }
    for query in queries:
        assert "ix_waylay_queries_name_trgm" in plans[query], plans[query]
        assert "Seq Scan" not in plans[query], plans[query]
    assert counts == {"name:Q12345": 1, "name:like(*1234?)": 10}


MARIADB_POPULATE = [
    """INSERT INTO waylay_queries (name, body, meta, created, created_by)
       SELECT CONCAT('q', seq), JSON_OBJECT('name', CONCAT('q', seq)), '{}',
              TIMESTAMP '2020-01-01 00:00:00' + INTERVAL seq HOUR, CONCAT('users/u', MOD(seq, 100))
       FROM seq_1_to_30000""",
    "INSERT INTO waylay_query_tags SELECT CONCAT('q', seq), CONCAT('t', MOD(seq, 1000)) FROM seq_1_to_30000",
    "INSERT INTO waylay_query_tags SELECT CONCAT('q', seq), 'all' FROM seq_1_to_30000",
    "INSERT INTO waylay_query_resources SELECT CONCAT('q', seq), CONCAT('r', MOD(seq, 3000)) FROM seq_1_to_30000",
    "ANALYZE TABLE waylay_queries, waylay_query_tags, waylay_query_resources",
]


@pytest.mark.mysql
def test_exact_matches_and_time_ranges_use_indexes_on_mariadb(mysql_url: str) -> None:
    """On 30 000 entities, MariaDB answers tag:, resource: and created: from their indexes, no full scan.

    The matcher's COLLATE utf8mb4_nopad_bin is the columns' own collation, so it keeps them indexable.
    """
    engine = sa.create_engine(mysql_url)
    plans = {}
    try:
        # ANALYZE TABLE commits (MariaDB): the rows are deleted at the end rather than rolled back,
        # leaving the tables empty, as the other tests of this session expect them.
        with engine.begin() as conn:
            METADATA.create_all(conn)
            for statement in MARIADB_POPULATE:
                conn.exec_driver_sql(statement)
        with engine.connect() as conn:
            for query in INDEXED:
                select = sa.select(WAYLAY_TABLE.c.name).where(compile_clause(query, WAYLAY, WAYLAY_SQL, now=NOW))
                compiled = select.compile(dialect=conn.dialect)
                plans[query] = conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).mappings().all()
    finally:
        with engine.begin() as conn:
            for table in reversed(METADATA.sorted_tables):
                conn.execute(sa.delete(table))
        engine.dispose()
    for query, index in INDEXED.items():
        assert index in {row["key"] for row in plans[query]}, plans[query]
        # No table scan, except of a semi-join's materialized subquery (the rows its index lookup found).
        scans = [row for row in plans[query] if row["type"] == "ALL" and not str(row["table"]).startswith("<subquery")]
        assert scans == [], plans[query]


# -- the premises and the docs ---------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgresql_icu_lower_is_python_lower_on_every_code_point(postgres_url: str) -> None:
    """The premise of case-insensitive matching on PostgreSQL (docs/sql.md)."""
    characters = [chr(c) for c in range(1, 0x110000) if not 0xD800 <= c < 0xE000]
    statement = sa.text(
        f'SELECT lower(c COLLATE "{POSTGRESQL_COLLATION}") FROM unnest(CAST(:cs AS text[])) WITH ORDINALITY AS t(c, n)'
        " ORDER BY n"
    )
    engine = sa.create_engine(postgres_url)
    differences = []
    with engine.connect() as conn:
        for start in range(0, len(characters), 50_000):
            chunk = characters[start : start + 50_000]
            lowered = conn.execute(statement, {"cs": chunk}).scalars()
            pairs = zip(chunk, lowered, strict=True)
            differences += [(hex(ord(c)), c.lower(), low) for c, low in pairs if c.lower() != low]
    engine.dispose()
    assert differences == []


@pytest.mark.mysql
def test_mariadb_case_folding_is_python_lower_on_every_code_point_and_final_sigma(mysql_url: str) -> None:
    """The premise of case-insensitive matching on MariaDB (docs/sql.md): LOWER under UCA 14.0 for
    one-to-one mappings, and the two rules str.lower adds (İ to i + U+0307, a final Σ to ς) around it.

    Each code point is lowered alone, and in the three places that decide whether a Σ is final: between
    a cased letter and Σ, after a Σ, before a Σ (a space, neither cased nor case-ignorable, between).
    """
    characters = [chr(c) for c in range(1, 0x110000) if not 0xD800 <= c < 0xE000]
    engine = sa.create_engine(mysql_url)
    differences = []
    with engine.connect() as conn:
        # Short texts: MariaDB's REGEXP_REPLACE copies the text for every replacement.
        for start in range(0, len(characters), 250):
            chunk = characters[start : start + 250]
            text = "".join(chunk) + " " + "".join(f"A{c}Σ AΣ{c} {c}Σ " for c in chunk)
            lowered = conn.execute(sa.select(fold_case(sa.bindparam("text", text, type_=sa.String())))).scalar_one()
            if lowered != text.lower():
                differences += [hex(ord(c)) for c in chunk if fold(conn, c) != c.lower() or not context_ok(conn, c)]
    engine.dispose()
    assert differences == []


def fold(conn: sa.Connection, text: str) -> str:
    return str(conn.execute(sa.select(fold_case(sa.bindparam("text", text, type_=sa.String())))).scalar_one())


def context_ok(conn: sa.Connection, c: str) -> bool:
    return all(fold(conn, text) == text.lower() for text in (f"A{c}Σ", f"AΣ{c}", f"{c}Σ"))


def test_the_example_in_docs_sql_md_runs(tmp_path: Path) -> None:
    text = (Path(__file__).parent.parent / "docs" / "sql.md").read_text(encoding="utf-8")
    example = tmp_path / "example.py"
    example.write_text(text.split("A runnable example", 1)[1].split("```python\n", 1)[1].split("```", 1)[0])
    runpy.run_path(str(example))  # its asserts are the test
