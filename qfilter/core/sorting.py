"""``sort=``: which fields a listing may be ordered by, and the order itself.

A sort is a comma-separated list of qualifiers, each optionally prefixed by
``-`` for descending (``-created,name``). Only single-valued fields of kind
TEXT, EXACT, USER, TIME, NUMBER or BOOLEAN can be sorted, and a schema may
restrict them further (:attr:`~qfilter.core.schema.Schema.sortable`). Every
backend orders the same way: text by code point, times as instants, numbers
numerically, ``false`` before ``true``; missing values last in both
directions; ties broken by the entity's id, ascending, so that paging is
stable. :mod:`qfilter.core.backend` states that order once
(``build_order``, and ``build_seek`` for the rows after one); each backend's
``Ordering`` only says how to express its parts.
"""

from __future__ import annotations

from dataclasses import dataclass

from .kinds import KINDS
from .schema import Field, Schema

__all__ = ["SORTABLE_KINDS", "SortError", "SortKey", "parse_sort", "sortable_fields"]

SORTABLE_KINDS = frozenset(kind for kind, traits in KINDS.items() if traits.sortable)
"""The kinds of field whose values have one order (their traits say so: :mod:`.kinds`)."""


class SortError(ValueError):
    """A ``sort`` that names a field the schema cannot sort by; the message names those it can."""


@dataclass(frozen=True, slots=True)
class SortKey:
    """Order by ``field``, descending if ``descending``."""

    field: Field
    descending: bool = False

    def __str__(self) -> str:
        return ("-" if self.descending else "") + self.field.qualifier


def sortable_fields(schema: Schema) -> list[Field]:
    """The fields ``sort=`` accepts under ``schema``, in the schema's order."""
    allowed = None if schema.sortable is None else set(schema.sortable)
    return [
        f
        for f in schema.fields
        if f.kind in SORTABLE_KINDS and not f.many and (allowed is None or f.qualifier in allowed)
    ]


def parse_sort(text: str | None, schema: Schema) -> tuple[SortKey, ...]:
    """The sort keys of a ``sort`` parameter; ``None`` or blank is no key (the listing's own order).

    Raises :class:`SortError` for an empty item, an unknown or an unsortable
    field, or a field given twice.
    """
    if text is None or not text.strip():
        return ()
    fields = {f.qualifier: f for f in sortable_fields(schema)}
    known = ", ".join(fields) or "none"
    keys: list[SortKey] = []
    for item in text.split(","):
        name = item.strip()
        descending = name.startswith("-")
        qualifier = name[1:] if descending else name
        if not qualifier:
            raise SortError(f"sort has an empty item; write fields like -created,name (sortable: {known})")
        found = fields.get(qualifier)
        if found is None:
            why = "is not a field" if qualifier not in schema.by_qualifier else "cannot be sorted by"
            raise SortError(f"sort: {qualifier!r} {why}; sortable fields: {known}")
        if any(key.field is found for key in keys):
            raise SortError(f"sort names {qualifier!r} twice")
        keys.append(SortKey(found, descending))
    return tuple(keys)
