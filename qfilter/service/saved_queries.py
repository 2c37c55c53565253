"""The Timeplus saved queries resource, ``/api/v1beta2/savedqueries``: list with ``q``, CRUD by id.

:func:`saved_queries_router` makes the routes over an engine, with
Timeplus' fields (the server assigns ``id``, a UUID, and the times, in
Timeplus' UTC ``2023-02-01 23:22:59`` spelling). Each request runs in one
transaction (:mod:`qfilter.service.database`); an update locks the row and
changes it in place.
"""

# No "from __future__ import annotations": FastAPI resolves the routes' Annotated[..., Depends(saved.filter)]
# where `saved` is a local of saved_queries_router.
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response

from qfilter.integrations.fastapi import QFilter, RequestFilter
from qfilter.service import tables as reference
from qfilter.service.database import run_read, run_write
from qfilter.service.errors import NotFound, documented, require_json
from qfilter.service.models import SavedQueryIn, addressable

__all__ = ["SAVED_QUERIES_PREFIX", "saved_queries_router"]

SAVED_QUERIES_PREFIX = "/api/v1beta2/savedqueries"
"""Where the Timeplus saved queries live (Timeplus' REST API v1beta2 layout)."""


def _no_such(id: str) -> NotFound:
    return NotFound(f"no saved query with id {id!r}")


def saved_queries_router(engine: sa.Engine, *, saved: QFilter, clock: Callable[[], datetime]) -> APIRouter:
    """The routes of ``/api/v1beta2/savedqueries`` over ``engine``.

    ``saved`` (a :class:`QFilter` of the Timeplus schema with the
    ``TIMEPLUS_SQL`` mapping) reads the filter and the current user.
    """
    router = APIRouter(prefix=SAVED_QUERIES_PREFIX, tags=["saved queries"])
    User = Annotated[str | None, Depends(saved.current_user)]
    ordered_by_name = reference.order_by_name(engine.dialect.name)

    def timeplus_time() -> str:
        return clock().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    @router.get("", summary="List saved queries", responses=documented(503))
    def list_saved(search: Annotated[RequestFilter, Depends(saved.filter)]) -> Any:
        order = search.order_by(reference.TIMEPLUS_TABLE.c.id) if search.sort else None
        return run_read(
            engine,
            lambda conn: reference.select_saved_queries(conn, search.where, order_by=ordered_by_name, order=order),
        )

    @router.post(
        "",
        status_code=201,
        summary="Create a saved query",
        responses=documented(415, 503),
        dependencies=[Depends(require_json)],
    )
    def create_saved(body: Annotated[SavedQueryIn, Body()], user: User, request: Request, response: Response) -> Any:
        moment = timeplus_time()
        who = {"id": user} if user else None
        item = {
            "id": str(uuid.uuid4()),
            **body.model_dump(),
            "created_at": moment,
            "created_by": who,
            "last_updated_at": moment,
            "last_updated_by": who,
        }

        def create(conn: sa.Connection) -> dict[str, Any] | None:
            reference.insert_saved_queries(conn, [item])
            return reference.get_saved_query(conn, item["id"])  # as a GET will show it

        stored = run_write(engine, create)
        response.headers["Location"] = f"{str(request.base_url).rstrip('/')}{SAVED_QUERIES_PREFIX}/{item['id']}"
        return stored

    @router.get("/{id}", summary="Get a saved query", responses=documented(404, 503))
    def get_saved(id: str) -> Any:
        item = run_read(engine, lambda conn: reference.get_saved_query(conn, id)) if addressable(id) else None
        if item is None:
            raise _no_such(id)
        return item

    @router.put(
        "/{id}",
        summary="Update a saved query",
        responses=documented(404, 415, 503),
        dependencies=[Depends(require_json)],
    )
    def update_saved(id: str, body: Annotated[SavedQueryIn, Body()], user: User) -> Any:
        if not addressable(id):
            raise _no_such(id)
        changes = {
            **body.model_dump(),
            "last_updated_at": timeplus_time(),
            "last_updated_by": {"id": user} if user else None,
        }

        def update(conn: sa.Connection) -> dict[str, Any] | None:
            old = reference.lock_saved_query(conn, id)
            if old is None:
                raise _no_such(id)
            reference.replace_saved_query(conn, {**old, **changes})
            return reference.get_saved_query(conn, id)

        return run_write(engine, update)

    @router.delete("/{id}", status_code=204, summary="Delete a saved query", responses=documented(404, 503))
    def delete_saved(id: str) -> Response:
        if not addressable(id) or not run_write(engine, lambda conn: reference.delete_saved_query(conn, id)):
            raise _no_such(id)
        return Response(status_code=204)

    return router
