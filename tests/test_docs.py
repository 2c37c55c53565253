"""Every code block of README.md and docs/*.md, extracted from the Markdown and run.

The blocks are read from the documents at collection time (never copied here),
one test per block, named ``path:line`` after the line of its opening fence.
The convention the documents follow (also in docs/contributing.md, "Code
blocks in the docs"):

- Every block is fenced with an info string; indented code blocks and bare
  fences fail. The info string says what the test does with the block:

  ``python``
      Executed as a module of its own: a fresh namespace, the working
      directory a new temporary directory. Blocks do not build on each other.
      Its ``assert`` statements are its checks. If it leaves a FastAPI
      application in ``app``, each GET route without path parameters is
      requested once and must answer 200. A block that reads a database URL
      from a ``QFILTER_TEST_<NAME>_URL`` environment variable skips when that
      variable is unset, except under CI=true (or QFILTER_REQUIRE_DATABASES=1).
  ``pycon``
      An interactive session (``>>>``), run and compared by :mod:`doctest`
      with ``ELLIPSIS``.
  ``console``
      ``$ command`` lines, each optionally followed by its expected output
      (standard output and error together, as a terminal shows them). A
      command continues on the next lines while it ends with ``\\`` or has an
      open quote. What happens to a command depends on the programs in it:

      - ``qfilter ...`` (and plain helpers such as ``echo``) run with bash in
        a temporary directory, this environment's ``bin`` first on PATH, and
        must exit 0, or N when the command ends with ``# exit N``.
      - ``curl`` runs against a real ``qfilter serve`` (SQLite, demo dataset,
        a fresh cache directory) that the tests start once on a free port;
        ``127.0.0.1:8000`` in the command and its output is rewritten to it.
        The HTTP status must be 2xx, or the ``code`` of an error body shown as
        the expected output.
      - ``qfilter serve`` is started (on a free port) and must answer; the
        ``curl`` commands are served by the plain ``qfilter serve`` of the
        README's first block.
      - ``pip install`` is not run: every requirement must be this project's
        distribution (``[project].name`` of pyproject.toml) with extras it
        declares, or a path install of the checkout (``.`` / ``'.[extra]'``).
        ``python3 -m venv DIR`` and the suite scripts (``bash .ci/run``,
        ``bash benchmarks/run``) are not run either; the scripts must exist.
      - Any other program fails the block: add it to :data:`HELPERS` if it is
        harmless.

      Expected output that is JSON is compared as JSON: the same keys and
      values, except that ``...`` inside a string matches any text, and that
      the server-made values of :data:`VOLATILE_KEYS` (an ``id`` that is a
      UUID, a ``created_at`` or ``last_updated_at`` timestamp) only need to
      be of the same form; the value the document shows then stands for the
      actual one in the block's later commands and outputs. Other expected
      output is compared as text by :mod:`doctest` (``ELLIPSIS``), trailing
      white space ignored.
  ``json``
      Must parse.
  ``q``
      One filter a line; each must compile against the Waylay schema (with a
      current user).
  ``text``
      Not run: synopses, EXPLAIN plans, API outlines. It may not hold
      ``$ command`` lines (those belong in a ``console`` block).

- Pages written by a program (docs/performance.md by benchmarks/report.py)
  hold its output, which is not run: the test checks that the page says it is
  generated and that the generator labels every fence it writes.
"""

from __future__ import annotations

import doctest
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import tomllib
import types
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from markdown_it import MarkdownIt
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from support import REQUIRE_DATABASES

import qfilter

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DOCUMENTED_ADDRESS = "127.0.0.1:8000"
GENERATED = {"docs/performance.md": "benchmarks/report.py"}
"""Pages written by a program, and the program."""
HELPERS = frozenset({"echo", "printf", "cat", "head", "tail", "wc", "sort", "true"})
"""Programs besides qfilter and curl that a console block may run: they only read and print."""
SUITE_SCRIPTS = frozenset({".ci/run", "benchmarks/run"})
VOLATILE_KEYS = {
    "id": re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    "created_at": re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?"),
    "last_updated_at": re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?"),
}
"""Keys whose values the server makes up: matched by form when the document shows a value of that form."""
STARTUP_BOUND = 60.0  # seconds qfilter serve may take to answer before the test gives up
COMMAND_BOUND = 60.0  # seconds a documented command may run
CURL_STATUS = "@@qfilter-docs-status "


