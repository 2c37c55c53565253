"""Counting the rows a filter matches: of the table, or of its association table alone where that is the same.

A filter that comes down to one lookup in an association table (``tag:a``,
``tag:a OR tag:b``: ``t.id IN (SELECT fk FROM tags WHERE tag IN (...))``)
matches as many rows as there are distinct keys in that lookup, when the
keys are a foreign key to a unique ``t.id``: every key names one row, and
no row is named by two keys. Counting them reads the association table
alone: ``SELECT count(*) FROM (SELECT DISTINCT fk FROM tags WHERE ...)``,
rather than ``count(DISTINCT fk)``, which PostgreSQL and SQLite answer by
sorting every key (an OR of 10 tags over 10^6 rows: 1,753 against 637 ms on
PostgreSQL, 2,288 against 709 ms on SQLite, measured by hand). The
benchmarks measure it against the count through the table
(``docs/performance.md``). Any other filter is counted through the table.

The foreign key only holds where the database enforces it: always on
PostgreSQL and MariaDB (InnoDB), on SQLite only with ``PRAGMA foreign_keys
= ON``, which :func:`count_matches` asks the connection about.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression
from sqlalchemy.sql.selectable import ScalarSelect

from .dialects import Supported
from .elements import ByIdentity

__all__ = ["count_statement", "count_matches"]

COUNT_CACHE_SIZE = 256
"""How many count statements :func:`count_matches` keeps, the last used, by table, clause and cap."""


def _lookup_keys(table: sa.Table, where: sa.ColumnElement[bool] | None) -> sa.Select[Any] | None:
    """``SELECT fk FROM assoc WHERE ...`` when ``where`` is one lookup of ``table``'s unique key."""
    clause: Any = where.clause if isinstance(where, Supported) else where
    if not isinstance(clause, BinaryExpression) or clause.operator is not operators.in_op:
        return None
    key, lookup = clause.left, clause.right
    if not isinstance(key, sa.Column) or key.table is not table or not _unique(table, key):
        return None
    if not isinstance(lookup, ScalarSelect) or not isinstance(lookup.element, sa.Select):
        return None
    select: sa.Select[Any] = lookup.element
    columns = list(select.selected_columns)
    if len(columns) != 1 or not isinstance(columns[0], sa.Column) or not isinstance(columns[0].table, sa.Table):
        return None
    foreign: sa.Column[Any] = columns[0]
    association = foreign.table
    if not foreign.references(key) or any(each is not association for each in select._from_obj):
        return None
    if getattr(foreign.type, "collation", None) != getattr(key.type, "collation", None):
        return None  # DISTINCT under another collation could merge keys the table keeps apart
    if select._limit_clause is not None or select._offset_clause is not None or select._group_by_clauses:
        return None
    if select._having_criteria or select._distinct_on or select.whereclause is None:
        return None
    test: sa.ColumnElement[bool] = select.whereclause
    if any(each is not association for each in _tables_of(test)):
        return None  # another FROM (a correlation with the outer table included): not one table's keys
    if isinstance(where, Supported):  # still refused for a dialect the filter was not built for
        test = Supported(test, where.shown_as)
    keys = sa.select(foreign).select_from(association).where(test)
    if foreign.nullable:  # DISTINCT keeps one NULL, which names no row
        keys = keys.where(foreign.is_not(None))
    return keys


def _tables_of(clause: sa.ClauseElement) -> Iterator[sa.FromClause | None]:
    """The tables (or other FROMs) whose columns ``clause`` reads, not looking inside its subqueries.

    What ``Select.get_final_froms()`` finds from a WHERE clause, without
    compiling the statement (a tenth of a millisecond on every count).
    """
    pending = [clause]
    while pending:
        element = pending.pop()
        if isinstance(element, sa.ColumnClause):
            yield element.table
        elif isinstance(element, sa.TextClause):
            yield None  # what text reads is not known
        elif not isinstance(element, ScalarSelect | sa.SelectBase | sa.Exists):  # their FROMs are their own
            pending.extend(element.get_children())


