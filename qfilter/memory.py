"""The in-memory compiler: a bound filter becomes a predicate over entities.

Entities are mappings (parsed JSON) or plain objects; a path segment is a key
of a mapping or an attribute of an object. Each condition becomes a closure
specialised for its kind, so filtering a list costs a few function calls per
entity and no interpretation of the filter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any, TypeVar

from .ast import Filter
from .schema import Field, Kind, Schema
from .semantics import Condition, Contains, Context, Equals, Like, Plan, Within, bind
from .timeexpr import to_instant

__all__ = ["Predicate", "compile_predicate", "as_text", "glob_regex", "field_values"]

T = TypeVar("T")
_Values = Callable[[Any], list[Any]]
_Test = Callable[[list[Any]], bool]


def as_text(value: object) -> str | None:
    """A scalar's text as the language compares it; ``None`` for non-scalars.

    Booleans are ``true``/``false`` as in JSON, numbers their usual spelling.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return None


def glob_regex(glob: str) -> re.Pattern[str]:
    """The regular expression of a ``like()`` glob, matched against lower-cased text."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob.lower())
    return re.compile("".join(parts), re.S)


def _path_values(segments: tuple[str, ...]) -> _Values:
    def values(entity: Any) -> list[Any]:
        current = [entity]
        for key in segments:
            found: list[Any] = []
            for item in current:
                if isinstance(item, Mapping):
                    value = item.get(key)
                elif isinstance(item, (str, int, float, list, tuple)):
                    continue  # JSON scalars and lists have no keys ((5).real is not a key)
                else:
                    value = getattr(item, key, None)
                if value is None:
                    continue
                if isinstance(value, (list, tuple)):
                    found.extend(v for v in value if v is not None)
                else:
                    found.append(value)
            if not found:
                return found
            current = found
        return current

    return values


def field_values(target: Field) -> _Values:
    """A function giving the values of ``target`` in an entity (every path; lists flattened)."""
    getters = [_path_values(segments) for segments in target.segments]
    if len(getters) == 1:
        return getters[0]

    def values(entity: Any) -> list[Any]:
        found: list[Any] = []
        for getter in getters:
            found.extend(getter(entity))
        return found

    return values


def _texts(values: list[Any]) -> list[str]:
    return [t for t in map(as_text, values) if t is not None]


def _test(condition: Condition, kind: Kind, tz: tzinfo) -> _Test:
    match condition:
        case Contains(text, True):
            return lambda values: any(text in t.lower() for t in _texts(values))
        case Contains(text, False):
            return lambda values: any(text in t for t in _texts(values))
        case Equals(value):
            return lambda values: any(t == value for t in _texts(values))
        case Like(glob):
            fullmatch = glob_regex(glob).fullmatch
            return lambda values: any(fullmatch(t.lower()) is not None for t in _texts(values))
        case Within(interval):
            start, end = interval.start, interval.end

            def within(values: list[Any]) -> bool:
                for value in values:
                    moment = value if isinstance(value, datetime) and value.tzinfo else to_instant(value, tz)
                    if moment is None:
                        continue
                    if (start is None or start <= moment) and (end is None or moment < end):
                        return True
                return False

            return within
    raise TypeError(f"unknown condition {condition!r}")  # pragma: no cover


class Predicate:
    """A compiled filter: call it on an entity, or :meth:`filter` an iterable."""

    __slots__ = ("plan", "_check")

    def __init__(self, plan: Plan, check: Callable[[Any], bool]) -> None:
        self.plan = plan
        self._check = check

    def __call__(self, entity: Any) -> bool:
        return self._check(entity)

    def filter(self, entities: Iterable[T]) -> list[T]:
        """The entities that match, in their original order."""
        check = self._check
        return [entity for entity in entities if check(entity)]


def _group_check(values: _Values, alternatives: list[list[_Test]], excluded: bool) -> Callable[[Any], bool]:
    def holds(entity: Any) -> bool:
        found = values(entity)
        any_holds = any(all(test(found) for test in tests) for tests in alternatives) if found else False
        return not any_holds if excluded else any_holds

    return holds


def compile_plan(plan: Plan, tz: tzinfo) -> Predicate:
    """The predicate of an already bound filter."""
    checks = [
        _group_check(
            field_values(group.field),
            [[_test(c, group.field.kind, tz) for c in conditions] for conditions in group.alternatives],
            group.excluded,
        )
        for group in plan.groups
    ]
    if not checks:
        return Predicate(plan, lambda entity: True)
    if len(checks) == 1:
        return Predicate(plan, checks[0])
    return Predicate(plan, lambda entity: all(check(entity) for check in checks))


def compile_predicate(
    query: Filter | str,
    schema: Schema,
    *,
    now: datetime | None = None,
    user: str | None = None,
    tz: tzinfo | None = None,
) -> Predicate:
    """Compile a filter (text or parsed) into a :class:`Predicate` over entities.

    ``now`` fixes the instant of ``now`` (default: the current time), ``user``
    is the current user for ``@me``, ``tz`` overrides the schema's time zone.
    """
    from .parser import parse

    parsed = parse(query, default_qualifier=schema.default_qualifier) if isinstance(query, str) else query
    context = Context(now=now, user=user, tz=tz)
    return compile_plan(bind(parsed, schema, context), tz or schema.timezone)
