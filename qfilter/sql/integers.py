"""A filter's numbers against integer columns: exact, and only ever bound within the column type's range.

A database refuses a parameter its column type cannot hold (PostgreSQL's
``integer out of range``, asyncpg's ``value out of int32 range``), and it
compares an integer column with a float as floats, which is inexact beyond
2**53. Memory compares Python's ``int`` and ``float`` exactly. So before a
number reaches an integer column, the comparison is rewritten as one with an
integer (for integer values ``n > 2.5`` is ``n > 2``, ``n >= 2.5`` is
``n >= 3``, ``n = 2.5`` is false) and then read against the range of the
column's type on each database (:func:`integer_bounds`): beyond it, equality
matches nothing and a comparison holds for every value or for none
(``n < 3000000000`` on a 32-bit column is every non-null ``n``). Only an
integer inside the range is ever bound. docs/sql.md: "Numbers and integer
columns".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable
from functools import lru_cache
from typing import Any, TypeAlias, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from qfilter.core.plan import Number, Operator

from .dialects import SUPPORTED_DIALECTS
from .elements import PerDialect

__all__ = ["INT64", "IntegerTest", "integer_bounds", "integer_clause", "integer_comparison", "integer_members"]

INT64 = range(-(2**63), 2**63)
"""The integers SQLite stores, whatever the column's declared type."""

IntegerTest: TypeAlias = bool | tuple[Operator, int]
"""What a comparison of an integer column comes to: ``False`` (no value), ``True`` (every value), or ``(op, n)``."""

# A dialect instance per name: enough to resolve a column's type (variants, TypeDecorators) for that database.
_DIALECTS: dict[str, sa.Dialect] = {name: sa.make_url(f"{name}://").get_dialect()() for name in SUPPORTED_DIALECTS}


def _bits(impl: sa.types.TypeEngine[Any]) -> int:
    # MariaDB's own widths first: its TINYINT and MEDIUMINT extend Integer, not SmallInteger.
    if isinstance(impl, mysql.TINYINT):
        return 8
    if isinstance(impl, mysql.MEDIUMINT):
        return 24
    if isinstance(impl, sa.SmallInteger):
        return 16
    if isinstance(impl, sa.BigInteger):
        return 64
    return 32


def integer_bounds(type_: sa.types.TypeEngine[Any], dialect: sa.Dialect) -> range:
    """The integers a column of ``type_`` holds on ``dialect``'s database.

    SQLite keeps any 64-bit integer in any integer column (it does not
    enforce a declared width), so its range is :data:`INT64` for every type.
    Elsewhere the width is the type's as that database sees it (its variant
    for the dialect, a ``TypeDecorator``'s implementation): ``SmallInteger``
    16 bits, ``BigInteger`` 64, MariaDB's ``TINYINT`` 8 and ``MEDIUMINT`` 24,
    any other integer type 32; ``unsigned=True`` (MariaDB) holds ``0`` to
    ``2**bits - 1``.
    """
    if dialect.name == "sqlite":
        return INT64
    # The type as this database sees it: a variant for it, under any TypeDecorator.
    impl = type_._unwrapped_dialect_impl(dialect)
    bits = _bits(impl)
    if getattr(impl, "unsigned", False):
        return range(2**bits)
    return range(-(2 ** (bits - 1)), 2 ** (bits - 1))


@lru_cache(maxsize=1024)  # per column type (hashed by identity), several times per request
def _bounds_by_dialect(type_: sa.types.TypeEngine[Any]) -> tuple[tuple[str, range], ...]:
    return tuple((name, integer_bounds(type_, dialect)) for name, dialect in _DIALECTS.items())


def _as_integer_comparison(op: Operator, number: Number) -> IntegerTest:
    """``value <op> number`` for integer values, as a comparison with an integer (``> 2.5`` is ``> 2``)."""
    if isinstance(number, int):
        return op, number
    match op:
        case "eq":
            whole = math.floor(number)
            return ("eq", whole) if whole == number else False
        case "gt" | "lte":
            return op, math.floor(number)  # exact: a float or a Decimal is a rational
        case "gte" | "lt":
            return op, math.ceil(number)


def integer_comparison(op: Operator, number: Number, bounds: range) -> IntegerTest:
    """``value <op> number`` for the integer values in ``bounds``: its answer, or a comparison inside them."""
    test = _as_integer_comparison(op, number)
    if isinstance(test, bool):
        return test
    op, whole = test
    low, high = bounds.start, bounds.stop - 1
    match op:
        case "eq":
            return test if low <= whole <= high else False
        case "gt":
            return False if whole >= high else True if whole < low else test
        case "gte":
            return False if whole > high else True if whole <= low else test
        case "lt":
            return False if whole <= low else True if whole > high else test
        case "lte":
            return False if whole < low else True if whole >= high else test


def integer_members(numbers: Iterable[Number], bounds: range) -> tuple[int, ...]:
    """The integers among ``numbers`` (``2.0`` is ``2``) that ``bounds`` holds, each once, in order."""
    found = (integer_comparison("eq", number, bounds) for number in numbers)
    return tuple(dict.fromkeys(test[1] for test in found if not isinstance(test, bool)))


Decision = TypeVar("Decision", bound=Hashable)


def integer_clause(
    type_: sa.types.TypeEngine[Any],
    dialect: str | None,
    decide: Callable[[range], Decision],
    build: Callable[[Decision], sa.ColumnElement[bool]],
) -> sa.ColumnElement[bool]:
    """The clause ``build`` makes of what ``decide`` says for the column type's range on each database.

    Usually every database's range decides the same (``5`` fits them all):
    one clause. Otherwise (``3000000000`` fits SQLite's 64 bits, not
    PostgreSQL's ``integer``) each database gets its own, chosen when the
    statement is compiled; built for one ``dialect``, the clause then refuses
    the databases that would decide otherwise, as JSON searches do. Each
    decision is a distinct statement shape (a comparison, or none), so the
    statement cache never mixes them up.
    """
    decisions = {name: decide(bounds) for name, bounds in _bounds_by_dialect(type_)}
    if dialect is not None:
        chosen = decisions[dialect]
        if all(decision == chosen for decision in decisions.values()):
            return build(chosen)
        built = build(chosen)
        return PerDialect({name: built for name, decision in decisions.items() if decision == chosen})
    first = next(iter(decisions.values()))
    if all(decision == first for decision in decisions.values()):
        return build(first)
    return PerDialect({name: build(decision) for name, decision in decisions.items()})