@dataclass(frozen=True)
class Block:
    """One code block: the document (relative to the repository), the line of its fence, its info string."""

    path: str
    line: int
    info: str
    text: str
    fenced: bool

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _blocks(document: Path) -> list[Block]:
    relative = document.relative_to(ROOT).as_posix()
    found = []
    for token in MarkdownIt("commonmark").parse(document.read_text(encoding="utf-8")):
        if token.type in ("fence", "code_block") and token.map is not None:
            info = token.info.split()[0] if token.info.strip() else ""
            found.append(Block(relative, token.map[0] + 1, info, token.content, token.type == "fence"))
    return found


BLOCKS = [block for document in _documents() for block in _blocks(document) if block.path not in GENERATED]


def test_the_documents_have_blocks() -> None:
    """Guards the collection: an extraction that finds nothing would make every other test vacuous."""
    paths = {block.path for block in BLOCKS}
    assert {"README.md", "docs/language.md", "docs/service.md", "docs/sql.md"} <= paths
    assert {block.info for block in BLOCKS} >= {"python", "console"}


@pytest.mark.parametrize("block", [pytest.param(block, id=block.where) for block in BLOCKS])
def test_block(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    if not block.fenced:
        pytest.fail(f"{block.where}: an indented code block; fence it with an info string (see docs/contributing.md)")
    match block.info:
        case "python":
            _run_python(block, tmp_path, monkeypatch)
        case "pycon":
            _run_session(block, tmp_path, monkeypatch)
        case "console":
            _run_console(block, tmp_path, lambda: request.getfixturevalue("servers"))
        case "json":
            json.loads(block.text)
        case "q":
            for text in block.text.splitlines():
                if text.strip():
                    qfilter.compile_predicate(text, qfilter.WAYLAY, user="users/docs")
        case "text":
            commands = [line for line in block.text.splitlines() if line.startswith("$ ")]
            assert not commands, f"{block.where}: a text block with commands; make it a console block: {commands}"
        case "":
            pytest.fail(f"{block.where}: a fence without an info string (see docs/contributing.md)")
        case _:
            pytest.fail(f"{block.where}: unknown info string {block.info!r} (see docs/contributing.md)")


# -- python and pycon ----------------------------------------------------------------------------------------


def _skip_without_servers(block: Block) -> None:
    for variable in sorted(set(re.findall(r"QFILTER_TEST_[A-Z0-9_]+_URL", block.text))):
        if not os.environ.get(variable):
            message = f"{block.where} needs {variable}"
            if REQUIRE_DATABASES:
                pytest.fail(message + " (CI=true: every block must run)")
            pytest.skip(message)


def _run_python(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _skip_without_servers(block)
    monkeypatch.chdir(tmp_path)
    # Blank lines first, so that a traceback's line numbers are the document's.
    code = compile("\n" * block.line + block.text, str(ROOT / block.path), "exec")
    # A module of its own in sys.modules, where SQLAlchemy and pydantic look up the names in annotations.
    module = types.ModuleType("docs_block")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(code, module.__dict__)
    app = getattr(module, "app", None)
    if app is not None and type(app).__name__ == "FastAPI":
        _request_get_routes(block, app)


def _request_get_routes(block: Block, app: Any) -> None:
    """GET each route of ``app`` that has no path parameters, over real HTTP: each must answer 200."""
    from fastapi.routing import APIRoute

    from qfilter.service.server import serve_in_thread

    paths = [
        route.path
        for route in app.routes
        if isinstance(route, APIRoute) and "GET" in (route.methods or ()) and "{" not in route.path
    ]
    assert paths, f"{block.where}: the app has no GET route to try"
    with serve_in_thread(app) as base_url:
        for path in paths:
            response = httpx.get(f"{base_url}{path}", timeout=30)
            assert response.status_code == 200, f"{block.where}: GET {path} -> {response.status_code} {response.text}"


def _run_session(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _skip_without_servers(block)
    monkeypatch.chdir(tmp_path)
    test = doctest.DocTestParser().get_doctest(
        block.text, {"__name__": "docs_block"}, block.where, str(ROOT / block.path), block.line
    )
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    result = runner.run(test, out=report.append, clear_globs=True)
    assert result.failed == 0, "".join(report)


# -- console ---------------------------------------------------------------------------------------------------


@dataclass
class Command:
    """A ``$`` command of a console block, with the output shown after it (None when none is shown)."""

    line: int
    text: str
    expected: str | None


def _complete(text: str) -> bool:
    if text.endswith("\\"):
        return False
    try:
        shlex.split(text, comments=True)
    except ValueError:  # an open quote: the command goes on on the next line
        return False
    return True


def _commands(block: Block) -> list[Command]:
    lines = block.text.splitlines()
    commands: list[Command] = []
    output: list[str] = []

    def close() -> None:
        while output and not output[-1].strip():
            output.pop()
        if commands:
            commands[-1].expected = "\n".join(output) if output else None
        output.clear()

    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("$ "):
            close()
            start = index
            text = line[2:]
            while not _complete(text) and index + 1 < len(lines):
                index += 1
                text += "\n" + lines[index]
            assert _complete(text), f"{block.where}: the command on line {block.line + 1 + start} never ends"
            commands.append(Command(block.line + 1 + start, text, None))
        else:
            assert commands or not line.strip(), f"{block.where}: a console block starts with a $ command"
            output.append(line)
        index += 1
    close()
    assert commands, f"{block.where}: a console block without a $ command"
    return commands


def _segments(text: str) -> list[list[str]]:
    """The simple commands of a command line: its words, split at ``&&``, ``||``, ``;`` and ``|``."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    segments: list[list[str]] = [[]]
    for word in lexer:
        if word in ("&&", "||", ";", "|"):
            segments.append([])
        elif word != "\n":  # what is left of a backslash at the end of a line
            segments[-1].append(word)
    return [segment for segment in segments if segment]


def _kind(words: list[str]) -> str:
    program = Path(words[0]).name
    arguments = words[1:]
    if program.startswith("python") and arguments[:2] == ["-m", "venv"]:
        return "venv"
    if (program.startswith("pip") or (program.startswith("python") and arguments[:2] == ["-m", "pip"])) and (
        "install" in arguments
    ):
        return "pip install"
    if program == "bash" and arguments[:1] and arguments[0] in SUITE_SCRIPTS:
        return "suite"
    if program == "qfilter":
        return "qfilter serve" if arguments[:1] == ["serve"] else "qfilter"
    if program in ("curl", *HELPERS):
        return program if program == "curl" else "helper"
    return "other"


NOT_RUN = {"venv", "pip install", "suite"}


def _run_console(block: Block, tmp_path: Path, servers: Callable[[], Servers], bin_dir: Path = BIN) -> None:
    """Run the block's commands with ``bin_dir`` first on PATH; ``servers`` gives the ``qfilter serve`` they talk to."""
    substitutions: dict[str, str] = {}
    for command in _commands(block):
        where = f"{block.path}:{command.line}"
        segments = _segments(command.text)
        kinds = [_kind(words) for words in segments]
        unknown = [words[0] for words, kind in zip(segments, kinds, strict=True) if kind == "other"]
        assert not unknown, f"{where}: {unknown} is not a program the docs test runs (see HELPERS)"
        if NOT_RUN & set(kinds) or "qfilter serve" in kinds:
            assert set(kinds) <= NOT_RUN | {"qfilter serve"}, f"{where}: mixes set-up and other commands: {kinds}"
            assert command.expected is None, f"{where}: output shown for a command the test does not run"
            for words, kind in zip(segments, kinds, strict=True):
                _check_setup(where, words, kind, servers)
            continue
        base_url = servers().url(()) if "curl" in kinds else None
        _run_command(where, command, base_url, tmp_path, substitutions, bin_dir)


def _check_setup(where: str, words: list[str], kind: str, servers: Callable[[], Servers]) -> None:
    match kind:
        case "venv":
            assert len(words) == 4, f"{where}: {shlex.join(words)}"
        case "pip install":
            _check_pip_install(where, words[words.index("install") + 1 :])
        case "suite":
            assert (ROOT / words[1]).is_file(), f"{where}: no {words[1]} in the repository"
        case "qfilter serve":
            assert words[0] in ("qfilter", ".venv/bin/qfilter"), f"{where}: serve with {words[0]}?"
            base_url = servers().url(tuple(words[2:]))
            assert httpx.get(f"{base_url}/", timeout=10).status_code == 200


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project


PIP_FLAGS = frozenset({"-q", "--quiet", "-U", "--upgrade", "--disable-pip-version-check", "--no-cache-dir"})


def _check_pip_install(where: str, arguments: list[str]) -> None:
    project = _project()
    extras = set(project.get("optional-dependencies", {}))
    requirements = [argument for argument in arguments if argument not in PIP_FLAGS | {"-e", "--editable"}]
    assert requirements, f"{where}: pip install of nothing"
    for requirement in requirements:
        assert not requirement.startswith("-"), f"{where}: pip option {requirement} (add it to PIP_FLAGS if harmless)"
        path_install = re.fullmatch(r"\.(?:\[([\w,-]*)\])?", requirement)
        if path_install:
            wanted = set(filter(None, (path_install.group(1) or "").split(",")))
        else:
            try:
                parsed = Requirement(requirement)
            except InvalidRequirement as error:
                pytest.fail(f"{where}: {requirement!r} is not a requirement: {error}")
            if canonicalize_name(parsed.name) != canonicalize_name(project["name"]):
                continue  # another distribution the page needs: tests/test_docs_installs.py installs it as named
            wanted = set(parsed.extras)
        assert wanted <= extras, f"{where}: extras {sorted(wanted - extras)} are not in pyproject.toml {sorted(extras)}"


def _environment(tmp_path: Path, bin_dir: Path) -> dict[str, str]:
    curl_home = tmp_path / "curl-home"
    curl_home.mkdir(exist_ok=True)
    # curl reads $CURL_HOME/.curlrc: no progress meter, errors shown, and the status after the body.
    (curl_home / ".curlrc").write_text(f'silent\nshow-error\nwrite-out = "\\n{CURL_STATUS}%{{http_code}}\\n"\n')
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "CURL_HOME": str(curl_home)}


def _substitute(text: str, base_url: str | None, substitutions: dict[str, str]) -> str:
    if base_url is not None:
        text = text.replace(f"http://{DOCUMENTED_ADDRESS}", base_url)
    for documented, actual in substitutions.items():
        text = text.replace(documented, actual)
    return text


def _run_command(
    where: str,
    command: Command,
    base_url: str | None,
    tmp_path: Path,
    substitutions: dict[str, str],
    bin_dir: Path,
) -> None:
    text = _substitute(command.text, base_url, substitutions)
    status_comment = re.search(r"#\s*exit(?: status)?\s+(\d+)\s*$", command.text)
    wanted_exit = int(status_comment.group(1)) if status_comment else 0
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    completed = subprocess.run(
        ["bash", "-c", text],
        cwd=work,
        env=_environment(tmp_path, bin_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=COMMAND_BOUND,
    )
    output = completed.stdout
    statuses = [int(status) for status in re.findall(rf"\n?{CURL_STATUS}(\d+)\n", output)]
    output = re.sub(rf"\n?{CURL_STATUS}\d+\n", "", output)
    assert completed.returncode == wanted_exit, f"{where}: exit status {completed.returncode}, output:\n{output}"
    expected = _substitute(command.expected, base_url, substitutions) if command.expected is not None else None
    wanted_json = _json_or_none(expected)
    if base_url is not None:
        error_code = wanted_json.get("code") if isinstance(wanted_json, dict) else None
        for status in statuses:
            if isinstance(error_code, int) and error_code >= 400:
                assert status == error_code, f"{where}: HTTP {status}, the document shows {error_code}:\n{output}"
            else:
                assert 200 <= status < 300, f"{where}: HTTP {status}:\n{output}"
    if expected is None:
        return
    if wanted_json is not None:
        try:
            got = json.loads(output)
        except json.JSONDecodeError:
            pytest.fail(f"{where}: the document shows JSON, the command printed:\n{output}")
        assert _matched(wanted_json, got, substitutions) == wanted_json, where
    else:
        checker = doctest.OutputChecker()
        want = "\n".join(line.rstrip() for line in expected.splitlines()) + "\n"
        got_text = "\n".join(line.rstrip() for line in output.rstrip("\n").splitlines()) + "\n"
        assert checker.check_output(want, got_text, doctest.ELLIPSIS), (
            f"{where}: output differs\n--- shown\n{want}--- printed\n{got_text}"
        )


def _json_or_none(text: str | None) -> Any:
    if text is None or not text.lstrip().startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _matched(want: Any, got: Any, substitutions: dict[str, str]) -> Any:
    """``got`` with what ``want`` allows to differ replaced by ``want``'s values: compare the result with ``want``.

    The allowed differences are the text ``...`` stands for in a string and the
    server-made values of :data:`VOLATILE_KEYS`; a volatile value's documented
    spelling is recorded in ``substitutions`` to stand for the actual one.
    """
    if isinstance(want, dict) and isinstance(got, dict):
        matched = {}
        for key, value in got.items():
            form = VOLATILE_KEYS.get(key)
            shown = want.get(key)
            if form and isinstance(shown, str) and isinstance(value, str) and form.fullmatch(shown):
                if form.fullmatch(value):
                    substitutions[shown] = value
                    matched[key] = shown
                    continue
            matched[key] = _matched(shown, value, substitutions) if key in want else value
        return matched
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [_matched(w, g, substitutions) for w, g in zip(want, got, strict=True)]
    if isinstance(want, str) and isinstance(got, str) and "..." in want:
        return want if doctest.OutputChecker().check_output(want, got, doctest.ELLIPSIS) else got
    return got


# -- qfilter serve ---------------------------------------------------------------------------------------------


@dataclass
class Servers:
    """``qfilter serve`` processes, one per argument list, each on a free port with a cache directory of its own."""

    directory: Path
    bin_dir: Path = BIN
    running: dict[tuple[str, ...], tuple[subprocess.Popen[str], str]] = field(default_factory=dict)

    def url(self, arguments: tuple[str, ...]) -> str:
        """The base URL of ``qfilter serve ARGUMENTS``, started on first use."""
        if arguments not in self.running:
            self.running[arguments] = self._start(arguments)
        return self.running[arguments][1]

    def _start(self, arguments: tuple[str, ...]) -> tuple[subprocess.Popen[str], str]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        home = self.directory / uuid.uuid4().hex[:8]
        home.mkdir()
        env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / "cache")}
        log = (home / "serve.log").open("w")
        process = subprocess.Popen(
            [str(self.bin_dir / "qfilter"), "serve", *arguments, "--port", str(port)],
            cwd=home,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_BOUND
        while True:
            if process.poll() is not None:
                pytest.fail(f"qfilter serve {shlex.join(arguments)} exited:\n{(home / 'serve.log').read_text()}")
            try:
                httpx.get(f"{base_url}/", timeout=1.0)
                return process, base_url
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    process.kill()
                    pytest.fail(f"qfilter serve {shlex.join(arguments)} did not answer in {STARTUP_BOUND} s")
                time.sleep(0.1)

    def stop(self) -> None:
        for process, _ in self.running.values():
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover - uvicorn stops on SIGTERM
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    running = Servers(tmp_path_factory.mktemp("serve"))
    try:
        yield running
    finally:
        running.stop()


# -- the README's opening and generated pages ------------------------------------------------------------------


def test_the_readme_opens_with_the_main_job_then_the_suite() -> None:
    """The README's first commands: install the checkout with the server extra and serve, query it, run the suite.

    (Running them is test_block's job: the serve command is started there, on
    a free port, and the README's curl example is sent to it.)
    """
    serve, query, suite = [
        _commands(block) for block in BLOCKS if block.path == "README.md" and block.info == "console"
    ][:3]
    assert [_segments(command.text) for command in serve] == [
        [
            ["python3", "-m", "venv", ".venv"],
            [".venv/bin/pip", "install", "-q", ".[server]"],
            [".venv/bin/qfilter", "serve"],
        ]
    ]
    assert [_kind(words) for command in query for words in _segments(command.text)] == ["curl"]
    assert [_segments(command.text) for command in suite] == [[["bash", ".ci/run"]]]


def _fences(markdown: str) -> list[str]:
    """The info strings of the opening fences in Markdown text (or in a program's templates of it)."""
    return re.findall(r"```(\w*)", markdown)[0::2]


@pytest.mark.parametrize("page", sorted(GENERATED))
def test_generated_page(page: str) -> None:
    """The page says it is written by its generator, and the generator labels every fence it writes."""
    generator = GENERATED[page]
    assert "do not edit it by hand" in (ROOT / page).read_text(encoding="utf-8")
    labels = _fences((ROOT / generator).read_text(encoding="utf-8"))
    assert labels and all(labels), f"{generator} writes a fence without an info string: {labels}"
    # Until its next run, the page may still hold the unlabelled fences earlier versions of the generator wrote.
    shown = {block.info for block in _blocks(ROOT / page)}
    assert all(block.fenced for block in _blocks(ROOT / page))
    assert shown - {""} <= set(labels), f"{page} has fences {shown} its generator does not write ({labels})"
