"""The in-memory compiler: a bound filter becomes a predicate over entities.

Entities are mappings (parsed JSON) or plain objects; a path segment is a key
of a mapping or an attribute of an object. Each condition becomes a closure
specialised for its kind, so filtering a list costs a few function calls per
entity and no interpretation of the filter. Those closures define the
meaning; on top of them :func:`compile_plan` writes each filter out as one
Python function (and one loop for :meth:`Predicate.filter`) that reads
nested dicts and tests strings inline, and hands anything else back to the
closures, which makes it about as fast as a hand-written function
(``docs/performance.md``; ``tests/test_memory_fastpath.py`` holds the two equal).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any, TypeVar

from qfilter.core.ast import Filter
from qfilter.core.plan import Condition, Contains, Context, Equals, Like, Plan, Within, bind
from qfilter.core.schema import Kind, Schema
from qfilter.core.times import to_instant
from qfilter.core.values import Values, as_text, field_values

__all__ = ["Predicate", "compile_predicate", "compile_plan", "glob_regex"]

T = TypeVar("T")

_Test = Callable[[list[Any]], bool]


def glob_regex(glob: str) -> re.Pattern[str]:
    """The regular expression of a ``like()`` glob, matched against lower-cased text."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob.lower())
    return re.compile("".join(parts), re.S)


def _texts(values: list[Any]) -> list[str]:
    return [t for t in map(as_text, values) if t is not None]


def _within_one(start: datetime | None, end: datetime | None, tz: tzinfo) -> Callable[[Any], bool]:
    """Whether one value is an instant in ``[start, end)``."""

    def inside(value: Any) -> bool:
        moment = value if isinstance(value, datetime) and value.tzinfo else to_instant(value, tz)
        if moment is None:
            return False
        return (start is None or start <= moment) and (end is None or moment < end)

    return inside


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
            inside = _within_one(interval.start, interval.end, tz)

            def within(values: list[Any]) -> bool:
                for value in values:
                    if inside(value):
                        return True
                return False

            return within
    raise TypeError(f"unknown condition {condition!r}")  # pragma: no cover


SPECIALISE_AFTER = 256
"""How many entities a predicate sees before it writes itself out as Python (see :func:`compile_plan`)."""

_Specialised = tuple[Callable[[Any], bool], Callable[[Iterable[Any]], list[Any]]]


class Predicate:
    """A compiled filter: call it on an entity, or :meth:`filter` an iterable."""

    __slots__ = ("plan", "_check", "_select", "_specialise")

    def __init__(
        self,
        plan: Plan,
        check: Callable[[Any], bool],
        select: Callable[[Iterable[Any]], list[Any]] | None = None,
        specialise: Callable[[], _Specialised] | None = None,
    ) -> None:
        self.plan = plan
        self._check = check
        self._select = select
        self._specialise = specialise
        if specialise is not None:  # count the first calls, then switch to the generated code
            calls = 0

            def counting(entity: Any) -> bool:
                nonlocal calls
                calls += 1
                if calls >= SPECIALISE_AFTER:
                    self._upgrade()
                return check(entity)

            self._check = counting

    def _upgrade(self) -> None:
        specialise = self._specialise
        if specialise is not None:
            self._check, self._select = specialise()
            self._specialise = None

    def __call__(self, entity: Any) -> bool:
        return self._check(entity)

    def filter(self, entities: Iterable[T]) -> list[T]:
        """The entities that match, in their original order."""
        if self._specialise is not None:
            try:
                many = len(entities) >= SPECIALISE_AFTER  # type: ignore[arg-type]
            except TypeError:
                many = True  # an iterator: assume a long one
            if many:
                self._upgrade()
        if self._select is not None:
            return self._select(entities)
        check = self._check
        return [entity for entity in entities if check(entity)]


def _group_check(values: Values, alternatives: list[list[_Test]], excluded: bool) -> Callable[[Any], bool]:
    def holds(entity: Any) -> bool:
        found = values(entity)
        any_holds = any(all(test(found) for test in tests) for tests in alternatives) if found else False
        return not any_holds if excluded else any_holds

    return holds


# --- the specialised predicate ------------------------------------------------------
#
# The closures above are the definition of what a filter means in memory. For
# speed, compile_plan also writes the filter out as Python, the way one would
# by hand: the groups in order, each reading its field straight out of nested
# dicts and testing a string with one expression, in a function for one entity
# and in a loop for Predicate.filter. Only the *shape* of the plan (paths,
# kinds of condition, exclusions) goes into that source; every text, pattern,
# interval and fallback is bound by name in the function's namespace, never
# spliced into the source, so each shape is generated and compiled once.
# Whatever the generated code does not expect (an entity or a value on the
# path that is not a dict, a value that is not a string, a tuple, a list where
# it expects none...) is handed to the closures of that group, so the answer
# is always theirs.

