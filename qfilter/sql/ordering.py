"""``sort=`` in SQL: the :class:`~qfilter.core.backend.Ordering` of SQL, and :class:`SqlCompiler`.

The order itself is stated once, in :mod:`qfilter.core.backend`; here is
how SQL says each part so that an index serves it (docs/sql.md: sorting).
A key over a nullable column is two ``ORDER BY`` items, whose SQL each
dialect chooses when the statement is compiled:

- missing values last: ``col IS NULL`` ascending, ``col IS NOT NULL DESC``
  descending (false before true, then true before false); on SQLite and
  MariaDB the mapping's generated ``missing`` column instead
  (:func:`missing_flag`), since an index there can only hold columns (MariaDB)
  or a seek can only range over columns (SQLite);
- the value, ascending or descending; text by code point: ``COLLATE "C"``,
  ``COLLATE BINARY`` or ``utf8mb4_nopad_bin``, left out where the column's
  declared collation compares that way already (an index of the column then
  serves the order; on MariaDB a ``COLLATE`` defeats every index).

A NOT NULL column is its value alone, and the id breaks ties, ascending (left
out when a key is the id column itself). :func:`~qfilter.sql.sort_indexes`
makes the indexes that serve exactly these items.

A seek past a :class:`~qfilter.core.backend.Position` is core's
:func:`~qfilter.core.backend.build_seek` (an OR of comparisons, which
MariaDB reads as index ranges), and, on PostgreSQL and SQLite, an implied
row comparison over the leading items in one direction that an index scan
starts from: ``(col IS NULL, col, id) > (false, :v, :id)``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import operators
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from qfilter.core.backend import Comparison, Position, build_order, build_seek
from qfilter.core.ir import Plan
from qfilter.core.schema import Field, Kind, Schema
from qfilter.core.sorting import SortKey

from .compiler import compile_clause
from .dialects import SUPPORTED_DIALECTS, dialect_name
from .dialects.mysql import MARIADB_BINARY, MARIADB_DIALECTS
from .elements import PerDialect, exactly, param, unsupported
from .mappings import Column, Related, SqlMapping, as_column, check_mapping, sort_location, value_text
from .stored_times import time_bound

__all__ = ["by_code_point", "missing_flag", "missing_source", "SortItem", "SqlOrdering", "SqlCompiler", "order_by"]

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


def _flag_item(
    column: sa.ColumnElement[Any], flag: sa.ColumnElement[Any] | None, descending: bool, dialect: str
) -> SortItem:
    """The item that puts missing values last: a value's rows before the others', in both directions.

    An integer, not a boolean, where it is an expression: PostgreSQL would
    read ``col IS NULL`` in a seek as this index column (``= true``), never
    as the value's (``IS NULL``), and could not start a scan at the id. The
    direction is the value's, so that a row comparison spans both.
    """
    if flag is not None and dialect != "postgresql":
        return SortItem(flag, False, True, (False, True))
    if descending:
        return SortItem(sa.cast(column.is_not(None), sa.Integer()), True, False, (1, 0))
    return SortItem(sa.cast(column.is_(None), sa.Integer()), False, False, (0, 1))


class _missing_last(sa.ColumnElement[Any]):
    """The first ``ORDER BY`` item of a key over a nullable column, in the SQL of the dialect it is compiled for."""

    __visit_name__ = "qfilter_missing_last"
    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("flags", InternalTraversal.dp_clauseelement_tuple),
        ("descending", InternalTraversal.dp_boolean),
    ]

    def __init__(self, column: sa.ColumnElement[Any], flag: sa.ColumnElement[Any] | None, descending: bool) -> None:
        self.column = column
        self.flags = () if flag is None else (flag,)
        self.descending = descending


compiles(_missing_last)(unsupported)


def _missing_last_sql(element: _missing_last, compiler: SQLCompiler, **kw: Any) -> str:
    flag = element.flags[0] if element.flags else None
    item = _flag_item(element.column, flag, element.descending, compiler.dialect.name)
    text = compiler.process(item.expression.self_group(), **kw)
    return f"{text} DESC" if item.descending else text


for _dialect in SUPPORTED_DIALECTS:
    compiles(_missing_last, _dialect)(_missing_last_sql)

_TEXT_KINDS = frozenset({Kind.TEXT, Kind.EXACT, Kind.USER})
SqlKey = tuple[sa.ColumnElement[Any], ...]
"""The ``ORDER BY`` clauses of one key."""


@dataclass(frozen=True)
class _Place:
    """What one sortable field orders by: its column (a Column's, or a to-one path's scalar subquery), and a flag."""

    column: sa.ColumnElement[Any]
    nullable: bool
    flag: sa.ColumnElement[Any] | None


class SqlOrdering:
    """The :class:`~qfilter.core.backend.Ordering` of SQL: ``ORDER BY`` clauses, and ``WHERE`` clauses to seek.

    ``mapping`` says where each field's value is (a sortable field must be
    mapped to one :class:`~qfilter.sql.mappings.Column`, or a ``to_one``
    :class:`~qfilter.sql.mappings.Related`, which is ordered by its value
    through the foreign key; anything else is a ``ValueError``);
    ``id_column`` is the id's column (or ORM attribute); ``zone`` the zone
    of naive ``DateTime`` columns (the schema's); ``dialect``, when known,
    the SQLAlchemy name of the dialect the comparisons are for.
    """

    def __init__(
        self, mapping: SqlMapping, *, id_column: object, zone: tzinfo = UTC, dialect: str | None = None
    ) -> None:
        self.mapping = mapping
        self.identity = as_column(id_column, "the id column")
        self.zone = zone
        self.dialect = dialect
        self._places: dict[Field, _Place] = {}

    def place(self, field: Field) -> _Place:
        """Where ``field``'s one value is, and whether it can be missing (a ``ValueError`` for an unsortable one)."""
        found = self._places.get(field)
        if found is None:
            location = sort_location(field, self.mapping)
            if isinstance(location, Related):
                # The related row's value, looked up through the foreign key: at most one row.
                lookup = (
                    sa.select(location.value).select_from(location.source).where(location.fk == location.references)
                )
                found = _Place(lookup.scalar_subquery(), True, None)
            else:
                column: sa.ColumnElement[Any] = location.column
                nullable = not isinstance(column, sa.Column) or bool(column.nullable)
                found = _Place(column, nullable, location.missing if isinstance(location, Column) else None)
            self._places[field] = found
        return found

    def value(self, field: Field | None) -> sa.ColumnElement[Any]:
        """What the order compares: a text kind's text by code point (an integer column's too: "10" before "9")."""
        if field is None:
            identity = self.identity
            return by_code_point(identity) if isinstance(identity.type, sa.String) else identity
        column = self.place(field).column
        return by_code_point(value_text(column)) if field.kind in _TEXT_KINDS else column

    def sort_key(self, field: Field, *, descending: bool) -> SqlKey:
        """Missing values last (for a nullable column), then the value, ascending or descending."""
        value = self.value(field)
        ordered = value.desc() if descending else value.asc()
        place = self.place(field)
        if not place.nullable:
            return (ordered,)
        return (_missing_last(place.column, place.flag, descending), ordered)

    def id_key(self) -> SqlKey:
        """The id, ascending (by code point for a text column)."""
        return (self.value(None).asc(),)

    def items(self, field: Field | None, *, descending: bool, dialect: str) -> list[SortItem]:
        """The ``ORDER BY`` items of a key (the id's for ``None``) as ``dialect`` writes them: what an index holds."""
        value = self.value(field)
        compiled = value.clause if isinstance(value, by_code_point) else value
        plain = isinstance(compiled, sa.Column) and (
            not isinstance(value, by_code_point) or in_code_point_order(compiled, dialect_named(dialect))
        )
        item = SortItem(value, descending, plain)
        if field is None or not self.place(field).nullable:
            return [item]
        place = self.place(field)
        return [_flag_item(place.column, place.flag, descending, dialect), item]

    def bind(self, field: Field | None, value: object) -> sa.ColumnElement[Any]:
        """``value`` (as a :class:`~qfilter.core.backend.Position` holds it) bound as the order compares it."""
        left = self.value(field)
        if isinstance(left, by_code_point):
            return param(str(value))  # compared exactly, as the order's collation does
        if isinstance(value, datetime) and field is not None and field.kind is Kind.TIME:
            return sa.bindparam(None, time_bound(value, left, self.zone), type_=left.type)
        return sa.bindparam(None, value, type_=left.type)  # the column's own type (SQLAlchemy refuses "col > true")

    def compare(self, field: Field | None, op: Comparison, value: object) -> sa.ColumnElement[bool]:
        """The value (the id's for ``None``) compared with ``value`` as the order compares; NULL never holds.

        With a ``missing`` column, it says the value is there too: MariaDB
        then reads the comparison as a range of the index that leads with it.
        """
        left = self.value(field)
        bound = self.bind(field, value)
        compared = left < bound if op == "lt" else left > bound if op == "gt" else left == bound
        flag = self._flag(field)
        return compared if flag is None else sa.and_(flag == sa.false(), compared)

    def missing(self, field: Field) -> sa.ColumnElement[bool]:
        """``col IS NULL``, or the ``missing`` column (true where it is)."""
        flag = self._flag(field)
        return self.place(field).column.is_(None) if flag is None else flag == sa.true()

    def _flag(self, field: Field | None) -> sa.ColumnElement[Any] | None:
        """The ``missing`` column a comparison names, but on PostgreSQL: it orders by the expression, not by it."""
        return None if field is None or self.dialect == "postgresql" else self.place(field).flag

    def all_of(self, parts: Sequence[sa.ColumnElement[bool]]) -> sa.ColumnElement[bool]:
        """``AND``."""
        return sa.and_(*parts) if parts else sa.true()

    def any_of(self, parts: Sequence[sa.ColumnElement[bool]]) -> sa.ColumnElement[bool]:
        """``OR``."""
        return sa.or_(*parts) if parts else sa.false()

    def order(self, keys: Sequence[SortKey]) -> list[sa.ColumnElement[Any]]:
        """The ``ORDER BY`` clauses of ``keys`` then the id (left out when a key is the id column: it adds nothing)."""
        clauses = [clause for key in build_order(keys, self) for clause in key]
        if any(self._is_identity(key.field) for key in keys):
            clauses.pop()
        return clauses

    def _is_identity(self, field: Field) -> bool:
        return self.place(field).column is self.identity

    def seek(self, keys: Sequence[SortKey], position: Position, dialect: str) -> sa.ColumnElement[bool]:
        """The rows after ``position`` (:func:`~qfilter.core.backend.build_seek`), and where an index scan starts."""
        ordering = self
        if self.dialect != dialect:
            ordering = copy.copy(self)
            ordering.dialect = dialect
        after = build_seek(keys, position, ordering)
        start, whole = ordering._index_start(keys, position, dialect)
        if start is None:
            return after
        # The whole seek in one range: alone, so that the planner does not count its rows twice.
        return start if whole else sa.and_(start, after)

    def _index_start(
        self, keys: Sequence[SortKey], position: Position, dialect: str
    ) -> tuple[sa.ColumnElement[bool] | None, bool]:
        """A condition every row after ``position`` meets, that an index of the order's items can start a scan from.

        The keys whose position value is missing come first as equalities
        (the rows after share the missing value); then a row comparison over
        the following items while they run in one direction: ``>`` when it
        reaches the id, and it is then the whole seek (the second value
        says so), else ``>=`` (``<=`` descending). PostgreSQL ranges over any
        index expression, SQLite over plain columns only; MariaDB ranges
        over the OR of :meth:`seek` itself.
        """
        if dialect in MARIADB_DIALECTS:
            return None, False
        usable = (lambda item: True) if dialect == "postgresql" else (lambda item: item.plain)
        equal: list[sa.ColumnElement[bool]] = []
        run: list[tuple[SortItem, sa.ColumnElement[Any]]] = []
        complete = True
        for key, value in zip(keys, position.values, strict=True):
            items = self.items(key.field, descending=key.descending, dialect=dialect)
            if value is None:
                if run or not all(usable(item) for item in items):
                    complete = False
                    break
                flag, item = items
                assert flag.flag is not None
                equal += [flag.expression == sa.literal(flag.flag[1], flag.expression.type), item.expression.is_(None)]
                continue
            direction = run[0][0].descending if run else items[0].descending
            if not all(usable(item) and item.descending == direction for item in items):
                complete = False  # a key's items join the run whole: a flag alone bounds nothing
                break
            run += zip(items, self._values(key.field, items, value), strict=True)
        strict = False
        if complete and any(self._is_identity(key.field) for key in keys):
            strict = True  # the run reaches the id already
        elif complete and (not run or not run[0][0].descending):
            identity = self.items(None, descending=False, dialect=dialect)[0]
            if usable(identity):
                run.append((identity, self.bind(None, position.id)))
                strict = True
        if run:
            equal.append(_row_comparison(run, strict=strict))
        return (sa.and_(*equal) if equal else None), strict

    def _values(self, field: Field, items: list[SortItem], value: object) -> list[sa.ColumnElement[Any]]:
        """A present value's side of each item of its key: the flag's for a row with a value, then the value."""
        bound = self.bind(field, value)
        if len(items) == 1:
            return [bound]
        flag = items[0]
        assert flag.flag is not None
        return [sa.literal(flag.flag[0], flag.expression.type), bound]


def _row_comparison(run: list[tuple[SortItem, sa.ColumnElement[Any]]], *, strict: bool) -> sa.ColumnElement[bool]:
    descending = run[0][0].descending
    expressions = [item.expression.self_group() for item, _ in run]  # (col IS NULL) in parentheses
    left: sa.ColumnElement[Any] = sa.tuple_(*expressions) if len(run) > 1 else run[0][0].expression
    right: sa.ColumnElement[Any] = sa.tuple_(*(bound for _, bound in run)) if len(run) > 1 else run[0][1]
    if descending:
        return left < right if strict else left <= right
    return left > right if strict else left >= right


def dialect_named(name: str) -> sa.Dialect:
    """A dialect object of this SQLAlchemy name, to read declared types with (no connection, no driver)."""
    found = _DIALECTS.get(name)
    if found is None:
        made = {"sqlite": sqlite.dialect, "postgresql": postgresql.dialect}.get(name, mysql.dialect)
        found = _DIALECTS[name] = made()
    return found


_DIALECTS: dict[str, sa.Dialect] = {}


class _seek(PerDialect):
    """A seek's ``WHERE`` clause per dialect: a condition already (no ``= 1`` where there is no boolean type)."""

    inherit_cache = True
    _is_implicitly_boolean = True


def order_by(
    keys: Sequence[SortKey], schema: Schema, mapping: SqlMapping, *, id_column: Any
) -> list[sa.ColumnElement[Any]]:
    """The ``ORDER BY`` clauses of ``keys`` then ``id_column``, for ``select(...).order_by(*clauses)``.

    Each key's field must be mapped to one :class:`~qfilter.sql.mappings.Column`
    (or a ``to_one`` :class:`~qfilter.sql.mappings.Related`: a sortable
    field is single-valued); anything else is a ``ValueError``.
    """
    return SqlOrdering(mapping, id_column=id_column, zone=schema.timezone).order(keys)


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
        return self._ordering().order(keys)

    def after(self, keys: Sequence[SortKey], position: Position) -> sa.ColumnElement[bool]:
        """The rows strictly after ``position`` in the order of ``keys``, as each dialect's index can find them."""
        ordering = self._ordering()
        name = dialect_name(self.dialect)
        if name is not None:
            return ordering.seek(keys, position, name)
        return _seek({each: ordering.seek(keys, position, each) for each in SUPPORTED_DIALECTS})
