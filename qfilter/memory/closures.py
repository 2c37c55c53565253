"""The in-memory backend: each condition becomes a closure over an entity's values.

These closures define what a filter means in memory; :mod:`.codegen` only
makes the same answers faster. Entities are read with
:mod:`qfilter.core.values` (mappings or plain objects).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any, assert_never, cast

from qfilter.core.functions import Argument
from qfilter.core.kinds import Kind, traits
from qfilter.core.numbers import nearest_double
from qfilter.core.plan import (
    AllOf,
    AnyOf,
    Call,
    Compare,
    Condition,
    Contains,
    Equals,
    Exists,
    InNumbers,
    InSet,
    IsBoolean,
    Like,
    Not,
    Number,
    Operator,
    ValuePredicate,
    Within,
)
from qfilter.core.schema import Field
from qfilter.core.times import to_instant
from qfilter.core.values import Values, as_text, field_values

from .glob import glob_test

__all__ = ["Check", "MemoryBackend", "ValuesTest", "readable", "reading", "value_test", "values_test", "within_one"]

Check = Callable[[Any], bool]
"""A test of one entity."""
ValuesTest = Callable[[list[Any]], bool]
"""A test of the list of a field's values in one entity."""


def _texts(values: list[Any]) -> list[str]:
    return [t for t in map(as_text, values) if t is not None]


def within_one(start: datetime | None, end: datetime | None, tz: tzinfo) -> Callable[[Any], bool]:
    """Whether one value is an instant in ``[start, end)``."""

    def inside(value: Any) -> bool:
        moment = value if isinstance(value, datetime) and value.tzinfo else to_instant(value, tz)
        if moment is None:
            return False
        return (start is None or start <= moment) and (end is None or moment < end)

    return inside


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}


def is_number(value: Any) -> bool:
    """Whether a value is a number as the language compares them (a boolean is not, nor a ``Decimal`` NaN)."""
    if isinstance(value, Decimal):
        return not value.is_nan()  # comparing a Decimal NaN raises
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number_test(op: Operator, number: Number) -> Callable[[Any], bool]:
    """Whether one value is a number and ``value <op> number`` holds, in the value's own type.

    An ``int`` or a ``Decimal`` compares exactly (``Decimal("9.99")`` equals
    the filter's 9.99), a float with the double nearest to ``number``.
    """
    compare = _OPERATORS[op]
    double = nearest_double(number)

    def test(value: Any) -> bool:
        kind = type(value)
        if kind is float:
            return compare(value, double)
        if kind is int:
            return compare(value, number)
        if kind is Decimal:
            return not value.is_nan() and compare(value, number)
        if not is_number(value):
            return False
        return compare(value, double) if isinstance(value, float) else compare(value, number)

    return test


def readable(kind: Kind, tz: tzinfo) -> Callable[[Any], bool]:
    """Whether a value is one the kind can read: any other is no value (as an unreadable time always was).

    As the kind's :data:`~qfilter.core.kinds.Reading` says: text kinds read
    scalars (a string, number or boolean), TIME instants, NUMBER numbers,
    BOOLEAN booleans; META (JSON) anything but null.
    """
    reads = traits(kind).reads
    match reads:
        case "text":
            return lambda value: as_text(value) is not None
        case "instant":
            return lambda value: isinstance(value, datetime) or to_instant(value, tz) is not None
        case "number":
            return is_number
        case "boolean":
            return lambda value: type(value) is bool
        case "json":
            return lambda value: True
        case _:
            assert_never(reads)


def reading(kind: Kind, tz: tzinfo) -> Callable[[Any], Any]:
    """A value as ``kind`` reads it, which an application's function tests (``None``: the kind reads no value there).

    Text kinds and META (JSON) read a scalar's text (``5`` is ``"5"``), TIME
    an aware instant, NUMBER a number (not a boolean), BOOLEAN a boolean.
    """
    reads = traits(kind).reads
    match reads:
        case "text" | "json":
            return as_text
        case "instant":
            return lambda value: value if isinstance(value, datetime) and value.tzinfo else to_instant(value, tz)
        case "number":
            return lambda value: value if is_number(value) else None
        case "boolean":
            return lambda value: value if type(value) is bool else None
        case _:
            assert_never(reads)


def _call_test(call: Call, tz: tzinfo) -> Callable[[Any], bool]:
    """An application's function on one value: its ``memory`` test of the value as the kind reads it.

    A nested matcher (:attr:`~qfilter.core.functions.Argument.MATCHER`) is
    given as whether the value satisfies it.
    """
    read = reading(call.kind, tz)
    test = call.function.memory
    assert test is not None  # a FunctionMatcher without one binds to no Call
    arguments = call.arguments
    nested = [
        (index, value_test(cast(ValuePredicate, argument), tz))  # Argument.MATCHER reads a predicate
        for index, argument in enumerate(arguments)
        if call.function.argument(index) is Argument.MATCHER
    ]
    if not nested:
        return lambda v: (value := read(v)) is not None and bool(test(value, *arguments))

    def holds(v: Any) -> bool:
        value = read(v)
        if value is None:
            return False
        given = list(arguments)
        for index, inner in nested:
            given[index] = inner(v)
        return bool(test(value, *given))

    return holds


