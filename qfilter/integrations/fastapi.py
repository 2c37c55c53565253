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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar, cast, overload

from fastapi import Depends, Header, Query, Request

from qfilter.core.backend import Compiler, Position
from qfilter.core.errors import FilterError
from qfilter.core.parser import DEFAULT_LIMITS, Limits
from qfilter.core.schema import Schema
from qfilter.core.sorting import SortKey
from qfilter.integrations import listing
from qfilter.integrations.cursors import Cursor
from qfilter.integrations.cursors import cursor_key as cursor_key_bytes
from qfilter.integrations.fastapi_errors import (
    ERROR_BODY_SCHEMA,
    FilterHTTPException,
    install_error_handlers,
    validation_error_body,
)
from qfilter.integrations.fastapi_pages import Link, Page, PageFields, page_model
from qfilter.integrations.openapi_text import (
    CURSOR_DESCRIPTION,
    OFFSET_DESCRIPTION,
    USER_HEADER_DESCRIPTION,
    integer_schema,
    limit_description,
    q_description,
    q_examples,
    sort_description,
    string_schema,
)
from qfilter.integrations.swagger import install_docs
from qfilter.memory import EntityOrder, MemoryCompiler, Predicate, compile_plan, sort_entities

if TYPE_CHECKING:
    import sqlalchemy as sa

    from qfilter.sql import SqlMapping

T = TypeVar("T")
if TYPE_CHECKING:  # a bare RequestListing (as routes annotate it) is RequestListing[Any, Any]; no runtime need
    from typing_extensions import TypeVar as DefaultedTypeVar

    Where = DefaultedTypeVar("Where", default=Any)
    OrderBy = DefaultedTypeVar("OrderBy", default=Any)
else:
    Where = TypeVar("Where")
    OrderBy = TypeVar("OrderBy")

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

DEFAULT_USER_HEADER = "X-User-Id"
"""The request header that names the current user, for ``@me``."""
MAX_USER_LENGTH = 255
"""The longest user id the header may carry (user columns are indexed; index entries are bounded)."""


def _with_id_column(compiler: Compiler[Where, OrderBy], id_column: object) -> Compiler[Where, OrderBy]:
    with_id = getattr(compiler, "with_id_column", None)
    if with_id is None:
        raise TypeError(f"order_by(id_column) is for a SQL compiler; a {type(compiler).__name__} knows its id")
    return cast(Compiler[Where, OrderBy], with_id(id_column))


@dataclass(frozen=True, slots=True)
class RequestFilter(Generic[Where, OrderBy]):
    """What a filter dependency hands a route: the request's checked filter, compiled, and its ``sort``.

    ``where`` is the filter in the :class:`QFilter`'s compiler's terms (a
    SQLAlchemy clause for :class:`~qfilter.sql.SqlCompiler`, a
    :class:`~qfilter.memory.Predicate` for :class:`~qfilter.memory.MemoryCompiler`);
    :meth:`order_by` is the order asked for in the same terms.
    """

    params: listing.FilterParams
    user: str | None
    schema: Schema
    base_url: str
    where: Where
    compiler: Compiler[Where, OrderBy]

    @property
    def q(self) -> str:
        """The filter text as given (``""`` when absent)."""
        return self.params.q

    @property
    def now(self) -> datetime:
        """The instant ``now`` stood for when the filter was compiled."""
        return self.params.now

    @property
    def sort(self) -> tuple[SortKey, ...]:
        """The sort keys asked for; empty when the request gives no ``sort``."""
        return self.params.sort

    def predicate(self) -> Predicate:
        """The filter as an in-memory predicate over entities (``where`` itself, with a memory compiler)."""
        if isinstance(self.where, Predicate):
            return self.where
        return compile_plan(self.params.plan)

    def order_by(self, id_column: object = None, *, default: str | None = None) -> OrderBy:
        """The order asked for (``sort``, else ``default``), ties by id, in the compiler's terms.

        ``default`` is the listing's own order in ``sort=`` syntax (``"name"``;
        ``None``: the ``QFilter``'s ``default_sort``).
        With SQL: the ``ORDER BY`` clauses, for ``.order_by(*clauses)``;
        ``id_column`` names the id for a compiler made without one (the
        ``sql_mapping=`` shorthand). In memory: an order to call on entities.
        """
        return self.params.order_by(self._compiler(id_column), default=default)

    def _compiler(self, id_column: object) -> Compiler[Where, OrderBy]:
        return self.compiler if id_column is None else _with_id_column(self.compiler, id_column)

    def after(self, position: Position, *, default: str | None = None) -> Where:
        """The rows strictly after ``position`` in the order of :meth:`order_by` (a keyset page's ``where``)."""
        return self.params.after(self.compiler, position, default=default)

    def sorted(self, entities: Iterable[T], *, default: str | None = None) -> list[T]:
        """``entities`` in the order asked for (``sort``, else ``default``), ties by id, in memory."""
        return sort_entities(entities, self.params.keys(default), self.schema)


