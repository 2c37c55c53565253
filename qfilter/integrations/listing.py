"""Framework-agnostic helpers for a listing endpoint that takes ``q``, ``sort``, ``limit`` and ``offset``.

This is the listing API of language section 8 (the Waylay search API):
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
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

from qfilter.core.ast import Filter
from qfilter.core.backend import Compiler, Position
from qfilter.core.binder import to_plan
from qfilter.core.errors import FilterError, FilterSyntaxError
from qfilter.core.ir import Context, Plan
from qfilter.core.parser import DEFAULT_LIMITS, Limits
from qfilter.core.schema import Schema
from qfilter.core.sorting import SortError, SortKey, parse_sort

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "ERROR_STATUS",
    "LISTING_PARAMETERS",
    "ParameterError",
    "FilterParams",
    "ListingParams",
    "read_filter",
    "read_limit",
    "read_offset",
    "read_sort",
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
"""The HTTP status of every bad listing request (bad ``q``, ``limit`` or ``offset``)."""
LISTING_PARAMETERS = ("q", "sort", "limit", "offset")
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

    def keys(self, default: str = "") -> tuple[SortKey, ...]:
        """The sort keys: ``sort``, else ``default`` (the listing's own order, in ``sort=`` syntax: ``"name"``)."""
        return self.sort or parse_sort(default, self.plan.schema)

    def where(self, compiler: Compiler[Where, OrderBy]) -> Where:
        """The filter in ``compiler``'s terms (a :class:`~qfilter.memory.Predicate`, a SQL clause)."""
        return compiler.where(self.plan)

    def order_by(self, compiler: Compiler[Where, OrderBy], *, default: str = "") -> OrderBy:
        """The order asked for (:meth:`keys`), ties by id, in ``compiler``'s terms."""
        return compiler.order(self.keys(default))

    def after(self, compiler: Compiler[Where, OrderBy], position: Position, *, default: str = "") -> Where:
        """The rows strictly after ``position`` in that order, in ``compiler``'s terms (for a keyset page)."""
        return compiler.after(self.keys(default), position)


@dataclass(frozen=True, slots=True)
class ListingParams(FilterParams):
    """The checked parameters of one listing request: the filter, ``sort``, ``limit`` and ``offset``."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0

    def window(self, items: Sequence[T]) -> Sequence[T]:
        """The page of an already filtered and ordered sequence."""
        return items[self.offset : self.offset + self.limit]


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
) -> FilterParams:
    """Parse and bind the (URL-decoded) ``q`` parameter; ``None`` or blank matches everything.

    ``sort`` (:func:`read_sort`) is checked first, as the cheaper mistake.

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
    return FilterParams(q=text, plan=to_plan(text, schema, context=context, limits=limits), sort=keys)


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
) -> ListingParams:
    """Check the raw (URL-decoded) parameters of a listing request; ``None`` means absent.

    ``limit``, ``offset`` and ``sort`` are checked first, as the cheaper
    mistakes, then ``q`` as :func:`read_filter` does. Raises
    :class:`ParameterError` or a :class:`~qfilter.core.errors.FilterError`;
    :func:`error_body` describes either.
    """
    page_limit = read_limit(limit, default=default_limit, maximum=max_limit)
    page_offset = read_offset(offset)
    found = read_filter(q, schema=schema, user=user, now=now, tz=tz, limits=limits, user_hint=user_hint, sort=sort)
    return ListingParams(q=found.q, plan=found.plan, sort=found.sort, limit=page_limit, offset=page_offset)


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
) -> ListingParams:
    """:func:`read_params` on a raw query string (``q=tag%3Ademo&limit=5``).

    Other parameters are ignored; ``q``, ``sort``, ``limit`` or ``offset``
    given twice is a :class:`ParameterError`, since either reading of it would
    be a guess.
    """
    values = read_query_values(query_string)
    return read_params(
        q=values.get("q"),
        sort=values.get("sort"),
        limit=values.get("limit"),
        offset=values.get("offset"),
        schema=schema,
        user=user,
        now=now,
        tz=tz,
        limits=limits,
        default_limit=default_limit,
        max_limit=max_limit,
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


def page_href(base_url: str, *, q: str, limit: int, offset: int, sort: str = "") -> str:
    """The URL of one page: ``q`` and ``sort`` (when not empty), ``limit``, and ``offset`` (when not 0).

    Parameters are encoded by :func:`urllib.parse.urlencode`, so ``q`` may
    hold any character (``name:a+b`` becomes ``q=name%3Aa%2Bb``).
    """
    params: list[tuple[str, str]] = [("q", q)] if q else []
    if sort:
        params.append(("sort", sort))
    params.append(("limit", str(limit)))
    if offset:
        params.append(("offset", str(offset)))
    return f"{base_url}?{urlencode(params)}"


def page_links(
    base_url: str, *, q: str, limit: int, offset: int, total: int, sort: str = ""
) -> dict[str, dict[str, str]]:
    """The ``_links`` of a page: ``self`` always; ``first``, ``prev``, ``next`` and ``last`` where they apply.

    ``first`` (offset 0) and ``prev`` are there when the page does not start
    at offset 0; ``prev`` is the page of ``limit`` before this one, moved back
    to ``last`` when this one starts past the end, and never before offset 0.
    ``next`` is there when entities remain after this page; ``last`` (the
    offset of the last page, counting pages of ``limit`` from offset 0) when
    the matches do not fit in one page. With ``limit`` 0 there are no pages
    to step through, so only ``self`` is given.
    """

    def href(at: int) -> dict[str, str]:
        return {"href": page_href(base_url, q=q, limit=limit, offset=at, sort=sort)}

    links = {"self": href(offset)}
    if limit <= 0:
        return links
    last = (total - 1) // limit * limit if total > 0 else 0
    if offset > 0:
        links["first"] = href(0)
        links["prev"] = href(max(0, min(offset - limit, last)))
    if offset + limit < total:
        links["next"] = href(offset + limit)
    if total > limit:
        links["last"] = href(last)
    return links


def page_body(
    items: Sequence[Any],
    *,
    total: int,
    params: ListingParams,
    base_url: str,
    items_key: str = "queries",
    messages: Sequence[Any] = (),
) -> dict[str, Any]:
    """The body of a listing response (section 8, the seed's search response).

    ``items`` is the page (already filtered, ordered and windowed), ``total``
    the number of matches in all, ``base_url`` the listing's URL without its
    query string, ``items_key`` the name of the list (``queries`` for Waylay).
    ``total`` is given twice, as ``total`` (the seed's name) and as
    ``total_count`` (the name Waylay's queries SDK reads).
    """
    return {
        "messages": list(messages),
        items_key: list(items),
        "_links": page_links(
            base_url, q=params.q, limit=params.limit, offset=params.offset, total=total, sort=params.sort_text
        ),
        "count": len(items),
        "offset": params.offset,
        "limit": params.limit,
        "total": total,
        "total_count": total,
    }
