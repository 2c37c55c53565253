"""``sort=`` in SQL: the :class:`~qfilter.core.backend.Ordering` of SQL, and :class:`SqlCompiler`.

The order itself is stated once, in :mod:`qfilter.core.backend`; here is
how SQL says each part: missing values last in both directions (``col IS
NULL`` first in the order: false before true), text by code point whatever
the column's collation, then the id, ascending, so that paging is stable.
The same parts compare a row with a :class:`~qfilter.core.backend.Position`,
for a seek past it (``WHERE``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from qfilter.core.backend import Comparison, Position, build_order, build_seek
from qfilter.core.ir import Plan
from qfilter.core.schema import Field, Kind, Schema
from qfilter.core.sorting import SortKey

from .compiler import compile_clause
from .elements import exactly, param, unsupported
from .mappings import Column, SqlMapping, as_column, check_mapping, locations, value_text
from .stored_times import time_bound

__all__ = ["by_code_point", "SqlOrdering", "SqlCompiler", "order_by"]


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
SqlKey = tuple[sa.ColumnElement[Any], ...]
"""The ``ORDER BY`` clauses of one key."""


class SqlOrdering:
    """The :class:`~qfilter.core.backend.Ordering` of SQL: ``ORDER BY`` clauses, and ``WHERE`` clauses to seek.

    ``mapping`` says where each field's value is (a sortable field must be
    mapped to one :class:`~qfilter.sql.mappings.Column`; anything else is a
    ``ValueError``); ``id_column`` is the id's column (or ORM attribute);
    ``zone`` the zone of naive ``DateTime`` columns (the schema's).
    """

    def __init__(self, mapping: SqlMapping, *, id_column: object, zone: tzinfo = UTC) -> None:
        self.mapping = mapping
        self.identity = as_column(id_column, "the id column")
        self.zone = zone

    def _column(self, field: Field) -> sa.ColumnElement[Any]:
        found = locations(field, self.mapping)
        if len(found) != 1 or not isinstance(found[0], Column):
            raise ValueError(f"sorting by {field.qualifier!r} needs it mapped to one Column")
        column: sa.ColumnElement[Any] = found[0].column
        return column

    def _value(self, field: Field | None) -> sa.ColumnElement[Any]:
        """What the order compares: a text kind's text by code point (an integer column's too: "10" before "9")."""
        if field is None:
            identity = self.identity
            return by_code_point(identity) if isinstance(identity.type, sa.String) else identity
        column = self._column(field)
        return by_code_point(value_text(column)) if field.kind in _TEXT_KINDS else column

    def sort_key(self, field: Field, *, descending: bool) -> SqlKey:
        """``col IS NULL`` (missing last), then the value, ascending or descending."""
        value = self._value(field)
        return (self._column(field).is_(None), value.desc() if descending else value.asc())

    def id_key(self) -> SqlKey:
        """The id, ascending (by code point for a text column)."""
        return (self._value(None).asc(),)

    def compare(self, field: Field | None, op: Comparison, value: object) -> sa.ColumnElement[bool]:
        """The value (the id's for ``None``) compared with ``value`` as the order compares; NULL never holds."""
        left = self._value(field)
        bound: sa.ColumnElement[Any]
        if isinstance(left, by_code_point):
            bound = param(str(value))  # compared exactly, as the order's collation does
        elif isinstance(value, datetime) and field is not None and field.kind is Kind.TIME:
            bound = sa.bindparam(None, time_bound(value, left, self.zone), type_=left.type)
        else:  # bound in the column's own type (SQLAlchemy refuses "col > true" of a Python bool)
            bound = sa.bindparam(None, value, type_=left.type)
        if op == "lt":
            return left < bound
        if op == "gt":
            return left > bound
        return left == bound

    def missing(self, field: Field) -> sa.ColumnElement[bool]:
        """``col IS NULL``."""
        return self._column(field).is_(None)

    def all_of(self, parts: Sequence[sa.ColumnElement[bool]]) -> sa.ColumnElement[bool]:
        """``AND``."""
        return sa.and_(*parts) if parts else sa.true()

    def any_of(self, parts: Sequence[sa.ColumnElement[bool]]) -> sa.ColumnElement[bool]:
        """``OR``."""
        return sa.or_(*parts) if parts else sa.false()


def order_by(
    keys: Sequence[SortKey], schema: Schema, mapping: SqlMapping, *, id_column: Any
) -> list[sa.ColumnElement[Any]]:
    """The ``ORDER BY`` clauses of ``keys`` then ``id_column``, for ``select(...).order_by(*clauses)``.

    Each key's field must be mapped to one :class:`~qfilter.sql.mappings.Column`
    (a sortable field is single-valued); anything else is a ``ValueError``.
    """
    ordering = SqlOrdering(mapping, id_column=id_column, zone=schema.timezone)
    return [clause for key in build_order(keys, ordering) for clause in key]


class SqlCompiler:
    """The :class:`~qfilter.core.backend.Compiler` of SQL: a ``WHERE`` clause, ``ORDER BY`` clauses, a seek.

    ``where(plan)`` is :func:`~qfilter.sql.compile_clause` (``dialect``: as
    there); ``order(keys)`` the clauses :func:`order_by` gives, and
    ``after(keys, position)`` the rows past a position in that order: both
    need ``id_column``, the column (or ORM attribute) of the rows' id.
    ``schema``, when given, has ``mapping`` checked against it now
    (:func:`~qfilter.sql.check_mapping`) and gives the zone of naive
    ``DateTime`` columns a seek compares with (UTC without it).
    """

    def __init__(
        self,
        mapping: SqlMapping,
        *,
        dialect: sa.Dialect | str | None = None,
        id_column: object = None,
        schema: Schema | None = None,
    ) -> None:
        if schema is not None:
            check_mapping(schema, mapping)
        self.mapping = mapping
        self.dialect = dialect
        self.id_column = id_column
        self.schema = schema

    def with_id_column(self, id_column: object) -> SqlCompiler:
        """The same compiler ordering by ``id_column``."""
        made = copy.copy(self)
        made.id_column = id_column
        return made

    def _ordering(self) -> SqlOrdering:
        if self.id_column is None:
            raise ValueError("SqlCompiler needs id_column= to order or seek: the id breaks ties")
        zone = UTC if self.schema is None else self.schema.timezone
        return SqlOrdering(self.mapping, id_column=self.id_column, zone=zone)

    def where(self, plan: Plan) -> sa.ColumnElement[bool]:
        """The ``WHERE`` clause of ``plan``."""
        return compile_clause(plan, self.mapping, dialect=self.dialect)

    def order(self, keys: Sequence[SortKey]) -> list[sa.ColumnElement[Any]]:
        """The ``ORDER BY`` clauses of ``keys``, then the id."""
        return [clause for key in build_order(keys, self._ordering()) for clause in key]

    def after(self, keys: Sequence[SortKey], position: Position) -> sa.ColumnElement[bool]:
        """The rows strictly after ``position`` in the order of ``keys``."""
        return build_seek(keys, position, self._ordering())
