"""``sort=`` in SQL: the :class:`~qfilter.core.backend.Ordering` of SQL, and :class:`SqlCompiler`.

The order itself is stated once, in :mod:`qfilter.core.backend`; here is
how SQL says each part so that an index serves it (docs/sql.md: sorting),
with the elements of :mod:`qfilter.sql.order_elements`.
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
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

import sqlalchemy as sa

from qfilter.core.backend import Comparison, Position, build_order, build_seek
from qfilter.core.ir import Plan
from qfilter.core.schema import Field, Kind, Schema
from qfilter.core.sorting import SortKey

from .compiler import compile_clause
from .dialects import SUPPORTED_DIALECTS, dialect_name
from .dialects.mysql import MARIADB_DIALECTS
from .elements import ByIdentity, PerDialect, param
from .mappings import Column, Related, SqlMapping, as_column, check_mapping, sort_location, value_text
from .order_elements import (
    SortItem,
    by_code_point,
    dialect_named,
    flag_item,
    in_code_point_order,
    missing_flag,
    missing_last,
    missing_source,
)
from .stored_times import time_bound

# The elements are order_elements'; code imports them from here too, so they stay exported.
__all__ = [
    "by_code_point",
    "missing_flag",
    "missing_source",
    "SortItem",
    "dialect_named",
    "SqlOrdering",
    "SqlCompiler",
    "order_by",
]

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
        return (missing_last(place.column, place.flag, descending, value), ordered)

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
        return [flag_item(place.column, place.flag, descending, dialect, value), item]

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
        index expression, SQLite over plain columns only, and over the one
        folded expression of a descending key (``ifnull(col, 0) <= :v``,
        :func:`~qfilter.sql.order_elements.flag_item`) on its own; MariaDB
        ranges over the OR of :meth:`seek` itself.
        """
        if dialect in MARIADB_DIALECTS:
            return None, False
        usable = (lambda item: True) if dialect == "postgresql" else (lambda item: item.plain)
        equal: list[sa.ColumnElement[bool]] = []
        run: list[tuple[SortItem, sa.ColumnElement[Any]]] = []
        complete = True
        for key, value in zip(keys, position.values, strict=True):
            items = self.items(key.field, descending=key.descending, dialect=dialect)
            if items[0].folded:
                # SQLite: a range of the one expression (missing values are its least, 0), which no row
                # comparison holds; an equality on it would not give SQLite the order of what follows.
                if not run:
                    bound = sa.literal_column("0") if value is None else self.bind(key.field, value)
                    equal.append(items[0].expression <= bound)
                complete = False
                break
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


WHERE_CACHE_SIZE = 256
"""How many compiled ``WHERE`` clauses a :class:`SqlCompiler` keeps, the last used."""
ORDER_CACHE_SIZE = 64
"""How many ``ORDER BY`` clause lists a :class:`SqlCompiler` keeps (per sort and id column), the last used."""


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
        # A listing compiles its filter on every request, most often one of a few: building the clause
        # again cost more than running it on a small table. An equal plan has the same clause.
        self._where_of = functools.lru_cache(maxsize=WHERE_CACHE_SIZE)(self._compile_where)
        # The same for the order, per id column: with_id_column's copies (one per request) share it.
        self._order_of = functools.lru_cache(maxsize=ORDER_CACHE_SIZE)(self._compile_order)

    def with_id_column(self, id_column: object) -> SqlCompiler:
        """The same compiler ordering by ``id_column``."""
        made = copy.copy(self)
        made.id_column = id_column
        return made

    def _ordering(self, id_column: object = None) -> SqlOrdering:
        id_column = self.id_column if id_column is None else id_column
        if id_column is None:
            raise ValueError("SqlCompiler needs id_column= to order or seek: the id breaks ties")
        zone = UTC if self.schema is None else self.schema.timezone
        return SqlOrdering(self.mapping, id_column=id_column, zone=zone)

    def where(self, plan: Plan) -> sa.ColumnElement[bool]:
        """The ``WHERE`` clause of ``plan``: the same object for an equal plan, among the last few compiled."""
        try:
            hash(plan)
        except TypeError:  # a plan holding a value that cannot be a key: compiled each time
            return self._compile_where(plan, plan.schema.timezone)
        return self._where_of(plan, plan.schema.timezone)

    def _compile_where(self, plan: Plan, zone: tzinfo) -> sa.ColumnElement[bool]:
        # zone: the clause reads the plan's schema's zone (stored naive times), which plan equality leaves out.
        return compile_clause(plan, self.mapping, dialect=self.dialect)

    def order(self, keys: Sequence[SortKey]) -> list[sa.ColumnElement[Any]]:
        """The ``ORDER BY`` clauses of ``keys``, then the id: the same clauses for the same keys, among the last few."""
        return list(self._order_of(tuple(keys), ByIdentity(self.id_column)))

    def _compile_order(
        self, keys: tuple[SortKey, ...], id_column: ByIdentity[object]
    ) -> tuple[sa.ColumnElement[Any], ...]:
        return tuple(self._ordering(id_column.value).order(keys))

    def after(self, keys: Sequence[SortKey], position: Position) -> sa.ColumnElement[bool]:
        """The rows strictly after ``position`` in the order of ``keys``, as each dialect's index can find them."""
        ordering = self._ordering()
        name = dialect_name(self.dialect)
        if name is not None:
            return ordering.seek(keys, position, name)
        return _seek({each: ordering.seek(keys, position, each) for each in SUPPORTED_DIALECTS})
