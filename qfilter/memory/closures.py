"""The in-memory backend: each condition becomes a closure over an entity's values.

These closures define what a filter means in memory; :mod:`.codegen` only
makes the same answers faster. Entities are read with
:mod:`qfilter.core.values` (mappings or plain objects).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from typing import Any, assert_never

from qfilter.core.plan import Condition, Contains, Equals, Like, Within
from qfilter.core.schema import Field
from qfilter.core.times import to_instant
from qfilter.core.values import Values, as_text, field_values

__all__ = ["Check", "MemoryBackend", "ValuesTest", "glob_regex", "values_test", "within_one"]

Check = Callable[[Any], bool]
"""A test of one entity."""
ValuesTest = Callable[[list[Any]], bool]
"""A test of the list of a field's values in one entity."""


def glob_regex(glob: str) -> re.Pattern[str]:
    """The regular expression of a ``like()`` glob, matched against lower-cased text."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob.lower())
    return re.compile("".join(parts), re.S)


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


def values_test(condition: Condition, tz: tzinfo) -> ValuesTest:
    """A function telling whether some of a field's values satisfies ``condition``."""
    match condition:
        case Contains(text, ignore_case):
            if ignore_case:
                return lambda values: any(text in t.lower() for t in _texts(values))
            return lambda values: any(text in t for t in _texts(values))
        case Equals(value):
            return lambda values: any(t == value for t in _texts(values))
        case Like(glob):
            fullmatch = glob_regex(glob).fullmatch
            return lambda values: any(fullmatch(t.lower()) is not None for t in _texts(values))
        case Within(interval):
            inside = within_one(interval.start, interval.end, tz)

            def within(values: list[Any]) -> bool:
                for value in values:
                    if inside(value):
                        return True
                return False

            return within
        case _:
            assert_never(condition)


def _always(entity: Any) -> bool:
    return True


def _never(entity: Any) -> bool:
    return False


class MemoryBackend:
    """The :class:`~qfilter.core.backend.Backend` whose results are predicates over one entity."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._values: dict[Field, Values] = {}

    def holds(self, field: Field, condition: Condition, *, negated: bool) -> Check:
        """Some value of ``field`` satisfies ``condition`` (two-valued already: ``negated`` changes nothing)."""
        values = self._values.get(field)
        if values is None:
            values = self._values[field] = field_values(field)
        test = values_test(condition, self.tz)
        return lambda entity: test(values(entity))

    def all_of(self, parts: Sequence[Check]) -> Check:
        """Every part holds."""
        if not parts:
            return _always
        if len(parts) == 1:
            return parts[0]
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
        if len(parts) == 2:
            first, second = parts
            return lambda entity: first(entity) or second(entity)
        return lambda entity: any(part(entity) for part in parts)

    def negation(self, part: Check) -> Check:
        """``part`` does not hold."""
        return lambda entity: not part(entity)
