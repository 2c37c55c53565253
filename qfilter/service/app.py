"""The reference listing service behind ``qfilter serve``: :func:`create_app` assembles it.

A FastAPI application over SQLAlchemy (a SQLite file by default, PostgreSQL
by URL) that serves two resources, both filtered in SQL with the compiled
``q`` clause of :mod:`qfilter.sql`, one router each:

- Waylay time series query entities, ``/config/query`` and
  ``/queries/v1/query`` (:mod:`qfilter.service.waylay`): the search API of
  the Waylay docs (``q``, ``sort``, ``limit``, ``offset``; paged body with
  ``_links``), plus create, read, replace and delete of one entity by name,
  under the Waylay search API's path and under the current one that Waylay's SDK calls;
- Timeplus saved queries, ``/api/v1beta2/savedqueries``
  (:mod:`qfilter.service.saved_queries`): list (with ``q``, ``sort``,
  ``limit``, ``offset``), create, get, update and delete by id, with
  Timeplus' fields and error body.

Around them: the JSON error body for every error
(:mod:`qfilter.service.errors`), checks on every request's size and user
header (:mod:`qfilter.service.guards`) and Swagger UI served from local files
(:mod:`qfilter.service.swagger`). The app keeps no state but the engine, so
several processes can serve one database; :func:`app_from_env` is the
factory their servers call.

The current user, whom ``@me`` stands for and who is recorded as creator or
modifier, is whatever the ``X-User-Id`` request header says. There is no
other authentication: this service is a reference and a demo, not something
to expose.
"""

import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request

from qfilter.core.schema import TIMEPLUS, WAYLAY
from qfilter.integrations.fastapi import DEFAULT_USER_HEADER, QFilter
from qfilter.integrations.listing import EXACT_COUNT, Counting, read_counting
from qfilter.service import tables as reference
from qfilter.service.database import default_database_url, load_entities, open_database
from qfilter.service.errors import install_service_errors
from qfilter.service.guards import BODY_TIMEOUT_SECONDS, RequestGuard
from qfilter.service.saved_queries import SAVED_QUERIES_PAGE, SAVED_QUERIES_PREFIX, saved_queries_router
from qfilter.service.swagger import install_docs
from qfilter.service.waylay import QUERIES_V1_PREFIX, WAYLAY_APIS, WAYLAY_PREFIX, waylay_router

__all__ = [
    "WAYLAY_PREFIX",
    "QUERIES_V1_PREFIX",
    "SAVED_QUERIES_PREFIX",
    "DATABASE_URL_VARIABLE",
    "COUNT_VARIABLE",
    "CURSOR_KEY_VARIABLE",
    "APP_FACTORY",
    "create_app",
    "app_from_env",
    # Re-exported from qfilter.service.database, where they live:
    "open_database",
    "default_database_url",
    "load_entities",
]

