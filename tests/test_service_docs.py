"""``/docs`` works offline: the page and every file it loads come from the service itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from qfilter.service.app import create_app
from qfilter.service.server import serve_in_thread
from qfilter.service.swagger import ASSETS, ASSETS_PATH


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    # The page touches no database: an empty in-memory one will do.
    with serve_in_thread(create_app(sa.create_engine("sqlite://"))) as url:
        yield url


def test_the_docs_page_loads_only_local_files(base_url: str) -> None:
    page = httpx.get(f"{base_url}/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page.text, re.IGNORECASE), page.text
    referenced = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    referenced += re.findall(r"""url:\s*["']([^"']+)["']""", page.text)  # the OpenAPI document
    assert len(referenced) >= 4, referenced
    kinds = {}
    for reference in referenced:
        url = urljoin(f"{base_url}/docs", reference)
        assert urlsplit(url).netloc == urlsplit(base_url).netloc, reference
        response = httpx.get(url)
        assert response.status_code == 200, (reference, response.status_code)
        assert response.content, reference
        kinds[reference] = response.headers["content-type"]
    assert any(kind.startswith("text/css") for kind in kinds.values()), kinds
    assert any("javascript" in kind for kind in kinds.values()), kinds
    assert any(kind.startswith("application/json") for kind in kinds.values()), kinds


def test_swagger_ui_reads_openapi_3_1(base_url: str) -> None:
    """FastAPI writes OpenAPI 3.1, which Swagger UI reads from version 5 on (4 shows an empty page)."""
    assert httpx.get(f"{base_url}/openapi.json").json()["openapi"].startswith("3.1")
    script = httpx.get(f"{base_url}{ASSETS_PATH}/swagger-ui-bundle.js").text
    assert "isOAS31" in script  # Swagger UI 5's OpenAPI 3.1 support


def test_only_the_pages_files_are_served(base_url: str) -> None:
    for name in ASSETS:
        assert httpx.get(f"{base_url}{ASSETS_PATH}/{name}").status_code == 200
    for name in ("index.html", "swagger-initializer.js", "swagger-ui.js.map", "../app.py", "%2e%2e/app.py"):
        response = httpx.get(f"{base_url}{ASSETS_PATH}/{name}")
        assert response.status_code == 404 and response.json()["code"] == 404


def test_no_redoc_from_a_cdn(base_url: str) -> None:
    assert httpx.get(f"{base_url}/redoc").status_code == 404
    assert httpx.get(f"{base_url}/docs/oauth2-redirect").status_code == 200
