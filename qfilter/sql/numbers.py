"""A filter's numbers against float and decimal columns, each compared in the column's own type.

A float column (``Float``, ``Double``) holds doubles: the filter's number is
compared as the double nearest to it, as memory compares a Python float
(:mod:`qfilter.core.numbers`). A decimal column (``Numeric(10, 2)``) holds
multiples of ``10**-scale`` below ``10**(precision - scale)``: the number is
compared exactly, through a comparison with a number the column's type holds
(:func:`~qfilter.core.numbers.grid_comparison`: ``price:0.001`` matches
nothing and ``price:>0.001`` is ``price > 0.00``; ``price:1e30`` matches
nothing, ``price:<1e30`` every price), so that what is bound is never
rounded nor refused by the database. The type is read per database, as for
integers (:mod:`.integers`): MariaDB's ``DECIMAL`` without a precision is
``DECIMAL(10, 0)``, PostgreSQL's ``NUMERIC`` without one has no bound, and
SQLite, which has no decimal type, keeps decimals as doubles (``REAL``):
there the number is put on the type's grid (its scale, or the 10 places
SQLAlchemy reads such a column back with) and then compared as the double
nearest to that. docs/sql.md: "Floats and decimals".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeAlias

import sqlalchemy as sa

from qfilter.core.numbers import GridTest, grid_comparison, nearest_double
from qfilter.core.plan import Number, Operator

from .dialects import SUPPORTED_DIALECTS
from .elements import PerDialect

__all__ = ["Grid", "NumberTest", "decimal_compare", "float_compare", "numbers_in", "per_database"]

# A dialect instance per name: enough to resolve a column's type (variants, TypeDecorators) for that database.
_DIALECTS: dict[str, sa.Dialect] = {name: sa.make_url(f"{name}://").get_dialect()() for name in SUPPORTED_DIALECTS}

_OPERATORS = {"eq": "__eq__", "lt": "__lt__", "lte": "__le__", "gt": "__gt__", "gte": "__ge__"}
_EVERY_VALUE_BEYOND = {  # the answer of value <op> x for every finite value, when x is +inf (True) or -inf (False)
    True: {"eq": False, "lt": True, "lte": True, "gt": False, "gte": False},
    False: {"eq": False, "lt": False, "lte": False, "gt": True, "gte": True},
}
NumberTest: TypeAlias = bool | tuple[Operator, Decimal | float]
"""A comparison of a float or decimal column: ``False`` (no value), ``True`` (every value), or ``(op, bound)``."""


def _test(
    value: sa.ColumnElement[Any], test: NumberTest, bound_type: sa.types.TypeEngine[Any]
) -> sa.ColumnElement[bool]:
    if test is False:
        return sa.false()
    if test is True:
        return value.is_not(None)
    op, bound = test
    compared: sa.ColumnElement[bool] = getattr(value, _OPERATORS[op])(sa.bindparam(None, bound, type_=bound_type))
    return compared


def _as_double(op: Operator, number: Number) -> NumberTest:
    """``value <op> number`` for doubles: with the double nearest to ``number`` (never an infinity bound)."""
    double = nearest_double(number)
    if math.isinf(double):
        return _EVERY_VALUE_BEYOND[double > 0][op]
    return op, double


def float_compare(value: sa.ColumnElement[Any], op: Operator, number: Number) -> sa.ColumnElement[bool]:
    """``value <op> number`` on a float column: the number as its nearest double, bound as a double."""
    return _test(value, _as_double(op, number), sa.Double())


Grid: TypeAlias = tuple[int | None, int | None, bool]
"""How a database holds a decimal column's values: ``(scale, precision, as doubles)``; a ``None`` has no bound."""

_NUMERIC_SCALE = 16383  # the most digits PostgreSQL's NUMERIC keeps after the point


def _grid(type_: sa.types.TypeEngine[Any], dialect: sa.Dialect) -> Grid:
    impl = type_._unwrapped_dialect_impl(dialect)
    precision: int | None = getattr(impl, "precision", None)
    scale: int | None = getattr(impl, "scale", None)
    if dialect.name == "sqlite":
        # No decimal type: NUMERIC affinity keeps a double, which SQLAlchemy reads back rounded to
        # the type's scale (10 places without one), and enforces no precision.
        return getattr(impl, "_effective_decimal_return_scale", scale), None, True
    if precision is None:
        return (None, None, False) if dialect.name == "postgresql" else (0, 10, False)  # MariaDB: DECIMAL(10, 0)
    return scale or 0, precision, False


@lru_cache(maxsize=1024)  # per column type (hashed by identity), several times per request
def _grids(type_: sa.types.TypeEngine[Any]) -> tuple[tuple[str, Grid], ...]:
    return tuple((name, _grid(type_, dialect)) for name, dialect in _DIALECTS.items())


def _decide(op: Operator, number: Number, grid: Grid) -> NumberTest:
    scale, precision, doubles = grid
    if scale is None:
        exact = Decimal(number)
        exponent = exact.as_tuple().exponent  # an int: a filter's numbers are finite (no NaN, no infinity)
        if isinstance(exponent, int) and exponent >= -_NUMERIC_SCALE:
            return op, exact
        scale = _NUMERIC_SCALE  # finer than NUMERIC holds: compared on its finest grid
    decided: GridTest = grid_comparison(op, number, scale=scale, precision=precision)
    if doubles and not isinstance(decided, bool):
        return decided[0], float(decided[1])
    return decided


def decimal_compare(
    value: sa.ColumnElement[Any], op: Operator, number: Number, dialect: str | None
) -> sa.ColumnElement[bool]:
    """``value <op> number`` on a decimal column, exactly, never binding a number its type cannot hold.

    Like an integer column's comparison (:func:`~.integers.integer_clause`),
    it is one clause when every database decides the same, else one per
    database, chosen when the statement is compiled.
    """

    def build(test: NumberTest) -> sa.ColumnElement[bool]:
        doubles = isinstance(test, tuple) and isinstance(test[1], float)
        return _test(value, test, sa.Double() if doubles else sa.Numeric())

    decisions = {name: _decide(op, number, grid) for name, grid in _grids(value.type)}
    return per_database(decisions, dialect, build)


def per_database(
    decisions: dict[str, NumberTest], dialect: str | None, build: Callable[[NumberTest], sa.ColumnElement[bool]]
) -> sa.ColumnElement[bool]:
    """The clause ``build`` makes of each database's decision: one when they agree, else one per database."""
    if dialect is not None:
        chosen = decisions[dialect]
        built = build(chosen)
        if all(decision == chosen for decision in decisions.values()):
            return built
        return PerDialect({name: built for name, decision in decisions.items() if decision == chosen})
    first = next(iter(decisions.values()))
    if all(decision == first for decision in decisions.values()):
        return build(first)
    return PerDialect({name: build(decision) for name, decision in decisions.items()})


def numbers_in(
    value: sa.ColumnElement[Any], numbers: tuple[Number, ...], dialect: str | None, *, decimal: bool
) -> sa.ColumnElement[bool]:
    """``value IN numbers`` on a float or decimal column: an OR of equalities, each as :func:`float_compare` does."""
    tests = [decimal_compare(value, "eq", n, dialect) if decimal else float_compare(value, "eq", n) for n in numbers]
    return sa.or_(*tests) if tests else sa.false()
