"""Every answer that is not a success, as one JSON shape: ``{"code": STATUS, "message": "...", "system": "neutron"}``.

The shape is Timeplus' ``ErrorResponse`` (``code``, ``message`` and
``system``, all required), the one :mod:`qfilter.integrations.fastapi` gives
bad filters and bodies plus :data:`ERROR_SYSTEM`; the fields that say more
(``parameter``, ``position``, ``errors`` ...) stay beside them. This module
adds what the service itself refuses: :class:`NotFound` (404),
:class:`Conflict` (409), :class:`NotExecutable` (501: the service stores
queries, it does not run them), a database too busy for every try (503 with
``Retry-After``), Starlette's own 404/405, and anything unexpected (a 500 in
the same shape, which the tests treat as a bug).
:func:`install_service_errors` registers the handlers on an app.
"""

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from qfilter.integrations.fastapi import (
    ERROR_BODY_SCHEMA,
    FilterHTTPException,
    install_error_handlers,
    validation_error_body,
)
from qfilter.integrations.listing import ERROR_STATUS
from qfilter.service.database import Unavailable

__all__ = [
    "ERROR_SYSTEM",
    "SERVICE_ERROR_SCHEMA",
    "ServiceError",
    "NotFound",
    "Conflict",
    "UnsupportedMediaType",
    "NotExecutable",
    "require_json",
    "error_body",
    "error_response",
    "documented",
    "install_service_errors",
]

_log = logging.getLogger("qfilter.service")

ERROR_SYSTEM = "neutron"
"""The ``system`` of every error body: Timeplus' REST API server, which keeps the saved queries.

Timeplus names the component that refused a request, one of ``proton``
(the streaming database, which runs the SQL), ``neutron`` (the API server,
whose REST API the swagger describes, saved queries included) and
``orbit``. A service that stores query definitions and runs none is in
``neutron``'s place.
"""

SERVICE_ERROR_SCHEMA: dict[str, Any] = {
    **ERROR_BODY_SCHEMA,
    "required": ["code", "message", "system"],
    "properties": {
        **ERROR_BODY_SCHEMA["properties"],
        "system": {
            "type": "string",
            "enum": ["proton", "neutron", "orbit"],
            "description": f"The Timeplus component that answered: always `{ERROR_SYSTEM}` here.",
        },
    },
}
"""The JSON schema of the service's error body: the integration's, with Timeplus' required ``system``."""


class ServiceError(Exception):
    """A request the service refuses: ``status`` with ``message`` in the error body."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    """No entity of that name or id: 404."""

    status = 404


class Conflict(ServiceError):
    """An entity of that name exists already: 409."""

    status = 409


class UnsupportedMediaType(ServiceError):
    """A body that is not JSON: 415."""

    status = 415


class NotExecutable(ServiceError):
    """A request to run a query on time series data, which this service does not hold: 501."""

    status = 501


def require_json(request: Request) -> None:
    """A dependency of the routes that take a JSON body: any other ``Content-Type`` is a 415.

    (FastAPI would read such a body as bytes and report that it is no object.)
    """
    content_type = request.headers.get("content-type", "")
    media_type = content_type.partition(";")[0].strip().lower()
    if not (
        media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))
    ):
        shown = f"{content_type!r}" if content_type else "none"
        raise UnsupportedMediaType(f"the body must be JSON, sent with Content-Type: application/json (got {shown})")


def error_body(status: int, message: str, **more: object) -> dict[str, object]:
    """The error body: ``code`` (``status``), ``message`` and ``system``, then the fields ``more`` adds."""
    return {"code": status, "message": message, "system": ERROR_SYSTEM, **more}


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """:func:`error_body` as a response."""
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


def _with_system(body: Mapping[str, object]) -> dict[str, object]:
    """An error body of :mod:`qfilter.integrations.fastapi` with ``system`` after ``code`` and ``message``."""
    return {"code": body["code"], "message": body["message"], "system": ERROR_SYSTEM, **body}


_MEANING = {
    404: "No such entity",
    409: "An entity of that name exists",
    415: "The body is not JSON",
    501: "Not implemented: this service stores query definitions and does not run them",
    503: "The database is busy; try again after Retry-After seconds",
}


# The error body of a status other than 400: no request parameter is at fault, so no q fields.
_PLAIN_ERROR_SCHEMA: dict[str, Any] = {
    **SERVICE_ERROR_SCHEMA,
    "properties": {name: SERVICE_ERROR_SCHEMA["properties"][name] for name in ("code", "message", "system")},
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route may answer: the error body, and an example of it."""
    return {
        status: {
            "description": _MEANING[status],
            "content": {
                "application/json": {
                    "schema": _PLAIN_ERROR_SCHEMA,
                    "example": error_body(status, _MEANING[status][0].lower() + _MEANING[status][1:]),
                }
            },
        }
        for status in statuses
    }


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(app: FastAPI, scope: Mapping[str, Any]) -> str:
    """Every method some route serves on this path (Starlette's 405 names only the first route's).

    Asks each route whether it would take the request with another method
    (``BaseRoute.matches``), so that routes of included routers count too.
    """
    # Inside a mount (the static files), the scope's root_path has grown by the mount's path.
    root_path = scope.get("app_root_path", scope.get("root_path", ""))
    methods: list[str] = []
    for method in _METHODS:
        probe = {"type": "http", "path": scope["path"], "root_path": root_path, "method": method, "headers": []}
        for route in app.router.routes:
            match, _ = route.matches(probe)
            if match is Match.FULL and (not isinstance(route, Mount) or method in ("GET", "HEAD")):
                methods.append(method)
                break
    return ", ".join(methods)


def install_service_errors(app: FastAPI) -> None:
    """Answer every error of ``app`` with the JSON error body.

    The 400s of bad filters and bodies are those of
    :func:`qfilter.integrations.fastapi.install_error_handlers` (installed
    here too, for its OpenAPI document), with ``system`` added.
    """
    install_error_handlers(app)

    async def bad_filter(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FilterHTTPException)
        return JSONResponse(_with_system(exc.body), status_code=exc.status_code)

    async def bad_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse(_with_system(validation_error_body(exc)), status_code=ERROR_STATUS)

    async def http_error(request: Request, exc: Exception) -> Response:
        # Starlette's own 404 and 405 (and any HTTPException) in the error shape.
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(app, request.scope)
        return error_response(exc.status_code, str(exc.detail), headers)

    async def service_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ServiceError)
        return error_response(exc.status, exc.message)

    async def unavailable(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Unavailable)
        _log.warning("%s %s: 503: %s", request.method, request.url.path, exc)
        return error_response(503, exc.message, {"Retry-After": str(exc.retry_after)})

    async def unexpected(request: Request, exc: Exception) -> Response:
        # A bug: Starlette re-raises it to the server, which logs it and closes the connection; the client
        # still gets the error shape, told not to reuse the connection.
        return error_response(500, "internal error: the service failed to answer this request", {"Connection": "close"})

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(FilterHTTPException, bad_filter)
    app.add_exception_handler(RequestValidationError, bad_request)
    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(Unavailable, unavailable)
    app.add_exception_handler(Exception, unexpected)
