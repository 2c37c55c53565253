"""FastAPI integration: dependencies that hand a route its checked, compiled filter, order and page.

Needs the ``server`` extra (``pip install "qfilter-lang[server]"``), and
SQLAlchemy only for a SQL backend. Three steps add a Waylay-style search to
an app::

    from typing import Annotated
    from fastapi import Depends, FastAPI
    from qfilter.integrations.fastapi import QFilter, RequestListing, install_docs, install_error_handlers, page_model
    from qfilter.sql import SqlCompiler

    app = FastAPI(docs_url=None)
    install_error_handlers(app)          # bad q/sort/limit/offset and bodies: 400, not 422
    install_docs(app)                    # /docs from the package's Swagger UI files, offline too
    devices = QFilter(DEVICES_SCHEMA, compiler=SqlCompiler(DEVICES_SQL, id_column=Device.id, schema=DEVICES_SCHEMA))

    @app.get("/devices", responses={200: {"model": page_model(DeviceOut, items_key="devices")}})
    def list_devices(listing: Annotated[RequestListing, Depends(devices.listing)]) -> dict:
        rows = ...  # select ... .where(listing.where) .order_by(*listing.order_by()) .offset(listing.offset) ...
        total = ... # select count() ... .where(listing.where)
        return listing.page(rows, total=total, items_key="devices")

With ``cursor_key=`` the listing pages by cursor (keyset): ``next`` links
carry the page's last row, and a route selects ``.where(listing.where,
listing.seek())`` and fetches ``listing.fetch`` rows (one past the page);
``count=`` says how it counts (:class:`~qfilter.integrations.listing.Counting`:
exact, capped or none; ``listing.counting.at_most`` rows).

The dependency takes any backend's :class:`~qfilter.core.backend.Compiler`:
:class:`qfilter.sql.SqlCompiler` (``where`` a SQLAlchemy clause, ``order_by()``
the ``ORDER BY`` clauses), :class:`qfilter.memory.MemoryCompiler` (a
:class:`~qfilter.memory.Predicate`, and an order to call on a list; the
default, so a memory-only app needs no SQLAlchemy), or one of your own.
``sql_mapping=`` (and ``dialect=``) is short for a ``SqlCompiler``.

The current user, whom ``@me`` stands for, comes from the application:
``QFilter(..., current_user=get_user_id)`` takes any dependency FastAPI can
call (``Depends(get_user_id)``: it may itself depend on the session, a token,
the database) that returns the user's id or ``None``. Without one it is read
from a request header (``X-User-Id`` unless configured; ``user_header=None``:
no current user). This module authenticates nobody: a header is only as
trustworthy as whatever sets it (a proxy, a middleware).
"""

# No "from __future__ import annotations": FastAPI reads the dependencies' annotations, which name locals.
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Generic, cast, overload

from fastapi import Request

from qfilter.core.backend import Compiler
from qfilter.core.errors import FilterError
from qfilter.core.parser import DEFAULT_LIMITS, Limits
from qfilter.core.schema import Schema
from qfilter.integrations import listing
from qfilter.integrations.cursors import cursor_key as cursor_key_bytes
from qfilter.integrations.fastapi_errors import (
    ERROR_BODY_SCHEMA,
    FilterHTTPException,
    install_error_handlers,
    validation_error_body,
)
from qfilter.integrations.fastapi_pages import Link, Page, PageFields, page_model
from qfilter.integrations.fastapi_params import (
    DEFAULT_USER_HEADER,
    MAX_USER_LENGTH,
    DeclaredText,
    listing_queries,
    user_dependency,
    user_hint,
    user_parameter,
)
from qfilter.integrations.fastapi_requests import OrderBy, RequestFilter, RequestListing, Where
from qfilter.integrations.openapi_text import q_examples
from qfilter.integrations.swagger import install_docs
from qfilter.memory import EntityOrder, MemoryCompiler, Predicate

if TYPE_CHECKING:
    import sqlalchemy as sa

    from qfilter.sql import SqlMapping

__all__ = [
    "DEFAULT_USER_HEADER",
    "MAX_USER_LENGTH",
    "QFilter",
    "RequestFilter",
    "RequestListing",
    "FilterHTTPException",
    "install_error_handlers",
    "install_docs",
    "Link",
    "Page",
    "PageFields",
    "page_model",
    "ERROR_BODY_SCHEMA",
    "validation_error_body",
    "q_examples",
]


def _base_url(request: Request) -> str:
    return str(request.url.replace(query="", fragment=""))


