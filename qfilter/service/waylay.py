"""The Waylay query entities: search (``q``, ``sort``, ``limit``, ``offset``, ``cursor``) and CRUD by name, two paths.

Waylay serves them under two paths, the older ``/config/query`` of the
search API's documentation and the current ``/queries/v1/query`` that
Waylay's queries SDK calls. :func:`waylay_router` makes one path's routes
over an engine from the one set of handlers, told by a :class:`WaylayApi`
what differs: the path, where an entity's ``execute`` link points, and the
statuses of a create and a delete (the v1 API answers both 200 with a
body, where ``/config/query`` keeps 201 and 204). Both paths share one
table, so an entity written through either is read through both.

The search pages as the ``waylay`` :class:`~qfilter.integrations.fastapi.QFilter`
says (:mod:`qfilter.service.paging`): by cursor past the first page when
it has a key (the service's always does), counted its way. Each request
runs in one transaction (:mod:`qfilter.service.database`): a
create is one ``INSERT`` whose unique-name violation is the 409, so two
racing creates of one name give one 201 and one 409; a replace or delete
locks the entity's row first. A name that no entity can have (a NUL, 256
characters, ``..``) is a 404 without a query. The ``execute`` link's target
answers 501: this service stores query definitions and has no time series
data to run them on.
"""

# No "from __future__ import annotations": FastAPI resolves the routes' Annotated[..., Depends(waylay.listing)]
# where `waylay` is a local of waylay_router.
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from qfilter.integrations.fastapi import Link, QFilter, RequestListing, page_model
from qfilter.service import tables as reference
from qfilter.service.database import run_read, run_write
from qfilter.service.errors import Conflict, NotExecutable, NotFound, documented, error_response, require_json
from qfilter.service.models import WaylayQueryCreate, WaylayQueryIn, addressable
from qfilter.service.paging import read_page

__all__ = [
    "WAYLAY_PREFIX",
    "QUERIES_V1_PREFIX",
    "WaylayApi",
    "CONFIG_QUERY_API",
    "QUERIES_V1_API",
    "WAYLAY_APIS",
    "WAYLAY_PAGE",
    "WaylayQueryListed",
    "waylay_router",
]


@dataclass(frozen=True)
class WaylayApi:
    """One path the Waylay query entities are served under, and what that version of Waylay's API answers."""

    prefix: str
    """The entities' path: the listing, and ``{prefix}/{name}`` for one entity."""
    execute_prefix: str
    """Where an entity's ``execute`` link points: ``{execute_prefix}/{name}`` (answered 501 here)."""
    created_status: int
    """The status of a create: 201 on ``/config/query``; 200 on the v1 API, as Waylay's SDK expects."""
    deleted_status: int
    """The status of a delete: 204 without a body, or 200 with a ``messages`` body (the SDK's ``DeleteResponse``)."""
    tag: str
    """The OpenAPI tag of its routes."""


CONFIG_QUERY_API = WaylayApi(
    prefix="/config/query", execute_prefix="/data/query", created_status=201, deleted_status=204, tag="queries"
)
"""The Waylay search API's path (Waylay's older one), with its ``execute`` link to ``/data/query/{name}``."""
QUERIES_V1_API = WaylayApi(
    prefix="/queries/v1/query",
    execute_prefix="/queries/v1/data",
    created_status=200,
    deleted_status=200,
    tag="queries v1",
)
"""Waylay's current queries API, the paths and statuses of ``waylay-sdk-queries``."""
WAYLAY_APIS = (CONFIG_QUERY_API, QUERIES_V1_API)
"""Every path the service serves the Waylay entities under."""

WAYLAY_PREFIX = CONFIG_QUERY_API.prefix
"""Where the Waylay query entities live in the Waylay search API."""
QUERIES_V1_PREFIX = QUERIES_V1_API.prefix
"""Where Waylay's current queries API, and its SDK, has them."""


