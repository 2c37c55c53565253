"""The parameters of a listing request: reading and checking ``limit``, ``offset``, ``sort``, ``cursor``.

A bad one is a :class:`ParameterError` naming it, which
:func:`~qfilter.integrations.listing.error_body` turns into the 400 body.
:class:`FilterParams` and :class:`ListingParams` are what a request asks
for once checked, as :func:`~qfilter.integrations.listing.read_filter` and
:func:`~qfilter.integrations.listing.read_params` give them. Everything here
is exported by :mod:`qfilter.integrations.listing` too, the names to import.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TypeVar
from urllib.parse import parse_qsl

from qfilter.core.ast import Filter
from qfilter.core.backend import Compiler, Position
from qfilter.core.binder import to_plan
from qfilter.core.ir import Plan
from qfilter.core.schema import Schema
from qfilter.core.sorting import SortError, SortKey, parse_sort
from qfilter.integrations.cursors import Cursor, CursorError, decode_cursor
from qfilter.memory import MemoryOrdering

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "ERROR_STATUS",
    "LISTING_PARAMETERS",
    "ParameterError",
    "FilterParams",
    "ListingParams",
    "read_limit",
    "read_offset",
    "read_sort",
    "read_cursor",
    "read_query_values",
]

T = TypeVar("T")
Where = TypeVar("Where")
OrderBy = TypeVar("OrderBy")

DEFAULT_LIMIT = 10
"""Entities in a page when the request gives no ``limit``."""
MAX_LIMIT = 100
"""The largest ``limit`` a request may ask for."""
MAX_OFFSET = 2**63 - 1
"""The largest ``offset``: the largest SQL ``BIGINT``, so no database rejects it."""
ERROR_STATUS = 400
"""The HTTP status of every bad listing request (bad ``q``, ``sort``, ``limit``, ``offset`` or ``cursor``)."""
LISTING_PARAMETERS = ("q", "sort", "limit", "offset", "cursor")
"""The query parameters a listing reads; each may be given at most once."""

ASCII_DIGITS = re.compile(r"[0-9]+")  # ASCII only: int() would also take "+5", " 5", "1_0" and "٥"
_SHOWN_VALUE = 40  # characters of a bad parameter value quoted back in a message


class ParameterError(ValueError):
    """A listing parameter other than the filter (``limit``, ``offset``) that is not acceptable."""

    kind = "invalid parameter"

    def __init__(self, parameter: str, message: str, *, value: str | None = None) -> None:
        self.parameter = parameter
        self.message = message
        self.value = value
        super().__init__(message)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready description, for API error bodies."""
        return {"error": self.kind, "message": self.message, "parameter": self.parameter, "value": self.value}


def _shown(value: str) -> str:
    if len(value) > _SHOWN_VALUE:
        value = value[:_SHOWN_VALUE] + "..."
    return repr(value)


def _read_integer(parameter: str, value: str | None, *, default: int, minimum: int, maximum: int) -> int:
    if value is None:
        return default
    # Counting digits first: int() refuses text of over 4,300 digits with a ValueError of its own.
    if (
        ASCII_DIGITS.fullmatch(value) is None
        or len(value.lstrip("0")) > len(str(maximum))
        or not minimum <= int(value.lstrip("0") or "0") <= maximum
    ):
        raise ParameterError(
            parameter,
            f"{parameter} must be an integer between {minimum} and {maximum}, got {_shown(value)}",
            value=value,
        )
    return int(value.lstrip("0") or "0")