def _unique(table: sa.Table, column: sa.Column[Any]) -> bool:
    if list(table.primary_key.columns) == [column] or column.unique:
        return True
    return any(
        isinstance(constraint, sa.UniqueConstraint) and list(constraint.columns) == [column]
        for constraint in table.constraints
    ) or any(index.unique and list(index.columns) == [column] for index in table.indexes)


def count_statement(
    table: sa.Table,
    where: sa.ColumnElement[bool] | None = None,
    *,
    at_most: int | None = None,
    through_foreign_keys: bool = True,
) -> sa.Select[Any]:
    """The ``SELECT`` of how many rows of ``table`` satisfy ``where`` (a :func:`compile_clause`), at most ``at_most``.

    A capped count reads at most ``at_most`` rows: it asks for the
    ``at_most``-th row (``SELECT 1 ... LIMIT 1 OFFSET at_most - 1``), which
    every database stops reading at, and counts the rows only when there is
    none, so fewer.
    With ``through_foreign_keys`` (the database enforces them), a filter
    that is one lookup in an association table whose keys reference
    ``table``'s unique key is counted in that table alone (the module's
    docstring says why that is the same number).
    """
    return _count(table, where, at_most, _lookup_keys(table, where) if through_foreign_keys else None)


def _count(
    table: sa.Table,
    where: sa.ColumnElement[bool] | None,
    at_most: int | None,
    lookup: sa.Select[Any] | None,
) -> sa.Select[Any]:
    if lookup is not None:
        # The keys as a derived table: SQLite 3.40 answers a scalar DISTINCT subquery's OFFSET past its
        # end with its last row, not with none.
        keys = lookup.distinct().subquery()
        rows = sa.select(*keys.c)
        exact = sa.select(sa.func.count()).select_from(keys)
    else:
        rows = sa.select(sa.literal(1).label("one")).select_from(table)
        exact = sa.select(sa.func.count()).select_from(table)
        if where is not None:
            rows, exact = rows.where(where), exact.where(where)
    if at_most is None:
        return exact
    if at_most < 1:
        return sa.select(sa.literal(0))
    # Whether there is an at_most-th row first: a read that stops there without counting (on SQLite a
    # count over a LIMIT subquery took 2.6x as long); only fewer rows are counted, at most at_most - 1.
    reached = rows.limit(1).offset(at_most - 1).scalar_subquery()
    return sa.select(sa.case((reached.is_not(None), at_most), else_=exact.scalar_subquery()))


def count_matches(
    conn: sa.Connection, table: sa.Table, where: sa.ColumnElement[bool] | None = None, *, at_most: int | None = None
) -> int:
    """How many rows of ``table`` satisfy ``where``, at most ``at_most``: :func:`count_statement` run on ``conn``.

    The association table alone is read only where the connection's
    database enforces foreign keys (on SQLite: ``PRAGMA foreign_keys``).
    """
    through_table, through_keys = _count_statements(table, ByIdentity(where), at_most)
    statement = through_table
    if through_keys is not None and (conn.dialect.name != "sqlite" or _enforces_foreign_keys(conn)):
        statement = through_keys
    return int(conn.execute(statement).scalar_one())


@functools.lru_cache(maxsize=COUNT_CACHE_SIZE)
def _count_statements(
    table: sa.Table, key: ByIdentity[sa.ColumnElement[bool] | None], at_most: int | None
) -> tuple[sa.Select[Any], sa.Select[Any] | None]:
    # A listing counts the same few clauses over and over (its compiler keeps them): building the
    # statement, and finding the lookup, costs more than running it on a small table. The cache holds
    # the clause, so its id is not reused while it is a key.
    where = key.value
    lookup = _lookup_keys(table, where)
    return _count(table, where, at_most, None), None if lookup is None else _count(table, where, at_most, lookup)


def _enforces_foreign_keys(conn: sa.Connection) -> bool:
    """Whether this SQLite connection enforces foreign keys now (``PRAGMA foreign_keys``, which it may change)."""
    return bool(conn.exec_driver_sql("PRAGMA foreign_keys").scalar())
