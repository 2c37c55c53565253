"""``/docs`` without the internet: Swagger UI served from files inside the package.

For any FastAPI app: ``FastAPI(docs_url=None)``, then ``install_docs(app)``
(also exported by :mod:`qfilter.integrations.fastapi`). FastAPI's own
``/docs`` page loads Swagger UI's script and style sheet from a CDN, so it
is blank on a machine that cannot reach it. :func:`install_docs` serves the
copies in ``qfilter/service/swagger_ui/`` (Swagger UI 5, which reads the
OpenAPI 3.1 document FastAPI writes; Apache-2.0, its license and notice
beside them) under :data:`ASSETS_PATH` and a ``/docs`` page that loads them
from there. The page makes no request outside the service: no favicon nor
validator badge from elsewhere. The files are data, not an import, so they
stay where the packaging and ``scripts/update_swagger_ui.py`` keep them; the
script fetches them from the ``swagger-ui-bundle-v2`` wheel: shipping the
three files the page needs (1.7 MB) spares every install that wheel's 12 MB
and Jinja2.
"""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

__all__ = ["ASSETS_PATH", "ASSETS", "SWAGGER_UI_DIRECTORY", "install_docs"]

ASSETS_PATH = "/docs/assets"
"""Where Swagger UI's files are served."""
ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})
"""The files the page loads; the others beside them (license, notice, SOURCE.json) are not served."""
SWAGGER_UI_DIRECTORY = Path(__file__).parent.parent / "service" / "swagger_ui"
"""Where the package keeps Swagger UI's files (``scripts/update_swagger_ui.py`` writes them)."""


class _Assets(StaticFiles):
    """Static files, limited to :data:`ASSETS`."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in ASSETS:
            raise StarletteHTTPException(status_code=404)
        return await super().get_response(path, scope)


def install_docs(app: FastAPI, *, docs_url: str = "/docs") -> None:
    """Serve Swagger UI at ``docs_url`` from the package's own files (make ``app`` with ``docs_url=None``).

    The page and its files work offline and behind a proxy's ``root_path``;
    ``app.swagger_ui_parameters`` are passed on, and the validator badge
    (a request to swagger.io) is off unless they turn it on.
    """
    app.mount(ASSETS_PATH, _Assets(directory=SWAGGER_UI_DIRECTORY), name="swagger-ui-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url or f"{docs_url}/oauth2-redirect"
    title = f"{app.title} - Swagger UI"

    @app.get(docs_url, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=title,
            oauth2_redirect_url=f"{root}{oauth2_redirect_url}",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None, **(app.swagger_ui_parameters or {})},
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