def value_test(predicate: ValuePredicate, tz: tzinfo) -> Callable[[Any], bool]:
    """A function telling whether one value satisfies ``predicate`` (the language reference: function matchers)."""
    match predicate:
        case Contains(text, ignore_case):
            if ignore_case:
                return lambda v: (t := as_text(v)) is not None and text in t.lower()
            return lambda v: (t := as_text(v)) is not None and text in t
        case Equals(value):
            return lambda v: as_text(v) == value
        case Like(glob):
            matches = glob_test(glob)
            return lambda v: (t := as_text(v)) is not None and matches(t)
        case Within(interval):
            return within_one(interval.start, interval.end, tz)
        case InSet(values, ignore_case):
            members = frozenset(values)
            if ignore_case:
                return lambda v: (t := as_text(v)) is not None and t.lower() in members
            return lambda v: as_text(v) in members
        case Compare(op, number):
            return number_test(op, number)
        case InNumbers(numbers):
            equal = [number_test("eq", n) for n in numbers]
            return lambda v: any(test(v) for test in equal)
        case IsBoolean(value):
            return lambda v: type(v) is bool and v is value
        case Call():
            return _call_test(predicate, tz)
        case Not(inner):
            test = value_test(inner, tz)
            return lambda v: not test(v)
        case AllOf(parts):
            tests = [value_test(p, tz) for p in parts]
            return lambda v: all(test(v) for test in tests)
        case AnyOf(parts):
            tests = [value_test(p, tz) for p in parts]
            return lambda v: any(test(v) for test in tests)
        case _:
            assert_never(predicate)


def values_test(condition: Condition, tz: tzinfo, kind: Kind = Kind.EXACT) -> ValuesTest:
    """A function telling whether some of a field's values satisfies ``condition`` (``exists()``: has one).

    Only values ``kind`` can read count (see :func:`readable`); the four
    original conditions never hold for another value anyway, so they skip
    that check.
    """
    match condition:
        case Contains(text, ignore_case):
            if ignore_case:
                return lambda values: any(text in t.lower() for t in _texts(values))
            return lambda values: any(text in t for t in _texts(values))
        case Equals(value):
            return lambda values: any(t == value for t in _texts(values))
        case Like(glob):
            matches = glob_test(glob)
            return lambda values: any(matches(t) for t in _texts(values))
        case Within(interval):
            inside = within_one(interval.start, interval.end, tz)

            def within(values: list[Any]) -> bool:
                for value in values:
                    if inside(value):
                        return True
                return False

            return within
        case Exists():
            keep = readable(kind, tz)
            return lambda values: any(keep(v) for v in values)
        # Text kinds read values with a text, META any (of which only a text can equal one): each value's
        # text is read once, as for Equals.
        case InSet(members, False) if traits(kind).reads in ("text", "json"):
            texts = frozenset(members)
            return lambda values: any(t in texts for t in _texts(values))
        case InSet() | Compare() | InNumbers() | IsBoolean() | Call() | Not() | AllOf() | AnyOf():
            keep = readable(kind, tz)
            one = value_test(condition, tz)
            return lambda values: any(one(v) for v in values if keep(v))
        case _:
            assert_never(condition)


def _always(entity: Any) -> bool:
    return True


def _never(entity: Any) -> bool:
    return False


class MemoryBackend:
    """The :class:`~qfilter.core.backend.Backend` whose results are predicates over one entity.

    Parts that test one field are fused: the all-of, any-of or negation of
    tests of one field's values is again one test of its values, so an
    entity's values are read once for all of them (``-tag:a AND -tag:b ...``
    in a logic tree, where the generated code does not reach, reads the tags
    once, not once per term). An OR of plain values of one field is one set
    lookup per value when the plan has been through
    :func:`~qfilter.core.optimise.one_lookup_per_field`, as
    :func:`~qfilter.memory.compile_plan` does.
    """

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz  # of entity times without an offset: the schema's zone, not the request's
        self._values: dict[Field, Values] = {}
        self._of_one_field: dict[Check, tuple[Field, ValuesTest]] = {}

    def _testing(self, field: Field, test: ValuesTest) -> Check:
        values = self._values.get(field)
        if values is None:
            values = self._values[field] = field_values(field)

        def check(entity: Any) -> bool:
            return test(values(entity))

        self._of_one_field[check] = (field, test)
        return check

    def _one_field(self, parts: Sequence[Check]) -> tuple[Field, list[ValuesTest]] | None:
        """The field and the values tests of ``parts``, if they all test the same field."""
        tests: list[ValuesTest] = []
        field: Field | None = None
        for part in parts:
            found = self._of_one_field.get(part)
            if found is None or (field is not None and found[0] != field):
                return None
            field = found[0]
            tests.append(found[1])
        return None if field is None else (field, tests)

    def holds(self, field: Field, condition: Condition, *, negated: bool) -> Check:
        """Some value of ``field`` satisfies ``condition`` (two-valued already: ``negated`` changes nothing)."""
        return self._testing(field, values_test(condition, self.tz, field.kind))

    def all_of(self, parts: Sequence[Check]) -> Check:
        """Every part holds."""
        if not parts:
            return _always
        if len(parts) == 1:
            return parts[0]
        fused = self._one_field(parts)
        if fused is not None:
            field, tests = fused
            return self._testing(field, lambda values: all(test(values) for test in tests))
        if len(parts) == 2:
            first, second = parts
            return lambda entity: first(entity) and second(entity)
        return lambda entity: all(part(entity) for part in parts)

    def any_of(self, parts: Sequence[Check]) -> Check:
        """Some part holds."""
        if not parts:
            return _never
        if len(parts) == 1:
            return parts[0]
        fused = self._one_field(parts)
        if fused is not None:
            field, tests = fused
            return self._testing(field, lambda values: any(test(values) for test in tests))
        if len(parts) == 2:
            first, second = parts
            return lambda entity: first(entity) or second(entity)
        return lambda entity: any(part(entity) for part in parts)

    def negation(self, part: Check) -> Check:
        """``part`` does not hold."""
        fused = self._of_one_field.get(part)
        if fused is not None:
            field, test = fused
            return self._testing(field, lambda values: not test(values))
        return lambda entity: not part(entity)
