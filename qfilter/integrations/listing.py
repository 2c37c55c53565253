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

Everything is imported from here; the parts live in
:mod:`~qfilter.integrations.listing_params` (reading the parameters),
:mod:`~qfilter.integrations.listing_counts` (how a listing counts) and
:mod:`~qfilter.integrations.listing_pages` (the page's body and links).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from qfilter.core.binder import to_plan
from qfilter.core.errors import FilterError, FilterSyntaxError
from qfilter.core.ir import Context
from qfilter.core.parser import DEFAULT_LIMITS, Limits
from qfilter.core.schema import Schema
from qfilter.integrations.cursors import cursor_key as signing_key
from qfilter.integrations.listing_counts import EXACT_COUNT, Counting, CountMode, read_counting
from qfilter.integrations.listing_pages import page_body, page_href, page_links
from qfilter.integrations.listing_params import (
    DEFAULT_LIMIT,
    ERROR_STATUS,
    LISTING_PARAMETERS,
    MAX_LIMIT,
    MAX_OFFSET,
    FilterParams,
    ListingParams,
    ParameterError,
    read_cursor,
    read_limit,
    read_offset,
    read_query_values,
    read_sort,
)

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
