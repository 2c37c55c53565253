"""Reference tables for the two entity shapes the library knows, with their SQL mappings.

SQLAlchemy Core tables in one :data:`METADATA`, for SQLite and PostgreSQL:

- Waylay query entities (spec section 2): :data:`WAYLAY_TABLE` keeps each
  entity as given (``body``) beside the values filters need, extracted into
  indexed columns (``created``, ``modified``, ``created_by``,
  ``modified_by``), two association tables (:data:`WAYLAY_TAGS_TABLE`,
  :data:`WAYLAY_RESOURCES_TABLE`: ``meta.tags``; every resource the entity
  refers to, from ``meta.resource``, ``query.resource`` and
  ``query.data[*].resource``) and ``meta`` as JSON. :data:`WAYLAY_SQL` maps
  :data:`~qfilter.core.schema.WAYLAY` onto them.
- Timeplus saved queries: :data:`TIMEPLUS_TABLE`, one row per saved query,
  ``tags`` a JSON array (``jsonb`` with a GIN index on PostgreSQL). The user
  references ``created_by``/``last_updated_by`` are kept as given (an object
  such as ``{"id": ...}``, or a string) beside their extracted ids.
  :data:`TIMEPLUS_SQL` maps :data:`~qfilter.core.schema.TIMEPLUS` onto it.

The helpers take a SQLAlchemy ``Connection`` and run in the caller's
transaction. They store and return the JSON dicts ``qfilter filter`` reads::

    with engine.begin() as conn:
        METADATA.create_all(conn)
        insert_waylay_queries(conn, entities)
        where = compile_clause("tag:demo", WAYLAY, WAYLAY_SQL)
        page, total = select_waylay_page(conn, where, offset=0, limit=10)

Names are ordered by code point, as Python's ``sorted`` orders them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects.mysql import LONGTEXT

from qfilter.core.schema import TIMEPLUS, WAYLAY, Schema
from qfilter.core.times import to_instant
from qfilter.core.values import as_text, field_values
from qfilter.sql import (
    Column,
    JsonArray,
    JsonObject,
    Related,
    SqlMapping,
    UtcDateTime,
    exact_string,
    json_keeping_numbers,
)

__all__ = [
    "METADATA",
    "WAYLAY_TABLE",
    "WAYLAY_TAGS_TABLE",
    "WAYLAY_RESOURCES_TABLE",
    "TIMEPLUS_TABLE",
    "WAYLAY_SQL",
    "TIMEPLUS_SQL",
    "Reference",
    "REFERENCES",
    "NameOrder",
    "order_by_name",
    "insert_waylay_queries",
    "get_waylay_query",
    "lock_waylay_query",
    "replace_waylay_query",
    "delete_waylay_query",
    "select_waylay_queries",
    "count_waylay_queries",
    "select_waylay_page",
    "insert_saved_queries",
    "get_saved_query",
    "lock_saved_query",
    "replace_saved_query",
    "delete_saved_query",
    "select_saved_queries",
    "count_saved_queries",
]

METADATA = sa.MetaData()
"""Every reference table: ``METADATA.create_all(engine)`` makes them."""

# Code-point order on PostgreSQL too, whatever the database's collation, so
# that ORDER BY name is Python's order and can walk the primary key index.
# On MariaDB every key column is VARCHAR(255) utf8mb4_nopad_bin (exact_string):
# a length is required, and (name, tag) keys stay under InnoDB's 3072 bytes.
_TEXT = exact_string(255)
_NAME = exact_string(255).with_variant(sa.String(collation="C"), "postgresql")
# Unbounded text on MariaDB too (TEXT holds 64 KiB); matchers compare it exactly whatever its collation.
_LONG_TEXT = sa.Text().with_variant(LONGTEXT(charset="utf8mb4"), "mysql", "mariadb")

WAYLAY_TABLE = sa.Table(
    "waylay_queries",
    METADATA,
    sa.Column("name", _NAME, primary_key=True),
    sa.Column("body", json_keeping_numbers(), nullable=False, comment="the entity, as given"),
    # json, not jsonb, on PostgreSQL: numbers keep their spelling, so that
    # meta.<key>:1e-05 compares as memory does.
    sa.Column("meta", json_keeping_numbers(), comment="the entity's meta object"),
    sa.Column("created", UtcDateTime(), index=True, comment="attrs.created"),
    sa.Column("modified", UtcDateTime(), index=True, comment="attrs.modified"),
    sa.Column("created_by", _TEXT, index=True, comment="attrs.created_by"),
    sa.Column("modified_by", _TEXT, index=True, comment="attrs.modified_by"),
)
"""Waylay query entities, one row each; ``body`` is what :func:`get_waylay_query` returns."""

WAYLAY_TAGS_TABLE = sa.Table(
    "waylay_query_tags",
    METADATA,
    sa.Column("query_name", _NAME, sa.ForeignKey(WAYLAY_TABLE.c.name, ondelete="CASCADE"), primary_key=True),
    sa.Column("tag", _TEXT, primary_key=True),
    sa.Index("ix_waylay_query_tags_tag", "tag", "query_name"),
)
"""``meta.tags`` of the Waylay entities: one row per (entity, tag)."""

WAYLAY_RESOURCES_TABLE = sa.Table(
    "waylay_query_resources",
    METADATA,
    sa.Column("query_name", _NAME, sa.ForeignKey(WAYLAY_TABLE.c.name, ondelete="CASCADE"), primary_key=True),
    sa.Column("resource", _TEXT, primary_key=True),
    sa.Index("ix_waylay_query_resources_resource", "resource", "query_name"),
)
"""Every resource a Waylay entity refers to (all three paths): one row per (entity, resource)."""

TIMEPLUS_TABLE = sa.Table(
    "timeplus_saved_queries",
    METADATA,
    sa.Column("id", _TEXT, primary_key=True),
    sa.Column("name", _NAME, nullable=False, index=True),
    sa.Column("description", _LONG_TEXT),
    sa.Column("sql", _LONG_TEXT),
    sa.Column("tags", json_keeping_numbers(binary=True), comment="JSON array"),
    sa.Column("created_at", UtcDateTime(), index=True),
    sa.Column("created_by", json_keeping_numbers(), comment="the user reference, as given"),
    sa.Column("created_by_id", _TEXT, index=True, comment="created_by.id (or created_by itself)"),
    sa.Column("last_updated_at", UtcDateTime(), index=True),
    sa.Column("last_updated_by", json_keeping_numbers(), comment="the user reference, as given"),
    sa.Column("last_updated_by_id", _TEXT, index=True, comment="last_updated_by.id (or itself)"),
)
"""Timeplus saved queries (seed 000, "Saved queries"), one row each."""

sa.Index("ix_timeplus_saved_queries_tags", TIMEPLUS_TABLE.c.tags, postgresql_using="gin").ddl_if(dialect="postgresql")

WAYLAY_SQL: SqlMapping = {
    "name": Column(WAYLAY_TABLE.c.name),
    "resource": Related(WAYLAY_RESOURCES_TABLE, WAYLAY_RESOURCES_TABLE.c.query_name, WAYLAY_RESOURCES_TABLE.c.resource),
    "tag": Related(WAYLAY_TAGS_TABLE, WAYLAY_TAGS_TABLE.c.query_name, WAYLAY_TAGS_TABLE.c.tag),
    "created_by": Column(WAYLAY_TABLE.c.created_by),
    "modified_by": Column(WAYLAY_TABLE.c.modified_by),
    "user": (Column(WAYLAY_TABLE.c.created_by), Column(WAYLAY_TABLE.c.modified_by)),
    "created": Column(WAYLAY_TABLE.c.created),
    "modified": Column(WAYLAY_TABLE.c.modified),
    "meta": JsonObject(WAYLAY_TABLE.c.meta),
}
"""Where each qualifier of :data:`~qfilter.core.schema.WAYLAY` lives in the Waylay tables."""

TIMEPLUS_SQL: SqlMapping = {
    "name": Column(TIMEPLUS_TABLE.c.name),
    "tag": JsonArray(TIMEPLUS_TABLE.c.tags),
    "description": Column(TIMEPLUS_TABLE.c.description),
    "sql": Column(TIMEPLUS_TABLE.c.sql),
    "created_by": Column(TIMEPLUS_TABLE.c.created_by_id),
    "modified_by": Column(TIMEPLUS_TABLE.c.last_updated_by_id),
    "user": (Column(TIMEPLUS_TABLE.c.created_by_id), Column(TIMEPLUS_TABLE.c.last_updated_by_id)),
    "created": Column(TIMEPLUS_TABLE.c.created_at),
    "modified": Column(TIMEPLUS_TABLE.c.last_updated_at),
}
"""Where each qualifier of :data:`~qfilter.core.schema.TIMEPLUS` lives in :data:`TIMEPLUS_TABLE`."""


@dataclass(frozen=True, eq=False)
class Reference:
    """A preset schema with its reference table (``key`` orders and identifies rows) and SQL mapping."""

    schema: Schema
    table: sa.Table
    key: sa.Column[Any]
    mapping: SqlMapping


REFERENCES: dict[str, Reference] = {
    "waylay": Reference(WAYLAY, WAYLAY_TABLE, WAYLAY_TABLE.c.name, WAYLAY_SQL),
    "timeplus": Reference(TIMEPLUS, TIMEPLUS_TABLE, TIMEPLUS_TABLE.c.id, TIMEPLUS_SQL),
}
"""The references by preset schema name (as ``qfilter sql --schema`` names them)."""

NameOrder = Callable[[sa.ColumnElement[str]], sa.ColumnElement[str]]
"""Turns a name column into the expression to ORDER BY."""


def order_by_name(dialect_name: str) -> NameOrder:
    """How to order names by code point (Python's ``sorted``) on a database of this dialect."""
    if dialect_name == "postgresql":
        return lambda column: column.collate("C")
    # SQLite's default BINARY collation compares UTF-8 bytes: code point order.
    return lambda column: column


def _ordered(conn: sa.Connection, order_by: NameOrder | None) -> NameOrder:
    return order_by or order_by_name(conn.dialect.name)


def _paged(statement: sa.Select[Any], offset: int, limit: int | None) -> sa.Select[Any]:
    if offset:
        statement = statement.offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    return statement


def _count(conn: sa.Connection, table: sa.Table, where: sa.ColumnElement[bool] | None) -> int:
    statement = sa.select(sa.func.count()).select_from(table)
    if where is not None:
        statement = statement.where(where)
    return int(conn.execute(statement).scalar_one())


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
_TEXT_LIMITS = {
    table.name: _text_limits(table)
    for table in (WAYLAY_TABLE, WAYLAY_TAGS_TABLE, WAYLAY_RESOURCES_TABLE, TIMEPLUS_TABLE)
}


def _check_lengths(table: sa.Table, rows: Iterable[Mapping[str, Any]], entity_id: str) -> None:
    """A ``ValueError`` for a text longer than its column keeps (a tag, a name, a user id of over 255 characters)."""
    for row in rows:
        for name, limit in _TEXT_LIMITS[table.name].items():
            value = row.get(name)
            if isinstance(value, str) and len(value) > limit:
                what = table.c[name].comment or name
                shown = entity_id if len(entity_id) <= 40 else entity_id[:40] + "..."
                raise ValueError(f"{shown}: {what} has {len(value)} characters, more than the {limit} the tables keep")


def _value_getter(schema: Schema, qualifier: str) -> Callable[[Any], list[Any]]:
    return field_values(schema.by_qualifier[qualifier])


def _texts(values: list[Any]) -> list[str]:
    """The distinct texts of the scalar values, in order (what memory compares)."""
    return list(dict.fromkeys(t for t in map(as_text, values) if t is not None))


def _single(found: list[Any], what: str, entity_id: str) -> Any:
    if len(found) > 1:
        raise ValueError(f"{entity_id}: {what} holds {len(found)} values, the table has room for one")
    return found[0] if found else None


def _instants(values: list[Any], schema: Schema) -> list[datetime]:
    """The distinct instants among ``values``; one that cannot be read is no time, as in memory."""
    return list(dict.fromkeys(m for m in (to_instant(v, schema.timezone) for v in values) if m is not None))


def _required_instant(value: Any, what: str, entity_id: str, schema: Schema) -> datetime | None:
    """A time that must be readable when there is one (a table without a body cannot keep the text)."""
    if value is None:
        return None
    moment = to_instant(value, schema.timezone)
    if moment is None:
        raise ValueError(f"{entity_id}: {what} is not a time: {value!r}")
    return moment


_WAYLAY_VALUES = {
    qualifier: _value_getter(WAYLAY, qualifier)
    for qualifier in ("resource", "tag", "created_by", "modified_by", "created", "modified")
}
_TIMEPLUS_VALUES = {qualifier: _value_getter(TIMEPLUS, qualifier) for qualifier in ("created_by", "modified_by")}


# -- Waylay query entities ---------------------------------------------------------------------------


def _waylay_rows(entity: Mapping[str, Any]) -> tuple[dict[str, Any], list[str], list[str]]:
    name = entity.get("name")
    if not isinstance(name, str):
        raise ValueError(f"a Waylay query entity needs a name (a string), got {name!r}")
    values = {qualifier: getter(entity) for qualifier, getter in _WAYLAY_VALUES.items()}
    row = {
        "name": name,
        "body": dict(entity),
        "meta": entity.get("meta"),
        # An unreadable time is no time, as in memory; the body keeps its text.
        "created": _single(_instants(values["created"], WAYLAY), "attrs.created", name),
        "modified": _single(_instants(values["modified"], WAYLAY), "attrs.modified", name),
        "created_by": _single(_texts(values["created_by"]), "attrs.created_by", name),
        "modified_by": _single(_texts(values["modified_by"]), "attrs.modified_by", name),
    }
    tags, resources = _texts(values["tag"]), _texts(values["resource"])
    _check_lengths(WAYLAY_TABLE, [row], name)
    _check_lengths(WAYLAY_TAGS_TABLE, ({"tag": tag} for tag in tags), name)
    _check_lengths(WAYLAY_RESOURCES_TABLE, ({"resource": resource} for resource in resources), name)
    return row, tags, resources


def insert_waylay_queries(conn: sa.Connection, entities: Iterable[Mapping[str, Any]]) -> int:
    """Store Waylay query entities (JSON dicts); returns how many.

    Raises ``ValueError`` for an entity without a string ``name``, with
    several values where the table keeps one (``attrs.created`` ...), or with
    a name, tag, resource or user id of over 255 characters (on every
    database: MariaDB's columns hold 255); a name already stored is the
    database's ``IntegrityError``.
    """
    rows: list[dict[str, Any]] = []
    tags: list[dict[str, str]] = []
    resources: list[dict[str, str]] = []
    for entity in entities:
        row, entity_tags, entity_resources = _waylay_rows(entity)
        rows.append(row)
        tags.extend({"query_name": row["name"], "tag": tag} for tag in entity_tags)
        resources.extend({"query_name": row["name"], "resource": resource} for resource in entity_resources)
    if rows:
        conn.execute(sa.insert(WAYLAY_TABLE), rows)
    _insert_associations(conn, tags, resources)
    return len(rows)


def _insert_associations(conn: sa.Connection, tags: list[dict[str, str]], resources: list[dict[str, str]]) -> None:
    if tags:
        conn.execute(sa.insert(WAYLAY_TAGS_TABLE), tags)
    if resources:
        conn.execute(sa.insert(WAYLAY_RESOURCES_TABLE), resources)


def get_waylay_query(conn: sa.Connection, name: str) -> dict[str, Any] | None:
    """The entity named ``name``, as it was stored; ``None`` if there is none."""
    body = conn.execute(sa.select(WAYLAY_TABLE.c.body).where(WAYLAY_TABLE.c.name == name)).scalar_one_or_none()
    return dict(body) if body is not None else None


def lock_waylay_query(conn: sa.Connection, name: str) -> dict[str, Any] | None:
    """Like :func:`get_waylay_query`, and lock the row until the transaction ends (PostgreSQL).

    A writer that changes an entity locks its row first, before its tags and
    resources, so that concurrent writers of one name queue on that row
    instead of deadlocking on the association tables. (SQLite has no row
    locks; a write transaction there holds the database's write lock.)
    """
    statement = sa.select(WAYLAY_TABLE.c.body).where(WAYLAY_TABLE.c.name == name).with_for_update(key_share=True)
    body = conn.execute(statement).scalar_one_or_none()
    return dict(body) if body is not None else None


def replace_waylay_query(conn: sa.Connection, entity: Mapping[str, Any]) -> bool:
    """Replace the stored entity of the same name by ``entity``, in place; whether there was one.

    The row is updated, not deleted and inserted again, so a concurrent
    writer waiting for its lock finds the new version of the entity.
    """
    row, tags, resources = _waylay_rows(entity)
    name = row.pop("name")
    if conn.execute(sa.update(WAYLAY_TABLE).where(WAYLAY_TABLE.c.name == name).values(row)).rowcount == 0:
        return False
    for table in (WAYLAY_TAGS_TABLE, WAYLAY_RESOURCES_TABLE):
        conn.execute(sa.delete(table).where(table.c.query_name == name))
    _insert_associations(
        conn,
        [{"query_name": name, "tag": tag} for tag in tags],
        [{"query_name": name, "resource": resource} for resource in resources],
    )
    return True


def delete_waylay_query(conn: sa.Connection, name: str) -> bool:
    """Delete the entity named ``name`` (and its tags and resources); whether there was one."""
    # The entity's row first, as every writer does (see lock_waylay_query); then its tags and
    # resources explicitly, not by ON DELETE CASCADE: SQLite enforces foreign keys only when asked to.
    found = conn.execute(sa.delete(WAYLAY_TABLE).where(WAYLAY_TABLE.c.name == name)).rowcount > 0
    if not found:
        # Nothing to delete, and nothing to touch: under READ COMMITTED each statement reads anew, so a
        # create of this name that commits meanwhile would lose its tags to the statements below.
        return False
    for table in (WAYLAY_TAGS_TABLE, WAYLAY_RESOURCES_TABLE):
        conn.execute(sa.delete(table).where(table.c.query_name == name))
    return found


def select_waylay_queries(
    conn: sa.Connection,
    where: sa.ColumnElement[bool] | None = None,
    *,
    offset: int = 0,
    limit: int | None = None,
    order_by: NameOrder | None = None,
    order: Sequence[sa.ColumnElement[Any]] | None = None,
) -> list[dict[str, Any]]:
    """The entities that satisfy ``where`` (e.g. a :func:`~qfilter.sql.compile_clause`), ordered by name.

    ``order`` (e.g. :func:`qfilter.sql.order_by`'s clauses for a ``sort=``) orders them instead.
    """
    if order is None:
        order = [_ordered(conn, order_by)(WAYLAY_TABLE.c.name)]
    statement = sa.select(WAYLAY_TABLE.c.body).order_by(*order)
    if where is not None:
        statement = statement.where(where)
    return [dict(body) for body in conn.execute(_paged(statement, offset, limit)).scalars()]


def count_waylay_queries(conn: sa.Connection, where: sa.ColumnElement[bool] | None = None) -> int:
    """How many entities satisfy ``where``."""
    return _count(conn, WAYLAY_TABLE, where)


def select_waylay_page(
    conn: sa.Connection,
    where: sa.ColumnElement[bool] | None = None,
    *,
    offset: int = 0,
    limit: int | None = None,
    order_by: NameOrder | None = None,
    order: Sequence[sa.ColumnElement[Any]] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """One page of the matching entities, ordered by name (or ``order``), and how many match in all."""
    page = select_waylay_queries(conn, where, offset=offset, limit=limit, order_by=order_by, order=order)
    return page, count_waylay_queries(conn, where)


# -- Timeplus saved queries --------------------------------------------------------------------------

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
        "created_at": _required_instant(item.get("created_at"), "created_at", id_, TIMEPLUS),
        "created_by": item.get("created_by"),
        "created_by_id": _single(_texts(_TIMEPLUS_VALUES["created_by"](item)), "created_by", id_),
        "last_updated_at": _required_instant(item.get("last_updated_at"), "last_updated_at", id_, TIMEPLUS),
        "last_updated_by": item.get("last_updated_by"),
        "last_updated_by_id": _single(_texts(_TIMEPLUS_VALUES["modified_by"](item)), "last_updated_by", id_),
    }
    _check_lengths(TIMEPLUS_TABLE, [row], id_)
    return row


def insert_saved_queries(conn: sa.Connection, items: Iterable[Mapping[str, Any]]) -> int:
    """Store Timeplus saved queries (JSON dicts, seed 000's shape); returns how many.

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
        by_name = _ordered(conn, order_by)
        order = [by_name(TIMEPLUS_TABLE.c.name), by_name(TIMEPLUS_TABLE.c.id)]
    statement = sa.select(*_saved_query_columns()).order_by(*order)
    if where is not None:
        statement = statement.where(where)
    return [_saved_query(row) for row in conn.execute(_paged(statement, offset, limit))]


def count_saved_queries(conn: sa.Connection, where: sa.ColumnElement[bool] | None = None) -> int:
    """How many saved queries satisfy ``where``."""
    return _count(conn, TIMEPLUS_TABLE, where)