_MARK = object()
"""Stands for a value on a path that the specialised code leaves to the closures."""

_FAIL = "\0FAIL"

# The shape of a plan: for each group its paths, whether it is a time field,
# whether it is excluded, and per alternative the kind of each condition.
_Shape = tuple[tuple[tuple[tuple[str, ...], ...], bool, bool, tuple[tuple[str, ...], ...]], ...]
_Slot = tuple[Any, ...]  # what a name of the namespace stands for: ("G", group) or ("C", group, alt, cond)...


def _kind_code(condition: Condition) -> str:
    match condition:
        case Contains(_, True):
            return "ci"
        case Contains(_, False):
            return "cs"
        case Equals():
            return "eq"
        case Like():
            return "like"
        case Within():
            return "within"
    raise TypeError(f"unknown condition {condition!r}")  # pragma: no cover


def _shape(plan: Plan) -> _Shape:
    return tuple(
        (
            group.field.segments,
            group.field.kind is Kind.TIME,
            group.excluded,
            tuple(tuple(_kind_code(c) for c in conditions) for conditions in group.alternatives),
        )
        for group in plan.groups
    )


class _Source:
    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []
        self.slots: dict[_Slot, str] = {}
        self.firsts: dict[str, str] = {}

    def name(self, slot: _Slot) -> str:
        if slot not in self.slots:
            self.slots[slot] = f"{slot[0]}{len(self.slots)}"
        return self.slots[slot]

    def emit(self, indent: int, line: str) -> None:
        self.lines.append((indent, line))

    def render(self, base: int, fail: str) -> list[str]:
        return ["    " * (base + indent) + (fail if line == _FAIL else line) for indent, line in self.lines]


_EXPRESSIONS = {
    "ci": "{C} in {v}.lower()",
    "cs": "{C} in {v}",
    "eq": "{v} == {C}",
    "like": "{F}({v}.lower()) is not None",
    "within": "{W}({v})",
}


def _any_of(source: _Source, group: int, alternatives: tuple[tuple[str, ...], ...], var: str) -> str:
    """An expression: some alternative of the group holds for the single string ``var``."""
    parts = []
    for a, codes in enumerate(alternatives):
        tests = []
        for c, code in enumerate(codes):
            slot_type = {"like": "F", "within": "W"}.get(code, "C")
            name = source.name((slot_type, group, a, c))
            tests.append(_EXPRESSIONS[code].format(v=var, C=name, F=name, W=name))
        parts.append(tests[0] if len(tests) == 1 else "(" + " and ".join(tests) + ")")
    return parts[0] if len(parts) == 1 else " or ".join(f"({p})" for p in parts)


def _emit_element(
    source: _Source, group: int, alternatives: tuple[tuple[str, ...], ...], generic: str, indent: int
) -> None:
    """Inside a loop over a list: ``r = True`` and stop if the element ``x`` matches; hand odd elements back."""
    emit = source.emit
    emit(indent, "if type(x) is str:")
    emit(indent + 1, f"if {_any_of(source, group, alternatives, 'x')}:")
    emit(indent + 2, "r = True")
    emit(indent + 2, "break")
    emit(indent, "elif x is not None:")
    emit(indent + 1, f"r = {generic}(e)")
    emit(indent + 1, "break")


def _emit_leaf(source: _Source, group: int, shape: Any, generic: str, indent: int) -> None:
    """``r`` from the value ``v`` at the end of a path."""
    emit = source.emit
    _, time, _, alternatives = shape
    emit(indent, "if type(v) is str" + (" or type(v) is datetime:" if time else ":"))
    emit(indent + 1, f"r = {_any_of(source, group, alternatives, 'v')}")
    emit(indent, "elif v is None:")
    emit(indent + 1, "r = False")
    if all(len(codes) == 1 for codes in alternatives):  # then any value satisfying one will do
        emit(indent, "elif type(v) is list:")
        emit(indent + 1, "r = False")
        emit(indent + 1, "for x in v:")
        _emit_element(source, group, alternatives, generic, indent + 2)
    emit(indent, "else:")
    emit(indent + 1, f"r = {generic}(e)")


def _emit_path(source: _Source, segments: tuple[str, ...], group: int, shape: Any, generic: str, indent: int) -> None:
    """Code that sets ``r`` to whether the group holds for the values on one path."""
    emit = source.emit
    alternatives = shape[3]
    emit(indent, f"v = {source.firsts[segments[0]]}")
    if len(segments) == 1:
        _emit_leaf(source, group, shape, generic, indent)
        return
    for key in segments[1:-1]:
        emit(indent, f"v = v.get({source.name(('K', key))}) if type(v) is dict else (None if v is None else MARK)")
    last = source.name(("K", segments[-1]))
    emit(indent, "if type(v) is dict:")
    emit(indent + 1, f"v = v.get({last})")
    _emit_leaf(source, group, shape, generic, indent + 1)
    emit(indent, "elif v is None:")
    emit(indent + 1, "r = False")
    if all(len(codes) == 1 for codes in alternatives):  # a list of objects on the way: query.data[*].resource
        emit(indent, "elif type(v) is list:")
        emit(indent + 1, "r = False")
        emit(indent + 1, "for y in v:")
        emit(indent + 2, "if type(y) is dict:")
        emit(indent + 3, f"x = y.get({last})")
        _emit_element(source, group, alternatives, generic, indent + 3)
        emit(indent + 2, "elif y is not None:")
        emit(indent + 3, f"r = {generic}(e)")
        emit(indent + 3, "break")
    emit(indent, "else:")
    emit(indent + 1, f"r = {generic}(e)")


