"""The reference listing service behind ``qfilter serve``.

A FastAPI application over SQLAlchemy (a SQLite file by default, PostgreSQL
by URL) that serves two resources, both filtered in SQL with the compiled
``q`` clause of :mod:`qfilter.sql`:

- Waylay time series query entities, ``/config/query``: the search API of
  the Waylay docs (``q``, ``limit``, ``offset``; paged body with ``_links``),
  plus create, read, replace and delete of one entity by name;
- Timeplus saved queries, ``/api/v1beta2/savedqueries``: list (with ``q``),
  create, get, update and delete by id, with Timeplus' fields and error body.

The current user, whom ``@me`` stands for and who is recorded as creator or
modifier, is whatever the ``X-User-Id`` request header says. There is no
other authentication: this service is a reference and a demo, not something
to expose.
"""

import math
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import Body, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    field_validator,
    model_validator,
)
from starlette.exceptions import HTTPException as StarletteHTTPException

from qfilter.core.schema import TIMEPLUS, WAYLAY
from qfilter.integrations.fastapi import (
    DEFAULT_USER_HEADER,
    ERROR_BODY_SCHEMA,
    QFilter,
    RequestFilter,
    RequestListing,
    install_error_handlers,
)
from qfilter.service import tables as reference
from qfilter.service.demo import demo_entities
from qfilter.sql import install_sqlite_functions

__all__ = [
    "WAYLAY_PREFIX",
    "SAVED_QUERIES_PREFIX",
    "create_app",
    "open_database",
    "default_database_url",
    "load_entities",
    "serve_in_thread",
]

WAYLAY_PREFIX = "/config/query"
"""Where the Waylay query entities live (the Waylay search API's path)."""
SAVED_QUERIES_PREFIX = "/api/v1beta2/savedqueries"
"""Where the Timeplus saved queries live (Timeplus' REST API v1beta2 layout)."""

_MAX_NAME = 255  # characters; keeps the unique index on names within every database's key size
_MAX_LABEL = 255  # characters of a tag, resource or user id: they are indexed, and index entries are bounded
_MAX_DEPTH = 32  # nesting of JSON bodies: deeper is no query entity, only a way to exhaust the stack


# -- request bodies --------------------------------------------------------------------------------


def _check_json(value: Any, depth: int = 0) -> None:
    """Reject what a JSON column cannot store: NUL characters, NaN and infinities, absurd nesting."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"nested deeper than {_MAX_DEPTH} levels")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_json(key, depth + 1)
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)


def _check_name(name: str) -> str:
    if any(ch == "/" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise ValueError("a name must not contain '/' or control characters (it is part of the entity's URL)")
    if name.strip(".") == "" or name != name.strip():
        raise ValueError("a name must not be only dots, nor start or end with white space")
    return name


Label = Annotated[str, Field(max_length=_MAX_LABEL)]
"""A tag or resource id: text of at most 255 characters."""


class _JsonChecked(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def storable(cls, data: Any) -> Any:
        _check_json(data)
        return data


class WaylayMeta(_JsonChecked):
    """The ``meta`` object of a query entity: free-form, with ``tags`` and ``resource`` typed."""

    model_config = ConfigDict(extra="allow")
    tags: list[Label] | None = None
    resource: Label | None = None


class WaylayDataItem(_JsonChecked):
    """One series of a query's ``data`` list."""

    model_config = ConfigDict(extra="allow")
    resource: Label | None = None


class WaylayQueryDefinition(_JsonChecked):
    """The ``query`` object of a query entity: free-form, with the resource references typed."""

    model_config = ConfigDict(extra="allow")
    resource: Label | None = None
    data: list[WaylayDataItem] | None = None


