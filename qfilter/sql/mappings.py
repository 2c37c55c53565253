"""Where a qualifier's value lives in your tables: the locations a SQL mapping is made of.

A *SQL mapping* names, for each qualifier of a schema, one location or a
sequence of them ("any of them", as for ``user``). :func:`check_mapping`
checks a whole mapping against a schema; :func:`locations` the one field a
filter uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import sqlalchemy as sa

from qfilter.core.schema import Field, Kind, Schema

__all__ = [
    "Column",
    "Related",
    "JsonArray",
    "JsonObject",
    "Location",
    "SqlMapping",
    "as_column",
    "check_mapping",
    "datetime_type",
    "locations",
]


def as_column(value: Any, role: str) -> sa.ColumnElement[Any]:
    """A Core column expression, from a column or an ORM attribute (``Device.name``)."""
    element = value.__clause_element__() if hasattr(value, "__clause_element__") else value
    if not isinstance(element, sa.ColumnElement):
        raise TypeError(f"{role} must be a SQLAlchemy column or ORM attribute, not {type(value).__name__}")
    return element


@dataclass(frozen=True, eq=False)
class Column:
    """The value is in a column of the filtered table; NULL means "no value".

    For a time qualifier the column is a ``DateTime``: with ``timezone=True``
    (or :class:`UtcDateTime`) it holds instants, without it wall-clock times
    in the schema's time zone.
    """

    column: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "column", as_column(self.column, "Column(column)"))


@dataclass(frozen=True, eq=False)
class Related:
    """A multi-valued field in an association table: ``key IN (SELECT fk ...)``, ``NOT EXISTS`` when excluded.

    ``fk`` is the association table's column that refers to the filtered
    table, ``value`` the column holding one value per row. ``references`` is
    the filtered table's column ``fk`` points at; by default the target of
    ``fk``'s (only) ``ForeignKey``.
    """

    table: sa.FromClause
    fk: Any
    value: Any
    references: Any = None

    def __post_init__(self) -> None:
        fk = as_column(self.fk, "Related(fk)")
        object.__setattr__(self, "fk", fk)
        object.__setattr__(self, "value", as_column(self.value, "Related(value)"))
        if self.references is None:
            targets = list(getattr(fk, "foreign_keys", ()))
            if len(targets) != 1:
                raise ValueError(f"Related: {fk} has {len(targets)} foreign keys; pass references=")
            object.__setattr__(self, "references", targets[0].column)
        else:
            object.__setattr__(self, "references", as_column(self.references, "Related(references)"))


@dataclass(frozen=True, eq=False)
class JsonArray:
    """A JSON array of scalars in one column (``["demo", "prio1"]``): any element may match.

    Use a ``JSON`` column (SQLite: ``json_each``), or ``JSONB`` on PostgreSQL,
    where an exact match is a GIN-indexable ``@>``.
    """

    column: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "column", as_column(self.column, "JsonArray(column)"))


@dataclass(frozen=True, eq=False)
class JsonObject:
    """The JSON object the ``meta.<path>`` keys are looked up in (the ``Kind.META`` qualifier).

    As in memory, a list met on the path is looked into, element by element.
    """

    column: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "column", as_column(self.column, "JsonObject(column)"))


Location: TypeAlias = Column | Related | JsonArray | JsonObject
SqlMapping: TypeAlias = Mapping[str, Location | Sequence[Location]]
"""Qualifier to location(s). Several locations mean "any of them" (``user``)."""

_ALLOWED: dict[Kind, tuple[type, ...]] = {
    Kind.TEXT: (Column, Related, JsonArray),
    Kind.EXACT: (Column, Related, JsonArray),
    Kind.USER: (Column, Related, JsonArray),
    Kind.TIME: (Column, Related),
    Kind.META: (JsonObject,),
}


def datetime_type(type_: sa.types.TypeEngine[Any]) -> sa.DateTime | None:
    impl = type_.impl_instance if isinstance(type_, sa.TypeDecorator) else type_
    return impl if isinstance(impl, sa.DateTime) else None


def _location_problem(target: Field, location: Location) -> str | None:
    allowed = _ALLOWED[target.kind]
    if not isinstance(location, allowed):
        names = " or ".join(kind.__name__ for kind in allowed)
        return f"{target.qualifier!r} ({target.kind.value}) needs {names}, not {type(location).__name__}"
    if target.kind is Kind.TIME:
        column = location.value if isinstance(location, Related) else location.column
        if datetime_type(column.type) is None:
            return f"{target.qualifier!r} is a time: its column {column} must be a DateTime, not {column.type}"
    return None


def locations(target: Field, mapping: SqlMapping) -> tuple[Location, ...]:
    head = target.qualifier.split(".", 1)[0] if target.kind is Kind.META else target.qualifier
    try:
        found = mapping[head]
    except KeyError:
        raise ValueError(f"the SQL mapping has no location for {head!r}") from None
    locations = tuple(found) if isinstance(found, Sequence) else (found,)
    if not locations:
        raise ValueError(f"the SQL mapping has no location for {head!r}")
    for location in locations:
        problem = _location_problem(target, location)
        if problem:
            raise ValueError(f"SQL mapping: {problem}")
    return locations


def check_mapping(schema: Schema, mapping: SqlMapping) -> None:
    """Raise a ``ValueError`` naming every qualifier of ``schema`` the mapping misses or maps wrongly.

    :func:`compile_clause` checks the qualifiers a filter uses; call this at
    start-up to learn about a bad mapping before a user does.
    """
    problems = []
    for target in schema.fields:
        try:
            locations(target, mapping)
        except ValueError as error:
            problems.append(str(error))
    unknown = sorted(set(mapping) - set(schema.by_qualifier))
    if unknown:
        problems.append(f"the SQL mapping names qualifiers {schema.name!r} does not have: {', '.join(unknown)}")
    if problems:
        raise ValueError("; ".join(problems))
