"""PostgreSQL: case folding with an ICU collation, substring search with ``strpos``, JSON with ``json[b]_*``."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from qfilter.core.plan import Condition, Equals, InSet

from ..elements import LIKE_ESCAPE, ZERO, constant, contains, fold_case, number_param, param, position
from .base import ValueTest

__all__ = ["POSTGRESQL_COLLATION", "json_any"]

POSTGRESQL_COLLATION = "und-x-icu"
"""The ICU collation whose ``lower()`` folds case the way Python's ``str.lower`` does."""
# Called as a Dialect: the dialect class's own constructor is unannotated, and no argument is given it here.
_POSTGRESQL_DIALECT: type[sa.Dialect] = postgresql.dialect
_POSTGRESQL = _POSTGRESQL_DIALECT()


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


@compiles(contains, "postgresql")
def _contains_postgresql(element: contains, compiler: SQLCompiler, **kw: Any) -> str:
    # LIKE '%text%' rather than strpos: the same answer (deterministic collations, no U+0000),
    # and a pg_trgm index on the haystack's expression serves it (docs/sql.md).
    haystack, _, pattern = element.clauses.clauses
    return compiler.process(haystack.like(pattern, escape=LIKE_ESCAPE), **kw)


def _could_be_non_string(value: str) -> bool:
    """Whether a JSON number or boolean could have ``value`` as its text."""
    if value in ("true", "false"):
        return True
    try:
        float(value)
    except ValueError:
        return False
    return True


class _JsonbValue(sa.TypeDecorator[Any]):
    """A value bound as ``jsonb`` (no conversion per row), which also renders as a literal (EXPLAIN, logs)."""

    impl = postgresql.JSONB()
    cache_ok = True

    def process_literal_param(self, value: Any, dialect: sa.Dialect) -> str:
        text = json.dumps(value).replace("'", "''")
        return f"'{text}'::jsonb"


_JSONB = _JsonbValue()


def _indexable_strings(condition: Condition) -> tuple[str, ...] | None:
    """The strings an ``Equals`` or a case-sensitive ``InSet`` looks for, when ``@>`` can find them."""
    match condition:
        case Equals(value):
            strings: tuple[str, ...] = (value,)
        case InSet(values, ignore_case=False):
            strings = values
        case _:
            return None
    return strings if strings and not any("\x00" in text for text in strings) else None


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

    strings = _indexable_strings(condition) if indexable and binary and not keys else None
    if strings:
        # The GIN-indexable form: the column contains the JSON string (an array holding it, or the
        # string itself), the string bound as a jsonb parameter, so nothing is converted per row.
        # It sees string elements only, so numbers and booleans spelled like a value still need
        # the general test below. IS NOT NULL: a NULL column must make this false, not NULL, under NOT.
        contains = sa.and_(
            column.is_not(None),
            sa.or_(
                *(column.op("@>", return_type=sa.Boolean())(sa.bindparam(None, text, type_=_JSONB)) for text in strings)
            ),
        )
        if not any(map(_could_be_non_string, strings)):
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
