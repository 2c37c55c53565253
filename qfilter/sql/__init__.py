"""The SQL compiler: a filter becomes a SQLAlchemy boolean clause the database evaluates.

It needs SQLAlchemy, the ``sql`` extra (``pip install "qfilter-lang[sql]"``);
import it explicitly (``import qfilter.sql``): :mod:`qfilter` itself does not
load SQLAlchemy, and works without it. A *SQL mapping* says, for each qualifier of a schema, where
its value lives::

    from qfilter.sql import Column, Related, JsonArray, JsonObject, compile_clause

    MAPPING = {
        "name": Column(devices.c.name),                       # a plain column
        "tag": Related(labels, labels.c.device_id, labels.c.label),  # an association table
        "owner": (Column(devices.c.created_by), Column(devices.c.modified_by)),  # several places
        "created": Column(devices.c.created),                 # a DateTime column
        "meta": JsonObject(devices.c.meta),                   # meta.<path> inside a JSON object
    }
    rows = conn.execute(select(devices).where(compile_clause("tag:demo", SCHEMA, MAPPING)))

The clause gives the same answers as :mod:`qfilter.memory` on the same data,
on SQLite, PostgreSQL and MariaDB (``docs/sql.md`` lists the decisions that make it so,
and the few documented limits). Every matcher reaches the database as a bound
parameter. On SQLite, call :func:`install_sqlite_functions` on the engine
first: case-insensitive matching uses Python's ``str.lower`` there.

The clause is dialect-neutral until it is compiled: the few pieces that differ
between SQLite, PostgreSQL and MariaDB (case folding, substring search, walking JSON)
are chosen when SQLAlchemy compiles the statement for a connection, and any
other dialect is refused then. The modules: :mod:`.mappings` (where values
live), :mod:`.types` (column types), :mod:`.compiler` (the backend),
:mod:`.ordering` (``sort=`` and :class:`SqlCompiler`, what a listing takes)
and :mod:`.order_elements` (its per-dialect ``ORDER BY`` items),
:mod:`.indexes` (the indexes that serve ``sort=``), :mod:`.counts` (counting a
filter's matches, by an association table alone where that is the same),
:mod:`.elements` and :mod:`.dialects` (the per-dialect parts).
"""

from __future__ import annotations

try:
    import sqlalchemy as _sqlalchemy  # noqa: F401  (here first: a missing one is named below, not deep inside)
except ModuleNotFoundError as error:
    if error.name != "sqlalchemy":
        raise
    # name="sqlalchemy" still lets a caller tell a missing SQLAlchemy from any other import error.
    raise ModuleNotFoundError(
        "qfilter.sql needs SQLAlchemy, which is not installed: pip install 'qfilter-lang[sql]'", name="sqlalchemy"
    ) from None

from .compiler import MAX_META_KEYS, compile_clause
from .counts import count_matches, count_statement
from .dialects import SUPPORTED_DIALECTS
from .dialects.mysql import MARIADB_BINARY, MARIADB_CASE
from .dialects.postgresql import POSTGRESQL_COLLATION
from .dialects.sqlite import SQLITE_LOWER, install_sqlite_functions
from .indexes import create_sort_indexes, sort_indexes
from .mappings import Column, Derived, JsonArray, JsonObject, Location, Related, SqlMapping, check_mapping
from .ordering import SqlCompiler, SqlOrdering, missing_flag, order_by
from .orm import OrmPaths, orm_mapping, orm_schema
from .types import UtcDateTime, exact_string, folded_case, json_keeping_numbers

__all__ = [
    "Column",
    "Derived",
    "Related",
    "JsonArray",
    "JsonObject",
    "Location",
    "SqlMapping",
    "UtcDateTime",
    "exact_string",
    "folded_case",
    "json_keeping_numbers",
    "check_mapping",
    "orm_mapping",
    "orm_schema",
    "OrmPaths",
    "compile_clause",
    "count_statement",
    "count_matches",
    "order_by",
    "missing_flag",
    "sort_indexes",
    "create_sort_indexes",
    "SqlCompiler",
    "SqlOrdering",
    "install_sqlite_functions",
    "SQLITE_LOWER",
    "MAX_META_KEYS",
    "POSTGRESQL_COLLATION",
    "MARIADB_BINARY",
    "MARIADB_CASE",
    "SUPPORTED_DIALECTS",
]
