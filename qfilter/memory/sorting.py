"""Ordering entities in memory the way ``sort=`` asks: the :class:`~qfilter.core.backend.Ordering` of memory.

The order is stated in :mod:`qfilter.core.backend`; here each key reads its
field's one value and makes it comparable: text by code point, times as
instants, numbers numerically, booleans ``false`` first. A value of the
wrong type or an unreadable time counts as missing, and missing values go
last in both directions. The id is compared as it is typed: numbers
numerically (before any text), text by code point. Python's sort is
stable, so sorting by the id first and then by each key from the last to
the first gives ties broken by id, ascending.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, TypeVar, assert_never

from qfilter.core.backend import Comparison, Position, build_order, build_seek
from qfilter.core.kinds import traits
from qfilter.core.schema import Field, Kind, Schema
from qfilter.core.sorting import SortKey
from qfilter.core.times import to_instant
from qfilter.core.values import as_text, field_values

from .closures import Check, is_number

__all__ = ["EntityKey", "EntityOrder", "MemoryOrdering", "position_of", "sort_entities"]

T = TypeVar("T")
Read = Callable[[Any], Any]
"""The comparable value of an entity for one key, ``None`` when it has none."""


def _comparable(field: Field, tz: tzinfo) -> Read:
    """The function giving the value ``field`` sorts by in an entity, ``None`` when it has none."""
    values = field_values(field)

    def first(entity: Any) -> Any:
        found = values(entity)
        return found[0] if found else None

    reads = traits(field.kind).reads
    match reads:
        case "text":
            return lambda entity: as_text(first(entity))
        case "instant":
            return lambda entity: to_instant(first(entity), tz)
        case "number":

            def number(entity: Any) -> Any:
                value = first(entity)
                return value if is_number(value) else None  # a Decimal too: Python orders it with the others exactly

            return number
        case "boolean":
            return lambda entity: value if isinstance(value := first(entity), bool) else None
        case "json":
            raise ValueError(f"{field.qualifier!r} cannot be sorted by")
        case _:
            assert_never(reads)


def _id_comparable(value: object) -> tuple[int, Any] | None:
    """An id as the order compares it: a number numerically, before any text; other scalars by their text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    text = as_text(value)
    return None if text is None else (1, text)


def _stable_sort(items: list[T], key: Read, descending: bool) -> list[T]:
    """``items`` ordered by ``key``, missing (``None``) keys last in either direction, ties kept in order."""
    keyed = [(key(item), item) for item in items]
    present = [pair for pair in keyed if pair[0] is not None]
    missing = [pair[1] for pair in keyed if pair[0] is None]
    present.sort(key=lambda pair: pair[0], reverse=descending)
    return [pair[1] for pair in present] + missing


@dataclass(frozen=True, slots=True)
class EntityKey:
    """One key of an order in memory: the comparable value it reads, and its direction."""

    read: Read
    descending: bool = False


@dataclass(frozen=True, slots=True)
class EntityOrder:
    """An order of entities (the ``OrderBy`` of :class:`~qfilter.memory.MemoryCompiler`): call it on entities."""

    keys: tuple[EntityKey, ...]

    def __call__(self, entities: Iterable[T]) -> list[T]:
        """``entities`` in this order (a new list)."""
        ordered = list(entities)
        for key in reversed(self.keys):
            ordered = _stable_sort(ordered, key.read, key.descending)
        return ordered


_COMPARISONS: dict[Comparison, Callable[[Any, Any], bool]] = {"lt": operator.lt, "gt": operator.gt, "eq": operator.eq}


class MemoryOrdering:
    """The :class:`~qfilter.core.backend.Ordering` of memory: keys read from entities, and predicates to seek.

    Times without an offset are in the schema's zone (the language reference: time intervals: a
    request's own zone never changes how stored times read); the id is at
    ``schema.id_path``.
    """

    def __init__(self, schema: Schema) -> None:
        self.zone = schema.timezone
        self.id_field = Field("id", Kind.EXACT, schema.id_path)
        self._reads: dict[Field | None, Read] = {}

    def read(self, field: Field | None) -> Read:
        """The comparable value of ``field`` (the id, for ``None``) in an entity; ``None`` when it has none."""
        found = self._reads.get(field)
        if found is None:
            if field is None:
                values = field_values(self.id_field)
                found = self._reads[None] = lambda entity: _id_comparable(v[0]) if (v := values(entity)) else None
            else:
                found = self._reads[field] = _comparable(field, self.zone)
        return found

    def sort_key(self, field: Field, *, descending: bool) -> EntityKey:
        """The field's comparable value; missing values last (:class:`EntityOrder` sees to it)."""
        return EntityKey(self.read(field), descending)

    def id_key(self) -> EntityKey:
        """The id, ascending."""
        return EntityKey(self.read(None))

    def compare(self, field: Field | None, op: Comparison, value: object) -> Check:
        """The entity's comparable value is less than, greater than or equal to ``value``; never when missing."""
        read = self.read(field)
        test = _COMPARISONS[op]
        against = _id_comparable(value) if field is None else value
        return lambda entity: (found := read(entity)) is not None and test(found, against)

    def missing(self, field: Field) -> Check:
        """The entity has no comparable value for ``field``."""
        read = self.read(field)
        return lambda entity: read(entity) is None

    def all_of(self, parts: Sequence[Check]) -> Check:
        """Every part holds."""
        return lambda entity: all(part(entity) for part in parts)

    def any_of(self, parts: Sequence[Check]) -> Check:
        """Some part holds."""
        return lambda entity: any(part(entity) for part in parts)

    def order(self, keys: Sequence[SortKey]) -> EntityOrder:
        """The order of ``keys``, then the id (:func:`~qfilter.core.backend.build_order`)."""
        return EntityOrder(tuple(build_order(keys, self)))

    def after(self, keys: Sequence[SortKey], position: Position) -> Check:
        """The entities strictly after ``position`` in the order of ``keys``: a seek past it."""
        return build_seek(keys, position, self)

    def position(self, entity: Any, keys: Sequence[SortKey]) -> Position:
        """Where ``entity`` stands in the order of ``keys``: its comparable values, and its id as stored."""
        ids = field_values(self.id_field)(entity)
        return Position(tuple(self.read(key.field)(entity) for key in keys), ids[0] if ids else None)


def position_of(entity: Any, keys: Sequence[SortKey], schema: Schema) -> Position:
    """Where ``entity`` stands in the order of ``keys`` under ``schema``, for a seek past it."""
    return MemoryOrdering(schema).position(entity, keys)


def sort_entities(entities: Iterable[T], keys: Sequence[SortKey], schema: Schema) -> list[T]:
    """``entities`` in the order of ``keys``, ties by the entity's id (``schema.id_path``), ascending.

    Times without an offset are in the schema's zone (the language reference: time intervals: a
    request's own zone never changes how stored times read).
    """
    return MemoryOrdering(schema).order(keys)(entities)
