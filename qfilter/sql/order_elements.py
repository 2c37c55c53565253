"""The SQL elements of ``sort=``: text in code-point order, the item that puts missing values last.

:class:`~qfilter.sql.ordering.SqlOrdering` builds its ``ORDER BY`` from
these; each element's SQL is chosen when the statement is compiled, per
dialect (docs/sql.md: sorting), and :class:`SortItem` is an item as one
dialect writes it, which is what an index holds (:mod:`qfilter.sql.indexes`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import operators
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from .dialects import SUPPORTED_DIALECTS
from .dialects.mysql import MARIADB_BINARY, MARIADB_DIALECTS
from .elements import exactly, unsupported

__all__ = [
    "by_code_point",
    "in_code_point_order",
    "missing_flag",
    "missing_source",
    "missing_last",
    "SortItem",
    "flag_item",
    "dialect_named",
]

# The collations that compare text by code point, by dialect: a column declared with one sorts as it is.
_CODE_POINT_COLLATIONS: dict[str, frozenset[str | None]] = {
    "postgresql": frozenset({"C", "POSIX"}),
    "sqlite": frozenset({None, "BINARY"}),  # SQLite's default collation is BINARY: UTF-8 bytes
    **dict.fromkeys(MARIADB_DIALECTS, frozenset({MARIADB_BINARY})),
}


def in_code_point_order(clause: sa.ColumnElement[Any], dialect: sa.Dialect) -> bool:
    """Whether ``clause`` is a text column whose declared collation on ``dialect`` orders by code point."""
    if not isinstance(clause, sa.Column):
        return False
    implementation = clause.type.dialect_impl(dialect)
    if not isinstance(implementation, sa.String) or isinstance(implementation, sa.Enum):
        return False
    collation = getattr(implementation, "collation", None)
    return collation in _CODE_POINT_COLLATIONS.get(dialect.name, frozenset())


class by_code_point(sa.ColumnElement[str]):
    """A text that sorts by code point (UTF-8 byte order), whatever collation its column has."""

    __visit_name__ = "qfilter_by_code_point"
    inherit_cache = True
    type = sa.String()
    _traverse_internals = [("clause", InternalTraversal.dp_clauseelement)]

    def __init__(self, clause: sa.ColumnElement[str]) -> None:
        self.clause = clause


compiles(by_code_point)(unsupported)


@compiles(by_code_point, "sqlite")
def _by_code_point_sqlite(element: by_code_point, compiler: SQLCompiler, **kw: Any) -> str:
    text = compiler.process(element.clause, **kw)
    # A COLLATE keeps SQLite from ranging over the column in a row-value comparison: only where needed.
    return text if in_code_point_order(element.clause, compiler.dialect) else f"{text} COLLATE BINARY"


@compiles(by_code_point, "postgresql")
def _by_code_point_postgresql(element: by_code_point, compiler: SQLCompiler, **kw: Any) -> str:
    text = compiler.process(element.clause, **kw)
    return text if in_code_point_order(element.clause, compiler.dialect) else f'{text} COLLATE "C"'


def _by_code_point_binary(element: by_code_point, compiler: SQLCompiler, **kw: Any) -> str:
    if in_code_point_order(element.clause, compiler.dialect):
        return compiler.process(element.clause, **kw)  # MariaDB walks no index of a column under a COLLATE
    return compiler.process(exactly(element.clause), **kw)  # the dialect's binary, no-pad collation


for _dialect in MARIADB_DIALECTS:
    compiles(by_code_point, _dialect)(_by_code_point_binary)


def missing_source(expression: object) -> str | None:
    """The name of the column a :func:`missing_flag` expression (or ``"col IS NULL"`` as text) tests; else ``None``."""
    if isinstance(expression, sa.TextClause):
        found = _IS_NULL.fullmatch(expression.text)
        return found.group(1) or found.group(2) if found else None
    if (
        isinstance(expression, sa.BinaryExpression)
        and expression.operator is operators.is_
        and isinstance(expression.right, sa.Null)
        and isinstance(expression.left, sa.ColumnClause)
    ):
        return str(expression.left.name)
    return None


_IS_NULL = re.compile(r'\s*\(?\s*(?:"([^"]+)"|`?(\w+)`?)\s+IS\s+NULL\s*\)?\s*', re.IGNORECASE)


def missing_flag(column: str) -> sa.Computed:
    """A generated column's expression, true where ``column`` is NULL.

    ``sa.Column("x_missing", sa.Boolean, missing_flag("x"))``, mapped as
    ``Column(table.c.x, missing=table.c.x_missing)``
    (:func:`~qfilter.sql.orm_mapping` finds it by itself): SQLite and
    MariaDB then order and seek by it, and an index of it serves ``sort=``
    in both directions. PostgreSQL orders by the expression itself, which it
    can index. Stored (``persisted``): PostgreSQL 15 has no virtual columns,
    and indexes no virtual column at all.
    """
    return sa.Computed(sa.column(column).is_(None), persisted=True)


@dataclass(frozen=True)
class SortItem:
    """One ``ORDER BY`` item as a dialect writes it: an expression, its direction, and what kind of thing it is.

    ``plain`` is a column of the table as it is (no expression, no
    ``COLLATE``): SQLite ranges over such columns only in a row-value
    comparison; MariaDB indexes nothing else. ``flag`` is, for the item
    that puts missing values last, its value for a row with a value and for
    one without.
    """

    expression: sa.ColumnElement[Any]
    descending: bool
    plain: bool
    flag: tuple[object, object] | None = None

    @property
    def folded(self) -> bool:
        """Whether the item is the value with its missing values folded in (:func:`flag_item`): no flag apart."""
        return self.flag is not None and self.flag[0] is FOLDED


FOLDED = None
"""A :attr:`SortItem.flag`'s value for a row with a value where the item is the value itself (:func:`flag_item`)."""