class WaylayQueryIn(_JsonChecked):
    """A query entity as a client sends it; ``attrs`` and ``_links`` are the server's, so ignored."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "name": "151CF-temperature",
                    "meta": {"name": "temperature", "tags": ["imported"], "resource": "151CF"},
                    "query": {"resource": "151CF", "metric": "temperature", "freq": "PT1H"},
                }
            ]
        },
    )
    name: str | None = Field(default=None, min_length=1, max_length=_MAX_NAME)
    meta: WaylayMeta | None = None
    query: WaylayQueryDefinition | None = None

    @field_validator("name")
    @classmethod
    def addressable(cls, name: str | None) -> str | None:
        return None if name is None else _check_name(name)

    _sent: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def keep_as_sent(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        # The model checks the shape; the entity is stored as the client wrote it (key order, nulls).
        model = handler(data)
        if isinstance(data, Mapping):
            model._sent = dict(data)
        return model

    def entity(self) -> dict[str, Any]:
        """The entity to store: as sent, without the server-managed ``attrs`` and ``_links``."""
        return {key: value for key, value in self._sent.items() if key not in ("attrs", "_links")}


class WaylayQueryCreate(WaylayQueryIn):
    """A new query entity: like a replacement, but the name is required."""

    name: str = Field(min_length=1, max_length=_MAX_NAME)

    @field_validator("name")
    @classmethod
    def addressable(cls, name: str | None) -> str | None:
        return None if name is None else _check_name(name)


class SavedQueryIn(_JsonChecked):
    """A Timeplus saved query as a client creates or updates it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "streaming_iot",
                    "description": "get the latest data from iot stream",
                    "sql": "select * from iot",
                    "tags": ["iot"],
                }
            ]
        }
    )
    name: str = Field(min_length=1, max_length=_MAX_NAME)
    sql: str
    description: str = ""
    tags: list[Label] = Field(default_factory=list)


# -- storage -----------------------------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(UTC)


