"""``ORDER BY`` for ``sort=``: the order :mod:`qfilter.memory.sorting` gives, in SQL.

Missing values last in both directions (``col IS NULL`` first in the order:
false before true), text by code point whatever the column's collation,
then the id, ascending, so that paging is stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from qfilter.core.schema import Kind, Schema
from qfilter.core.sorting import SortKey

from .elements import exactly, unsupported
from .mappings import Column, SqlMapping, as_column, locations, value_text

__all__ = ["by_code_point", "order_by"]


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
    return f"{compiler.process(element.clause, **kw)} COLLATE BINARY"


@compiles(by_code_point, "postgresql")
def _by_code_point_postgresql(element: by_code_point, compiler: SQLCompiler, **kw: Any) -> str:
    return f'{compiler.process(element.clause, **kw)} COLLATE "C"'


def _by_code_point_binary(element: by_code_point, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(exactly(element.clause), **kw)  # the dialect's binary, no-pad collation


for _dialect in ("mysql", "mariadb"):
    compiles(by_code_point, _dialect)(_by_code_point_binary)

_TEXT_KINDS = frozenset({Kind.TEXT, Kind.EXACT, Kind.USER})


def order_by(
    keys: Sequence[SortKey], schema: Schema, mapping: SqlMapping, *, id_column: Any
) -> list[sa.ColumnElement[Any]]:
    """The ``ORDER BY`` clauses of ``keys`` then ``id_column``, for ``select(...).order_by(*clauses)``.

    Each key's field must be mapped to one :class:`~qfilter.sql.mappings.Column`
    (a sortable field is single-valued); anything else is a ``ValueError``.
    """
    clauses: list[sa.ColumnElement[Any]] = []
    for key in keys:
        found = locations(key.field, mapping)
        if len(found) != 1 or not isinstance(found[0], Column):
            raise ValueError(f"sorting by {key.field.qualifier!r} needs it mapped to one Column")
        column: sa.ColumnElement[Any] = found[0].column
        # A text kind sorts by the value's text, as memory does: an integer column's too ("10" before "9").
        value = by_code_point(value_text(column)) if key.field.kind in _TEXT_KINDS else column
        clauses.append(column.is_(None))
        clauses.append(value.desc() if key.descending else value.asc())
    identity = as_column(id_column, "order_by(id_column)")
    clauses.append((by_code_point(identity) if isinstance(identity.type, sa.String) else identity).asc())
    return clauses
