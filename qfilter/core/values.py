"""Reading an entity: the values a field has, and a scalar's text as the language compares it.

Entities are mappings (parsed JSON) or plain objects; a path segment is a key
of a mapping or a public attribute of an object. Only public data is
reachable: a segment starting with ``_`` names no attribute, so a filter
cannot walk from an object into its class, module or globals
(``meta.__init__.__globals__``). Reading an attribute runs its code (a
property), as a mapping's lookup may: when that raises, the value cannot be
read and is no value, as a missing key is, so a filter never raises an
entity's own exception (``Exception``; ``KeyboardInterrupt`` and the like
go through). Every backend that reads entities
in Python (the in-memory compiler, the reference tables' loaders) uses these,
so they agree on what a field's values are.

A field with a ``compute`` function (a computed field) has the values that
function gives, read the same way: ``None`` is no value, a list or tuple
its elements, and what it raises is no value.

An ``enum.Enum`` member reads as its value (``Status.RUNNING`` as
``"running"``), and a ``Decimal`` as its decimal text (``9.99``); a
``Decimal`` that is not finite is no scalar.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from .schema import Field

__all__ = ["Values", "as_text", "field_values"]

Values = Callable[[Any], list[Any]]
"""A function giving a field's values in an entity."""


def as_text(value: object) -> str | None:
    """A scalar's text as the language compares it; ``None`` for non-scalars.

    Booleans are ``true``/``false`` as in JSON, numbers their usual spelling
    (a ``Decimal`` its ``str``), an enum member its value's text.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):  # before int: an IntEnum's str() is its name in some Pythons
        return as_text(value.value)
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else None
    return None


def _path_values(segments: tuple[str, ...]) -> Values:
    def values(entity: Any) -> list[Any]:
        current = [entity]
        for key in segments:
            found: list[Any] = []
            for item in current:
                try:
                    if isinstance(item, Mapping):
                        value = item.get(key)
                    elif isinstance(item, (str, int, float, list, tuple)):
                        continue  # JSON scalars and lists have no keys ((5).real is not a key)
                    elif key.startswith("_"):
                        continue  # only public attributes: no walk into __class__, __globals__, _private
                    else:
                        value = getattr(item, key, None)
                except Exception:  # a property or lookup that raises: the value cannot be read
                    continue
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


def _computed_values(compute: Callable[[Any], Any]) -> Values:
    def values(entity: Any) -> list[Any]:
        try:
            value = compute(entity)
        except Exception:  # as a property that raises: the value cannot be computed
            return []
        if value is None:
            return []
        if isinstance(value, (list, tuple)):
            return [v for v in value if v is not None]
        return [value]

    return values


def field_values(target: Field) -> Values:
    """A function giving the values of ``target`` in an entity (every path, or its ``compute``; lists flattened)."""
    if target.compute is not None:
        return _computed_values(target.compute)
    getters = [_path_values(segments) for segments in target.segments]
    if len(getters) == 1:
        return getters[0]

    def values(entity: Any) -> list[Any]:
        found: list[Any] = []
        for getter in getters:
            found.extend(getter(entity))
        return found

    return values
