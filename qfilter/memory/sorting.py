"""Ordering entities in memory the way ``sort=`` asks (see :mod:`qfilter.core.sorting`).

Each key reads its field's one value and makes it comparable: text by code
point, times as instants, numbers numerically, booleans ``false`` first. A
value of the wrong type or an unreadable time counts as missing, and
missing values go last in both directions. Python's sort is stable, so
sorting by the id first and then by each key from the last to the first
gives ties broken by id, ascending.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import tzinfo
from typing import Any, TypeVar, assert_never

from qfilter.core.schema import Field, Kind, Schema
from qfilter.core.sorting import SortKey
from qfilter.core.times import to_instant
from qfilter.core.values import as_text, field_values

__all__ = ["sort_entities"]

T = TypeVar("T")


def _comparable(field: Field, tz: tzinfo) -> Callable[[Any], Any]:
    """The function giving the value ``field`` sorts by in an entity, ``None`` when it has none."""
    values = field_values(field)
    kind = field.kind

    def first(entity: Any) -> Any:
        found = values(entity)
        return found[0] if found else None

    match kind:
        case Kind.TEXT | Kind.EXACT | Kind.USER:
            return lambda entity: as_text(first(entity))
        case Kind.TIME:
            return lambda entity: to_instant(first(entity), tz)
        case Kind.NUMBER:

            def number(entity: Any) -> Any:
                value = first(entity)
                return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

            return number
        case Kind.BOOLEAN:
            return lambda entity: value if isinstance(value := first(entity), bool) else None
        case Kind.META:
            raise ValueError(f"{field.qualifier!r} cannot be sorted by")
        case _:
            assert_never(kind)


def _id_text(schema: Schema) -> Callable[[Any], str | None]:
    values = field_values(Field("id", Kind.EXACT, schema.id_path))

    def identity(entity: Any) -> str | None:
        found = values(entity)
        return as_text(found[0]) if found else None

    return identity


def _stable_sort(items: list[T], key: Callable[[T], Any], descending: bool) -> list[T]:
    """``items`` ordered by ``key``, missing (``None``) keys last in either direction, ties kept in order."""
    keyed = [(key(item), item) for item in items]
    present = [pair for pair in keyed if pair[0] is not None]
    missing = [pair[1] for pair in keyed if pair[0] is None]
    present.sort(key=lambda pair: pair[0], reverse=descending)
    return [pair[1] for pair in present] + missing


def sort_entities(entities: Iterable[T], keys: Sequence[SortKey], schema: Schema) -> list[T]:
    """``entities`` in the order of ``keys``, ties by the entity's id (``schema.id_path``), ascending.

    Times without an offset are in the schema's zone (spec section 5: a
    request's own zone never changes how stored times read).
    """
    zone = schema.timezone
    ordered = _stable_sort(list(entities), _id_text(schema), descending=False)
    for key in reversed(keys):
        ordered = _stable_sort(ordered, _comparable(key.field, zone), key.descending)
    return ordered
