"""FastAPI error handling: every error of an app answered with one JSON body that says what is wrong.

:func:`install_error_handlers` is the one call an app makes;
:class:`FilterHTTPException` is what the dependencies of
:mod:`qfilter.integrations.fastapi` raise for a bad request. Both are
importable from there too.
"""

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from qfilter.integrations import listing

__all__ = ["FilterHTTPException", "install_error_handlers", "ERROR_BODY_SCHEMA", "validation_error_body"]


class FilterHTTPException(HTTPException):
    """A 400 whose body is ``body`` itself (with :func:`install_error_handlers`).

    Without those handlers FastAPI still answers 400, with the body under ``detail``.
    """

    def __init__(self, body: Mapping[str, object], status_code: int = listing.ERROR_STATUS) -> None:
        super().__init__(status_code=status_code, detail=dict(body))
        self.body = dict(body)


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

    # FastAPI's own way to change the document of an app already made (its "Extending OpenAPI" how-to),
    # which mypy, refusing any assignment to a method, cannot check: the app is the caller's, so no
    # subclass can be imposed, and the document cannot be cached in app.openapi_schema here, before
    # the routes it describes are added.
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