def read_limit(value: str | None, *, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    """The ``limit`` parameter: ``default`` when absent, else an integer 0..``maximum``.

    Raises :class:`ParameterError` naming ``limit`` for anything else.
    """
    return _read_integer("limit", value, default=default, minimum=0, maximum=maximum)


def read_sort(value: str | None, schema: Schema) -> tuple[SortKey, ...]:
    """The ``sort`` parameter (``-created,name``): no keys when absent or blank.

    Raises :class:`ParameterError` naming ``sort`` and the sortable fields
    for an unknown or unsortable field.
    """
    try:
        return parse_sort(value, schema)
    except SortError as error:
        raise ParameterError("sort", str(error), value=value) from None


def read_offset(value: str | None) -> int:
    """The ``offset`` parameter: 0 when absent, else an integer 0..:data:`MAX_OFFSET`."""
    return _read_integer("offset", value, default=0, minimum=0, maximum=MAX_OFFSET)


def read_cursor(
    value: str | None, *, key: bytes | None, schema: Schema, q: str, keys: tuple[SortKey, ...], offset: int = 0
) -> Cursor | None:
    """The ``cursor`` parameter (``None`` when absent or blank), checked against the request's question.

    ``key`` is the listing's signing key (``None``: the listing takes no
    cursor); ``q``, ``keys`` (the sort in effect) and ``offset`` are the
    request's. Raises :class:`ParameterError` naming ``cursor`` when it is
    malformed, tampered, of another version, filter, sort or schema, given
    with an ``offset`` other than 0, or given to a listing without a key.
    """
    if value is None or not value.strip():
        return None
    if key is None:
        raise ParameterError("cursor", "this listing pages by offset and takes no cursor", value=value)
    if offset:
        raise ParameterError("cursor", "give cursor or offset, not both: the cursor says where the page starts")
    try:
        return decode_cursor(value, key=key, schema=schema, q=q, keys=keys)
    except CursorError as error:
        raise ParameterError("cursor", str(error), value=value) from None


def read_query_values(query_string: str | bytes, names: Sequence[str] = LISTING_PARAMETERS) -> dict[str, str]:
    """The URL-decoded values of the parameters ``names`` in a raw query string; other parameters are ignored.

    Raises :class:`ParameterError` when the query string is not UTF-8 once
    decoded (a lenient reading would turn the bad bytes into U+FFFD and
    search for that), and when one of ``names`` is given more than once,
    since either reading of it would be a guess.
    """
    try:
        text = query_string.decode("utf-8") if isinstance(query_string, bytes) else query_string
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise ParameterError("query", "the query string is not valid UTF-8 once decoded") from None
    values: dict[str, str] = {}
    for name, value in pairs:
        if name not in names:
            continue
        if name in values:
            raise ParameterError(name, f"{name} is given more than once; give it once", value=value)
        values[name] = value
    return values


@lru_cache(maxsize=64)
def entity_ordering(schema: Schema) -> MemoryOrdering:
    """How memory reads a schema's entities for an order (one per schema: it keeps what it built)."""
    return MemoryOrdering(schema)


@dataclass(frozen=True, slots=True)
class FilterParams:
    """A checked filter parameter and ``sort``.

    ``q`` is the filter text as given (``""`` when absent) and ``plan`` its
    meaning, bound to the schema, the current user and ``now``, the instant
    every ``now`` in the filter stands for; :attr:`filter` and :attr:`now`
    are the plan's. :meth:`where` and :meth:`order_by` hand them to a
    backend's :class:`~qfilter.core.backend.Compiler`.
    """

    q: str
    plan: Plan = field(compare=False, repr=False)
    sort: tuple[SortKey, ...] = ()
    """The order asked for; empty when the request gives no ``sort`` (the listing's own order applies)."""
    default_sort: str = ""
    """The listing's own order, in ``sort=`` syntax (``"name"``): the order without ``sort``, before the id."""

    @property
    def filter(self) -> Filter:
        """The parsed filter."""
        return self.plan.filter

    @property
    def now(self) -> datetime:
        """The instant every ``now`` in the filter stands for."""
        return self.plan.context.instant()

    @property
    def sort_text(self) -> str:
        """``sort`` as the request would write it (``-created,name``), ``""`` for none."""
        return ",".join(map(str, self.sort))

    def keys(self, default: str | None = None) -> tuple[SortKey, ...]:
        """The sort keys: ``sort``, else ``default`` (``sort=`` syntax: ``"name"``; ``None``: :attr:`default_sort`)."""
        return self.sort or parse_sort(self.default_sort if default is None else default, self.plan.schema)

    def where(self, compiler: Compiler[Where, OrderBy]) -> Where:
        """The filter in ``compiler``'s terms (a :class:`~qfilter.memory.Predicate`, a SQL clause)."""
        return compiler.where(self.plan)

    def order_by(self, compiler: Compiler[Where, OrderBy], *, default: str | None = None) -> OrderBy:
        """The order asked for (:meth:`keys`), ties by id, in ``compiler``'s terms."""
        return compiler.order(self.keys(default))

    def after(self, compiler: Compiler[Where, OrderBy], position: Position, *, default: str | None = None) -> Where:
        """The rows strictly after ``position`` in that order, in ``compiler``'s terms (for a keyset page)."""
        return compiler.after(self.keys(default), position)


@dataclass(frozen=True, slots=True)
class ListingParams(FilterParams):
    """The checked parameters of one listing request: the filter, ``sort``, ``limit``, and ``offset`` or ``cursor``.

    A page starts at ``offset``, or, given a ``cursor``, strictly after the
    row it holds (:meth:`seek`); :attr:`start` is where it starts either way.
    """

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    cursor: Cursor | None = None
    """Where the page starts, when the request gives a cursor (``offset`` is then 0)."""

    @property
    def start(self) -> int:
        """The matches before the page: ``offset``, or those the cursor's walk has passed."""
        return self.offset if self.cursor is None else self.cursor.offset

    @property
    def fetch(self) -> int:
        """The rows a cursor listing reads: the page and one more, which says whether more remain (0 for limit 0)."""
        return self.limit + 1 if self.limit else 0

    def keys(self, default: str | None = None) -> tuple[SortKey, ...]:
        """As :meth:`FilterParams.keys`; with a cursor, only the order it was read for (a ``ValueError`` otherwise)."""
        found = FilterParams.keys(self, default)
        if self.cursor is not None and default is not None and found != FilterParams.keys(self):
            raise ValueError(
                f"the cursor was read for the order {self.sort_text or self.default_sort or 'by id'!r}; "
                "give the listing's own order as default_sort= when reading the parameters"
            )
        return found

    def seek(self, compiler: Compiler[Where, OrderBy]) -> Where:
        """The rows after the cursor's row in the order of :meth:`keys`, in ``compiler``'s terms; every row without one.

        A keyset page is the first :attr:`fetch` rows, in that order, where
        both the filter (:meth:`where`) and this hold.
        """
        if self.cursor is None:
            return compiler.where(to_plan("", self.plan.schema, context=self.plan.context))
        return compiler.after(self.keys(), self.cursor.position)

    def _rows_from_start(self, items: Sequence[T]) -> Sequence[T]:
        if self.cursor is None:
            return items[self.offset :]
        after = entity_ordering(self.plan.schema).after(self.keys(), self.cursor.position)
        for index, item in enumerate(items):
            if after(item):  # items are in the order: the first after the cursor starts the page
                return items[index:]
        return items[len(items) :]

    def window(self, items: Sequence[T]) -> Sequence[T]:
        """The page of an already filtered and ordered sequence of entities (after the cursor, with one)."""
        return self._rows_from_start(items)[: self.limit]

    def fetch_from(self, items: Sequence[T]) -> Sequence[T]:
        """Like :meth:`window`, with the one entity past the page when there is one (:attr:`fetch` at most)."""
        return self._rows_from_start(items)[: self.fetch]
