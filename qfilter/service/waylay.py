"""The Waylay query entities resource, ``/config/query``: search (``q``, ``limit``, ``offset``) and CRUD by name.

:func:`waylay_router` makes the routes over an engine. Each request runs in
one transaction (:mod:`qfilter.service.database`): a create is one
``INSERT`` whose unique-name violation is the 409, so two racing creates of
one name give one 201 and one 409; a replace or delete locks the entity's
row first. A name that no entity can have (a NUL, 256 characters, ``..``)
is a 404 without a query.
"""

# No "from __future__ import annotations": FastAPI resolves the routes' Annotated[..., Depends(waylay.listing)]
# where `waylay` is a local of waylay_router.
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response

from qfilter.integrations.fastapi import QFilter, RequestListing
from qfilter.service import tables as reference
from qfilter.service.database import run_read, run_write
from qfilter.service.errors import Conflict, NotFound, documented, error_response, require_json
from qfilter.service.models import WaylayQueryCreate, WaylayQueryIn, addressable

__all__ = ["WAYLAY_PREFIX", "waylay_router"]

WAYLAY_PREFIX = "/config/query"
"""Where the Waylay query entities live (the Waylay search API's path)."""


def _origin(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _with_links(entity: Mapping[str, Any], origin: str) -> dict[str, Any]:
    href = f"{origin}{WAYLAY_PREFIX}/{quote(entity['name'], safe='')}"
    return {**entity, "_links": {"self": {"href": href}}}


def _stamp(
    entity: dict[str, Any], user: str | None, moment: datetime, *, created: Mapping[str, Any] | None = None
) -> None:
    """Set the server's ``attrs``: created (and by whom) on a create; kept, plus modified, on a replace."""
    attrs: dict[str, Any] = {}
    if created is None:
        attrs["created"] = moment.isoformat()
        if user:
            attrs["created_by"] = user
    else:
        attrs.update({k: v for k, v in created.items() if k in ("created", "created_by")})
        attrs["modified"] = moment.isoformat()
        if user:
            attrs["modified_by"] = user
    entity["attrs"] = attrs


def _no_such(name: str) -> NotFound:
    return NotFound(f"no query named {name!r}")


def waylay_router(engine: sa.Engine, *, waylay: QFilter, clock: Callable[[], datetime]) -> APIRouter:
    """The routes of ``/config/query`` over ``engine``; ``waylay`` reads the filter and the user."""
    router = APIRouter(prefix=WAYLAY_PREFIX, tags=["queries"])
    User = Annotated[str | None, Depends(waylay.current_user)]
    ordered_by_name = reference.order_by_name(engine.dialect.name)

    @router.get("", summary="List and search query entities", responses=documented(503))
    def list_queries(listing: Annotated[RequestListing, Depends(waylay.listing)], request: Request) -> Any:
        # sort= when given (its keys, then the name), else by name as before.
        order = listing.order_by(reference.WAYLAY_TABLE.c.name) if listing.sort else None
        page, total = run_read(
            engine,
            lambda conn: reference.select_waylay_page(
                conn,
                listing.where,
                offset=listing.offset,
                limit=listing.limit,
                order_by=ordered_by_name,
                order=order,
            ),
        )
        origin = _origin(request)
        return listing.page([_with_links(entity, origin) for entity in page], total=total)

    @router.post(
        "",
        status_code=201,
        summary="Create a query entity",
        responses=documented(409, 415, 503),
        dependencies=[Depends(require_json)],
    )
    def create_query(
        body: Annotated[WaylayQueryCreate, Body()], user: User, request: Request, response: Response
    ) -> Any:
        entity = body.entity()
        _stamp(entity, user, clock())
        try:
            run_write(engine, lambda conn: reference.insert_waylay_queries(conn, [entity]))
        except sa.exc.IntegrityError:  # the name is taken, whenever the other create committed
            raise Conflict(f"a query named {entity['name']!r} exists") from None
        result = _with_links(entity, _origin(request))
        response.headers["Location"] = result["_links"]["self"]["href"]
        return result

    @router.get("/{name}", summary="Read a query entity", responses=documented(404, 503))
    def read_query(name: str, request: Request) -> Any:
        entity = run_read(engine, lambda conn: reference.get_waylay_query(conn, name)) if addressable(name) else None
        if entity is None:
            raise _no_such(name)
        return _with_links(entity, _origin(request))

    @router.put(
        "/{name}",
        summary="Replace a query entity",
        responses=documented(404, 415, 503),
        dependencies=[Depends(require_json)],
    )
    def replace_query(name: str, body: Annotated[WaylayQueryIn, Body()], user: User, request: Request) -> Any:
        entity = body.entity()
        if entity.get("name") is None:
            entity["name"] = name
        if entity["name"] != name:
            return error_response(400, f"body.name: {entity['name']!r} differs from the name in the URL, {name!r}")
        if not addressable(name):
            raise _no_such(name)
        moment = clock()

        def replace(conn: sa.Connection) -> None:
            old = reference.lock_waylay_query(conn, name)
            if old is None:
                raise _no_such(name)
            _stamp(entity, user, moment, created=old.get("attrs") or {})
            reference.replace_waylay_query(conn, entity)

        run_write(engine, replace)
        return _with_links(entity, _origin(request))

    @router.delete("/{name}", status_code=204, summary="Delete a query entity", responses=documented(404, 503))
    def delete_query(name: str) -> Response:
        if not addressable(name) or not run_write(engine, lambda conn: reference.delete_waylay_query(conn, name)):
            raise _no_such(name)
        return Response(status_code=204)

    return router
