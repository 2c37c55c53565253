"""A filter's numbers, read exactly, and how each type of stored value compares with one.

A number in a filter is read as what it spells: an ``int`` when it is
integral (``5``, ``5.0``, ``1e3``, ``-9223372036854775809``), else a
``Decimal`` (``9.99``, ``1e-05``): never rounded to a double on the way.
A value is then compared in its own type:

- an integer or a ``Decimal`` exactly (``Decimal("9.99")`` equals ``9.99``);
- a float (a double) with the double nearest to the number (``0.1`` holds
  for the float ``0.1``, which is not exactly one tenth);
- a decimal column of a database, whose values are multiples of
  ``10**-scale`` below ``10**(precision - scale)``, through
  :func:`grid_comparison`: the same comparison with a number the column
  can hold, or its answer for every value (``price:0.001`` on a
  ``Numeric(10, 2)`` matches nothing, ``price:<1e30`` every price).

Numbers beyond the doubles' range (``1e400``) are refused by the binder,
with the position: every backend can then compare what it keeps.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal, InvalidOperation
from typing import TypeAlias

from .ir import Operator

__all__ = ["ExactNumber", "GridTest", "grid_comparison", "json_operand", "nearest_double", "read_number"]

ExactNumber: TypeAlias = int | Decimal
"""A number as a filter spells it: an ``int`` when integral, else a ``Decimal``."""
GridTest: TypeAlias = bool | tuple[Operator, Decimal]
"""What a comparison of a decimal column comes to: ``False`` (no value), ``True`` (every value), or ``(op, d)``."""

_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", re.A)
_LARGEST_DOUBLE = Decimal(float.fromhex("0x1.fffffffffffffp+1023"))


def read_number(text: str) -> ExactNumber | None:
    """The number ``text`` spells in JSON syntax (``5``, ``-2.5``, ``1e3``), exactly; ``None`` if it spells none.

    Integral numbers are ``int`` (``5.0`` and ``1e3`` too), others
    ``Decimal``. A number whose magnitude is beyond the largest double is
    ``None`` too: the callers say it is out of range.
    """
    if _JSON_NUMBER.fullmatch(text) is None:
        return None
    if text.lstrip("-").isdigit():
        if len(text) > 310:  # beyond the doubles' range whatever its digits: no int() of thousands of digits
            return None
        whole = int(text)
        return whole if abs(whole) <= _LARGEST_DOUBLE else None
    number = Decimal(text)
    if number.is_zero():
        return 0
    if number.adjusted() > 308 and abs(number) > _LARGEST_DOUBLE:
        return None
    if number.adjusted() >= 0 and number == number.to_integral_value():
        return int(number)
    return number


def nearest_double(number: int | float | Decimal) -> float:
    """The double nearest to ``number`` (how a float value compares with it); infinite beyond their range."""
    try:
        return float(number)
    except OverflowError:  # an int beyond the doubles' range
        return math.inf if number > 0 else -math.inf


def json_operand(number: int | float | Decimal) -> tuple[int | float, str]:
    """What a JSON number in a database is compared with: a number to bind, and a text to read as ``NUMERIC``.

    As memory reads JSON (``json.load``): an integer is itself (the double
    nearest to it beyond 64 bits, which SQLite cannot bind and where its
    JSON integers are doubles too), its text exact; a fraction is a float,
    so the number is the double nearest to it, and the text that double's
    shortest spelling (``repr``), which orders among JSON numbers as the
    double does.
    """
    if isinstance(number, int):
        return (number if -(2**63) <= number < 2**63 else nearest_double(number)), str(number)
    double = nearest_double(number)
    return double, repr(double)


def _context(digits: int) -> Context:
    return Context(prec=max(digits, 1) + 2, Emin=-999999, Emax=999999)


def grid_comparison(op: Operator, number: int | float | Decimal, *, scale: int, precision: int | None) -> GridTest:
    """``value <op> number`` for values that are multiples of ``10**-scale`` below ``10**(precision - scale)``.

    The answer is ``(op, d)`` with ``d`` a value the column holds (so binding
    it is never a database error nor a rounding), or ``True``/``False``
    when it holds for every value or for none: ``eq`` with a number off the
    grid or out of range is ``False``; ``> 0.001`` at scale 2 is ``> 0.00``,
    ``>= 0.001`` is ``>= 0.01``. ``precision`` ``None``: no bound on the size.
    """
    exact = Decimal(number)  # exact for an int, a Decimal and a float alike
    step = Decimal(1).scaleb(-scale)
    if precision is not None:
        largest = _context(precision).subtract(Decimal(1).scaleb(precision - scale), step)  # the largest it holds
        if exact > largest:
            return {"eq": False, "gt": False, "gte": False, "lt": True, "lte": True}[op]
        if exact < -largest:
            return {"eq": False, "lt": False, "lte": False, "gt": True, "gte": True}[op]
        digits = precision
    else:
        digits = max(exact.adjusted(), 0) + scale + 1
    try:
        floor = exact.quantize(step, rounding=ROUND_FLOOR, context=_context(digits))
        ceiling = exact.quantize(step, rounding=ROUND_CEILING, context=_context(digits))
    except InvalidOperation:  # more digits than the column can have: out of range (precision None, huge)
        return op in ("lt", "lte") if exact > 0 else op in ("gt", "gte")
    match op:
        case "eq":
            return ("eq", floor) if floor == exact else False
        case "gt" | "lte":
            return op, floor  # v > x is v > floor(x) on the grid; v <= x is v <= floor(x)
        case "gte" | "lt":
            return op, ceiling
