"""Counting a filter's matches (qfilter.sql.count_matches): the association table alone where that is the same.

On each database the count of every filter, exact and capped, equals the
number of rows the filter selects; a filter that is one lookup in the tag
or resource table is counted in that table alone, where the foreign key
holds. SQLite without ``PRAGMA foreign_keys`` may hold a tag of no entity,
so there the count goes through the entities.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qfilter
from qfilter.service import tables as reference
from qfilter.sql import compile_clause, count_matches, count_statement, install_sqlite_functions

TABLE = reference.WAYLAY_TABLE
LOOKUPS = ["tag:a", "tag:a OR tag:b", "tag:b OR tag:c OR tag:A", "resource:r1 OR resource:r2", "tag:\\*"]
"""Filters that are one lookup in an association table: counted there."""
OTHERS = ["tag:a,b", "-tag:a", "tag:a OR resource:r1", "name:n1", "tag:a name:n", "", "tag:a OR name:n2"]
"""Filters that are not: counted through the entities."""


def _sqlite(foreign_keys: bool) -> sa.Engine:
    engine = sa.create_engine("sqlite://", poolclass=sa.StaticPool)
    install_sqlite_functions(engine)

    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")

    return engine


@pytest.fixture(
    scope="module",
    params=[
        "sqlite",
        "sqlite without foreign keys",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ],
)
def engine(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    if request.param.startswith("sqlite"):
        made = _sqlite(foreign_keys=request.param == "sqlite")
    else:
        made = sa.create_engine(
            request.getfixturevalue("postgres_url" if request.param == "postgresql" else "mysql_url")
        )
    with made.begin() as conn:
        reference.METADATA.create_all(conn)
    yield made
    made.dispose()


def _foreign_keys_hold(conn: sa.Connection) -> bool:
    return conn.dialect.name != "sqlite" or bool(conn.exec_driver_sql("PRAGMA foreign_keys").scalar())


def _store(conn: sa.Connection, entities: list[dict[str, Any]]) -> None:
    for table in reversed(reference.METADATA.sorted_tables):
        conn.execute(sa.delete(table))
    reference.insert_waylay_queries(conn, entities)
    if not _foreign_keys_hold(conn):  # a tag of no entity, which only a database without the key can hold
        conn.execute(sa.insert(reference.WAYLAY_TAGS_TABLE), [{"query_name": "gone", "tag": "a"}])


def _selected(conn: sa.Connection, where: sa.ColumnElement[bool]) -> int:
    return len(conn.execute(sa.select(TABLE.c.name).where(where)).all())


entities = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["n1", "n2", "n3", "n10", "m1", "m2", "N1", "x"]),
            "meta": st.fixed_dictionaries(
                {
                    "tags": st.lists(st.sampled_from(["a", "b", "c", "A", "*"]), unique=True, max_size=3),
                    "resource": st.sampled_from(["r1", "r2", "r3"]),
                }
            ),
        }
    ),
    max_size=8,
    unique_by=lambda entity: str(entity["name"]),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=entities, cap=st.integers(min_value=0, max_value=4))
def test_a_count_is_the_number_of_rows_the_filter_selects(
    engine: sa.Engine, stored: list[dict[str, Any]], cap: int
) -> None:
    with engine.connect() as conn, conn.begin() as transaction:
        _store(conn, stored)
        for text in LOOKUPS + OTHERS:
            where = compile_clause(text, qfilter.WAYLAY, reference.WAYLAY_SQL, dialect=conn.dialect)
            selected = _selected(conn, where)
            matched = len(qfilter.compile_predicate(text, qfilter.WAYLAY).filter(stored))
            assert selected == matched, text  # the rows hold the entities' tags and resources
            assert count_matches(conn, TABLE, where) == selected, text
            assert count_matches(conn, TABLE, where, at_most=cap) == min(selected, cap), text
        transaction.rollback()


def _reads_entities(statement: sa.Select[Any], conn: sa.Connection) -> bool:
    return TABLE.name in str(statement.compile(dialect=conn.dialect))


@pytest.mark.parametrize("text", LOOKUPS)
def test_one_lookup_is_counted_in_its_association_table_where_the_key_holds(engine: sa.Engine, text: str) -> None:
    with engine.connect() as conn:
        where = compile_clause(text, qfilter.WAYLAY, reference.WAYLAY_SQL, dialect=conn.dialect)
        for at_most in (None, 10):
            assert not _reads_entities(count_statement(TABLE, where, at_most=at_most), conn)
            assert _reads_entities(count_statement(TABLE, where, at_most=at_most, through_foreign_keys=False), conn)
        executed: list[str] = []
        sa.event.listen(conn, "before_cursor_execute", lambda *args: executed.append(args[2]))
        count_matches(conn, TABLE, where)
        counts = [statement for statement in executed if "count(" in statement.lower()]
        assert len(counts) == 1 and (TABLE.name in counts[0]) != _foreign_keys_hold(conn)


@pytest.mark.parametrize("text", OTHERS)
def test_any_other_filter_is_counted_through_the_table(text: str) -> None:
    where = compile_clause(text, qfilter.WAYLAY, reference.WAYLAY_SQL, dialect="postgresql")
    statement = count_statement(TABLE, where, at_most=None)
    assert list(statement.get_final_froms()) == [TABLE]


def test_a_lookup_without_a_foreign_key_to_a_unique_key_is_counted_through_the_table() -> None:
    metadata = sa.MetaData()
    items = sa.Table("items", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("kind", sa.String))
    labels = sa.Table("labels", metadata, sa.Column("item", sa.Integer), sa.Column("label", sa.String))
    keyed = sa.Table(
        "keyed", metadata, sa.Column("item", sa.Integer, sa.ForeignKey(items.c.id)), sa.Column("label", sa.String)
    )
    by_kind = sa.Table(
        "by_kind", metadata, sa.Column("kind", sa.String, sa.ForeignKey(items.c.kind)), sa.Column("label", sa.String)
    )
    unkeyed = items.c.id.in_(sa.select(labels.c.item).where(labels.c.label == "x"))
    not_unique = items.c.kind.in_(sa.select(by_kind.c.kind).where(by_kind.c.label == "x"))
    limited = items.c.id.in_(sa.select(keyed.c.item).where(keyed.c.label == "x").limit(3))
    for where in (unkeyed, not_unique, limited):
        assert list(count_statement(items, where).get_final_froms()) == [items]
    keyed_lookup = items.c.id.in_(sa.select(keyed.c.item).where(keyed.c.label == "x"))
    counted = str(count_statement(items, keyed_lookup).compile(dialect=sa.create_engine("sqlite://").dialect))
    # A nullable key: DISTINCT would keep one NULL, which names no item.
    assert "SELECT DISTINCT keyed.item" in counted and "keyed.item IS NOT NULL" in counted and "items" not in counted


def test_a_lookup_that_reads_another_table_is_counted_through_the_table() -> None:
    metadata = sa.MetaData()
    items = sa.Table("items", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("kind", sa.String))
    keyed = sa.Table(
        "keyed",
        metadata,
        sa.Column("item", sa.Integer, sa.ForeignKey(items.c.id), nullable=False),
        sa.Column("label", sa.String),
    )
    other = sa.Table("other", metadata, sa.Column("label", sa.String))
    correlated = items.c.id.in_(sa.select(keyed.c.item).where(keyed.c.label == items.c.kind))
    joined = items.c.id.in_(sa.select(keyed.c.item).where(keyed.c.label == other.c.label))
    for where in (correlated, joined):
        assert list(count_statement(items, where).get_final_froms()) == [items]
    # A subquery of the lookup's own reads what it reads apart: still the keys of one table.
    nested = items.c.id.in_(sa.select(keyed.c.item).where(keyed.c.label.in_(sa.select(other.c.label))))
    counted = str(count_statement(items, nested).compile(dialect=sa.create_engine("sqlite://").dialect))
    assert "SELECT DISTINCT keyed.item" in counted and "items" not in counted


def test_a_sqlite_connection_that_stops_enforcing_foreign_keys_is_counted_through_the_table_from_then_on() -> None:
    engine = _sqlite(foreign_keys=True)
    with engine.begin() as conn:
        reference.METADATA.create_all(conn)
        reference.insert_waylay_queries(conn, [{"name": "n1", "meta": {"tags": ["a"]}}])
    where = compile_clause("tag:a", qfilter.WAYLAY, reference.WAYLAY_SQL, dialect="sqlite")
    with engine.connect() as conn:
        assert count_matches(conn, TABLE, where) == 1
        conn.rollback()
        conn.exec_driver_sql("PRAGMA foreign_keys = OFF")  # outside a transaction, where it takes effect
        conn.execute(sa.insert(reference.WAYLAY_TAGS_TABLE), [{"query_name": "gone", "tag": "a"}])
        assert count_matches(conn, TABLE, where) == 1  # the tag table alone holds two


def test_the_association_count_is_refused_for_a_database_the_clause_is_refused_for() -> None:
    from sqlalchemy.dialects import mssql

    where = compile_clause("tag:a OR tag:b", qfilter.WAYLAY, reference.WAYLAY_SQL)
    for statement in (sa.select(TABLE.c.name).where(where), count_statement(TABLE, where)):
        with pytest.raises(sa.exc.CompileError, match="not mssql"):
            statement.compile(dialect=mssql.dialect())  # type: ignore[no-untyped-call]