@lru_cache(maxsize=256)
def _shape_code(shape: _Shape) -> tuple[Any, tuple[tuple[str, _Slot], ...]]:
    """The compiled ``check`` and ``select`` of a shape, and what each free name stands for."""
    body = _Source()
    emit = body.emit
    for index, group_shape in enumerate(shape):
        paths, _, excluded, alternatives = group_shape
        generic = body.name(("G", index))
        for segments in paths:
            if segments[0] not in body.firsts:
                local = f"p{len(body.firsts)}"
                body.firsts[segments[0]] = local
                emit(0, f"{local} = e.get({body.name(('K', segments[0]))})")
        if len(paths) > 1 and not all(len(codes) == 1 for codes in alternatives):
            emit(0, f"r = {generic}(e)")
        else:
            for number, segments in enumerate(paths):
                if number == 0:
                    _emit_path(body, segments, index, group_shape, generic, 0)
                else:  # one-condition alternatives: the group holds if it holds on some path
                    emit(0, "if not r:")
                    _emit_path(body, segments, index, group_shape, generic, 1)
        emit(0, "if r:" if excluded else "if not r:")
        emit(1, _FAIL)
    lines = [
        "def check(e):",
        "    if type(e) is not dict:",
        "        return SLOW(e)",
        *body.render(1, "return False"),
        "    return True",
        "def select(entities):",
        "    out = []",
        "    keep = out.append",
        "    for e in entities:",
        "        if type(e) is not dict:",
        "            if SLOW(e):",
        "                keep(e)",
        "            continue",
        *body.render(2, "continue"),
        "        keep(e)",
        "    return out",
    ]
    code = compile("\n".join(lines), "<qfilter predicate>", "exec")
    return code, tuple((name, slot) for slot, name in body.slots.items())


def _specialised(
    plan: Plan, tz: tzinfo, slow: Callable[[Any], bool]
) -> tuple[Callable[[Any], bool], Callable[[Iterable[Any]], list[Any]]]:
    """``check(entity)`` and ``select(entities)`` written out for this plan."""
    code, slots = _shape_code(_shape(plan))
    namespace: dict[str, Any] = {"SLOW": slow, "MARK": _MARK, "datetime": datetime}
    for name, slot in slots:
        kind = slot[0]
        if kind == "K":
            namespace[name] = slot[1]
        elif kind == "G":
            group = plan.groups[slot[1]]
            tests = [[_test(c, group.field.kind, tz) for c in conditions] for conditions in group.alternatives]
            namespace[name] = _group_check(field_values(group.field), tests, False)
        else:
            condition = plan.groups[slot[1]].alternatives[slot[2]][slot[3]]
            match condition:
                case Contains(text, _):
                    namespace[name] = text
                case Equals(value):
                    namespace[name] = value
                case Like(glob):
                    namespace[name] = glob_regex(glob).fullmatch
                case Within(interval):
                    namespace[name] = _within_one(interval.start, interval.end, tz)
    exec(code, namespace)  # noqa: S102  # the shape only; see above
    return namespace["check"], namespace["select"]


def compile_plan(plan: Plan, tz: tzinfo, *, specialise: bool | None = None) -> Predicate:
    """The predicate of an already bound filter.

    The closures answer first; the generated function (about as fast as
    hand-written code, but costlier to make) takes over once the predicate
    has seen :data:`SPECIALISE_AFTER` entities, in calls or in one
    :meth:`~Predicate.filter`, so that a few checks never pay for it.
    ``specialise=True`` makes it at once, ``False`` never (the same answers
    either way; for tests).
    """
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
        slow = checks[0]
    else:
        slow = lambda entity: all(check(entity) for check in checks)  # noqa: E731
    if specialise is None:
        return Predicate(plan, slow, specialise=lambda: _specialised(plan, tz, slow))
    if not specialise:
        return Predicate(plan, slow)
    return Predicate(plan, *_specialised(plan, tz, slow))


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
    from qfilter.core.parser import parse

    parsed = parse(query, default_qualifier=schema.default_qualifier) if isinstance(query, str) else query
    context = Context(now=now, user=user, tz=tz)
    return compile_plan(bind(parsed, schema, context), tz or schema.timezone)
