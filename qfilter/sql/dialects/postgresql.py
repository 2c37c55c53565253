"""PostgreSQL: case folding with an ICU collation, substring search with ``strpos``, JSON with ``json[b]_*``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from qfilter.core.plan import Condition, Equals

from ..elements import ZERO, constant, fold_case, number_param, param, position
from .base import ValueTest

__all__ = ["POSTGRESQL_COLLATION", "json_any"]

POSTGRESQL_COLLATION = "und-x-icu"
"""The ICU collation whose ``lower()`` folds case the way Python's ``str.lower`` does."""
_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]


@compiles(fold_case, "postgresql")
def _fold_case_postgresql(element: fold_case, compiler: SQLCompiler, **kw: Any) -> str:
    return f'lower(({compiler.process(element.clauses, **kw)}) COLLATE "{POSTGRESQL_COLLATION}")'


@compiles(number_param, "postgresql")
def _number_param_postgresql(element: number_param, compiler: SQLCompiler, **kw: Any) -> str:
    # The number's shortest text as NUMERIC: exact, like the JSON numbers it is compared with.
    return f"CAST({compiler.process(element.clauses.clauses[1], **kw)} AS NUMERIC)"


@compiles(position, "postgresql")
def _position_postgresql(element: position, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strpos({compiler.process(element.clauses, **kw)})"


def _could_be_non_string(value: str) -> bool:
    """Whether a JSON number or boolean could have ``value`` as its text."""
    if value in ("true", "false"):
        return True
    try:
        float(value)
    except ValueError:
        return False
    return True


def json_any(
    column: sa.ColumnElement[Any],
    keys: tuple[str, ...],
    condition: Condition,
    test: ValueTest,
    *,
    indexable: bool = True,
) -> sa.ColumnElement[bool]:
    """EXISTS a scalar at ``keys`` in a JSON column that satisfies ``condition`` (PostgreSQL).

    Each level unwraps one array, as memory does; ``json`` columns keep each
    number's spelling, ``jsonb`` ones hold numerics (docs/sql.md: the limits).
    """
    binary = isinstance(column.type.dialect_impl(_POSTGRESQL), postgresql.JSONB)
    prefix = "jsonb" if binary else "json"
    document = column if isinstance(column.type, sa.JSON) else sa.cast(column, sa.JSON())

    def call(name: str, *arguments: Any) -> sa.Function[Any]:
        return sa.Function(f"{prefix}_{name}", *arguments)

    def typeof(value: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        return call("typeof", value)

    def elements(value: sa.ColumnElement[Any]) -> sa.TableValuedAlias:
        as_array = sa.case((typeof(value) == constant("array"), value), else_=call("build_array", value))
        return call("array_elements", as_array).table_valued("value")

    if indexable and binary and not keys and isinstance(condition, Equals) and "\x00" not in condition.value:
        # The GIN-indexable form; it sees string elements only, so numbers and
        # booleans spelled like the value still need the general test below.
        value = sa.func.to_jsonb(sa.cast(param(condition.value), sa.Text()))
        # IS NOT NULL: a NULL column must make this false, not NULL, under NOT.
        contains = sa.and_(column.is_not(None), column.op("@>", return_type=sa.Boolean())(value))
        if not _could_be_non_string(condition.value):
            return contains
        return sa.or_(contains, json_any(column, keys, condition, test, indexable=False))

    node = elements(document)
    joined: sa.FromClause = node
    for key in keys:
        member = call("extract_path", node.c.value, param(key))
        # Only objects have members (json_extract_path would index an array with "0").
        child = sa.case((typeof(node.c.value) == constant("object"), member))
        node = elements(child)
        joined = joined.join(node, sa.true())
    kind = typeof(node.c.value)
    spelled = node.c.value.op("#>>", return_type=sa.String())(sa.literal_column("'{}'"))
    number: sa.ColumnElement[str] = spelled
    if binary:
        # jsonb keeps 0.00001 for Python's 1e-05: respell small fractions as float8 does, like repr.
        numeric = sa.cast(spelled, sa.Numeric())
        small = sa.and_(
            position(spelled, constant(".")) > ZERO,
            numeric != ZERO,
            sa.func.abs(numeric) < sa.literal_column("0.0001"),
        )
        as_float = sa.cast(sa.cast(spelled, postgresql.DOUBLE_PRECISION()), sa.Text())
        number = sa.case((small, as_float), else_=spelled)
    text = sa.case(
        (kind.in_([constant("string"), constant("boolean")]), spelled),
        (kind == constant("number"), number),
    )
    as_number = sa.case((kind == constant("number"), sa.cast(spelled, sa.Numeric())))
    present = kind != constant("null")
    found = test(text, number=as_number, present=present)
    return sa.select(sa.literal_column("1")).select_from(joined).where(found).exists()
