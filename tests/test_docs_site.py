"""The documentation site: ``mkdocs build --strict`` of mkdocs.yml, offline, with no warning.

The build runs in a subprocess with every proxy variable pointing at a closed
port, so a plugin or theme that reached for the network would fail it here
rather than on a machine without one. Strict mode turns each warning (a
broken link or anchor, a page left out of the nav, a docstring that does not
render) into a failed build; the second test shows that those checks are on.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "mkdocs.yml"
BUILD_BOUND = 120.0  # seconds: a hang (a plugin waiting for the network) fails instead of stalling CI
NO_NETWORK = "http://127.0.0.1:9"  # the discard port: nothing listens there
REMOTE_ASSET = re.compile(r'<(?:script|link|img)[^>]+(?:src|href)="(https?:[^"]+)"')
REFERENCE_PAGES = {
    "qfilter": ["qfilter.parse", "qfilter.compile_predicate", "qfilter.Schema", "qfilter.FilterError"],
    "memory": ["qfilter.memory.Predicate", "qfilter.memory.compile_plan"],
    "sql": ["qfilter.sql.compile_clause", "qfilter.sql.orm_schema", "qfilter.sql.Related"],
    "listing": ["qfilter.integrations.listing.read_filter", "qfilter.integrations.listing.error_body"],
    "fastapi": ["qfilter.integrations.fastapi.QFilter", "qfilter.integrations.fastapi.RequestListing"],
    "strategies": [
        "qfilter.integrations.strategies.filters",
        "qfilter.integrations.strategies.filter_texts",
        "qfilter.integrations.strategies.spellings",
    ],
    "core": ["qfilter.core.ast", "qfilter.core.plan", "qfilter.core.backend.Backend"],
}
"""Each API reference page, and anchors of objects it must document (rendered from the docstrings)."""


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",  # Material's banner about its successor: not a build warning
        **{name: NO_NETWORK for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")},
        "NO_PROXY": "",
        "no_proxy": "",
    }
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_BOUND,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("site")
    result = build(CONFIG, directory)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{output}"
    warnings = [line for line in output.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert not warnings, "\n".join(warnings)
    return directory


def test_every_page_of_docs_is_built(site: Path) -> None:
    pages = sorted(path.relative_to(ROOT / "docs").with_suffix(".html") for path in (ROOT / "docs").rglob("*.md"))
    assert Path("index.html") in pages and Path("testing.html") in pages
    missing = [str(page) for page in pages if not (site / page).is_file()]
    assert not missing, missing


@pytest.mark.parametrize("page", sorted(REFERENCE_PAGES))
def test_the_api_reference_is_rendered_from_the_docstrings(site: Path, page: str) -> None:
    html = (site / "reference" / f"{page}.html").read_text(encoding="utf-8")
    for anchor in REFERENCE_PAGES[page]:
        assert f'id="{anchor}"' in html, f"reference/{page}: {anchor} is not documented"
    # The docstrings' reStructuredText roles became links or code, not raw text.
    leftover = re.findall(r":(?:class|func|meth|attr|data|mod|obj|exc):(?:`|<code>)", html)
    assert not leftover, leftover[:5]


def test_the_reference_links_across_pages(site: Path) -> None:
    """A role naming an object documented on another page is a link to it."""
    html = (site / "reference" / "memory.html").read_text(encoding="utf-8")
    assert re.search(r'<a class="autorefs autorefs-internal"[^>]*href="(core|qfilter)\.html#qfilter\.', html)


def test_the_site_loads_nothing_from_the_network(site: Path) -> None:
    """Fonts, scripts and styles are the site's own files: it reads the same without a network."""
    remote = []
    for page in site.rglob("*.html"):
        remote += [f"{page.name}: {url}" for url in REMOTE_ASSET.findall(page.read_text(encoding="utf-8"))]
    assert not remote, remote[:5]
    assert (site / "assets" / "stylesheets").is_dir()


def test_a_broken_link_or_a_page_missing_from_the_nav_fails_the_build(tmp_path: Path) -> None:
    """The same validation settings on a two-page site: the build stops, naming both problems."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\n[the language](language.md#no-such-heading), [gone](gone.md)\n")
    (docs / "language.md").write_text("# Language\n")
    (docs / "forgotten.md").write_text("# Not in the nav\n")
    config = tmp_path / "mkdocs.yml"
    config.write_text(
        f"INHERIT: {CONFIG}\n"
        f"docs_dir: {docs}\n"
        "nav:\n  - index.md\n  - language.md\n"
        "plugins:\n  - search\n"  # the API reference is left out: this site has no reference pages
    )
    result = build(config, tmp_path / "site")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "forgotten.md" in output
    assert "gone.md" in output
    assert "#no-such-heading" in output
