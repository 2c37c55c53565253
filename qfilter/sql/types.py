"""Column types that make SQL read values the way memory does: UTC instants, JSON keeping numbers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles

__all__ = ["UtcDateTime", "json_keeping_numbers"]


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware ``DateTime`` that stores UTC on every database.

    PostgreSQL: ``timestamp with time zone``. SQLite, which has no timestamp
    type: SQLAlchemy's fixed-width text ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC,
    so text order is time order and an index serves ranges. Binding a naive
    datetime is an error (its zone would be a guess); results are aware, UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"UtcDateTime needs an aware datetime, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

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
    """
    json = sa.JSON().with_variant(_SQLiteJsonText(), "sqlite")
    return json.with_variant(postgresql.JSONB(), "postgresql") if binary else json
