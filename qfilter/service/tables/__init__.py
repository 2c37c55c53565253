"""Reference tables for the two entity shapes the library knows, with their SQL mappings.

SQLAlchemy Core tables in one :data:`METADATA`, for SQLite, PostgreSQL and
MariaDB, one module per resource:

- :mod:`.waylay`: Waylay query entities (the language reference: qualifiers). :data:`WAYLAY_TABLE`
  keeps each entity as given (``body``) beside the values filters need,
  extracted into indexed columns, two association tables
  (:data:`WAYLAY_TAGS_TABLE`, :data:`WAYLAY_RESOURCES_TABLE`) and ``meta``
  as JSON. :data:`WAYLAY_SQL` maps :data:`~qfilter.core.schema.WAYLAY` onto
  them.
- :mod:`.timeplus`: Timeplus saved queries, :data:`TIMEPLUS_TABLE`, one row
  per saved query, ``tags`` a JSON array. :data:`TIMEPLUS_SQL` maps
  :data:`~qfilter.core.schema.TIMEPLUS` onto it.
- :mod:`.common`: what both share (the metadata, column types, name order,
  paging, the length checks and the reading of an entity's values).

Every name is importable from here, as before the tables had a module each.
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

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from qfilter.core.schema import TIMEPLUS, WAYLAY, Schema
from qfilter.sql import SqlMapping

from .common import METADATA, NameOrder, order_by_name
from .timeplus import (
    TIMEPLUS_SQL,
    TIMEPLUS_TABLE,
    count_saved_queries,
    delete_saved_query,
    get_saved_query,
    insert_saved_queries,
    lock_saved_query,
    replace_saved_query,
    select_saved_queries,
)
from .waylay import (
    WAYLAY_RESOURCES_TABLE,
    WAYLAY_SQL,
    WAYLAY_TABLE,
    WAYLAY_TAGS_TABLE,
    count_waylay_queries,
    delete_waylay_query,
    get_waylay_query,
    insert_waylay_queries,
    lock_waylay_query,
    replace_waylay_query,
    select_waylay_page,
    select_waylay_queries,
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
