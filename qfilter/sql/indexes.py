"""The index recipe of ``sort=``: the indexes that serve, item for item, the ``ORDER BY`` qfilter writes.

Each sortable field needs one index per direction on each database (ties
are broken by the id ascending in both directions, so one index read
backwards does not serve the other direction), holding the items of
:meth:`~qfilter.sql.SqlOrdering.items`: missing values first where the
column is nullable, the value in code-point order, then the id. A page of a
sorted listing is then a walk of the index's first entries, and a seek past
a row a range of it, on a table of any size (docs/sql.md: sorting).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.compiler import DDLCompiler
from sqlalchemy.sql.ddl import BaseDDLElement
from sqlalchemy.sql.elements import Grouping
from sqlalchemy.sql.schema import SchemaItem

from qfilter.core.schema import Field, Schema
from qfilter.core.sorting import sortable_fields

from .dialects import dialect_name
from .dialects.mysql import MARIADB_DIALECTS
from .mappings import Related, SqlMapping, sort_location
from .order_elements import SortItem, by_code_point, dialect_named
from .ordering import SqlOrdering

__all__ = ["sort_indexes", "create_sort_indexes"]

_MAX_NAME = 63  # PostgreSQL's limit (MariaDB's is 64)


def _name(table: sa.Table, field: Field, descending: bool) -> str:
    name = f"ix_{table.name}_sort_{field.qualifier}_{'desc' if descending else 'asc'}"
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: _MAX_NAME - 9]}_{digest}"


def _indexed(item: SortItem) -> sa.ColumnElement[Any]:
    """The item as an index column: an expression in parentheses (PostgreSQL needs them), its direction."""
    expression = item.expression
    is_column = isinstance(expression, sa.Column) or (
        isinstance(expression, by_code_point) and isinstance(expression.clause, sa.Column)
    )
    grouped: sa.ColumnElement[Any] = expression if is_column else Grouping(expression)
    return grouped.desc() if item.descending else grouped


def _signature(items: Sequence[sa.ColumnElement[Any]], dialect: sa.Dialect) -> tuple[str, ...]:
    """What an index holds, as text of ``dialect``: to tell an index the table has already."""
    options = {"include_table": False, "literal_binds": True}
    return tuple(
        str(item.compile(dialect=dialect, compile_kwargs=options)).replace("(", "").replace(")", "") for item in items
    )


def _reversed(signature: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(text.removesuffix(" DESC") if text.endswith(" DESC") else f"{text} DESC" for text in signature)


_FOR_DIALECT = "qfilter_sort_dialect"
"""The ``Index.info`` key of a declared index: the dialect it is made on."""


def _expressions(index: sa.Index) -> list[sa.ColumnElement[Any]]:
    """What an index of a table holds: clauses only, SQLAlchemy having put each column given by name's column."""
    return [expression for expression in index.expressions if not isinstance(expression, str)]


def _served_by(table: sa.Table, wanted: tuple[str, ...], dialect: sa.Dialect, name: str) -> bool:
    """Whether the table's primary key or one of its indexes starts with these items (or all of them reversed)."""
    existing: list[tuple[str, ...]] = [_signature(list(table.primary_key.columns), dialect)]
    existing += [
        _signature(_expressions(index), dialect)
        for index in table.indexes
        if index.info.get(_FOR_DIALECT, name) == name  # not another database's sort index
    ]
    return any(held[: len(wanted)] in (wanted, _reversed(wanted)) for held in existing)


def _problem(field: Field, location: Any, items: list[SortItem], dialect: str, *, nullable: bool) -> str | None:
    """Why no index serves ``items`` (the field's, then the id's) on ``dialect``; ``None`` when one does."""
    if isinstance(location, Related):
        return (
            f"{field.qualifier!r} is sorted through a relationship (a lookup per row): no index of the table serves it"
        )
    if any(isinstance(node, sa.ScalarSelect) for item in items for node in sa.sql.visitors.iterate(item.expression)):
        return f"{field.qualifier!r} is a subquery: no index serves it"
    if dialect not in MARIADB_DIALECTS:
        return None
    unserved = [item for item in items if not item.plain]
    if not unserved:
        return None
    column = location.column
    if nullable and unserved[0] is items[0] and isinstance(column, sa.Column) and location.missing is None:
        return (
            f"{field.qualifier!r} can be missing and MariaDB has no NULLS LAST: give the table a generated column "
            f"sa.Column('{column.name}_missing', sa.Boolean, missing_flag('{column.name}')) and map it as "
            f"Column(..., missing=table.c.{column.name}_missing)"
        )
    return (
        f"{field.qualifier!r} is ordered by an expression ({unserved[-1].expression}: a text in code-point order, or "
        "computed), which a MariaDB index cannot hold: use utf8mb4_nopad_bin text columns (qfilter.sql.exact_string)"
    )