class QFilter(Generic[Where, OrderBy]):
    """FastAPI dependencies for filtering, ordering and paging one kind of entity through a backend's compiler.

    - :attr:`listing` reads ``q``, ``sort``, ``limit``, ``offset`` and ``cursor`` and gives a :class:`RequestListing`;
    - :attr:`filter` reads ``q`` and ``sort`` and gives a :class:`RequestFilter`;
    - :attr:`current_user` gives the current user's id, or ``None``: the
      application's own ``current_user`` dependency's answer when one is
      given, else the ``user_header`` header's value (none when ``None``).

    Each documents its parameters in the OpenAPI description (``q`` with
    examples). ``compiler`` (a :class:`~qfilter.core.backend.Compiler`)
    gives ``where`` and ``order_by()`` their terms; by default
    :class:`~qfilter.memory.MemoryCompiler`. ``sql_mapping`` (for
    :func:`qfilter.sql.compile_clause`) is short for
    ``compiler=SqlCompiler(sql_mapping, dialect=dialect, schema=schema)``
    (on SQLite, call :func:`qfilter.sql.install_sqlite_functions` on the
    engine); the mapping is checked here (:func:`qfilter.sql.check_mapping`),
    so a qualifier it misses or maps onto a column of the wrong type is a
    ``ValueError`` when the app is built, not a 500 at the first request
    that uses it; ``dialect`` (``engine.dialect`` or its name), when given,
    has the clause built for that database only, which is cheaper per
    request. ``clock`` gives the instant ``now`` stands for (tests pin it).
    ``default_sort`` is the listing's own order without ``sort`` (``"name"``;
    the id alone by default). ``count`` says how a listing counts its
    matches (a :class:`~qfilter.integrations.listing.Counting`, or its text:
    ``exact``, ``capped:N``, ``none``). ``cursor_key`` (at least 16 bytes,
    the same in every process that serves the listing) has it page by cursor:
    ``next`` carries a cursor signed with it, which a request gives back as
    ``cursor``; without it the listing pages by offset and refuses a cursor.
    A bad request raises a :class:`FilterHTTPException`: a 400 with a
    :func:`qfilter.integrations.listing.error_body`.
    """

    @overload
    def __init__(
        self: "QFilter[Predicate, EntityOrder]",
        schema: Schema,
        *,
        compiler: None = None,
        sql_mapping: None = None,
        user_header: str | None = DEFAULT_USER_HEADER,
        current_user: Callable[..., Any] | None = None,
        limits: Limits = DEFAULT_LIMITS,
        default_limit: int = listing.DEFAULT_LIMIT,
        max_limit: int = listing.MAX_LIMIT,
        examples: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
        dialect: None = None,
        count: listing.Counting | str = listing.EXACT_COUNT,
        cursor_key: bytes | str | None = None,
        default_sort: str = "",
    ) -> None: ...

    @overload
    def __init__(
        self: "QFilter[sa.ColumnElement[bool], list[sa.ColumnElement[Any]]]",
        schema: Schema,
        *,
        compiler: None = None,
        sql_mapping: "SqlMapping",
        user_header: str | None = DEFAULT_USER_HEADER,
        current_user: Callable[..., Any] | None = None,
        limits: Limits = DEFAULT_LIMITS,
        default_limit: int = listing.DEFAULT_LIMIT,
        max_limit: int = listing.MAX_LIMIT,
        examples: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
        dialect: "sa.Dialect | str | None" = None,
        count: listing.Counting | str = listing.EXACT_COUNT,
        cursor_key: bytes | str | None = None,
        default_sort: str = "",
    ) -> None: ...

    @overload
    def __init__(
        self,
        schema: Schema,
        *,
        compiler: Compiler[Where, OrderBy],
        sql_mapping: None = None,
        user_header: str | None = DEFAULT_USER_HEADER,
        current_user: Callable[..., Any] | None = None,
        limits: Limits = DEFAULT_LIMITS,
        default_limit: int = listing.DEFAULT_LIMIT,
        max_limit: int = listing.MAX_LIMIT,
        examples: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
        dialect: None = None,
        count: listing.Counting | str = listing.EXACT_COUNT,
        cursor_key: bytes | str | None = None,
        default_sort: str = "",
    ) -> None: ...

    def __init__(
        self,
        schema: Schema,
        *,
        compiler: Compiler[Any, Any] | None = None,
        sql_mapping: "SqlMapping | None" = None,
        user_header: str | None = DEFAULT_USER_HEADER,
        current_user: Callable[..., Any] | None = None,
        limits: Limits = DEFAULT_LIMITS,
        default_limit: int = listing.DEFAULT_LIMIT,
        max_limit: int = listing.MAX_LIMIT,
        examples: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
        dialect: "sa.Dialect | str | None" = None,
        count: listing.Counting | str = listing.EXACT_COUNT,
        cursor_key: bytes | str | None = None,
        default_sort: str = "",
    ) -> None:
        if compiler is not None and sql_mapping is not None:
            raise TypeError("give compiler= or sql_mapping= (short for compiler=SqlCompiler(...)), not both")
        if compiler is None and sql_mapping is not None:
            from qfilter.sql import SqlCompiler  # SQLAlchemy only for a SQL app

            compiler = SqlCompiler(sql_mapping, dialect=dialect, schema=schema)  # checks the mapping now
        made: Compiler[Any, Any] = MemoryCompiler(schema) if compiler is None else compiler
        self.compiler = cast(Compiler[Where, OrderBy], made)  # the overloads tie the types to the compiler
        self.schema = schema
        self.sql_mapping = sql_mapping
        self.dialect = dialect
        self.user_header = None if current_user is not None else user_header
        self.limits = limits
        self.clock = clock or (lambda: datetime.now(UTC))
        self.counting = listing.read_counting(count) if isinstance(count, str) else count
        self.cursor_key = None if cursor_key is None else cursor_key_bytes(cursor_key)
        listing.read_sort(default_sort, schema)  # an unsortable default is an error now, not at a request
        self.default_sort = default_sort
        self.current_user = user_dependency(self.user_header, current_user)
        hint = user_hint(self.user_header, current_user)
        queries = listing_queries(
            schema,
            user_header=self.user_header,
            signed_in=current_user is not None,
            examples=examples,
            max_limit=max_limit,
            default_limit=default_limit,
        )
        q_param, sort_param, limit_param = queries.q, queries.sort, queries.limit
        offset_param, cursor_param = queries.offset, queries.cursor
        # The dependencies take the user as a parameter of their own, not by Depends(self.current_user):
        # FastAPI solves each dependency's parameters (path, query, header, cookie) apart, per request.
        user_param = user_parameter(self.user_header, current_user)
        user_declared, read_user = user_param.declared, user_param.read

        # The parameters are declared for the OpenAPI document; their values are read from the raw
        # query string (listing.read_query_values), where a repeated or non-UTF-8 one is a 400:
        # Starlette would take the last of a repeated one and turn bad bytes into U+FFFD.
        # They are coroutines because they only compute (no I/O): FastAPI runs them on the event loop
        # rather than handing each to its threadpool and back, a thread switch per dependency per request.
        async def filter_dependency(
            request: Request,
            user: Annotated[DeclaredText, user_declared] = None,
            q: Annotated[DeclaredText, q_param] = None,
            sort: Annotated[DeclaredText, sort_param] = None,
        ) -> RequestFilter[Where, OrderBy]:
            user = read_user(user)
            try:
                values = listing.read_query_values(request.scope.get("query_string", b""), ("q", "sort"))
                params = listing.read_filter(
                    values.get("q"),
                    schema=schema,
                    user=user,
                    now=self.clock(),
                    limits=limits,
                    user_hint=hint,
                    sort=values.get("sort"),
                    default_sort=default_sort,
                )
            except (FilterError, listing.ParameterError) as error:
                raise self._bad_request(error) from None
            return RequestFilter(params, user, schema, _base_url(request), self._where(params), self.compiler)

        def read_listing(request: Request, user: str | None) -> RequestListing[Where, OrderBy]:
            try:
                values = listing.read_query_values(request.scope.get("query_string", b""))
                params = listing.read_params(
                    q=values.get("q"),
                    sort=values.get("sort"),
                    limit=values.get("limit"),
                    offset=values.get("offset"),
                    cursor=values.get("cursor"),
                    cursor_key=self.cursor_key,
                    default_sort=default_sort,
                    schema=schema,
                    user=user,
                    now=self.clock(),
                    limits=limits,
                    default_limit=default_limit,
                    max_limit=max_limit,
                    user_hint=hint,
                )
            except (FilterError, listing.ParameterError) as error:
                raise self._bad_request(error) from None
            where = self._where(params)
            return RequestListing(
                params, user, schema, _base_url(request), where, self.compiler, self.counting, self.cursor_key
            )

        async def listing_dependency(
            request: Request,
            user: Annotated[DeclaredText, user_declared] = None,
            q: Annotated[DeclaredText, q_param] = None,
            limit: Annotated[DeclaredText, limit_param] = None,
            offset: Annotated[DeclaredText, offset_param] = None,
            sort: Annotated[DeclaredText, sort_param] = None,
        ) -> RequestListing[Where, OrderBy]:
            return read_listing(request, read_user(user))

        # The same, with the cursor parameter in the OpenAPI document: only a listing with a key takes one.
        async def cursor_listing_dependency(
            request: Request,
            user: Annotated[DeclaredText, user_declared] = None,
            q: Annotated[DeclaredText, q_param] = None,
            limit: Annotated[DeclaredText, limit_param] = None,
            offset: Annotated[DeclaredText, offset_param] = None,
            sort: Annotated[DeclaredText, sort_param] = None,
            cursor: Annotated[DeclaredText, cursor_param] = None,
        ) -> RequestListing[Where, OrderBy]:
            return read_listing(request, read_user(user))

        self.filter: Callable[..., Awaitable[RequestFilter[Where, OrderBy]]] = filter_dependency
        self.listing: Callable[..., Awaitable[RequestListing[Where, OrderBy]]] = (
            listing_dependency if self.cursor_key is None else cursor_listing_dependency
        )

    def _bad_request(self, error: FilterError | listing.ParameterError) -> FilterHTTPException:
        return FilterHTTPException(listing.error_body(error))

    def _where(self, params: listing.FilterParams) -> Where:
        try:
            return params.where(self.compiler)
        except FilterError as error:  # one the backend finds (SQL: a meta.<path> too deep)
            raise self._bad_request(error) from None
