"""The Timeplus saved queries resource, ``/api/v1beta2/savedqueries``: a paged list with ``q``, CRUD by id.

:func:`saved_queries_router` makes the routes over an engine, with
Timeplus' fields (the server assigns ``id``, a UUID, and the times, in
Timeplus' UTC ``2023-02-01 23:22:59`` spelling; ``created_by`` and
``last_updated_by`` are Timeplus ``Owner`` objects, :data:`ANONYMOUS_OWNER`
for a write without a user). The list is Timeplus' JSON array, one page of
it: ``limit`` (default :data:`SAVED_QUERIES_PAGE`), ``offset`` and
``cursor`` as the Waylay listing reads them, the way on in a ``Link``
header (``next`` by cursor) and the number of matches in ``X-Total-Count``
(``X-Total-At-Least`` past a capped count's cap, neither without a count).
Each request runs in one transaction
(:mod:`qfilter.service.database`); an update locks the row and changes it
in place.
"""

# No "from __future__ import annotations": FastAPI resolves the routes' Annotated[..., Depends(saved.filter)]
# where `saved` is a local of saved_queries_router.
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response

from qfilter.integrations import listing as pages
from qfilter.integrations.fastapi import QFilter, RequestListing
from qfilter.service import tables as reference
from qfilter.service.database import run_read, run_write
from qfilter.service.errors import NotFound, documented, require_json
from qfilter.service.models import SavedQueryIn, addressable
from qfilter.service.paging import read_page

__all__ = [
    "SAVED_QUERIES_PREFIX",
    "SAVED_QUERIES_PAGE",
    "ANONYMOUS_OWNER",
    "TOTAL_COUNT_HEADER",
    "TOTAL_AT_LEAST_HEADER",
    "link_header",
    "saved_queries_router",
]

SAVED_QUERIES_PREFIX = "/api/v1beta2/savedqueries"
"""Where the Timeplus saved queries live (Timeplus' REST API v1beta2 layout)."""
SAVED_QUERIES_PAGE = pages.MAX_LIMIT
"""Saved queries in a page when the request gives no ``limit``: the most a page may hold.

Timeplus' list has no paging, so its clients ask for no ``limit`` and read
the array as the whole list; the largest page leaves the most of them
whole, and the ``Link`` header has the rest.
"""
ANONYMOUS_OWNER: dict[str, str] = {"id": "anonymous", "name": "anonymous"}
"""The ``created_by``/``last_updated_by`` of a write without a user: Timeplus' ``Owner`` is always an object."""
TOTAL_COUNT_HEADER = "X-Total-Count"
"""The response header of the list that holds the number of matches in all (the body is the bare array)."""
TOTAL_AT_LEAST_HEADER = "X-Total-At-Least"
"""The header that holds the most the list knows there are, in place of the total, past a capped count's cap."""


def _owner(user: str | None) -> dict[str, str]:
    return {"id": user} if user else dict(ANONYMOUS_OWNER)


def link_header(links: Mapping[str, Mapping[str, str]]) -> str:
    """A listing's ``_links`` as an HTTP ``Link`` header (RFC 8288): ``<href>; rel="next", ...``."""
    return ", ".join(f'<{link["href"]}>; rel="{rel}"' for rel, link in links.items())


def _no_such(id: str) -> NotFound:
    return NotFound(f"no saved query with id {id!r}")


def saved_queries_router(engine: sa.Engine, *, saved: QFilter, clock: Callable[[], datetime]) -> APIRouter:
    """The routes of ``/api/v1beta2/savedqueries`` over ``engine``.

    ``saved`` (a :class:`QFilter` of the Timeplus schema with the
    ``TIMEPLUS_SQL`` mapping) reads the filter and the current user.
    """
    router = APIRouter(prefix=SAVED_QUERIES_PREFIX, tags=["saved queries"])
    User = Annotated[str | None, Depends(saved.current_user)]

    def timeplus_time() -> str:
        return clock().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    @router.get(
        "",
        summary="List saved queries",
        description=(
            "One page of the saved queries that match `q`, as a JSON array. The number of matches in all is "
            f"the `{TOTAL_COUNT_HEADER}` header (`{TOTAL_AT_LEAST_HEADER}` when the service caps its counts and "
            "more match); the `Link` header has the `self`, `first`, `prev`, `next` (by cursor) and `last` pages, "
            "where they apply."
        ),
        responses={200: {"model": list[dict[str, Any]], "description": "One page of the matches"}, **documented(503)},
    )
    def list_saved(search: Annotated[RequestListing, Depends(saved.listing)]) -> Any:
        items, total = read_page(  # the page and its count from one snapshot
            engine,
            search,
            table=reference.TIMEPLUS_TABLE,
            id_column=reference.TIMEPLUS_TABLE.c.id,
            select=reference.select_saved_queries,
        )
        body = search.page(items, total=total)
        headers = {"Link": link_header(body["_links"])}
        if "total" in body:
            headers[TOTAL_COUNT_HEADER] = str(body["total"])
        elif "total_at_least" in body:
            headers[TOTAL_AT_LEAST_HEADER] = str(body["total_at_least"])
        return JSONResponse(body["items"], headers=headers)

    @router.post(
        "",
        status_code=201,
        summary="Create a saved query",
        responses=documented(415, 503),
        dependencies=[Depends(require_json)],
    )
    def create_saved(body: Annotated[SavedQueryIn, Body()], user: User, request: Request, response: Response) -> Any:
        moment = timeplus_time()
        who = _owner(user)
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
            "last_updated_by": _owner(user),
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