def sort_indexes(
    schema: Schema,
    mapping: SqlMapping,
    dialect: sa.Dialect | str,
    *,
    id_column: Any,
    fields: Iterable[str] | None = None,
    declare: bool = False,
) -> list[sa.Index]:
    """The indexes ``sort=`` needs on ``dialect``: one per sortable field of ``schema`` and direction.

    ``fields`` limits them to some qualifiers (default: every field
    :func:`~qfilter.core.sorting.sortable_fields` gives). An index the table
    has already (its primary key for a sort by the id column) is left out.
    A field no index can serve there is a ``ValueError`` naming it and why
    (a path through a relationship, a subquery; on MariaDB a nullable column
    without its ``missing`` column, or a text column whose collation is not
    ``utf8mb4_nopad_bin``): leave it out of ``fields`` or of ``Schema.sortable``.

    The indexes are not part of their table (``metadata.create_all`` does
    not make them) unless ``declare``: then they are, for ``dialect`` only
    (``Index.ddl_if``), so that one table can declare each database's.
    :func:`create_sort_indexes` makes them on a database.
    """
    name = dialect_name(dialect)
    assert name is not None
    family = "mariadb" if name in MARIADB_DIALECTS else name  # SQLAlchemy's two names for it
    compiled_for = dialect if isinstance(dialect, sa.Dialect) else dialect_named(name)
    ordering = SqlOrdering(mapping, id_column=id_column, zone=schema.timezone)
    chosen = [f for f in sortable_fields(schema) if fields is None or f.qualifier in set(fields)]
    if fields is not None:
        unknown = sorted(set(fields) - {f.qualifier for f in sortable_fields(schema)})
        if unknown:
            raise ValueError(f"sort_indexes: not sortable fields of {schema.name!r}: {', '.join(unknown)}")
    made: list[sa.Index] = []
    problems: list[str] = []
    table = _table_of(ordering.identity)
    for field in chosen:
        location = sort_location(field, mapping)
        for descending in (False, True):
            items = ordering.items(field, descending=descending, dialect=name)
            if ordering.place(field).column is not ordering.identity:
                items += ordering.items(None, descending=False, dialect=name)
            problem = _problem(field, location, items, name, nullable=ordering.place(field).nullable)
            if problem:
                problems.append(problem)
                break
            columns = [_indexed(item) for item in items]
            if _served_by(table, _signature(columns, compiled_for), compiled_for, family):
                continue
            index = sa.Index(_name(table, field, descending), *columns, info={_FOR_DIALECT: family})
            if declare:
                index.ddl_if(callable_=_MadeOn(MARIADB_DIALECTS if family == "mariadb" else (family,)))
            else:
                table.indexes.discard(index)
            made.append(index)
    if problems:
        raise ValueError("sort_indexes: " + "; ".join(problems))
    return made


@dataclass(frozen=True, slots=True)
class _MadeOn:
    """A declared index's DDL rule: made on these dialects only (``ddl_if(dialect=)`` is one name; MariaDB has two)."""

    names: tuple[str, ...]

    def __call__(
        self,
        ddl: BaseDDLElement,
        target: SchemaItem | str,
        bind: sa.Connection | None,
        tables: list[sa.Table] | None = None,
        state: Any | None = None,
        *,
        dialect: sa.Dialect,
        compiler: DDLCompiler | None = None,
        **kw: Any,
    ) -> bool:
        return dialect.name in self.names


def create_sort_indexes(
    bind: sa.Engine | sa.Connection,
    schema: Schema,
    mapping: SqlMapping,
    *,
    id_column: Any,
    fields: Iterable[str] | None = None,
) -> list[sa.Index]:
    """Make the indexes :func:`sort_indexes` gives for ``bind``'s database where they are missing; returns them all."""
    indexes = sort_indexes(schema, mapping, bind.dialect, id_column=id_column, fields=fields)
    # IF NOT EXISTS rather than a check first: SQLAlchemy reflects no expression index of SQLite.
    statements = [sa.schema.CreateIndex(index, if_not_exists=True) for index in indexes]
    if isinstance(bind, sa.Connection):
        for statement in statements:
            bind.execute(statement)
    else:
        with bind.begin() as conn:
            for statement in statements:
                conn.execute(statement)
    return indexes


def _table_of(column: sa.ColumnElement[Any]) -> sa.Table:
    table = getattr(column, "table", None)
    if not isinstance(table, sa.Table):
        raise ValueError(f"sort_indexes: the id column {column} is not a column of a table")
    return table