@dataclass(frozen=True, slots=True)
class RequestListing(RequestFilter[Where, OrderBy]):
    """A :class:`RequestFilter` with the page asked for (``limit``, and ``offset`` or ``cursor``) and how to count.

    A route selects the rows where :attr:`where` (the filter) and
    :meth:`seek` (after the cursor's row, every row without one) hold, in
    the order of :meth:`order_by`, from :attr:`offset` on: :attr:`limit` of
    them, or :attr:`fetch` (one more) when the ``QFilter`` pages by cursor;
    it counts them as :attr:`counting` says; and :meth:`page` makes the body.
    """

    params: listing.ListingParams
    counting: listing.Counting = listing.EXACT_COUNT
    """How the listing counts its matches (the ``QFilter``'s ``count``)."""
    cursor_key: bytes | None = None
    """The key the listing's cursors are signed with; ``None``: it pages by offset."""

    @property
    def limit(self) -> int:
        """Entities in the page asked for (0..the maximum)."""
        return self.params.limit

    @property
    def offset(self) -> int:
        """Matches skipped before the page (0 with a cursor)."""
        return self.params.offset

    @property
    def cursor(self) -> Cursor | None:
        """Where the page starts, when the request gives a cursor."""
        return self.params.cursor

    @property
    def start(self) -> int:
        """The matches before the page: ``offset``, or those the cursor's walk has passed."""
        return self.params.start

    @property
    def fetch(self) -> int:
        """The rows to read when paging by cursor: the page and one more (0 for ``limit`` 0)."""
        return self.params.fetch

    def seek(self, id_column: object = None) -> Where:
        """The rows after the cursor's row in the order of :meth:`order_by` (every row without a cursor).

        In the compiler's terms, like :attr:`where`; ``id_column`` as for :meth:`order_by`.
        """
        return self.params.seek(self._compiler(id_column))

    def window(self, items: Sequence[T]) -> Sequence[T]:
        """The page of an already filtered and ordered sequence of entities (after the cursor, with one)."""
        return self.params.window(items)

    def fetch_from(self, items: Sequence[T]) -> Sequence[T]:
        """:meth:`window` and the entity after it, if any (what :meth:`page` takes when paging by cursor)."""
        return self.params.fetch_from(items)

    def page(
        self,
        items: Sequence[Any],
        *,
        total: int | None = None,
        items_key: str = "items",
        messages: Sequence[Any] | None = None,
        last: Any = None,
    ) -> dict[str, Any]:
        """The response body (:func:`qfilter.integrations.listing.page_body`) for this page.

        The items are under ``items_key``; ``messages``, when given, is the
        body's ``messages`` list (the Waylay search API's shape). Its OpenAPI
        description is :func:`~qfilter.integrations.fastapi_pages.page_model`'s.

        ``total`` is the count :attr:`counting` asks for (``None`` when it
        counts nothing). Paging by cursor, ``items`` is what was fetched
        (:attr:`fetch` rows at most), and the ``next`` link's cursor is read
        from ``last`` (the page's last entity, or its
        :class:`~qfilter.core.backend.Position`), else from the page's last item.
        """
        return listing.page_body(
            items,
            total=total,
            params=self.params,
            base_url=self.base_url,
            items_key=items_key,
            messages=messages,
            counting=self.counting,
            cursor_key=self.cursor_key,
            last=last,
        )