DATABASE_URL_VARIABLE = "QFILTER_DATABASE_URL"
"""The environment variable :func:`app_from_env` reads the database URL from."""
COUNT_VARIABLE = "QFILTER_COUNT"
"""The environment variable :func:`app_from_env` reads how listings count from (``exact``, ``capped:N``, ``none``)."""
CURSOR_KEY_VARIABLE = "QFILTER_CURSOR_KEY"
"""The environment variable that holds the key cursors are signed with (at least 16 bytes of text).

Every process serving one database behind one address needs the same key,
or a cursor one of them made is a 400 at another; without it each app
makes a key of its own at start (``qfilter serve --workers N`` makes one
and hands it to its workers)."""
APP_FACTORY = "qfilter.service.app:app_from_env"
"""The import string of :func:`app_from_env`, for ``uvicorn --factory`` and ``gunicorn``."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    engine: sa.Engine,
    *,
    user_header: str = DEFAULT_USER_HEADER,
    clock: Callable[[], datetime] = _utc_now,
    body_timeout: float = BODY_TIMEOUT_SECONDS,
    count: Counting = EXACT_COUNT,
    cursor_key: bytes | str | None = None,
) -> FastAPI:
    """The service over ``engine`` (whose tables :func:`open_database` made).

    ``user_header`` names the request header that holds the current user;
    ``clock`` gives ``now`` for filters and the times recorded on writes;
    ``body_timeout`` is how many seconds a request body may take to arrive
    whole (:class:`~qfilter.service.guards.RequestGuard`: a 408 after that).
    ``count`` is how the listings count their matches (exact, the Waylay
    API's ``total``, by default); ``cursor_key`` signs their cursors (a
    random key of this app's own without it: see :data:`CURSOR_KEY_VARIABLE`).
    """
    app = FastAPI(
        title="qfilter reference listing service",
        version="1",
        description=(
            f"Waylay query search (`{WAYLAY_PREFIX}`, and `{QUERIES_V1_PREFIX}` as Waylay's queries SDK calls it) "
            "and Timeplus saved queries "
            f"(`{SAVED_QUERIES_PREFIX}`), filtered with the `q` language in SQL. The current user, "
            f"for `@me` and for recording who changed what, is the `{user_header}` header. "
            "**No authentication**: whoever can reach the service can read and change everything."
        ),
        docs_url=None,  # install_docs serves /docs from local files instead of a CDN
        redoc_url=None,  # ReDoc loads from a CDN; no package ships it alone
    )
    install_service_errors(app)
    install_docs(app)
    app.add_middleware(RequestGuard, user_header=user_header, body_timeout=body_timeout)
    dialect = engine.dialect  # each filter's clause is built for this database only
    key = secrets.token_bytes(32) if cursor_key is None else cursor_key
    waylay = QFilter(
        WAYLAY,
        sql_mapping=reference.WAYLAY_SQL,
        user_header=user_header,
        clock=clock,
        dialect=dialect,
        count=count,
        cursor_key=key,
    )
    saved = QFilter(
        TIMEPLUS,
        sql_mapping=reference.TIMEPLUS_SQL,
        user_header=user_header,
        clock=clock,
        dialect=dialect,
        default_limit=SAVED_QUERIES_PAGE,
        default_sort="name",
        count=count,
        cursor_key=key,
    )

    @app.get("/", summary="What this service offers")
    def index(request: Request) -> dict[str, Any]:
        origin = str(request.base_url).rstrip("/")
        return {
            "service": "qfilter reference listing service",
            "authentication": f"none; the current user is the {user_header} header",
            "_links": {
                "queries": {"href": f"{origin}{WAYLAY_PREFIX}"},
                "queries_v1": {"href": f"{origin}{QUERIES_V1_PREFIX}"},
                "savedqueries": {"href": f"{origin}{SAVED_QUERIES_PREFIX}"},
                "openapi": {"href": f"{origin}/openapi.json"},
                "docs": {"href": f"{origin}/docs"},
            },
        }

    for api in WAYLAY_APIS:  # one set of handlers, built once per path
        app.include_router(waylay_router(engine, waylay=waylay, clock=clock, api=api))
    app.include_router(saved_queries_router(engine, saved=saved, clock=clock))
    return app


def app_from_env() -> FastAPI:
    """The service on the database named by ``$QFILTER_DATABASE_URL`` (else the default SQLite file).

    The app factory for servers that start the app in worker processes of
    their own: ``uvicorn --factory qfilter.service.app:app_from_env``, or
    ``qfilter serve --workers N``. Missing tables are created (one process
    does it when several start at once); no data is loaded. How listings
    count is ``$QFILTER_COUNT`` (exact without it), the cursors' key
    ``$QFILTER_CURSOR_KEY`` (:data:`CURSOR_KEY_VARIABLE`).
    """
    count = read_counting(os.environ.get(COUNT_VARIABLE) or "exact")
    key = os.environ.get(CURSOR_KEY_VARIABLE) or None
    engine = open_database(os.environ.get(DATABASE_URL_VARIABLE) or default_database_url(), demo=False)
    return create_app(engine, count=count, cursor_key=key)
