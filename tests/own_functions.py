"""An application's own function matchers (issue 22), declared as an application would, for the tests.

- ``startsWith(prefix)``: a text that starts with ``prefix``, ignoring case
  (``str.lower`` on both sides), on TEXT and EXACT fields; in SQL a ``LIKE``
  of the escaped prefix on the folded text.
- ``multipleOf(n)``: an integer that ``n`` (a whole number from 1 to a
  million) divides, on NUMBER fields; in SQL ``value % n = 0`` on an
  integer column, on any other column nothing.
- ``shorterThan(n)``: a text of fewer than ``n`` characters (code points),
  with a SQL clause per dialect (SQLite's ``length``, the others'
  ``char_length``).
- ``xor(a, b)``: exactly one of two matchers of the field holds, for nested
  matchers (``Argument.MATCHER``) in memory and in SQL.

``OWN_FUNCTIONS`` holds the first three, which the differential property and
the strategies draw (``strategy`` gives their arguments).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from hypothesis import strategies as st

from qfilter import Argument, FunctionMatcher, Kind
from qfilter.sql.calls import SqlValue
from qfilter.sql.elements import LIKE_ESCAPE, param
from qfilter.sql.mappings import value_class

__all__ = ["MULTIPLE_OF", "OWN_FUNCTIONS", "SHORTER_THAN", "STARTS_WITH", "XOR", "like_prefix"]

LARGEST_DIVISOR = 1_000_000


def like_prefix(prefix: str) -> str:
    """The ``LIKE`` pattern (escape ``/``) of the texts that start with ``prefix``."""
    return "".join(LIKE_ESCAPE + char if char in ("%", "_", LIKE_ESCAPE) else char for char in prefix) + "%"


def _starts_with_sql(value: SqlValue, prefix: str) -> sa.ColumnElement[bool]:
    if "\x00" in prefix:  # PostgreSQL text cannot hold U+0000: no stored text starts with it
        return sa.false()
    return value.lowered().like(param(like_prefix(prefix.lower())), escape=LIKE_ESCAPE)


STARTS_WITH = FunctionMatcher(
    "startsWith",
    {Kind.TEXT, Kind.EXACT},
    (Argument.TEXT,),
    memory=lambda value, prefix: value.lower().startswith(prefix.lower()),
    sql=_starts_with_sql,
    words="starting with {0}, ignoring case",
    description="the value starts with x, ignoring case",
    example="startsWith(pump)",
    strategy=lambda kind: st.tuples(st.text(min_size=1, max_size=4)),
)


def _whole_divisor(n: object) -> str | None:
    if isinstance(n, int) and 0 < n <= LARGEST_DIVISOR:
        return None
    return f"multipleOf() takes a whole number from 1 to {LARGEST_DIVISOR}"


def _multiple_of_sql(value: SqlValue, n: int) -> sa.ColumnElement[bool]:
    if value.number is None or value_class(value.number.type) != "integer":
        return sa.false()  # as in memory, only an integer is a multiple
    remainder: sa.ColumnElement[Any] = value.number % sa.bindparam(None, n, type_=sa.Integer())
    return remainder == 0


MULTIPLE_OF = FunctionMatcher(
    "multipleOf",
    {Kind.NUMBER},
    (Argument.NUMBER,),
    memory=lambda value, n: type(value) is int and value % n == 0,
    sql=_multiple_of_sql,
    check=_whole_divisor,
    words="a multiple of {0}",
    description="the value is an integer that n divides",
    example="multipleOf(5)",
    strategy=lambda kind: st.tuples(st.integers(1, 12).map(str)),
)


def _length_below(length: Any) -> Any:
    return lambda value, n: length(value.text()) < sa.bindparam(None, n, type_=sa.Integer())


def _small_length(n: object) -> str | None:
    return None if isinstance(n, int) and 0 <= n <= LARGEST_DIVISOR else "shorterThan() takes a whole number"


SHORTER_THAN = FunctionMatcher(
    "shorterThan",
    {Kind.TEXT, Kind.EXACT},
    (Argument.NUMBER,),
    memory=lambda value, n: len(value) < n,
    sql={
        "sqlite": _length_below(sa.func.length),
        "postgresql": _length_below(sa.func.char_length),
        "mysql": _length_below(sa.func.char_length),
    },
    check=_small_length,
    words="shorter than {0} characters",
    strategy=lambda kind: st.tuples(st.integers(0, 8).map(str)),
)


def _either(value: SqlValue, a: Any, b: Any) -> Any:
    return sa.func.coalesce(a, sa.false()) != sa.func.coalesce(b, sa.false())


XOR = FunctionMatcher(
    "xor",
    {Kind.TEXT, Kind.EXACT},
    (Argument.MATCHER, Argument.MATCHER),
    memory=lambda value, a, b: a != b,
    sql=_either,
    words="matching exactly one of {0} and {1}",
)

OWN_FUNCTIONS = (STARTS_WITH, MULTIPLE_OF, SHORTER_THAN)
"""The functions the differential property draws."""
