"""FastAPI integration: dependencies that hand a route its checked, compiled filter.

Needs the ``server`` extra (``pip install "qfilter-lang[server]"``). Three steps
add a Waylay-style search to an app::

    from typing import Annotated
    from fastapi import Depends, FastAPI
    import qfilter
    from qfilter.integrations.fastapi import QFilter, RequestListing, install_error_handlers

    app = FastAPI()
    install_error_handlers(app)          # bad q/limit/offset and bodies: 400, not 422
    devices = QFilter(DEVICES_SCHEMA, sql_mapping=DEVICES_SQL)

    @app.get("/devices")
    def list_devices(listing: Annotated[RequestListing, Depends(devices.listing)]) -> dict:
        rows = ...  # select ... .where(listing.where) .order_by(...) .offset(listing.offset) .limit(listing.limit)
        total = ... # select count() ... .where(listing.where)
        return listing.page(rows, total=total, items_key="devices")

The current user, whom ``@me`` stands for, comes from the application:
``QFilter(..., current_user=get_user_id)`` takes any dependency FastAPI can
call (``Depends(get_user_id)``: it may itself depend on the session, a token,
the database) that returns the user's id or ``None``. Without one it is read
from a request header (``X-User-Id`` unless configured; ``user_header=None``:
no current user). This module authenticates nobody: a header is only as
trustworthy as whatever sets it (a proxy, a middleware).
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from qfilter.core.errors import FilterError
from qfilter.core.functions import FUNCTION_NAMES
from qfilter.core.parser import DEFAULT_LIMITS, Limits
from qfilter.core.schema import Kind, Schema
from qfilter.core.sorting import SortKey, parse_sort, sortable_fields
from qfilter.integrations import listing
from qfilter.memory import Predicate, compile_plan, sort_entities

T = TypeVar("T")

__all__ = [
    "DEFAULT_USER_HEADER",
    "MAX_USER_LENGTH",
    "QFilter",
    "RequestFilter",
    "RequestListing",
    "FilterHTTPException",
    "install_error_handlers",
    "ERROR_BODY_SCHEMA",
    "validation_error_body",
    "q_examples",
]

DEFAULT_USER_HEADER = "X-User-Id"
"""The request header that names the current user, for ``@me``."""
MAX_USER_LENGTH = 255
"""The longest user id the header may carry (user columns are indexed; index entries are bounded)."""

_SEED_EXAMPLES: dict[str, dict[str, str]] = {
    "waylay": {
        "search": "name:demo tag:demo -tag:not-demo resource:151CF",
        "combined": "resource:APL4995 name:office tag:prio1,demo -tag:preview",
        "quoted": "created:\"2020-04-22T12:34:00+00:00/\" tag:demo,'ab c'",
        "relative time": 'created:"2020-04-22T12:34:00+00:00/now-P1W"',
        "mine": "created_by:@me modified:now-P1W/",
        "metadata": "meta.description:contains(hourly)",
        "functions": 'tag:all(like("prj:*"),not(like("*:Done"))) -resource:exists()',
        "any of": "tag:in(demo,prio1) created_by:in(@me,users/bob)",
        "ranges": "created:>=2020-04 modified:2021..* meta.prio:gt(5)",
        "boolean": '(tag:abc OR tag:"My Demo") AND tag:like("prj:*") NOT name:test',
    },
    "timeplus": {
        "tags": "tag:demo -tag:old",
        "sql": "sql:iot name:streaming",
        "mine": "created_by:@me modified:now-P1W/",
        "year": "created:2023",
        "functions": "tag:inIgnoreCase(demo,iot) name:not(test)",
        "ranges": "created:2023-01..2023-03",
        "boolean": "(tag:demo OR sql:iot) AND NOT name:test",
    },
}
# One plain and one newer (spec sections 9 to 11) example per kind, for schemas without seed examples.
_KIND_SAMPLES: dict[Kind, tuple[str, str]] = {
    Kind.TEXT: ("demo", "like(demo*)"),
    Kind.EXACT: ("demo", "in(demo,prio1)"),
    Kind.USER: ("@me", "in(@me,users/bob)"),
    Kind.TIME: ("now-P1W/", ">=2020-04"),
    Kind.META: ("x", "gt(5)"),
    Kind.NUMBER: (">=5", "1..5"),
    Kind.BOOLEAN: ("true", "not(true)"),
}


def q_examples(schema: Schema) -> dict[str, str]:
    """Example filters for ``schema``, shown in the OpenAPI description of ``q``.

    The presets get the seeds' examples; another schema gets one per qualifier kind it has.
    """
    if schema.name in _SEED_EXAMPLES:
        return dict(_SEED_EXAMPLES[schema.name])
    examples = {"everything": ""}
    for field in schema.fields:
        sample, newer = _KIND_SAMPLES[field.kind]
        qualifier = f"{field.qualifier}.key" if field.kind is Kind.META else field.qualifier
        examples.setdefault(field.kind.value, f"{qualifier}:{sample}")
        examples.setdefault(f"{field.kind.value}, newer forms", f"{qualifier}:{newer}")
    plain = [value for key, value in examples.items() if value and "," not in key]
    if len(plain) >= 3:
        examples["boolean"] = f"({plain[0]} OR {plain[1]}) AND NOT {plain[2]}"
    elif plain:
        examples["boolean"] = f"{plain[0]} OR NOT {plain[1]}" if len(plain) == 2 else f"NOT {plain[0]}"
    return examples


def _q_description(schema: Schema, user_header: str | None, signed_in: bool = False) -> str:
    me = f"`@me` is the user named by the `{user_header}` header. " if user_header else ""
    if signed_in:
        me = "`@me` is the signed-in user. "
    return (
        "A search filter: space-separated terms `[-]qualifier:matcher[,matcher...]`. "
        "Terms with the same qualifier are OR-ed, different qualifiers AND-ed, a leading `-` excludes, "
        "and the matchers of one term are AND-ed. Quote a matcher that holds spaces, commas, colons or parentheses. "
        f"Functions: {', '.join(f'`{name}()`' for name in FUNCTION_NAMES)} (`tag:in(a,b)`, `tag:not(like(x*))`, "
        "`-tag:exists()`); times also take ranges (`created:>=2020-04`, `created:2020..2021`). "
        "Combine with `AND`, `OR`, `NOT` (upper case) and parentheses: `(tag:a OR name:x) AND NOT tag:old`; "
        "`NOT` binds tighter than `AND`, `AND` tighter than `OR`; terms side by side keep the rules above, "
        'and each parenthesised or `NOT` item is one more AND-ed part. To search for the word, quote it (`"OR"`). '
        f"{me}Qualifiers: {', '.join(f'`{q}`' for q in schema.qualifiers)}. "
        "An empty filter matches everything; a bad one is a 400 that says what is wrong and where."
    )


def _integer_schema(minimum: int, maximum: int, default: int) -> Callable[[dict[str, Any]], None]:
    """Document a parameter as an integer although the route receives its raw text.

    The text is checked by :mod:`qfilter.integrations.listing`, so a bad value gets the same
    400 body in every framework instead of FastAPI's 422.
    """

    def rewrite(json_schema: dict[str, Any]) -> None:
        json_schema.pop("anyOf", None)
        json_schema.update(type="integer", minimum=minimum, maximum=maximum, default=default)

    return rewrite


def _string_schema(json_schema: dict[str, Any]) -> None:
    """Document ``q`` as a string: an absent parameter is not a JSON null."""
    json_schema.pop("anyOf", None)
    json_schema["type"] = "string"


class FilterHTTPException(HTTPException):
    """A 400 whose body is ``body`` itself (with :func:`install_error_handlers`).

    Without those handlers FastAPI still answers 400, with the body under ``detail``.
    """

    def __init__(self, body: Mapping[str, object], status_code: int = listing.ERROR_STATUS) -> None:
        super().__init__(status_code=status_code, detail=dict(body))
        self.body = dict(body)


@dataclass(frozen=True, slots=True)
class RequestFilter:
    """What a filter dependency hands a route: the request's checked filter, compiled, and its ``sort``.

    ``where`` is the SQLAlchemy clause when the :class:`QFilter` has a SQL
    mapping (``None`` otherwise); :meth:`predicate` filters in memory.
    """

    params: listing.FilterParams
    user: str | None
    schema: Schema
    base_url: str
    where: Any = None
    sql_mapping: Any = None

    @property
    def q(self) -> str:
        """The filter text as given (``""`` when absent)."""
        return self.params.q

    @property
    def now(self) -> datetime:
        """The instant ``now`` stood for when the filter was compiled."""
        return self.params.now

    def predicate(self) -> Predicate:
        """The filter as an in-memory predicate over entities."""
        return compile_plan(self.params.plan)

    @property
    def sort(self) -> tuple[SortKey, ...]:
        """The sort keys asked for; empty when the request gives no ``sort``."""
        return self.params.sort

    def order_by(self, id_column: Any, *, default: str = "") -> list[Any]:
        """The SQL ``ORDER BY`` clauses (:func:`qfilter.sql.order_by`): ``sort``, else ``default``, then the id.

        ``default`` is the listing's own order in ``sort=`` syntax (``"name"``).
        """
        from qfilter.sql import order_by

        if self.sql_mapping is None:
            raise ValueError("order_by needs the QFilter's sql_mapping")
        keys = self.params.sort or parse_sort(default, self.schema)
        return order_by(keys, self.schema, self.sql_mapping, id_column=id_column)

    def sorted(self, entities: Iterable[T], *, default: str = "") -> list[T]:
        """``entities`` in the order asked for (``sort``, else ``default``), ties by id, in memory."""
        return sort_entities(entities, self.params.sort or parse_sort(default, self.schema), self.schema)


@dataclass(frozen=True, slots=True)
class RequestListing(RequestFilter):
    """A :class:`RequestFilter` with the page asked for (``limit``, ``offset``)."""

    params: listing.ListingParams

    @property
    def limit(self) -> int:
        """Entities in the page asked for (0..the maximum)."""
        return self.params.limit

    @property
    def offset(self) -> int:
        """Matches skipped before the page."""
        return self.params.offset

    def page(
        self, items: Sequence[Any], *, total: int, items_key: str = "queries", messages: Sequence[Any] = ()
    ) -> dict[str, Any]:
        """The response body (:func:`qfilter.integrations.listing.page_body`) for this page of ``total`` matches."""
        return listing.page_body(
            items, total=total, params=self.params, base_url=self.base_url, items_key=items_key, messages=messages
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


class QFilter:
    """FastAPI dependencies for filtering one kind of entity.

    - :attr:`listing` reads ``q``, ``sort``, ``limit`` and ``offset`` and gives a :class:`RequestListing`;
    - :attr:`filter` reads ``q`` and ``sort`` and gives a :class:`RequestFilter`;
    - :attr:`current_user` gives the current user's id, or ``None``: the
      application's own ``current_user`` dependency's answer when one is
      given, else the ``user_header`` header's value (none when ``None``).

    Each documents its parameters in the OpenAPI description (``q`` with
    examples). ``sql_mapping`` (for :func:`qfilter.sql.compile_clause`) makes
    the dependencies compile the filter to a SQL clause as well (on SQLite,
    call :func:`qfilter.sql.install_sqlite_functions` on the engine); it is
    checked here (:func:`qfilter.sql.check_mapping`), so a qualifier it misses
    or maps onto a column of the wrong type is a ``ValueError`` when the app
    is built, not a 500 at the first request that uses it; ``dialect``
    (``engine.dialect`` or its name), when given, has the clause built for
    that database only, which is cheaper per request. ``clock``
    gives the instant ``now`` stands for (tests pin it). A bad request raises
    a :class:`FilterHTTPException`: a 400 with a :func:`qfilter.integrations.listing.error_body`.
    """

    def __init__(
        self,
        schema: Schema,
        *,
        sql_mapping: Any = None,
        user_header: str | None = DEFAULT_USER_HEADER,
        current_user: Callable[..., Any] | None = None,
        limits: Limits = DEFAULT_LIMITS,
        default_limit: int = listing.DEFAULT_LIMIT,
        max_limit: int = listing.MAX_LIMIT,
        examples: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
        dialect: Any = None,
    ) -> None:
        if sql_mapping is not None:
            from qfilter.sql import check_mapping

            check_mapping(schema, sql_mapping)  # now, not at the first request that uses a bad qualifier
        self.schema = schema
        self.sql_mapping = sql_mapping
        self.dialect = dialect
        self.user_header = None if current_user is not None else user_header
        self.limits = limits
        self.clock = clock or (lambda: datetime.now(UTC))
        self.current_user = self._user_dependency(self.user_header, current_user)
        user_hint = _user_hint(self.user_header, current_user)
        shown = q_examples(schema) if examples is None else dict(examples)
        q_param = Query(
            description=_q_description(schema, self.user_header, signed_in=current_user is not None),
            json_schema_extra=_string_schema,
            openapi_examples={name: {"summary": name, "value": value} for name, value in shown.items()},
        )
        limit_param = Query(
            description=f"The most entities in the page, 0 to {max_limit} (default {default_limit}).",
            json_schema_extra=_integer_schema(0, max_limit, default_limit),
        )
        offset_param = Query(
            description="How many matches to skip (default 0).",
            json_schema_extra=_integer_schema(0, listing.MAX_OFFSET, 0),
        )
        sortable = ", ".join(f.qualifier for f in sortable_fields(schema)) or "none"
        sort_param = Query(
            description=(
                "Comma-separated fields to order by, each optionally prefixed by '-' for descending "
                f"(e.g. -{sortable.split(', ')[0]}); missing values last, ties by id. Sortable: {sortable}."
            ),
            json_schema_extra=_string_schema,
        )
        current_user = self.current_user

        # The parameters are declared for the OpenAPI document; their values are read from the raw
        # query string (listing.read_query_values), where a repeated or non-UTF-8 one is a 400:
        # Starlette would take the last of a repeated one and turn bad bytes into U+FFFD.
        def filter_dependency(
            request: Request,
            user: Annotated[str | None, Depends(current_user)],
            q: Annotated[str | None, q_param] = None,
            sort: Annotated[str | None, sort_param] = None,
        ) -> RequestFilter:
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
                )
            except (FilterError, listing.ParameterError) as error:
                raise self._bad_request(error) from None
            return RequestFilter(params, user, schema, _base_url(request), self._where(params), self.sql_mapping)

        def listing_dependency(
            request: Request,
            user: Annotated[str | None, Depends(current_user)],
            q: Annotated[str | None, q_param] = None,
            limit: Annotated[str | None, limit_param] = None,
            offset: Annotated[str | None, offset_param] = None,
            sort: Annotated[str | None, sort_param] = None,
        ) -> RequestListing:
            try:
                values = listing.read_query_values(request.scope.get("query_string", b""))
                params = listing.read_params(
                    q=values.get("q"),
                    sort=values.get("sort"),
                    limit=values.get("limit"),
                    offset=values.get("offset"),
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
            return RequestListing(params, user, schema, _base_url(request), self._where(params), self.sql_mapping)

        self.filter: Callable[..., RequestFilter] = filter_dependency
        self.listing: Callable[..., RequestListing] = listing_dependency

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
        header = Header(
            alias=user_header,
            max_length=MAX_USER_LENGTH,
            description=(
                "The current user's id, which `@me` in a filter stands for. Nothing checks it: "
                "put it behind something that authenticates."
            ),
        )

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

    def _where(self, params: listing.FilterParams) -> Any:
        if self.sql_mapping is None:
            return None
        from qfilter.sql import compile_clause

        try:
            return compile_clause(params.plan, self.schema, self.sql_mapping, dialect=self.dialect)
        except FilterError as error:
            raise self._bad_request(error) from None


def validation_error_body(error: RequestValidationError) -> dict[str, object]:
    """A 400 body for what FastAPI would answer 422: ``code``, ``message`` and each problem."""
    problems: list[dict[str, object]] = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ())]
        message = str(item.get("msg", "invalid"))
        context = item.get("ctx") or {}
        if isinstance(context.get("error"), str) and context["error"] not in message:
            message = f"{message}: {context['error']}"
        problems.append({"location": ".".join(location), "message": message})
    first = problems[0] if problems else {"location": "request", "message": "invalid request"}
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    body: dict[str, object] = {
        "code": listing.ERROR_STATUS,
        "message": f"{first['location']}: {first['message']}{more}",
        "error": "invalid request",
        "errors": problems,
    }
    return body


async def _filter_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FilterHTTPException)
    return JSONResponse(exc.body, status_code=exc.status_code)


async def _validation_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(validation_error_body(exc), status_code=listing.ERROR_STATUS)


async def _http_exception(request: Request, exc: Exception) -> Response:
    # Starlette's own 404 and 405, and the app's HTTPExceptions: the error shape, with FastAPI's "detail" kept.
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (204, 304):  # no body allowed
        return Response(status_code=exc.status_code, headers=exc.headers)
    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:
        phrase = "error"
    message = exc.detail if isinstance(exc.detail, str) and exc.detail.strip() else phrase
    body = {"code": exc.status_code, "message": message, "detail": exc.detail}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


_INTERNAL_ERROR = 500


async def _unexpected_exception(request: Request, exc: Exception) -> JSONResponse:
    # A bug: Starlette re-raises it after this answer, so the server logs it with its traceback and closes
    # the connection (hence "Connection: close", lest the client send its next request on a dead one).
    # The client learns nothing of it but that it happened (its text may hold SQL, paths or data).
    body = {"code": _INTERNAL_ERROR, "message": "internal error: the server failed to answer this request"}
    return JSONResponse(body, status_code=_INTERNAL_ERROR, headers={"Connection": "close"})


ERROR_BODY_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "integer", "description": "The HTTP status."},
        "message": {"type": "string", "description": "What is wrong, and where."},
        "parameter": {"type": "string", "description": "The request parameter at fault, if one is."},
        "position": {
            "type": ["integer", "null"],
            "description": "For a bad filter: the 0-based character position of the problem in `q`.",
        },
        "hint": {"type": ["string", "null"], "description": "How to fix it, when known."},
        "detail": {"type": "string", "description": "For a bad filter: the filter with a caret under the problem."},
    },
    "additionalProperties": True,
}
"""The JSON schema of every error body (:func:`~qfilter.integrations.listing.error_body`,
:func:`validation_error_body`)."""


def _document_400_not_422(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        for path in document.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses") if isinstance(operation, dict) else None
                if responses is None or "422" not in responses:
                    continue
                del responses["422"]
                responses.setdefault(
                    "400",
                    {
                        "description": "Bad request: a bad parameter, filter or body, named in the message",
                        "content": {"application/json": {"schema": ERROR_BODY_SCHEMA}},
                    },
                )
        document.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
        document.get("components", {}).get("schemas", {}).pop("ValidationError", None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    """Answer bad requests with 400 and a flat JSON body that names the problem, and failures in that shape too.

    A :class:`FilterHTTPException` gets its body as is; FastAPI's request
    validation errors (a bad JSON body, a missing field) become 400 with
    :func:`validation_error_body` instead of 422, and the OpenAPI document
    says so (a 400 with :data:`ERROR_BODY_SCHEMA` where FastAPI would list 422).
    Other HTTP errors (an unknown path's 404, a 405, the app's own
    ``HTTPException``) get the same shape, ``code`` and ``message``, beside
    FastAPI's ``detail``, which stays as the app gave it. An unexpected
    exception is a 500 with that body too (a ``message`` that leaks nothing
    of the exception), not Starlette's plain text; the exception still
    propagates to the server, which logs it.
    """
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(FilterHTTPException, _filter_exception)
    app.add_exception_handler(RequestValidationError, _validation_exception)
    app.add_exception_handler(Exception, _unexpected_exception)
    _document_400_not_422(app)
