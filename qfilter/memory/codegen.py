"""The specialised predicate: a plan written out as Python, as one would by hand.

The closures of :mod:`.closures` are the definition of what a filter means
in memory. For speed, :func:`specialised` also writes the filter out as
Python: the groups in order, each reading its field straight out of nested
dicts and testing a string with one expression, in a function for one entity
and in a loop for :meth:`~qfilter.memory.Predicate.filter`. Only the *shape*
of the plan (paths, kinds of condition, exclusions) goes into that source;
every text, pattern, interval and fallback is bound by name in the
function's namespace, never spliced into the source, so each shape is
generated and compiled once. Whatever the generated code does not expect (an
entity or a value on the path that is not a dict, a value that is not a
string, a tuple, a list where it expects none...) is handed to the closures
of that group, so the answer is always theirs.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Literal, NamedTuple, assert_never

from qfilter.core.backend import build_group
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
    Plan,
    Within,
)
from qfilter.core.schema import Kind

from .closures import Check, MemoryBackend, within_one
from .glob import glob_test

__all__ = ["Select", "specialised", "is_compiled"]

Select = Callable[[Iterable[Any]], list[Any]]
"""Keeps the entities that match, in order."""

_MARK = object()
"""Stands for a value on a path that the specialised code leaves to the closures."""

_FAIL = "\0FAIL"

Code = Literal["ci", "cs", "eq", "like", "within", "other"]
"""The kind of test a condition is, as far as the generated source is concerned.

``other`` (the conditions of functions and numbers: sets, numbers,
booleans, combinators, ``exists()``, an application's functions) is not written out: its whole group is
handed to the closures.
"""


class GroupShape(NamedTuple):
    """What the generated source of one group depends on; never a user's value."""

    paths: tuple[tuple[str, ...], ...]
    """The field's paths, as key segments."""
    time: bool
    """Whether the field is a time (values may be ``datetime`` objects)."""
    excluded: bool
    alternatives: tuple[tuple[Code, ...], ...]
    """Per alternative, the code of each condition."""


Shape = tuple[GroupShape, ...]
_Slot = tuple[Any, ...]  # what a name of the namespace stands for: ("G", group) or ("C", group, alt, cond)...


def _kind_code(condition: Condition) -> Code:
    match condition:
        case Contains(_, ignore_case):
            return "ci" if ignore_case else "cs"
        case Equals():
            return "eq"
        case Like():
            return "like"
        case Within():
            return "within"
        case InSet() | Compare() | InNumbers() | IsBoolean() | Call() | Not() | AllOf() | AnyOf() | Exists():
            return "other"
        case _:
            assert_never(condition)


def _shape(plan: Plan) -> Shape:
    # A computed field's values come from its function, not from paths: the closures read them.
    return tuple(
        GroupShape(
            () if group.field.compute else group.field.segments,
            group.field.kind is Kind.TIME,
            group.excluded,
            tuple(
                tuple("other" if group.field.compute else _kind_code(c) for c in conditions)
                for conditions in group.alternatives
            ),
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
    "like": "{F}({v})",
    "within": "{W}({v})",
}


def _any_of(source: _Source, group: int, alternatives: tuple[tuple[Code, ...], ...], var: str) -> str:
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
    source: _Source, group: int, alternatives: tuple[tuple[Code, ...], ...], generic: str, indent: int
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


def _emit_leaf(source: _Source, group: int, shape: GroupShape, generic: str, indent: int) -> None:
    """``r`` from the value ``v`` at the end of a path."""
    emit = source.emit
    alternatives = shape.alternatives
    emit(indent, "if type(v) is str" + (" or type(v) is datetime:" if shape.time else ":"))
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


def _emit_path(
    source: _Source, segments: tuple[str, ...], group: int, shape: GroupShape, generic: str, indent: int
) -> None:
    """Code that sets ``r`` to whether the group holds for the values on one path."""
    emit = source.emit
    alternatives = shape.alternatives
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


_Compiled = tuple[Any, tuple[tuple[str, _Slot], ...]]
CACHED_SHAPES = 256
"""How many shapes keep their generated code (least recently used first out)."""
_compiled: OrderedDict[Shape, _Compiled] = OrderedDict()
_lock = threading.Lock()  # services filter from several threads


def _shape_code(shape: Shape) -> _Compiled:
    """The compiled ``check`` and ``select`` of a shape, and what each free name stands for."""
    with _lock:
        found = _compiled.get(shape)
        if found is not None:
            _compiled.move_to_end(shape)
            return found
    made = _generate(shape)
    with _lock:
        _compiled[shape] = made
        if len(_compiled) > CACHED_SHAPES:
            _compiled.popitem(last=False)
    return made


def _generate(shape: Shape) -> _Compiled:
    body = _Source()
    emit = body.emit
    for index, group_shape in enumerate(shape):
        paths, excluded, alternatives = group_shape.paths, group_shape.excluded, group_shape.alternatives
        generic = body.name(("G", index))
        for segments in paths:
            if segments[0] not in body.firsts:
                local = f"p{len(body.firsts)}"
                body.firsts[segments[0]] = local
                emit(0, f"{local} = e.get({body.name(('K', segments[0]))})")
        handed_over = any("other" in codes for codes in alternatives)
        if handed_over or (len(paths) > 1 and not all(len(codes) == 1 for codes in alternatives)):
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


def is_compiled(plan: Plan) -> bool:
    """Whether the code of ``plan``'s shape is already generated, so that :func:`specialised` costs little."""
    return _shape(plan) in _compiled


def specialised(plan: Plan, backend: MemoryBackend, slow: Check) -> tuple[Check, Select]:
    """``check(entity)`` and ``select(entities)`` written out for this plan; ``slow`` is the closures' whole check."""
    code, slots = _shape_code(_shape(plan))
    namespace: dict[str, Any] = {"SLOW": slow, "MARK": _MARK, "datetime": datetime}
    for name, slot in slots:
        kind = slot[0]
        if kind == "K":
            namespace[name] = slot[1]
        elif kind == "G":  # the group's own closures, positive: the generated code applies the exclusion
            group = plan.groups[slot[1]]
            namespace[name] = build_group(dataclasses.replace(group, excluded=False), backend)
        else:
            condition = plan.groups[slot[1]].alternatives[slot[2]][slot[3]]
            match condition:
                case Contains(text, _):
                    namespace[name] = text
                case Equals(value):
                    namespace[name] = value
                case Like(glob):
                    namespace[name] = glob_test(glob)
                case Within(interval):
                    namespace[name] = within_one(interval.start, interval.end, backend.tz)
                case InSet() | Compare() | InNumbers() | IsBoolean() | Call() | Not() | AllOf() | AnyOf() | Exists():
                    raise AssertionError("a group with such a condition is handed to the closures whole")
                case _:
                    assert_never(condition)
    exec(code, namespace)  # noqa: S102  # the shape only; see above
    return namespace["check"], namespace["select"]