def default_database_url() -> str:
    """The SQLite file ``qfilter serve`` uses without ``--db``: under the user's cache directory."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qfilter"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        probe = cache / ".write-test"
        probe.touch()
        probe.unlink()
    except OSError:  # a read-only home: the temp directory still works
        cache = Path(tempfile.gettempdir()) / "qfilter"
        cache.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{cache / 'qfilter-demo.sqlite3'}"


def open_database(url: str, *, demo: bool = True) -> sa.Engine:
    """An engine on ``url`` with the service's tables, created if missing.

    When the tables are created here (the first start on that database) and
    ``demo`` is true, the bundled demo dataset is loaded into them.
    """
    engine = sa.create_engine(url)
    install_sqlite_functions(engine)  # before the first connection: SQLite needs Python's lower()
    first_start = not sa.inspect(engine).has_table(reference.WAYLAY_TABLE.name)
    reference.METADATA.create_all(engine)
    if first_start and demo:
        load_entities(engine, demo_entities())
    return engine


def load_entities(engine: sa.Engine, entities: Sequence[Mapping[str, Any]]) -> int:
    """Store Waylay query entities, replacing those with the same name; returns how many."""
    checked = [_loaded_entity(entity, index) for index, entity in enumerate(entities)]
    with engine.begin() as conn:
        for entity in checked:
            reference.delete_waylay_query(conn, entity["name"])
        reference.insert_waylay_queries(conn, checked)
    return len(checked)


def _loaded_entity(entity: Any, index: int) -> dict[str, Any]:
    """An entity of a loaded file: the same checks as a POST, but its ``attrs`` are kept."""
    if not isinstance(entity, Mapping):
        raise ValueError(f"entity {index}: expected a JSON object")
    try:
        checked = WaylayQueryIn.model_validate(entity).entity()
    except ValueError as error:
        raise ValueError(f"entity {index}: {error}") from None
    if checked.get("name") is None:
        raise ValueError(f"entity {index}: has no name")
    if isinstance(entity.get("attrs"), Mapping):
        _check_json(entity["attrs"])
        checked["attrs"] = dict(entity["attrs"])
    return checked


# -- the application ---------------------------------------------------------------------------------


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": status, "message": message}, status_code=status, headers=headers)


class _NotFound(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


class _Conflict(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def _documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    meaning = {404: "No such entity", 409: "An entity of that name exists"}
    content = {"application/json": {"schema": ERROR_BODY_SCHEMA}}
    return {status: {"description": meaning[status], "content": content} for status in statuses}


def _allowed_methods(app: FastAPI, scope: Mapping[str, Any]) -> str:
    """Every method some route serves on this path (Starlette's 405 names only the first route's)."""
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, APIRoute) and route.path_regex.fullmatch(scope.get("path", "")):
            methods |= route.methods or set()
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def _origin(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _with_links(entity: Mapping[str, Any], origin: str) -> dict[str, Any]:
    href = f"{origin}{WAYLAY_PREFIX}/{quote(entity['name'], safe='')}"
    return {**entity, "_links": {"self": {"href": href}}}


def create_app(
    engine: sa.Engine,
    *,
    user_header: str = DEFAULT_USER_HEADER,
    clock: Callable[[], datetime] = _utc_now,
) -> FastAPI:
    """The service over ``engine`` (whose tables :func:`open_database` made).

    ``user_header`` names the request header that holds the current user;
    ``clock`` gives ``now`` for filters and the times recorded on writes.
    """
    app = FastAPI(
        title="qfilter reference listing service",
        version="1",
        description=(
            "Waylay query search (`/config/query`) and Timeplus saved queries "
            f"(`{SAVED_QUERIES_PREFIX}`), filtered with the `q` language in SQL. The current user, "
            f"for `@me` and for recording who changed what, is the `{user_header}` header. "
            "**No authentication**: whoever can reach the service can read and change everything."
        ),
    )
    install_error_handlers(app)
    waylay = QFilter(WAYLAY, sql_mapping=reference.WAYLAY_SQL, user_header=user_header, clock=clock)
    saved = QFilter(TIMEPLUS, sql_mapping=reference.TIMEPLUS_SQL, user_header=user_header, clock=clock)
    User = Annotated[str | None, Depends(waylay.current_user)]
    ordered_by_name = reference.order_by_name(engine.dialect.name)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Every error, 404 and 405 too, in Timeplus' shape: code and message.
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(app, request.scope)
        return _error(exc.status_code, str(exc.detail), headers)

    @app.exception_handler(_NotFound)
    async def not_found(request: Request, exc: _NotFound) -> Response:
        return _error(404, exc.message)

    @app.exception_handler(_Conflict)
    async def conflict(request: Request, exc: _Conflict) -> Response:
        return _error(409, exc.message)

    @app.get("/", summary="What this service offers")
    def index(request: Request) -> dict[str, Any]:
        origin = _origin(request)
        return {
            "service": "qfilter reference listing service",
            "authentication": f"none; the current user is the {user_header} header",
            "_links": {
                "queries": {"href": f"{origin}{WAYLAY_PREFIX}"},
                "savedqueries": {"href": f"{origin}{SAVED_QUERIES_PREFIX}"},
                "openapi": {"href": f"{origin}/openapi.json"},
                "docs": {"href": f"{origin}/docs"},
            },
        }

    # -- Waylay query entities ---------------------------------------------------------------------

    @app.get(WAYLAY_PREFIX, summary="List and search query entities", tags=["queries"])
    def list_queries(listing: Annotated[RequestListing, Depends(waylay.listing)], request: Request) -> Any:
        with engine.connect() as conn:
            page, total = reference.select_waylay_page(
                conn, listing.where, offset=listing.offset, limit=listing.limit, order_by=ordered_by_name
            )
        origin = _origin(request)
        return listing.page([_with_links(entity, origin) for entity in page], total=total)

    def _stamp(entity: dict[str, Any], user: str | None, *, created: Mapping[str, Any] | None = None) -> None:
        moment = clock().isoformat()
        attrs: dict[str, Any] = {}
        if created is None:
            attrs["created"] = moment
            if user:
                attrs["created_by"] = user
        else:
            attrs.update({k: v for k, v in created.items() if k in ("created", "created_by")})
            attrs["modified"] = moment
            if user:
                attrs["modified_by"] = user
        entity["attrs"] = attrs

    @app.post(
        WAYLAY_PREFIX, status_code=201, summary="Create a query entity", tags=["queries"], responses=_documented(409)
    )
    def create_query(
        body: Annotated[WaylayQueryCreate, Body()], user: User, request: Request, response: Response
    ) -> Any:
        entity = body.entity()
        _stamp(entity, user)
        with engine.begin() as conn:
            if reference.get_waylay_query(conn, entity["name"]) is not None:
                raise _Conflict(f"a query named {entity['name']!r} exists")
            reference.insert_waylay_queries(conn, [entity])
        result = _with_links(entity, _origin(request))
        response.headers["Location"] = result["_links"]["self"]["href"]
        return result

    @app.get(WAYLAY_PREFIX + "/{name}", summary="Read a query entity", tags=["queries"], responses=_documented(404))
    def read_query(name: str, request: Request) -> Any:
        with engine.connect() as conn:
            entity = reference.get_waylay_query(conn, name)
        if entity is None:
            raise _NotFound(f"no query named {name!r}")
        return _with_links(entity, _origin(request))

    @app.put(WAYLAY_PREFIX + "/{name}", summary="Replace a query entity", tags=["queries"], responses=_documented(404))
    def replace_query(name: str, body: Annotated[WaylayQueryIn, Body()], user: User, request: Request) -> Any:
        entity = body.entity()
        if entity.get("name") is None:
            entity["name"] = name
        if entity["name"] != name:
            return _error(400, f"body.name: {entity['name']!r} differs from the name in the URL, {name!r}")
        with engine.begin() as conn:
            old = reference.get_waylay_query(conn, name)
            if old is None:
                raise _NotFound(f"no query named {name!r}")
            _stamp(entity, user, created=old.get("attrs") or {})
            reference.delete_waylay_query(conn, name)
            reference.insert_waylay_queries(conn, [entity])
        return _with_links(entity, _origin(request))

    @app.delete(
        WAYLAY_PREFIX + "/{name}",
        status_code=204,
        summary="Delete a query entity",
        tags=["queries"],
        responses=_documented(404),
    )
    def delete_query(name: str) -> Response:
        with engine.begin() as conn:
            if not reference.delete_waylay_query(conn, name):
                raise _NotFound(f"no query named {name!r}")
        return Response(status_code=204)

    # -- Timeplus saved queries --------------------------------------------------------------------

    def _timeplus_time() -> str:
        return clock().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    @app.get(SAVED_QUERIES_PREFIX, summary="List saved queries", tags=["saved queries"])
    def list_saved(search: Annotated[RequestFilter, Depends(saved.filter)]) -> Any:
        with engine.connect() as conn:
            return reference.select_saved_queries(conn, search.where, order_by=ordered_by_name)

    @app.post(SAVED_QUERIES_PREFIX, status_code=201, summary="Create a saved query", tags=["saved queries"])
    def create_saved(body: Annotated[SavedQueryIn, Body()], user: User, request: Request, response: Response) -> Any:
        moment = _timeplus_time()
        who = {"id": user} if user else None
        item = {
            "id": str(uuid.uuid4()),
            **body.model_dump(),
            "created_at": moment,
            "created_by": who,
            "last_updated_at": moment,
            "last_updated_by": who,
        }
        with engine.begin() as conn:
            reference.insert_saved_queries(conn, [item])
            stored = reference.get_saved_query(conn, item["id"])  # as a GET will show it
        response.headers["Location"] = f"{_origin(request)}{SAVED_QUERIES_PREFIX}/{item['id']}"
        return stored

    @app.get(
        SAVED_QUERIES_PREFIX + "/{id}", summary="Get a saved query", tags=["saved queries"], responses=_documented(404)
    )
    def get_saved(id: str) -> Any:
        with engine.connect() as conn:
            item = reference.get_saved_query(conn, id)
        if item is None:
            raise _NotFound(f"no saved query with id {id!r}")
        return item

    @app.put(
        SAVED_QUERIES_PREFIX + "/{id}",
        summary="Update a saved query",
        tags=["saved queries"],
        responses=_documented(404),
    )
    def update_saved(id: str, body: Annotated[SavedQueryIn, Body()], user: User) -> Any:
        with engine.begin() as conn:
            old = reference.get_saved_query(conn, id)
            if old is None:
                raise _NotFound(f"no saved query with id {id!r}")
            item = {
                **old,
                **body.model_dump(),
                "last_updated_at": _timeplus_time(),
                "last_updated_by": {"id": user} if user else None,
            }
            reference.delete_saved_query(conn, id)
            reference.insert_saved_queries(conn, [item])
            return reference.get_saved_query(conn, id)

    @app.delete(
        SAVED_QUERIES_PREFIX + "/{id}",
        status_code=204,
        summary="Delete a saved query",
        tags=["saved queries"],
        responses=_documented(404),
    )
    def delete_saved(id: str) -> Response:
        with engine.begin() as conn:
            if not reference.delete_saved_query(conn, id):
                raise _NotFound(f"no saved query with id {id!r}")
        return Response(status_code=204)

    return app


# -- running -----------------------------------------------------------------------------------------


@contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yields its base URL (``http://host:port``).

    ``port`` 0 takes a free port. The server stops when the block ends. For
    tests and notebooks; ``qfilter serve`` runs uvicorn in the foreground.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the server stopped before it started")
            time.sleep(0.01)
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


def serve(url: str | None, entities: Sequence[Mapping[str, Any]] | None, host: str, port: int) -> None:
    """What ``qfilter serve`` does: open the database, store ``entities`` if given, serve until interrupted.

    Without ``url``, a SQLite file under the user's cache directory; the demo
    dataset is loaded when the database is new and no ``entities`` are given.
    """
    import uvicorn

    engine = open_database(url or default_database_url(), demo=entities is None)
    if entities is not None:
        load_entities(engine, entities)
    print(f"qfilter serve: database {engine.url.render_as_string(hide_password=True)}", flush=True)
    print(f"qfilter serve: try  curl 'http://{host}:{port}{WAYLAY_PREFIX}?q=tag:demo'", flush=True)
    uvicorn.run(create_app(engine), host=host, port=port)
