"""The distributions: qfilter-lang's metadata, a clean sdist, the wheel built from it, and what it installs.

The sdist and the wheel are built once, with ``python -m build`` (the wheel
from the sdist, so a file the sdist misses fails here), from a copy of the
checkout's files into which the state a working checkout accumulates
(virtualenvs, caches, benchmark data, a built site, databases) is planted.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from email.message import Message
from email.parser import Parser
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from trove_classifiers import classifiers as KNOWN_CLASSIFIERS

import qfilter

ROOT = Path(__file__).resolve().parent.parent
DISTRIBUTION = "qfilter-lang"
SWAGGER_UI = ROOT / "qfilter" / "service" / "swagger_ui"
SQL_EXTRAS = ("sql", "postgres", "mysql", "async", "server")
"""The extras that need SQLAlchemy: each must bring it."""

# What a checkout holds besides its sources; none of it may reach the sdist.
PLANTED = (
    ".venv/bin/python",
    ".import_linter_cache/qfilter.data.json",
    ".mypy_cache/3.11/qfilter.json",
    ".ruff_cache/content",
    ".pytest_cache/v/cache/nodeids",
    ".hypothesis/examples/0/1",
    "benchmarks/.venv/bin/python",
    "benchmarks/.data/waylay-100000.json",
    "site/index.html",
    "dist/qfilter_lang-0.0.1.tar.gz",
    "qfilter/__pycache__/cli.cpython-311.pyc",
    "tests/__pycache__/test_cli.cpython-311-pytest-8.pyc",
    "devices.sqlite3",
    "docs/devices.sqlite3",
)
NOT_SHIPPED_PARTS = {
    ".git",
    ".venv",
    ".import_linter_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "__pycache__",
    ".data",
    "site",
    "dist",
}


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path

    def sdist_names(self) -> list[PurePosixPath]:
        """The sdist's files, relative to its top directory."""
        with tarfile.open(self.sdist) as archive:
            return [PurePosixPath(*PurePosixPath(m.name).parts[1:]) for m in archive.getmembers() if m.isfile()]

    def metadata(self) -> Message:
        """The wheel's METADATA."""
        with zipfile.ZipFile(self.wheel) as archive:
            text = archive.read(f"qfilter_lang-{qfilter.__version__}.dist-info/METADATA").decode("utf-8")
        return Parser().parsestr(text)


def _checkout_files() -> list[str]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the distributions are built from one")
    return [name for name in listed.decode("utf-8").split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    home = tmp_path_factory.mktemp("distributions")
    checkout = home / "checkout"
    for name in _checkout_files():
        target = checkout / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ROOT / name).read_bytes())
    for name in PLANTED:
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_text("not a source\n", encoding="utf-8")
    dist = home / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(checkout)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (sdist,) = dist.glob("qfilter_lang-*.tar.gz")
    (wheel,) = dist.glob("qfilter_lang-*.whl")
    return Built(sdist, wheel)


def test_the_distribution_has_a_name_of_its_own_and_one_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == DISTRIBUTION  # "qfilter" on PyPI is someone else's project
    assert "version" in project["dynamic"]  # read from qfilter.__version__, written once
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_the_metadata_has_what_an_index_page_shows(built: Built) -> None:
    metadata = built.metadata()
    classifiers = metadata.get_all("Classifier") or []
    assert classifiers and not set(classifiers) - KNOWN_CLASSIFIERS, set(classifiers) - KNOWN_CLASSIFIERS
    # Each Python version named is one the package accepts, and each accepted one up to the newest is named.
    versions = {c.rsplit(" :: ", 1)[1] for c in classifiers if c.startswith("Programming Language :: Python :: 3.")}
    requires = SpecifierSet(metadata["Requires-Python"])
    assert versions and all(requires.contains(f"{version}.0") for version in versions)
    newest = max(int(version.split(".")[1]) for version in versions)
    assert {f"3.{minor}" for minor in range(11, newest + 1) if requires.contains(f"3.{minor}.0")} == versions
    assert "Typing :: Typed" in classifiers
    with zipfile.ZipFile(built.wheel) as archive:
        assert "qfilter/py.typed" in archive.namelist()
    # PEP 639: a license expression, and no license classifier beside it.
    assert metadata["License-Expression"] == "MIT AND Apache-2.0"
    assert not [c for c in classifiers if c.startswith("License ::")]
    urls = dict(url.split(", ", 1) for url in metadata.get_all("Project-URL") or [])
    assert {"Homepage", "Documentation", "Repository", "Issues"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values()), urls
    assert metadata["Author"] and metadata["Keywords"]


def test_only_the_users_extras_are_published(built: Built) -> None:
    extras = set(built.metadata().get_all("Provides-Extra") or [])
    assert set(SQL_EXTRAS) | {"strategies"} <= extras
    assert not extras & {"test", "dev", "tests", "docs", "lint"}, extras
    # The project's own tools are PEP 735 dependency groups, which .ci/run installs.
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["dependency-groups"]
    assert {"test", "dev"} <= set(groups)
    assert "--group test --group dev" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_sqlalchemy_comes_only_with_the_extras_that_need_it(built: Built) -> None:
    requirements = [Requirement(text) for text in built.metadata().get_all("Requires-Dist") or []]

    def needed(extra: str | None) -> set[str]:
        environment = {"extra": extra or ""}
        return {r.name.lower() for r in requirements if r.marker is None or r.marker.evaluate(environment)}

    assert "sqlalchemy" not in needed(None)
    assert {extra for extra in SQL_EXTRAS if "sqlalchemy" in needed(extra)} == set(SQL_EXTRAS)
    # /docs has its Swagger UI files in the package: no 12 MB bundle, no Jinja2 for two files.
    assert not {"swagger-ui-bundle-v2", "jinja2"} & needed("server")


