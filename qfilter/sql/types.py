"""Column types that make SQL read values the way memory does: UTC instants, JSON keeping numbers, folded text."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from .dialects.mysql import MARIADB_BINARY, MARIADB_DIALECTS
from .elements import fold_case

__all__ = ["UtcDateTime", "exact_string", "folded_case", "folded_source", "json_keeping_numbers"]

# Dialects whose DATETIME has no zone: UtcDateTime stores naive UTC there.
_NAIVE_UTC = ("sqlite", *MARIADB_DIALECTS)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware ``DateTime`` that stores UTC on every database.

    PostgreSQL: ``timestamp with time zone``. SQLite, which has no timestamp
    type: SQLAlchemy's fixed-width text ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC,
    so text order is time order and an index serves ranges. MariaDB, whose
    ``DATETIME`` has no zone (and ``TIMESTAMP`` follows the session's):
    ``DATETIME(6)`` in UTC. Binding a naive datetime is an error (its zone
    would be a guess); results are aware, UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in MARIADB_DIALECTS:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))  # microseconds, as memory keeps them
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"UtcDateTime needs an aware datetime, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name in _NAIVE_UTC else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _SQLiteJsonText(sqlite.JSON):
    """SQLite JSON in a column declared ``TEXT``."""

    cache_ok = True


@compiles(_SQLiteJsonText, "sqlite")
def _sqlite_json_text(type_: _SQLiteJsonText, compiler: Any, **kw: Any) -> str:
    return "TEXT"


def json_keeping_numbers(*, binary: bool = False) -> sa.JSON:
    """A JSON column type under which filters compare numbers by their JSON spelling, as in memory.

    On SQLite the column is declared ``TEXT``: declared ``JSON`` it would have
    numeric affinity, which turns a bare number stored as the whole value
    (``1e-05``) into a REAL and loses its spelling. On PostgreSQL it is
    ``json``, which keeps each number's text, or with ``binary`` ``jsonb``,
    which a GIN index serves but which keeps numerics (docs/sql.md: limits).
    On MariaDB it is ``JSON``, which is ``LONGTEXT``: the text as written.
    """
    json = sa.JSON().with_variant(_SQLiteJsonText(), "sqlite")
    return json.with_variant(postgresql.JSONB(), "postgresql") if binary else json


def exact_string(length: int = 255) -> sa.String:
    """A text column type that compares code point by code point everywhere, index-friendly.

    On MariaDB ``VARCHAR(length) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin``
    (MariaDB needs a length; index keys hold at most 3072 bytes, 4 per
    character); elsewhere an unbounded ``String``. Names ordered by such a
    column come in code point order, as Python's ``sorted`` gives them.
    """
    binary = mysql.VARCHAR(length, charset="utf8mb4", collation=MARIADB_BINARY)
    return sa.String().with_variant(binary, *MARIADB_DIALECTS)


class _folded_case(FunctionElement[str]):
    """:func:`folded_case`: qfilter's case folding of one column, as a generated column's expression."""

    type = sa.String()
    inherit_cache = True
    name = "qfilter_folded_case"

    def __init__(self, column: sa.ColumnElement[str], name: str) -> None:
        super().__init__(column)
        self.column_name = name


def folded_case(column: str | sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """The expression of a generated column holding ``column``'s text with its case folded, as filters fold it.

    ``sqlalchemy.Computed(folded_case("label"), persisted=True)`` on a text
    column of the same table (``exact_string()`` on MariaDB), with an index:
    map the field as ``Column(Item.label, folded=Item.label_folded)`` (or let
    :func:`~qfilter.sql.orm_schema` find it), and its case-insensitive
    tests compare that column, which the index serves on every database.
    On SQLite it calls ``qfilter_lower``: every connection that writes the
    table needs :func:`~qfilter.sql.install_sqlite_functions`.
    """
    if isinstance(column, str):
        return _folded_case(sa.column(column, sa.String()), column)
    return _folded_case(column, column.name if isinstance(column, sa.ColumnClause) else str(column))


def folded_source(expression: object) -> str | None:
    """The name of the column a :func:`folded_case` expression folds; ``None`` for any other expression."""
    return expression.column_name if isinstance(expression, _folded_case) else None


@compiles(_folded_case)
def _folded_case_default(element: _folded_case, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(fold_case(*element.clauses.clauses), **kw)


_HEX_TEXT = re.compile(r"_utf8mb4 X'([0-9A-F]*)'")


def _folded_case_mariadb(element: _folded_case, compiler: SQLCompiler, **kw: Any) -> str:
    # MariaDB 10.11 stores a generated column's hex literals wrongly (X'C4B0' comes back as
    # 'xC4xB0', and folds nothing): the same texts are given to it through UNHEX instead.
    folded = compiler.process(fold_case(*element.clauses.clauses), **kw)
    return _HEX_TEXT.sub(r"CONVERT(UNHEX('\1') USING utf8mb4)", folded)


for _name in MARIADB_DIALECTS:
    compiles(_folded_case, _name)(_folded_case_mariadb)