def _user_hint(user_header: str | None, current_user: Callable[..., Any] | None) -> str:
    """How a client of this endpoint gives the current user that ``@me`` needs."""
    if current_user is not None:
        return "sign in: @me is the signed-in user"
    if user_header is not None:
        return f"send the current user's id in the {user_header} header"
    return "this endpoint has no current user: name the user instead of @me"


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
        self.current_user = self._user_dependency(self.user_header, current_user)
        user_hint = _user_hint(self.user_header, current_user)
        shown = q_examples(schema) if examples is None else dict(examples)
        q_param = Query(
            description=q_description(schema, self.user_header, signed_in=current_user is not None),
            json_schema_extra=string_schema,
            openapi_examples={name: {"summary": name, "value": value} for name, value in shown.items()},
        )
        limit_param = Query(
            description=limit_description(max_limit, default_limit),
            json_schema_extra=integer_schema(0, max_limit, default_limit),
        )
        offset_param = Query(description=OFFSET_DESCRIPTION, json_schema_extra=integer_schema(0, listing.MAX_OFFSET, 0))
        sort_param = Query(description=sort_description(schema), json_schema_extra=string_schema)
        cursor_param = Query(description=CURSOR_DESCRIPTION, json_schema_extra=string_schema)
        current_user = self.current_user

        # The parameters are declared for the OpenAPI document; their values are read from the raw
        # query string (listing.read_query_values), where a repeated or non-UTF-8 one is a 400:
        # Starlette would take the last of a repeated one and turn bad bytes into U+FFFD.
        def filter_dependency(
            request: Request,
            user: Annotated[str | None, Depends(current_user)],
            q: Annotated[str | None, q_param] = None,
            sort: Annotated[str | None, sort_param] = None,
        ) -> RequestFilter[Where, OrderBy]:
            try:
                values = listing.read_query_values(request.scope.get("query_string", b""), ("q", "sort"))
                params = listing.read_filter(
                    values.get("q"),
                    schema=schema,
                    user=user,
                    now=self.clock(),
                    limits=limits,
                    user_hint=user_hint,
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
                    user_hint=user_hint,
                )
            except (FilterError, listing.ParameterError) as error:
                raise self._bad_request(error) from None
            where = self._where(params)
            return RequestListing(
                params, user, schema, _base_url(request), where, self.compiler, self.counting, self.cursor_key
            )

        def listing_dependency(
            request: Request,
            user: Annotated[str | None, Depends(current_user)],
            q: Annotated[str | None, q_param] = None,
            limit: Annotated[str | None, limit_param] = None,
            offset: Annotated[str | None, offset_param] = None,
            sort: Annotated[str | None, sort_param] = None,
        ) -> RequestListing[Where, OrderBy]:
            return read_listing(request, user)

        # The same, with the cursor parameter in the OpenAPI document: only a listing with a key takes one.
        def cursor_listing_dependency(
            request: Request,
            user: Annotated[str | None, Depends(current_user)],
            q: Annotated[str | None, q_param] = None,
            limit: Annotated[str | None, limit_param] = None,
            offset: Annotated[str | None, offset_param] = None,
            sort: Annotated[str | None, sort_param] = None,
            cursor: Annotated[str | None, cursor_param] = None,
        ) -> RequestListing[Where, OrderBy]:
            return read_listing(request, user)

        self.filter: Callable[..., RequestFilter[Where, OrderBy]] = filter_dependency
        self.listing: Callable[..., RequestListing[Where, OrderBy]] = (
            listing_dependency if self.cursor_key is None else cursor_listing_dependency
        )

    @staticmethod
    def _user_dependency(user_header: str | None, current_user: Callable[..., Any] | None) -> Callable[..., str | None]:
        if current_user is not None:
            application_user = Depends(current_user)

            def user_from_application(user: Annotated[Any, application_user]) -> str | None:
                return None if user is None else str(user)

            return user_from_application
        if user_header is None:

            def no_user() -> str | None:
                return None

            return no_user
        header = Header(alias=user_header, max_length=MAX_USER_LENGTH, description=USER_HEADER_DESCRIPTION)

        def user_from_header(user: Annotated[str | None, header] = None) -> str | None:
            if user is None:
                return None
            try:  # HTTP hands header bytes over as Latin-1; user ids are UTF-8
                text = user.encode("latin-1").decode("utf-8")
            except UnicodeError:
                problem = listing.ParameterError(str(user_header), f"the {user_header} header is not valid UTF-8")
                raise FilterHTTPException(listing.error_body(problem)) from None
            return text.strip() or None

        return user_from_header

    def _bad_request(self, error: FilterError | listing.ParameterError) -> FilterHTTPException:
        return FilterHTTPException(listing.error_body(error))

    def _where(self, params: listing.FilterParams) -> Where:
        try:
            return params.where(self.compiler)
        except FilterError as error:  # one the backend finds (SQL: a meta.<path> too deep)
            raise self._bad_request(error) from None
