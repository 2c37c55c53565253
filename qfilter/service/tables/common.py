"""What the reference tables of both resources share: the metadata, column types, order and paging, checks.

Each resource's module (:mod:`.waylay`, :mod:`.timeplus`) builds its tables
in :data:`METADATA` from the column types here, and extracts the values
filters need with the helpers here, so that both read an entity as
:mod:`qfilter.memory` does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects.mysql import LONGTEXT

from qfilter.core.schema import Schema
from qfilter.core.times import to_instant
from qfilter.core.values import as_text, field_values
from qfilter.sql import SUPPORTED_DIALECTS, Column, SqlMapping, exact_string, missing_flag, sort_indexes
from qfilter.sql.elements import ByIdentity

__all__ = [
    "METADATA",
    "TEXT",
    "NAME",
    "LONG_TEXT",
    "NameOrder",
    "order_by_name",
    "ordered",
    "paged",
    "page_select",
    "check_lengths",
    "value_getter",
    "texts",
    "single",
    "instants",
    "required_instant",
    "missing_columns",
    "sorted_column",
    "declare_sort_indexes",
]

METADATA = sa.MetaData()
"""Every reference table: ``METADATA.create_all(engine)`` makes them."""

# Code-point order on PostgreSQL too, whatever the database's collation, so
# that ORDER BY name is Python's order and can walk the primary key index.
# On MariaDB every key column is VARCHAR(255) utf8mb4_nopad_bin (exact_string):
# a length is required, and (name, tag) keys stay under InnoDB's 3072 bytes.
TEXT = exact_string(255)
"""A key or user id column: 255 characters, compared exactly."""
NAME = exact_string(255).with_variant(sa.String(collation="C"), "postgresql")
"""A name column: like :data:`TEXT`, in code-point order on PostgreSQL too."""
# Unbounded text on MariaDB too (TEXT holds 64 KiB); matchers compare it exactly whatever its collation.
LONG_TEXT = sa.Text().with_variant(LONGTEXT(charset="utf8mb4"), "mysql", "mariadb")
"""A text of any length (a description, a SQL statement)."""

NameOrder = Callable[[sa.ColumnElement[str]], sa.ColumnElement[str]]
"""Turns a name column into the expression to ORDER BY."""


def order_by_name(dialect_name: str) -> NameOrder:
    """How to order names by code point (Python's ``sorted``) on a database of this dialect."""
    if dialect_name == "postgresql":
        return lambda column: column.collate("C")
    # SQLite's default BINARY collation compares UTF-8 bytes: code point order.
    return lambda column: column


def missing_columns(*names: str) -> list[sa.Column[bool]]:
    """The generated ``<name>_missing`` column of each nullable sortable column: true where it is NULL."""
    return [
        sa.Column(f"{name}_missing", sa.Boolean(), missing_flag(name), comment=f"{name} IS NULL (for sort=)")
        for name in names
    ]


def sorted_column(table: sa.Table, name: str) -> Column:
    """The mapping's :class:`~qfilter.sql.Column` of a nullable sortable column, with its ``_missing`` column."""
    return Column(table.c[name], missing=table.c[f"{name}_missing"])


def declare_sort_indexes(schema: Schema, mapping: SqlMapping, id_column: sa.Column[Any]) -> None:
    """Declare in the table the indexes ``sort=`` walks, each database's own (``create_all`` makes them there)."""
    for dialect in dict.fromkeys(name if name != "mysql" else "mariadb" for name in SUPPORTED_DIALECTS):
        sort_indexes(schema, mapping, dialect, id_column=id_column, declare=True)


def ordered(conn: sa.Connection, order_by: NameOrder | None) -> NameOrder:
    """``order_by``, or the code-point order of the connection's database."""
    return order_by or order_by_name(conn.dialect.name)


def paged(statement: sa.Select[Any], offset: int, limit: int | None) -> sa.Select[Any]:
    """``statement`` from row ``offset`` on, at most ``limit`` rows (``None``: all)."""
    if offset:
        statement = statement.offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    return statement


PAGE_CACHE_SIZE = 256
"""How many page statements :func:`page_select` keeps, the last used."""


def page_select(
    columns: Sequence[sa.ColumnElement[Any]],
    where: sa.ColumnElement[bool] | None,
    order: Sequence[sa.ColumnElement[Any]],
    offset: int,
    limit: int | None,
) -> sa.Select[Any]:
    """``SELECT columns WHERE where ORDER BY order`` (:func:`paged`): the same statement for the same clauses.

    The clauses are the same when they are the same objects, as the
    compiler's kept ``where`` and ``order`` are for a repeated request.
    """
    return _page_select(
        tuple(map(ByIdentity, columns)), ByIdentity(where), tuple(map(ByIdentity, order)), offset, limit
    )


@functools.lru_cache(maxsize=PAGE_CACHE_SIZE)
def _page_select(
    columns: tuple[ByIdentity[sa.ColumnElement[Any]], ...],
    where: ByIdentity[sa.ColumnElement[bool] | None],
    order: tuple[ByIdentity[sa.ColumnElement[Any]], ...],
    offset: int,
    limit: int | None,
) -> sa.Select[Any]:
    # SQLAlchemy keeps a statement's cache key on it, so a statement used again is not walked again to
    # find its compiled form; that walk and building the statement cost a small page more than reading it.
    statement = sa.select(*(column.value for column in columns)).order_by(*(item.value for item in order))
    if where.value is not None:
        statement = statement.where(where.value)
    return paged(statement, offset, limit)


# -- extracting the values filters need --------------------------------------------------------------


def _text_limits(table: sa.Table) -> dict[str, int]:
    """The text columns of ``table`` with a length (``VARCHAR(255)`` on MariaDB), by name."""
    mariadb = mysql.dialect()
    limits: dict[str, int] = {}
    for column in table.columns:
        length = getattr(column.type.dialect_impl(mariadb), "length", None)
        if isinstance(length, int) and not isinstance(column.type, sa.JSON):
            limits[column.name] = length
    return limits


# The same limits on every database, so that the tables take the same entities wherever they are
# (MariaDB, which needs a length for a VARCHAR, would refuse a longer text with a DataError).
_TEXT_LIMITS: dict[str, dict[str, int]] = {}
"""Each table's limits by its name, read from its columns the first time a row of it is checked."""


def check_lengths(table: sa.Table, rows: Iterable[Mapping[str, Any]], entity_id: str) -> None:
    """A ``ValueError`` for a text longer than its column keeps (a tag, a name, a user id of over 255 characters)."""
    limits = _TEXT_LIMITS.get(table.name)
    if limits is None:
        limits = _TEXT_LIMITS[table.name] = _text_limits(table)
    for row in rows:
        for name, limit in limits.items():
            value = row.get(name)
            if isinstance(value, str) and len(value) > limit:
                what = table.c[name].comment or name
                shown = entity_id if len(entity_id) <= 40 else entity_id[:40] + "..."
                raise ValueError(f"{shown}: {what} has {len(value)} characters, more than the {limit} the tables keep")


def value_getter(schema: Schema, qualifier: str) -> Callable[[Any], list[Any]]:
    """Reads the values of a qualifier's field from an entity, as memory reads them."""
    return field_values(schema.by_qualifier[qualifier])


def texts(values: list[Any]) -> list[str]:
    """The distinct texts of the scalar values, in order (what memory compares)."""
    return list(dict.fromkeys(t for t in map(as_text, values) if t is not None))


def single(found: list[Any], what: str, entity_id: str) -> Any:
    """The one value found (``None`` for none); a ``ValueError`` for several, where a column keeps one."""
    if len(found) > 1:
        raise ValueError(f"{entity_id}: {what} holds {len(found)} values, the table has room for one")
    return found[0] if found else None


def instants(values: list[Any], schema: Schema) -> list[datetime]:
    """The distinct instants among ``values``; one that cannot be read is no time, as in memory."""
    return list(dict.fromkeys(m for m in (to_instant(v, schema.timezone) for v in values) if m is not None))


def required_instant(value: Any, what: str, entity_id: str, schema: Schema) -> datetime | None:
    """A time that must be readable when there is one (a table without a body cannot keep the text)."""
    if value is None:
        return None
    moment = to_instant(value, schema.timezone)
    if moment is None:
        raise ValueError(f"{entity_id}: {what} is not a time: {value!r}")
    return moment
