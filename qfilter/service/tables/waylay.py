"""The Waylay query entities' tables, their SQL mapping, and reading and writing them.

:data:`WAYLAY_TABLE` keeps each entity as given (``body``) beside the values
filters need, extracted into indexed columns (``created``, ``modified``,
``created_by``, ``modified_by``), two association tables
(:data:`WAYLAY_TAGS_TABLE`, :data:`WAYLAY_RESOURCES_TABLE`: ``meta.tags``;
every resource the entity refers to, from ``meta.resource``,
``query.resource`` and ``query.data[*].resource``) and ``meta`` as JSON.
:data:`WAYLAY_SQL` maps :data:`~qfilter.core.schema.WAYLAY` onto them. Each
sortable field has the indexes ``sort=`` walks on each database, in both
directions (:func:`qfilter.sql.sort_indexes`), and each nullable one its
generated ``<column>_missing`` column, which SQLite and MariaDB order by.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from qfilter.core.schema import WAYLAY
from qfilter.sql import Column, JsonObject, Related, SqlMapping, UtcDateTime, count_matches, json_keeping_numbers

from .common import (
    METADATA,
    NAME,
    TEXT,
    NameOrder,
    check_lengths,
    declare_sort_indexes,
    instants,
    missing_columns,
    ordered,
    page_select,
    single,
    sorted_column,
    texts,
    value_getter,
)

__all__ = [
    "WAYLAY_TABLE",
    "WAYLAY_TAGS_TABLE",
    "WAYLAY_RESOURCES_TABLE",
    "WAYLAY_SQL",
    "insert_waylay_queries",
    "get_waylay_query",
    "lock_waylay_query",
    "replace_waylay_query",
    "delete_waylay_query",
    "select_waylay_queries",
    "count_waylay_queries",
    "select_waylay_page",
]

WAYLAY_TABLE = sa.Table(
    "waylay_queries",
    METADATA,
    sa.Column("name", NAME, primary_key=True),
    sa.Column("body", json_keeping_numbers(), nullable=False, comment="the entity, as given"),
    # json, not jsonb, on PostgreSQL: numbers keep their spelling, so that
    # meta.<key>:1e-05 compares as memory does.
    sa.Column("meta", json_keeping_numbers(), comment="the entity's meta object"),
    sa.Column("created", UtcDateTime(), index=True, comment="attrs.created"),
    sa.Column("modified", UtcDateTime(), index=True, comment="attrs.modified"),
    sa.Column("created_by", TEXT, index=True, comment="attrs.created_by"),
    sa.Column("modified_by", TEXT, index=True, comment="attrs.modified_by"),
    *missing_columns("created", "modified", "created_by", "modified_by"),
)
"""Waylay query entities, one row each; ``body`` is what :func:`get_waylay_query` returns."""

WAYLAY_TAGS_TABLE = sa.Table(
    "waylay_query_tags",
    METADATA,
    sa.Column("query_name", NAME, sa.ForeignKey(WAYLAY_TABLE.c.name, ondelete="CASCADE"), primary_key=True),
    sa.Column("tag", TEXT, primary_key=True),
    sa.Index("ix_waylay_query_tags_tag", "tag", "query_name"),
)
"""``meta.tags`` of the Waylay entities: one row per (entity, tag)."""

WAYLAY_RESOURCES_TABLE = sa.Table(
    "waylay_query_resources",
    METADATA,
    sa.Column("query_name", NAME, sa.ForeignKey(WAYLAY_TABLE.c.name, ondelete="CASCADE"), primary_key=True),
    sa.Column("resource", TEXT, primary_key=True),
    sa.Index("ix_waylay_query_resources_resource", "resource", "query_name"),
)
"""Every resource a Waylay entity refers to (all three paths): one row per (entity, resource)."""

WAYLAY_SQL: SqlMapping = {
    "name": Column(WAYLAY_TABLE.c.name),
    "resource": Related(WAYLAY_RESOURCES_TABLE, WAYLAY_RESOURCES_TABLE.c.query_name, WAYLAY_RESOURCES_TABLE.c.resource),
    "tag": Related(WAYLAY_TAGS_TABLE, WAYLAY_TAGS_TABLE.c.query_name, WAYLAY_TAGS_TABLE.c.tag),
    "created_by": sorted_column(WAYLAY_TABLE, "created_by"),
    "modified_by": sorted_column(WAYLAY_TABLE, "modified_by"),
    "user": (Column(WAYLAY_TABLE.c.created_by), Column(WAYLAY_TABLE.c.modified_by)),
    "created": sorted_column(WAYLAY_TABLE, "created"),
    "modified": sorted_column(WAYLAY_TABLE, "modified"),
    "meta": JsonObject(WAYLAY_TABLE.c.meta),
}
"""Where each qualifier of :data:`~qfilter.core.schema.WAYLAY` lives in the Waylay tables."""

declare_sort_indexes(WAYLAY, WAYLAY_SQL, WAYLAY_TABLE.c.name)

_WAYLAY_VALUES = {
    qualifier: value_getter(WAYLAY, qualifier)
    for qualifier in ("resource", "tag", "created_by", "modified_by", "created", "modified")
}


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
        "created": single(instants(values["created"], WAYLAY), "attrs.created", name),
        "modified": single(instants(values["modified"], WAYLAY), "attrs.modified", name),
        "created_by": single(texts(values["created_by"]), "attrs.created_by", name),
        "modified_by": single(texts(values["modified_by"]), "attrs.modified_by", name),
    }
    tags, resources = texts(values["tag"]), texts(values["resource"])
    check_lengths(WAYLAY_TABLE, [row], name)
    check_lengths(WAYLAY_TAGS_TABLE, ({"tag": tag} for tag in tags), name)
    check_lengths(WAYLAY_RESOURCES_TABLE, ({"resource": resource} for resource in resources), name)
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
        order = [ordered(conn, order_by)(WAYLAY_TABLE.c.name)]
    statement = page_select([WAYLAY_TABLE.c.body], where, order, offset, limit)
    return [dict(body) for body in conn.execute(statement).scalars().all()]


def count_waylay_queries(conn: sa.Connection, where: sa.ColumnElement[bool] | None = None) -> int:
    """How many entities satisfy ``where``."""
    return count_matches(conn, WAYLAY_TABLE, where)


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
