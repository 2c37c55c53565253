"""Each page of the docs runs in a fresh virtualenv that holds only what the page says to install.

``tests/test_docs.py`` runs every block in this test environment, which has
every extra and the test tools: a page that forgot to say it needs ``[sql]``,
an async driver or httpx would pass there and fail its reader. Here each page
(README.md and docs/*.md) gets a virtualenv with the checkout's wheel, the
extras its ``pip install`` lines name (their union; none when it names none)
and the other distributions those lines name, nothing else. Its ``python``,
``pycon`` and ``q`` blocks run in that venv's Python
(``tests/docs_block_runner.py``, standard library and qfilter only), its
``console`` blocks with that venv's ``bin`` first on PATH and against a
``qfilter serve`` started from it. The venvs are shared by pages that name the
same install, and by the xdist workers (built once, under a file lock).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from support import REQUIRE_DATABASES
from test_docs import BLOCKS, ROOT, Block, Servers, _commands, _kind, _project, _run_console, _segments

RUNNER = Path(__file__).resolve().parent / "docs_block_runner.py"
BLOCK_BOUND = 300.0  # seconds one block may run in its page's venv
INSTALL_BOUND = 600.0  # seconds building the wheel or one venv may take
PAGES = sorted({block.path for block in BLOCKS})


@dataclass(frozen=True)
class Install:
    """What a page says to install: extras of this project's distribution, and other distributions by name."""

    extras: frozenset[str]
    others: tuple[str, ...]

    @property
    def key(self) -> str:
        """A directory name for the venv of this install."""
        spelled = ",".join(sorted(self.extras)) + ";" + ";".join(self.others)
        return hashlib.sha256(spelled.encode()).hexdigest()[:16]


def named_install(page: str) -> Install:
    """The union of what the ``pip install`` lines of ``page``'s console blocks install."""
    project = canonicalize_name(_project()["name"])
    extras: set[str] = set()
    others: set[str] = set()
    for block in BLOCKS:
        if block.path != page or block.info != "console":
            continue
        for command in _commands(block):
            for words in _segments(command.text):
                if _kind(words) != "pip install":
                    continue
                for requirement in words[words.index("install") + 1 :]:
                    if requirement.startswith("-"):
                        continue
                    path_install = re.fullmatch(r"\.(?:\[([\w,-]*)\])?", requirement)
                    if path_install:
                        extras.update(filter(None, (path_install.group(1) or "").split(",")))
                        continue
                    parsed = Requirement(requirement)
                    if canonicalize_name(parsed.name) == project:
                        extras.update(parsed.extras)
                    else:
                        others.add(str(parsed))
    return Install(frozenset(extras), tuple(sorted(others)))


@dataclass(frozen=True)
class Venv:
    """A virtualenv made for one install."""

    bin_dir: Path

    def environment(self) -> dict[str, str]:
        """This process's environment with the venv first on PATH and nothing that would import from elsewhere."""
        kept = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
        return {**kept, "PATH": f"{self.bin_dir}{os.pathsep}{kept.get('PATH', '')}"}


def _shared_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of this run that every xdist worker sees (each worker's base temp is beneath it)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    directory = shared / "docs-installs"
    directory.mkdir(exist_ok=True)
    return directory


def _locked_build(directory: Path, name: str, build: Callable[[Path], None]) -> Path:
    """``directory/name``, built by ``build`` by the first worker to ask, the others waiting on the lock."""
    target = directory / name
    with (directory / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (directory / f"{name}.done").exists():
            build(target)
            (directory / f"{name}.done").touch()
    return target


def _pip(*arguments: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *arguments],
        capture_output=True,
        text=True,
        timeout=INSTALL_BOUND,
    )
    assert completed.returncode == 0, f"pip {' '.join(arguments)} failed:\n{completed.stdout}\n{completed.stderr}"


@pytest.fixture(scope="session")
def page_venvs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Install], Venv]:
    """Make (or reuse) the venv of an install: the checkout's wheel with those extras and those distributions."""
    directory = _shared_directory(tmp_path_factory)

    def build_wheel(target: Path) -> None:
        _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(target), str(ROOT))

    wheels = _locked_build(directory, "wheel", build_wheel)
    (wheel,) = wheels.glob("*.whl")

    def venv_for(install: Install) -> Venv:
        def build_venv(target: Path) -> None:
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True, timeout=120)
            extras = f"[{','.join(sorted(install.extras))}]" if install.extras else ""
            _pip("--python", str(target / "bin" / "python"), "install", "--quiet", f"{wheel}{extras}", *install.others)

        return Venv(_locked_build(directory, f"venv-{install.key}", build_venv) / "bin")

    return venv_for