def flag_item(
    column: sa.ColumnElement[Any],
    flag: sa.ColumnElement[Any] | None,
    descending: bool,
    dialect: str,
    value: sa.ColumnElement[Any],
) -> SortItem:
    """The item that puts missing values last: a value's rows before the others', in both directions.

    An integer, not a boolean, where it is an expression: PostgreSQL would
    read ``col IS NULL`` in a seek as this index column (``= true``), never
    as the value's (``IS NULL``), and could not start a scan at the id. The
    direction is the value's, so that a row comparison spans both.

    On SQLite, descending, a text ``value`` (what the order compares) is
    folded with it: ``ifnull(value, 0) DESC``, a number being less than
    any text there. The ``missing`` column would go up while the value goes
    down, and SQLite ranges over no such pair; this one expression is a
    range of an index of it, which a seek deep in a listing starts from.
    """
    if dialect == "sqlite" and descending and _stored_as_text(value):
        return SortItem(sa.func.ifnull(value, sa.literal_column("0")), True, False, (FOLDED, 0))
    if flag is not None and dialect != "postgresql":
        return SortItem(flag, False, True, (False, True))
    if descending:
        return SortItem(sa.cast(column.is_not(None), sa.Integer()), True, False, (1, 0))
    return SortItem(sa.cast(column.is_(None), sa.Integer()), False, False, (0, 1))


def _stored_as_text(value: sa.ColumnElement[Any]) -> bool:
    """Whether SQLite holds ``value`` as text: a text in code-point order, or a column of text or times."""
    if isinstance(value, by_code_point):
        return True
    kind = value.type
    if isinstance(kind, sa.TypeDecorator):
        kind = kind.impl_instance
    return isinstance(kind, sa.String | sa.DateTime | sa.Date | sa.Time) and not isinstance(kind, sa.Enum)


class missing_last(sa.ColumnElement[Any]):
    """The first ``ORDER BY`` item of a key over a nullable column, in the SQL of the dialect it is compiled for."""

    __visit_name__ = "qfilter_missing_last"
    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("flags", InternalTraversal.dp_clauseelement_tuple),
        ("value", InternalTraversal.dp_clauseelement),
        ("descending", InternalTraversal.dp_boolean),
    ]

    def __init__(
        self,
        column: sa.ColumnElement[Any],
        flag: sa.ColumnElement[Any] | None,
        descending: bool,
        value: sa.ColumnElement[Any],
    ) -> None:
        self.column = column
        self.flags = () if flag is None else (flag,)
        self.value = value
        self.descending = descending


compiles(missing_last)(unsupported)


def _missing_last_sql(element: missing_last, compiler: SQLCompiler, **kw: Any) -> str:
    flag = element.flags[0] if element.flags else None
    item = flag_item(element.column, flag, element.descending, compiler.dialect.name, element.value)
    text = compiler.process(item.expression.self_group(), **kw)
    return f"{text} DESC" if item.descending else text


for _dialect in SUPPORTED_DIALECTS:
    compiles(missing_last, _dialect)(_missing_last_sql)


def dialect_named(name: str) -> sa.Dialect:
    """A dialect object of this SQLAlchemy name, to read declared types with (no connection, no driver)."""
    found = _DIALECTS.get(name)
    if found is None:
        made = {"sqlite": sqlite.dialect, "postgresql": postgresql.dialect}.get(name, mysql.dialect)
        found = _DIALECTS[name] = made()
    return found


_DIALECTS: dict[str, sa.Dialect] = {}