def test_the_sdist_holds_the_sources_and_none_of_the_checkouts_state(built: Built) -> None:
    names = built.sdist_names()
    strings = {str(name) for name in names}
    expected = {
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "grammar/qfilter.lark",
        "qfilter/__init__.py",
        "qfilter/py.typed",
        "qfilter/service/data/demo_queries.json",
        "qfilter/service/swagger_ui/LICENSE",
        "qfilter/service/swagger_ui/swagger-ui-bundle.js",
        "tests/test_packaging.py",
        "docs/language.md",
        "scripts/update_swagger_ui.py",
    }
    assert expected <= strings, expected - strings
    assert not strings & set(PLANTED), strings & set(PLANTED)
    shipped_state = [name for name in names if set(name.parts) & NOT_SHIPPED_PARTS or name.suffix == ".sqlite3"]
    assert not shipped_state, shipped_state


def test_the_wheel_works_from_outside_the_source_tree(built: Built, tmp_path: Path) -> None:
    with zipfile.ZipFile(built.wheel) as archive:
        names = set(archive.namelist())
        assert {"qfilter/core/qfilter.lark", "qfilter/py.typed", "qfilter/service/data/demo_queries.json"} <= names
        assert {f"qfilter/service/swagger_ui/{name}" for name in ("swagger-ui-bundle.js", "swagger-ui.css")} <= names
        licenses = f"qfilter_lang-{qfilter.__version__}.dist-info/licenses"
        assert {f"{licenses}/LICENSE", f"{licenses}/qfilter/service/swagger_ui/LICENSE"} <= names
        assert not [name for name in names if "__pycache__" in name or name.startswith("tests/")]
        archive.extractall(tmp_path / "site")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    probe = (
        "import qfilter, sys; "
        "assert qfilter.__file__.startswith(sys.argv[1]), qfilter.__file__; "
        "print(qfilter.parse('tag:a -tag:\"b c\"'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "site")],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'tag:a -tag:"b c"'
    command = subprocess.run(
        [sys.executable, "-m", "qfilter", "filter", "--demo", "tag:demo"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert command.returncode == 0, command.stderr
    assert '"demo"' in command.stdout


def test_pip_install_gives_the_import_package_and_the_command(built: Built, tmp_path: Path) -> None:
    """Installed by its distribution name, it brings ``import qfilter`` and the ``qfilter`` command."""
    prefix = tmp_path / "prefix"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--disable-pip-version-check"]
        # --ignore-installed: pip would otherwise uninstall this environment's own (editable) copy first.
        + ["--ignore-installed", "--prefix", str(prefix), str(built.wheel)],
        check=True,
        timeout=300,
    )
    installed = Path(sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)}))
    dependencies = sysconfig.get_path("purelib")  # this environment's, for lark and the rest
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), dependencies])}
    probe = (
        "import importlib.metadata as m, qfilter, sys; "
        "assert qfilter.__file__.startswith(sys.argv[1]), qfilter.__file__; "
        f"print(m.version({DISTRIBUTION!r}) == qfilter.__version__)"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    found = subprocess.run(
        [sys.executable, "-c", probe, str(installed)], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "True"
    command = subprocess.run(
        [str(prefix / "bin" / "qfilter"), "explain", "tag:demo -tag:old"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert command.returncode == 0, command.stderr
    assert "tag" in command.stdout


def test_the_swagger_ui_files_are_the_ones_the_script_fetched() -> None:
    """scripts/update_swagger_ui.py wrote them: each is what SOURCE.json says the wheel held, none edited by hand."""
    from qfilter.service.swagger import ASSETS, SWAGGER_UI_DIRECTORY

    assert SWAGGER_UI_DIRECTORY == SWAGGER_UI
    source = json.loads((SWAGGER_UI / "SOURCE.json").read_text(encoding="utf-8"))
    assert set(source["files"]) == ASSETS  # every file the page loads, and no other
    for name, digest in source["files"].items():
        assert hashlib.sha256((SWAGGER_UI / name).read_bytes()).hexdigest() == digest, name
    assert source["wheel"].startswith(f"swagger_ui_bundle_v2-{source['version']}-")
    assert "Apache License" in (SWAGGER_UI / "LICENSE").read_text(encoding="utf-8")
    assert f"Swagger UI {source['version']}" in (SWAGGER_UI / "NOTICE").read_text(encoding="utf-8")


def test_importing_qfilter_leaves_the_heavy_modules_for_first_use() -> None:
    # What `import qfilter` costs is a target (docs/performance.md): the SQL layer, Lark and
    # the ISO 8601 readers load when a filter first needs them.
    heavy = ["sqlalchemy", "lark", "isodate", "dateutil.parser", "dateutil.relativedelta", "difflib"]
    program = f"import sys, qfilter; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
    program = (
        "import sys, qfilter; qfilter.compile_predicate('created:now-P1W/ name:x', qfilter.WAYLAY)"
        "({'name': 'x', 'attrs': {'created': '2020-01-01T00:00:00Z'}}); print('isodate' in sys.modules)"
    )
    used = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout
    assert used.strip() == "True"