class WaylayQueryListed(BaseModel):
    """A query entity in a page of the search: as stored, with its ``self`` and ``execute`` links."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    name: str
    links: dict[str, Link] = Field(alias="_links", description="`self`, and `execute` (answered 501 here).")


WAYLAY_PAGE = page_model(WaylayQueryListed, items_key="queries", messages=True, name="WaylayQueryPage")
"""The OpenAPI description of a page of the search: the Waylay search API's body."""


def _origin(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _with_links(entity: Mapping[str, Any], origin: str, api: WaylayApi) -> dict[str, Any]:
    name = quote(entity["name"], safe="")
    links = {
        "self": {"href": f"{origin}{api.prefix}/{name}"},
        "execute": {"href": f"{origin}{api.execute_prefix}/{name}"},
    }
    return {**entity, "_links": links}


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


def waylay_router(
    engine: sa.Engine, *, waylay: QFilter, clock: Callable[[], datetime], api: WaylayApi = CONFIG_QUERY_API
) -> APIRouter:
    """The routes of ``api`` (``/config/query`` unless told) over ``engine``; ``waylay`` reads filter and user."""
    router = APIRouter(tags=[api.tag])
    User = Annotated[str | None, Depends(waylay.current_user)]
    one = f"{api.prefix}/{{name}}"

    @router.get(
        api.prefix,
        summary="List and search query entities",
        responses={200: {"model": WAYLAY_PAGE, "description": "One page of the matches"}, **documented(503)},
    )
    def list_queries(listing: Annotated[RequestListing, Depends(waylay.listing)], request: Request) -> Any:
        # sort= when given (its keys, then the name), else by name; by cursor past the first page.
        page, total = read_page(
            engine,
            listing,
            table=reference.WAYLAY_TABLE,
            id_column=reference.WAYLAY_TABLE.c.name,
            select=reference.select_waylay_queries,
        )
        origin = _origin(request)
        entities = [_with_links(entity, origin, api) for entity in page]
        # The Waylay API's shape. JSON already (the stored bodies, links, counts): FastAPI's encoder, which
        # walks every value of the page looking for models and dates, would find nothing to convert.
        return JSONResponse(listing.page(entities, total=total, items_key="queries", messages=()))

    @router.post(
        api.prefix,
        status_code=api.created_status,
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
        result = _with_links(entity, _origin(request), api)
        response.headers["Location"] = result["_links"]["self"]["href"]
        return result

    @router.get(one, summary="Read a query entity", responses=documented(404, 503))
    def read_query(name: str, request: Request) -> Any:
        entity = run_read(engine, lambda conn: reference.get_waylay_query(conn, name)) if addressable(name) else None
        if entity is None:
            raise _no_such(name)
        return _with_links(entity, _origin(request), api)

    @router.put(
        one,
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
        return _with_links(entity, _origin(request), api)

    @router.delete(
        one,
        status_code=api.deleted_status,
        response_model=None,  # 204 has no body; the v1 API's 200 has its messages
        summary="Delete a query entity",
        responses=documented(404, 503),
    )
    def delete_query(name: str) -> Response | dict[str, Any]:
        if not addressable(name) or not run_write(engine, lambda conn: reference.delete_waylay_query(conn, name)):
            raise _no_such(name)
        if api.deleted_status == 204:
            return Response(status_code=204)
        return {"messages": [{"code": "deleted", "message": f"deleted the query {name!r}", "level": "info"}]}

    @router.get(
        f"{api.execute_prefix}/{{name}}",
        summary="Run a query on time series data: not served (501)",
        description=(
            "The target of each entity's `execute` link. This service stores query definitions; it has no "
            "time series data to run them on, so it answers 501 with the error body."
        ),
        responses=documented(501),
    )
    def execute_query(name: str) -> Any:
        raise NotExecutable(
            f"this service stores query definitions and does not run them: no time series data to execute {name!r} on"
        )

    return router
