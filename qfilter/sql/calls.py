"""One value as the SQL tests read it (:class:`SqlValue`), and an application's own functions in SQL.

A :class:`~qfilter.core.ir.Call` (a function an application declared with
:class:`~qfilter.core.functions.FunctionMatcher`) becomes the clause its
declaration's ``sql`` builds over the value, per dialect or one for all,
and holds only where the field's kind reads a value, as in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, assert_never, cast

import sqlalchemy as sa

from qfilter.core.functions import Argument
from qfilter.core.kinds import Kind, traits
from qfilter.core.plan import Call, ValuePredicate

from .elements import PerDialect, fold_case
from .mappings import value_text

__all__ = ["SqlValue", "call_clause", "folded_text", "typed"]


def folded_text(value: sa.ColumnElement[Any], folded: sa.ColumnElement[Any] | None) -> sa.ColumnElement[Any]:
    """The value's text with its case folded as ``str.lower`` folds it: the stored folded column when there is one."""
    return fold_case(value_text(value)) if folded is None else folded


@dataclass(frozen=True)
class SqlValue:
    """One value at a location, as each sort of test reads it; what an application's function's ``sql`` is given."""

    value: sa.ColumnElement[Any]
    """The column, or a JSON element's text: what text and time tests read."""
    number: sa.ColumnElement[Any] | None = None
    """The value as a number (a NUMBER column, a JSON number); ``None``: it is never one."""
    boolean: sa.ColumnElement[Any] | None = None
    """The value as a boolean (a BOOLEAN column); ``None``: it is never one."""
    present: sa.ColumnElement[bool] | None = None
    """True when there is a value the field's kind reads (``None``: ``value IS NOT NULL``)."""
    folded: sa.ColumnElement[Any] | None = None
    """The value's text with its case folded, stored (a generated column); ``None``: folded where compared."""

    def is_present(self) -> sa.ColumnElement[bool]:
        """The value is one the field's kind reads: never NULL."""
        return self.value.is_not(None) if self.present is None else self.present

    def text(self) -> sa.ColumnElement[Any]:
        """The value's text as memory spells it: an integer in decimal, ``true``/``false``, an enum's value."""
        return value_text(self.value)

    def lowered(self) -> sa.ColumnElement[Any]:
        """The value's text lower-cased exactly as Python's ``str.lower`` does (the stored folded column, if any)."""
        return folded_text(self.value, self.folded)


def typed(column: sa.ColumnElement[Any], kind: Kind, folded: sa.ColumnElement[Any] | None = None) -> SqlValue:
    """A column's value as ``kind`` reads it: a NUMBER's and a BOOLEAN's column as such, any other's as text."""
    reads = traits(kind).reads
    return SqlValue(
        column,
        number=column if reads == "number" else None,
        boolean=column if reads == "boolean" else None,
        folded=folded,
    )


def _reading(kind: Kind, value: SqlValue) -> sa.ColumnElement[Any] | None:
    """What ``kind`` reads of a value, as memory's ``reading`` does; ``None``: it never reads one there."""
    reads = traits(kind).reads
    match reads:
        case "text" | "json" | "instant":
            return value.value
        case "number":
            return value.number
        case "boolean":
            return value.boolean
        case _:
            assert_never(reads)


def _missing(call: Call, dialects: list[str]) -> ValueError:
    where = "in SQL" if not dialects else f"for {', '.join(dialects)}"
    return ValueError(
        f"{call.function.name}() has no meaning {where}: declare it with FunctionMatcher(sql=...), "
        "a function of the value (a SqlValue) and the arguments, or one per dialect name"
    )


def call_clause(
    call: Call,
    value: SqlValue,
    dialect: str | None,
    supported: tuple[str, ...],
    nested: Callable[[ValuePredicate], sa.ColumnElement[bool]],
) -> sa.ColumnElement[bool]:
    """``call`` on one value: its declaration's SQL, where the kind reads a value (never on a NULL).

    ``dialect`` is the one database the clause is built for, or ``None`` for
    every ``supported`` one (the declaration's SQL per dialect then goes into
    a choice made when the statement is compiled). ``nested`` builds a nested
    matcher's clause on the same value. A declaration without SQL for a
    dialect it is built for is a ``ValueError`` naming the function.
    """
    reading = _reading(call.kind, value)
    if reading is None:
        return sa.false()
    arguments = [
        nested(cast(ValuePredicate, argument)) if call.function.argument(index) is Argument.MATCHER else argument
        for index, argument in enumerate(call.arguments)
    ]
    function = call.function
    if function.sql is None:
        raise _missing(call, [])
    if callable(function.sql):
        test: sa.ColumnElement[bool] = function.sql(value, *arguments)
    else:
        builds = {name: function.sql_for(name) for name in ([dialect] if dialect else supported)}
        absent = [name for name, build in builds.items() if build is None]
        if absent:
            raise _missing(call, absent)
        variants = {name: build(value, *arguments) for name, build in builds.items() if build is not None}
        # Wrapped for one dialect too: a clause built for one database is the same SQL as one built for all.
        test = PerDialect(variants)
    return sa.and_(reading.is_not(None), test)
