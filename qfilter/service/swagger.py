"""``/docs`` without the internet: Swagger UI served from the ``swagger-ui-bundle-v2`` package.

FastAPI's own ``/docs`` page loads Swagger UI's script and style sheet from
a CDN, so it is blank on a machine that cannot reach it. :func:`install_docs`
serves the files that the package ships (Swagger UI 5, which reads the
OpenAPI 3.1 document FastAPI writes) under :data:`ASSETS_PATH` and a
``/docs`` page that loads them from there. The page makes no request
outside the service: no favicon nor validator badge from elsewhere.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

__all__ = ["ASSETS_PATH", "ASSETS", "install_docs"]

_log = logging.getLogger("qfilter.service")

ASSETS_PATH = "/docs/assets"
"""Where Swagger UI's files are served."""
ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "favicon-16x16.png"})
"""The files of the package the page uses; the others (its demo page, source maps) are not served."""


class _Assets(StaticFiles):
    """Static files, limited to :data:`ASSETS` (the package's demo ``index.html`` points at the internet)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in ASSETS:
            raise StarletteHTTPException(status_code=404)
        return await super().get_response(path, scope)


def install_docs(app: FastAPI, *, docs_url: str = "/docs") -> bool:
    """Serve Swagger UI at ``docs_url`` from local files (make ``app`` with ``docs_url=None``).

    Returns whether the files were found. Without the package the page loads
    them from FastAPI's default CDN, as FastAPI's own ``/docs`` does, and a
    warning says what to install.
    """
    try:
        from swagger_ui_bundle import swagger_ui_path  # the server extra's swagger-ui-bundle-v2
    except ImportError:
        _log.warning("/docs loads Swagger UI from a CDN: pip install swagger-ui-bundle-v2 to serve it locally")
        swagger_ui_path = None
    assets: dict[str, Any] = {}
    if swagger_ui_path is not None:
        app.mount(ASSETS_PATH, _Assets(directory=swagger_ui_path), name="swagger-ui-assets")
        assets = {
            "swagger_js_url": f"{ASSETS_PATH}/swagger-ui-bundle.js",
            "swagger_css_url": f"{ASSETS_PATH}/swagger-ui.css",
            "swagger_favicon_url": f"{ASSETS_PATH}/favicon-32x32.png",
        }
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url or f"{docs_url}/oauth2-redirect"
    title = f"{app.title} - Swagger UI"

    @app.get(docs_url, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        local: dict[str, Any] = {name: f"{root}{url}" for name, url in assets.items()}
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=title,
            oauth2_redirect_url=f"{root}{oauth2_redirect_url}",
            **local,
            swagger_ui_parameters={"validatorUrl": None, **(app.swagger_ui_parameters or {})},
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    return bool(assets)