def test_a_page_names_its_install() -> None:
    """The parse of the pages' pip lines, on pages whose install is known: a wrong parse would test the wrong venv."""
    assert named_install("docs/django.md").extras == {"django"}
    assert {"server"} <= named_install("README.md").extras
    assert named_install("docs/language.md") == Install(frozenset(), ())


@pytest.fixture
def servers_of(tmp_path: Path) -> Iterator[Callable[[Venv], Servers]]:
    """The ``qfilter serve`` processes of one page, started from its venv, stopped after it."""
    started: list[Servers] = []

    def servers_for(venv: Venv) -> Servers:
        if not started:
            (tmp_path / "serve").mkdir()
            started.append(Servers(tmp_path / "serve", venv.bin_dir))
        return started[0]

    yield servers_for
    for running in started:
        running.stop()


def _missing_servers(block: Block) -> list[str]:
    return [
        name for name in sorted(set(re.findall(r"QFILTER_TEST_[A-Z0-9_]+_URL", block.text))) if not os.environ.get(name)
    ]


def _run_in_venv(block: Block, venv: Venv, work: Path) -> str | None:
    """Run a python, pycon or q block in the venv's Python; the failure's report, or None when it passed."""
    block_file = work / "block.txt"
    block_file.write_text(block.text, encoding="utf-8")
    completed = subprocess.run(
        [
            str(venv.bin_dir / "python"),
            "-P",
            str(RUNNER),
            block.info,
            str(block_file),
            str(ROOT / block.path),
            str(block.line),
        ],
        cwd=work,
        env=venv.environment(),
        capture_output=True,
        text=True,
        timeout=BLOCK_BOUND,
    )
    if completed.returncode == 0:
        return None
    return f"{block.where}:\n{completed.stdout}{completed.stderr}"


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_with_only_its_install(
    page: str, tmp_path: Path, page_venvs: Callable[[Install], Venv], servers_of: Callable[[Venv], Servers]
) -> None:
    install = named_install(page)
    venv = page_venvs(install)
    failures: list[str] = []
    skipped: list[str] = []
    ran = 0
    for index, block in enumerate(block for block in BLOCKS if block.path == page):
        missing = _missing_servers(block)
        if missing:
            if REQUIRE_DATABASES:
                failures.append(f"{block.where} needs {', '.join(missing)} (CI=true: every block must run)")
            else:
                skipped.append(f"{block.where} ({', '.join(missing)})")
            continue
        work = tmp_path / f"block-{index}"
        work.mkdir()
        if block.info in ("python", "pycon", "q"):
            failure = _run_in_venv(block, venv, work)
            if failure:
                failures.append(failure)
        elif block.info == "console":
            try:
                _run_console(block, work, lambda: servers_of(venv), venv.bin_dir)
            except (AssertionError, pytest.fail.Exception) as error:
                failures.append(f"{block.where}: {error}")
        else:
            continue  # json and text blocks say nothing an install could change
        ran += 1
    installed = f"extras {sorted(install.extras)} and {list(install.others)}"
    assert not failures, f"{page}, in a venv with only {installed}:\n" + "\n".join(failures)
    if skipped:
        pytest.skip(f"{page}: no server for " + "; ".join(skipped))
    assert ran or all(block.info in ("json", "text") for block in BLOCKS if block.path == page), page
