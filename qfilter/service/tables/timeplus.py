"""The Timeplus saved queries' table (Timeplus' REST API, "Saved queries"), its SQL mapping, and reading and writing it.

:data:`TIMEPLUS_TABLE` holds one row per saved query, ``tags`` a JSON array
(``jsonb`` with a GIN index on PostgreSQL). The user references
``created_by``/``last_updated_by`` are kept as given (an object such as
``{"id": ...}``, or a string) beside their extracted ids.
:data:`TIMEPLUS_SQL` maps :data:`~qfilter.core.schema.TIMEPLUS` onto it, with
the indexes ``sort=`` walks (as the Waylay table has them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from qfilter.core.schema import TIMEPLUS
from qfilter.sql import Column, JsonArray, SqlMapping, UtcDateTime, count_matches, json_keeping_numbers

from .common import (
    LONG_TEXT,
    METADATA,
    NAME,
    TEXT,
    NameOrder,
    check_lengths,
    declare_sort_indexes,
    missing_columns,
    ordered,
    page_select,
    required_instant,
    single,
    sorted_column,
    texts,
    value_getter,
)

__all__ = [
    "TIMEPLUS_TABLE",
    "TIMEPLUS_SQL",
    "insert_saved_queries",
    "get_saved_query",
    "lock_saved_query",
    "replace_saved_query",
    "delete_saved_query",
    "select_saved_queries",
    "count_saved_queries",
]

TIMEPLUS_TABLE = sa.Table(
    "timeplus_saved_queries",
    METADATA,
    sa.Column("id", TEXT, primary_key=True),
    sa.Column("name", NAME, nullable=False),  # indexed with the id, for sort= (and the default order) below
    sa.Column("description", LONG_TEXT),
    sa.Column("sql", LONG_TEXT),
    sa.Column("tags", json_keeping_numbers(binary=True), comment="JSON array"),
    sa.Column("created_at", UtcDateTime(), index=True),
    sa.Column("created_by", json_keeping_numbers(), comment="the user reference, as given"),
    sa.Column("created_by_id", TEXT, index=True, comment="created_by.id (or created_by itself)"),
    sa.Column("last_updated_at", UtcDateTime(), index=True),
    sa.Column("last_updated_by", json_keeping_numbers(), comment="the user reference, as given"),
    sa.Column("last_updated_by_id", TEXT, index=True, comment="last_updated_by.id (or itself)"),
    *missing_columns("created_at", "created_by_id", "last_updated_at", "last_updated_by_id"),
)
"""Timeplus saved queries (Timeplus' REST API, "Saved queries"), one row each."""

sa.Index("ix_timeplus_saved_queries_tags", TIMEPLUS_TABLE.c.tags, postgresql_using="gin").ddl_if(dialect="postgresql")

TIMEPLUS_SQL: SqlMapping = {
    "name": Column(TIMEPLUS_TABLE.c.name),
    "tag": JsonArray(TIMEPLUS_TABLE.c.tags),
    "description": Column(TIMEPLUS_TABLE.c.description),
    "sql": Column(TIMEPLUS_TABLE.c.sql),
    "created_by": sorted_column(TIMEPLUS_TABLE, "created_by_id"),
    "modified_by": sorted_column(TIMEPLUS_TABLE, "last_updated_by_id"),
    "user": (Column(TIMEPLUS_TABLE.c.created_by_id), Column(TIMEPLUS_TABLE.c.last_updated_by_id)),
    "created": sorted_column(TIMEPLUS_TABLE, "created_at"),
    "modified": sorted_column(TIMEPLUS_TABLE, "last_updated_at"),
}
"""Where each qualifier of :data:`~qfilter.core.schema.TIMEPLUS` lives in :data:`TIMEPLUS_TABLE`."""

declare_sort_indexes(TIMEPLUS, TIMEPLUS_SQL, TIMEPLUS_TABLE.c.id)

_TIMEPLUS_VALUES = {qualifier: value_getter(TIMEPLUS, qualifier) for qualifier in ("created_by", "modified_by")}

_TIMEPLUS_TIME = "%Y-%m-%d %H:%M:%S"


def _timeplus_time(moment: datetime | None) -> str | None:
    """Timeplus' spelling, in UTC: ``2023-02-01 23:22:59`` (with ``.ffffff`` when there are microseconds)."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return moment.strftime(_TIMEPLUS_TIME + (".%f" if moment.microsecond else ""))


def _saved_query_row(item: Mapping[str, Any]) -> dict[str, Any]:
    id_ = item.get("id")
    if not isinstance(id_, str):
        raise ValueError(f"a saved query needs an id (a string), got {id_!r}")
    name = item.get("name")
    if not isinstance(name, str):
        raise ValueError(f"{id_}: a saved query needs a name (a string), got {name!r}")
    for key in ("description", "sql"):
        if item.get(key) is not None and not isinstance(item[key], str):
            raise ValueError(f"{id_}: {key} must be a string, got {item[key]!r}")
    row = {
        "id": id_,
        "name": name,
        "description": item.get("description"),
        "sql": item.get("sql"),
        "tags": item.get("tags"),
        "created_at": required_instant(item.get("created_at"), "created_at", id_, TIMEPLUS),
        "created_by": item.get("created_by"),
        "created_by_id": single(texts(_TIMEPLUS_VALUES["created_by"](item)), "created_by", id_),
        "last_updated_at": required_instant(item.get("last_updated_at"), "last_updated_at", id_, TIMEPLUS),
        "last_updated_by": item.get("last_updated_by"),
        "last_updated_by_id": single(texts(_TIMEPLUS_VALUES["modified_by"](item)), "last_updated_by", id_),
    }
    check_lengths(TIMEPLUS_TABLE, [row], id_)
    return row


def insert_saved_queries(conn: sa.Connection, items: Iterable[Mapping[str, Any]]) -> int:
    """Store Timeplus saved queries (JSON dicts, in Timeplus' REST API's shape); returns how many.

    Raises ``ValueError`` for a missing ``id`` or ``name``, a non-text
    ``description``/``sql``, a time that cannot be read (naive: UTC), or an
    id, name or user id of over 255 characters (on every database).
    """
    rows = [_saved_query_row(item) for item in items]
    if rows:
        conn.execute(sa.insert(TIMEPLUS_TABLE), rows)
    return len(rows)


_SAVED_QUERY_FIELDS = (
    "id",
    "name",
    "description",
    "sql",
    "tags",
    "created_at",
    "created_by",
    "last_updated_at",
    "last_updated_by",
)


def _saved_query(row: sa.Row[Any]) -> dict[str, Any]:
    """A saved query as Timeplus returns one: every field, times in Timeplus' UTC spelling."""
    item = {key: getattr(row, key) for key in _SAVED_QUERY_FIELDS}
    item["created_at"] = _timeplus_time(item["created_at"])
    item["last_updated_at"] = _timeplus_time(item["last_updated_at"])
    return item


def _saved_query_columns() -> list[sa.Column[Any]]:
    return [TIMEPLUS_TABLE.c[key] for key in _SAVED_QUERY_FIELDS]


def get_saved_query(conn: sa.Connection, id: str) -> dict[str, Any] | None:
    """The saved query with this id; ``None`` if there is none."""
    row = conn.execute(sa.select(*_saved_query_columns()).where(TIMEPLUS_TABLE.c.id == id)).one_or_none()
    return _saved_query(row) if row is not None else None


def lock_saved_query(conn: sa.Connection, id: str) -> dict[str, Any] | None:
    """Like :func:`get_saved_query`, and lock the row until the transaction ends (PostgreSQL)."""
    statement = sa.select(*_saved_query_columns()).where(TIMEPLUS_TABLE.c.id == id).with_for_update(key_share=True)
    row = conn.execute(statement).one_or_none()
    return _saved_query(row) if row is not None else None


def replace_saved_query(conn: sa.Connection, item: Mapping[str, Any]) -> bool:
    """Replace the stored saved query with the same id by ``item``, in place; whether there was one."""
    row = _saved_query_row(item)
    id_ = row.pop("id")
    return conn.execute(sa.update(TIMEPLUS_TABLE).where(TIMEPLUS_TABLE.c.id == id_).values(row)).rowcount > 0


def delete_saved_query(conn: sa.Connection, id: str) -> bool:
    """Delete the saved query with this id; whether there was one."""
    return conn.execute(sa.delete(TIMEPLUS_TABLE).where(TIMEPLUS_TABLE.c.id == id)).rowcount > 0


def select_saved_queries(
    conn: sa.Connection,
    where: sa.ColumnElement[bool] | None = None,
    *,
    offset: int = 0,
    limit: int | None = None,
    order_by: NameOrder | None = None,
    order: Sequence[sa.ColumnElement[Any]] | None = None,
) -> list[dict[str, Any]]:
    """The saved queries that satisfy ``where``, ordered by name, then id.

    ``order`` (e.g. :func:`qfilter.sql.order_by`'s clauses for a ``sort=``) orders them instead.
    """
    if order is None:
        by_name = ordered(conn, order_by)
        order = [by_name(TIMEPLUS_TABLE.c.name), by_name(TIMEPLUS_TABLE.c.id)]
    statement = page_select(_saved_query_columns(), where, order, offset, limit)
    return [_saved_query(row) for row in conn.execute(statement)]


def count_saved_queries(conn: sa.Connection, where: sa.ColumnElement[bool] | None = None) -> int:
    """How many saved queries satisfy ``where``."""
    return count_matches(conn, TIMEPLUS_TABLE, where)
