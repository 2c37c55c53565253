"""Framework-agnostic helpers for a listing endpoint that takes ``q``, ``sort``, ``limit``, ``offset`` and ``cursor``.

This is the listing API of the Waylay search API:
read and check the parameters, turn any bad input into a 400 body that
says what is wrong and where, and build the paged response with its links.
It knows nothing of web frameworks; a handler needs a handful of lines::

    from qfilter import WAYLAY, FilterError
    from qfilter.integrations import listing
    from qfilter.memory import MemoryCompiler

    COMPILER = MemoryCompiler(WAYLAY)

    def list_queries(query_string: str, user: str | None) -> tuple[int, dict]:
        try:
            params = listing.read_query_string(query_string, WAYLAY, user=user)
        except (FilterError, listing.ParameterError) as error:
            return listing.ERROR_STATUS, listing.error_body(error)
        matches = params.order_by(COMPILER, default="name")(params.where(COMPILER).filter(ENTITIES))
        return 200, listing.page_body(
            params.window(matches), total=len(matches), params=params,
            base_url="https://example.com/config/query",
        )

The helpers take any :class:`~qfilter.core.backend.Compiler`: a
database-backed service gives a :class:`qfilter.sql.SqlCompiler` instead,
filters, orders and counts in SQL, and passes the page and the count to
:func:`page_body` the same way.

**Cursors.** Given a signing key (``cursor_key=`` to :func:`read_params`
and :func:`page_body`), a listing pages by keyset: each page's ``next``
link carries a ``cursor`` (:mod:`qfilter.integrations.cursors`) holding the
page's last row, and the next page is the rows after it (:meth:`ListingParams.seek`),
so it costs the same at any depth and a walk sees every row that existed
throughout exactly once, whatever is written meanwhile. The handler then
fetches :attr:`ListingParams.fetch` rows (one past the page, which says
whether more remain) where the filter and the seek hold, and :func:`page_body`
keeps the page. ``offset`` keeps working; a request gives one or the other.

**Counts.** :class:`Counting` says how a listing counts its matches: all of
them (the Waylay API's ``total``), at most a cap (past it the body says
``total_at_least``), or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Any, Literal, TypeAlias, TypeVar
from urllib.parse import parse_qsl, urlencode

from qfilter.core.ast import Filter
from qfilter.core.backend import Compiler, Position
from qfilter.core.binder import to_plan
from qfilter.core.errors import FilterError, FilterSyntaxError
from qfilter.core.ir import Context, Plan
from qfilter.core.parser import DEFAULT_LIMITS, Limits
from qfilter.core.schema import Schema
from qfilter.core.sorting import SortError, SortKey, parse_sort
from qfilter.integrations.cursors import Cursor, CursorError, PageStart, decode_cursor, encode_cursor
from qfilter.integrations.cursors import cursor_key as signing_key
from qfilter.memory import MemoryOrdering

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "ERROR_STATUS",
    "LISTING_PARAMETERS",
    "ParameterError",
    "CountMode",
    "Counting",
    "EXACT_COUNT",
    "read_counting",
    "FilterParams",
    "ListingParams",
    "read_filter",
    "read_limit",
    "read_offset",
    "read_sort",
    "read_cursor",
    "read_params",
    "read_query_values",
    "read_query_string",
    "error_body",
    "page_href",
    "page_links",
    "page_body",
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

_DIGITS = re.compile(r"[0-9]+")  # ASCII only: int() would also take "+5", " 5", "1_0" and "٥"
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
        _DIGITS.fullmatch(value) is None
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


CountMode: TypeAlias = Literal["exact", "capped", "none"]
"""How a listing counts its matches (:class:`Counting`)."""


@dataclass(frozen=True, slots=True)
class Counting:
    """How a listing counts its matches: ``exact`` (all), ``capped`` (at most ``cap`` + 1 rows) or ``none``.

    An exact count is the Waylay API's ``total``, and costs a read of every
    match. A capped count reads at most :attr:`at_most` rows: up to ``cap``
    matches it is exact, past it the body says ``total_at_least`` instead.
    ``none`` counts nothing, and the body has no total. Without an exact
    total there is no ``last`` link. :func:`read_counting` reads the text
    form (``exact``, ``capped:10000``, ``none``).
    """

    mode: CountMode = "exact"
    cap: int | None = None
    """The most matches counted exactly (``capped`` only)."""

    def __post_init__(self) -> None:
        if self.mode not in ("exact", "capped", "none"):
            raise ValueError(f"a count is exact, capped or none, not {self.mode!r}")
        if (self.mode == "capped") != (self.cap is not None):
            raise ValueError("a capped count needs its cap, and only a capped count has one")
        if self.cap is not None and not 1 <= self.cap <= MAX_OFFSET - 1:
            raise ValueError(f"a count's cap is between 1 and {MAX_OFFSET - 1}, got {self.cap}")

    @classmethod
    def capped(cls, cap: int) -> Counting:
        """Count at most ``cap`` + 1 matches: exact up to ``cap``, a lower bound past it."""
        return cls("capped", cap)

    @property
    def counts(self) -> bool:
        """Whether the listing counts at all (not ``none``)."""
        return self.mode != "none"

    @property
    def at_most(self) -> int | None:
        """How many matches to count at most (``cap`` + 1; ``None``: all of them; 0: none)."""
        if self.mode == "exact":
            return None
        return 0 if self.cap is None else self.cap + 1

    def exact_total(self, counted: int | None) -> int | None:
        """The number of matches, when ``counted`` (counted this way) gives it exactly; else ``None``."""
        if counted is None or self.mode == "none":
            return None
        if self.cap is not None and counted > self.cap:
            return None
        return counted

    def __str__(self) -> str:
        return f"capped:{self.cap}" if self.mode == "capped" else self.mode


EXACT_COUNT = Counting()
"""Count every match (the Waylay API's ``total``): the default."""


def read_counting(text: str) -> Counting:
    """A :class:`Counting` from its text: ``exact``, ``capped:N`` (N >= 1) or ``none``; a ``ValueError`` otherwise."""
    value = text.strip()
    if value == "exact":
        return EXACT_COUNT
    if value == "none":
        return Counting("none")
    name, _, cap = value.partition(":")
    if name == "capped" and _DIGITS.fullmatch(cap) and len(cap.lstrip("0")) <= len(str(MAX_OFFSET)):
        number = int(cap)
        if 1 <= number < MAX_OFFSET:
            return Counting.capped(number)
    raise ValueError(f"a count is exact, capped:N (N a whole number from 1) or none, got {text!r}")


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
        after = _ordering(self.plan.schema).after(self.keys(), self.cursor.position)
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


def read_filter(
    q: str | None,
    *,
    schema: Schema,
    user: str | None = None,
    now: datetime | None = None,
    tz: tzinfo | None = None,
    limits: Limits = DEFAULT_LIMITS,
    user_hint: str | None = None,
    sort: str | None = None,
    default_sort: str = "",
) -> FilterParams:
    """Parse and bind the (URL-decoded) ``q`` parameter; ``None`` or blank matches everything.

    ``sort`` (:func:`read_sort`) is checked first, as the cheaper mistake;
    ``default_sort`` is the listing's own order without one.

    The filter is bound to ``schema`` with ``user`` as the current user for
    ``@me``, ``now`` (default: the clock) and ``tz`` (default: the schema's),
    so an unknown qualifier, a bad time or ``@me`` without a user is reported
    here, as a :class:`~qfilter.core.errors.FilterError` (``user_hint`` is the
    hint of the last: how a client of this endpoint gives the user). So is a
    NUL character, which no database column can hold.

    The result's ``plan`` is what :func:`qfilter.compile_predicate` and
    :func:`qfilter.sql.compile_clause` take as it is (without ``now``, user or schema).
    """
    keys = read_sort(sort, schema)
    text = q or ""
    if "\x00" in text:
        # No stored text can hold NUL (PostgreSQL refuses it), and a driver error would be a 500.
        raise FilterSyntaxError(
            "the filter holds a NUL character", text=text, position=text.index("\x00"), hint="remove it"
        )
    context = Context(now=now or datetime.now(UTC), user=user, tz=tz, user_hint=user_hint)
    plan = to_plan(text, schema, context=context, limits=limits)
    return FilterParams(q=text, plan=plan, sort=keys, default_sort=default_sort)


def read_params(
    *,
    q: str | None,
    limit: str | None,
    offset: str | None,
    schema: Schema,
    user: str | None = None,
    now: datetime | None = None,
    tz: tzinfo | None = None,
    limits: Limits = DEFAULT_LIMITS,
    default_limit: int = DEFAULT_LIMIT,
    max_limit: int = MAX_LIMIT,
    user_hint: str | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    cursor_key: bytes | str | None = None,
    default_sort: str = "",
) -> ListingParams:
    """Check the raw (URL-decoded) parameters of a listing request; ``None`` means absent.

    ``limit``, ``offset``, ``sort`` and ``cursor`` are checked first, as the
    cheaper mistakes, then ``q`` as :func:`read_filter` does. A listing takes
    a ``cursor`` only with its ``cursor_key`` (:func:`read_cursor`);
    ``default_sort`` is its own order (``"name"``), which a cursor without
    ``sort`` is read in. A cursor's walk keeps the ``now`` of its first page.
    Raises :class:`ParameterError` or a :class:`~qfilter.core.errors.FilterError`;
    :func:`error_body` describes either.
    """
    page_limit = read_limit(limit, default=default_limit, maximum=max_limit)
    page_offset = read_offset(offset)
    keys = read_sort(sort, schema) or read_sort(default_sort, schema)
    key = None if cursor_key is None else signing_key(cursor_key)
    found_cursor = read_cursor(cursor, key=key, schema=schema, q=q or "", keys=keys, offset=page_offset)
    if found_cursor is not None:
        now = found_cursor.now
    found = read_filter(
        q,
        schema=schema,
        user=user,
        now=now,
        tz=tz,
        limits=limits,
        user_hint=user_hint,
        sort=sort,
        default_sort=default_sort,
    )
    return ListingParams(
        q=found.q,
        plan=found.plan,
        sort=found.sort,
        default_sort=default_sort,
        limit=page_limit,
        offset=page_offset,
        cursor=found_cursor,
    )


def read_query_string(
    query_string: str,
    schema: Schema,
    *,
    user: str | None = None,
    now: datetime | None = None,
    tz: tzinfo | None = None,
    limits: Limits = DEFAULT_LIMITS,
    default_limit: int = DEFAULT_LIMIT,
    max_limit: int = MAX_LIMIT,
    cursor_key: bytes | str | None = None,
    default_sort: str = "",
) -> ListingParams:
    """:func:`read_params` on a raw query string (``q=tag%3Ademo&limit=5``).

    Other parameters are ignored; ``q``, ``sort``, ``limit``, ``offset`` or
    ``cursor`` given twice is a :class:`ParameterError`, since either reading
    of it would be a guess.
    """
    values = read_query_values(query_string)
    return read_params(
        q=values.get("q"),
        sort=values.get("sort"),
        limit=values.get("limit"),
        offset=values.get("offset"),
        cursor=values.get("cursor"),
        schema=schema,
        user=user,
        now=now,
        tz=tz,
        limits=limits,
        default_limit=default_limit,
        max_limit=max_limit,
        cursor_key=cursor_key,
        default_sort=default_sort,
    )


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


def error_body(error: FilterError | ParameterError) -> dict[str, object]:
    """The JSON body of the 400 response for a bad listing request.

    ``code`` is the HTTP status and ``message`` one line saying what is wrong
    (the shape of the Timeplus error body); ``parameter`` names the request
    parameter at fault. For a bad filter, ``position`` is the 0-based place in
    ``filter`` where the problem starts, ``hint`` how to fix it, and
    ``detail`` the filter with a caret under that place.
    """
    if isinstance(error, ParameterError):
        return {"code": ERROR_STATUS, **error.to_dict()}
    return {
        "code": ERROR_STATUS,
        "message": f"q: {error}",
        "parameter": "q",
        **{key: value for key, value in error.to_dict().items() if key != "message"},
        "detail": error.render(),
    }


def page_href(base_url: str, *, q: str, limit: int, offset: int, sort: str = "", cursor: str | None = None) -> str:
    """The URL of one page: ``q`` and ``sort`` (when not empty), ``limit``, and ``offset`` (when not 0) or ``cursor``.

    Parameters are encoded by :func:`urllib.parse.urlencode`, so ``q`` may
    hold any character (``name:a+b`` becomes ``q=name%3Aa%2Bb``).
    """
    params: list[tuple[str, str]] = [("q", q)] if q else []
    if sort:
        params.append(("sort", sort))
    params.append(("limit", str(limit)))
    if cursor is not None:
        params.append(("cursor", cursor))
    elif offset:
        params.append(("offset", str(offset)))
    return f"{base_url}?{urlencode(params)}"


def page_links(
    base_url: str, *, q: str, limit: int, offset: int, total: int | None, sort: str = ""
) -> dict[str, dict[str, str]]:
    """The ``_links`` of a page by offset: ``self`` always; ``first``, ``prev``, ``next`` and ``last`` where they apply.

    ``first`` (offset 0) and ``prev`` are there when the page does not start
    at offset 0; ``prev`` is the page of ``limit`` before this one, moved back
    to ``last`` when this one starts past the end, and never before offset 0.
    ``next`` is there when entities remain after this page; ``last`` (the
    offset of the last page, counting pages of ``limit`` from offset 0) when
    the matches do not fit in one page. With ``limit`` 0 there are no pages
    to step through, so only ``self`` is given. ``total`` ``None`` (not
    counted) gives no ``last``, and ``next`` on every page (a page after the
    end is empty). :func:`page_body` gives a cursor listing's links.
    """

    def href(at: int) -> dict[str, str]:
        return {"href": page_href(base_url, q=q, limit=limit, offset=at, sort=sort)}

    links = {"self": href(offset)}
    if limit <= 0:
        return links
    last = None if total is None else (total - 1) // limit * limit if total > 0 else 0
    if offset > 0:
        links["first"] = href(0)
        links["prev"] = href(max(0, offset - limit if last is None else min(offset - limit, last)))
    if total is None or offset + limit < total:
        links["next"] = href(offset + limit)
    if total is not None and last is not None and total > limit:
        links["last"] = href(last)
    return links


@dataclass(frozen=True, slots=True)
class _Page:
    """What the links of one page are made from."""

    base_url: str
    params: ListingParams
    key: bytes | None

    def offset_link(self, at: int) -> dict[str, str]:
        params = self.params
        return {"href": page_href(self.base_url, q=params.q, limit=params.limit, offset=at, sort=params.sort_text)}

    def cursor_link(self, cursor: Cursor, fallback: int) -> dict[str, str]:
        """A link carrying ``cursor``; by offset ``fallback`` when it cannot be written (:func:`encode_cursor`)."""
        params = self.params
        assert self.key is not None
        text = encode_cursor(cursor, key=self.key, schema=params.plan.schema, q=params.q, keys=params.keys())
        if text is None:
            return self.offset_link(fallback)
        href = page_href(self.base_url, q=params.q, limit=params.limit, offset=0, sort=params.sort_text, cursor=text)
        return {"href": href}


@lru_cache(maxsize=64)
def _ordering(schema: Schema) -> MemoryOrdering:
    """How memory reads a schema's entities for an order (one per schema: it keeps what it built)."""
    return MemoryOrdering(schema)


def _position(last: Any, params: ListingParams) -> Position:
    """Where ``last`` (an entity, or a :class:`Position`) stands in the listing's order."""
    position = last if isinstance(last, Position) else _ordering(params.plan.schema).position(last, params.keys())
    if position.id is None:
        raise ValueError(
            f"the page's last item has no id at {params.plan.schema.id_path!r}; give page_body the last row's "
            "entity or Position as last="
        )
    return position


def page_body(
    items: Sequence[Any],
    *,
    total: int | None,
    params: ListingParams,
    base_url: str,
    items_key: str = "items",
    messages: Sequence[Any] | None = None,
    counting: Counting = EXACT_COUNT,
    cursor_key: bytes | str | None = None,
    last: Any = None,
) -> dict[str, Any]:
    """The body of a listing response (the Waylay search API's shape).

    ``items`` is the page (already filtered, ordered and windowed), ``total``
    the number of matches counted as ``counting`` says (all of them, at most
    its cap + 1, or ``None`` for none), ``base_url`` the listing's URL
    without its query string, ``items_key`` the name of the list (``items``;
    the Waylay search API's is ``queries``). ``messages``, when given, is
    the body's ``messages`` list (the Waylay API has one, usually empty);
    without it the body has none. An exact total is given twice, as ``total``
    and as ``total_count`` (the name Waylay's queries SDK
    reads); past a capped count's cap, neither, but ``total_at_least``, the
    most the listing knows there are; without a count, none of them.

    With ``cursor_key``, the links are a cursor listing's: ``items`` is what
    was fetched, :attr:`ListingParams.fetch` rows at most (the page is the
    first ``limit``; one more means more remain), and ``next`` carries the
    cursor of the page's last row, read from ``last`` (an entity or a
    :class:`~qfilter.core.backend.Position`) or else from the page's last
    item (an entity of the schema). ``self`` is this page's start, ``prev``
    the page before (by cursor when the page came from ``next``, else by
    offset), ``first`` offset 0, and ``last`` the last page by offset when
    the total is known exactly (``self`` when this is it).
    """
    key = None if cursor_key is None else signing_key(cursor_key)
    limit, start = params.limit, params.start
    exact = counting.exact_total(total)
    lower = None if exact is not None or not counting.counts or total is None else (counting.cap or 0) + 1
    page = list(items[:limit]) if key is not None else list(items)
    if key is not None:
        more = len(items) > limit
    elif exact is not None:
        more = start + limit < exact
    else:
        more = (lower is not None and start + limit < lower) or (limit > 0 and len(page) >= limit)
    links = _links(_Page(base_url, params, key), page, more=more, exact=exact, last=last)
    body: dict[str, Any] = {} if messages is None else {"messages": list(messages)}
    body |= {items_key: page, "_links": links, "count": len(page), "offset": start, "limit": limit}
    if exact is not None:
        body["total"] = body["total_count"] = exact
    elif lower is not None:
        body["total_at_least"] = max(lower, start + len(page) + more)
    return body


def _links(made: _Page, page: list[Any], *, more: bool, exact: int | None, last: Any) -> dict[str, dict[str, str]]:
    params = made.params
    if made.key is None:  # a listing by offset
        if params.cursor is not None:
            raise ValueError("these parameters hold a cursor: give page_body the cursor_key they were read with")
        links = page_links(
            made.base_url, q=params.q, limit=params.limit, offset=params.offset, total=exact, sort=params.sort_text
        )
        if exact is None and not more:
            links.pop("next", None)
        return links
    limit, start, cursor = params.limit, params.start, params.cursor
    links = {"self": made.offset_link(start) if cursor is None else made.cursor_link(cursor.without_back(), start)}
    if limit <= 0:
        return links
    last_offset = None if exact is None else (exact - 1) // limit * limit if exact > 0 else 0
    if start > 0:
        links["first"] = made.offset_link(0)
        back = None if cursor is None else cursor.back
        if back is not None and back.position is not None:
            links["prev"] = made.cursor_link(Cursor(back.position, back.offset, params.now), back.offset)
        elif back is not None:
            links["prev"] = made.offset_link(back.offset)
        else:
            before = start - limit if last_offset is None else min(start - limit, last_offset)
            links["prev"] = made.offset_link(max(0, before))
    if more and page:
        position = _position(page[-1] if last is None else last, params)
        start_here = PageStart(start, None if cursor is None else cursor.position)
        following = Cursor(position, start + len(page), params.now, start_here)
        links["next"] = made.cursor_link(following, start + limit)
    if exact is not None and last_offset is not None and exact > limit:
        links["last"] = links["self"] if start == last_offset else made.offset_link(last_offset)
    return links
