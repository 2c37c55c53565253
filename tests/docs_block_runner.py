"""Run one ``python``, ``pycon`` or ``q`` block of the docs in the interpreter that runs this script.

``tests/test_docs_installs.py`` starts it with the Python of a virtualenv that
holds only what the block's page says to install, so it imports nothing but
the standard library and qfilter itself: no pytest, no httpx, nothing of the
test environment. It checks a block as ``tests/test_docs.py`` does (see that
module for the convention) and exits 1 with the reason on standard error when
the block fails.

Usage: ``python -P docs_block_runner.py KIND BLOCK_FILE SOURCE LINE``, where
``BLOCK_FILE`` holds the block's text, ``SOURCE`` is the document it comes
from (for tracebacks) and ``LINE`` the line of its opening fence.
"""

from __future__ import annotations

import doctest
import sys
import types
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def _run_python(text: str, source: str, line: int) -> None:
    # Blank lines first, so that a traceback's line numbers are the document's.
    code = compile("\n" * line + text, source, "exec")
    # A module of its own in sys.modules, where SQLAlchemy and pydantic look up the names in annotations.
    module = types.ModuleType("docs_block")
    sys.modules[module.__name__] = module
    exec(code, module.__dict__)
    app = getattr(module, "app", None)
    if app is not None and type(app).__name__ == "FastAPI":
        _request_get_routes(app)


def _request_get_routes(app: Any) -> None:
    """GET each route of ``app`` without path parameters over real HTTP: each must answer 200."""
    from fastapi.routing import APIRoute

    from qfilter.service.server import serve_in_thread

    paths = [
        route.path
        for route in app.routes
        if isinstance(route, APIRoute) and "GET" in (route.methods or ()) and "{" not in route.path
    ]
    if not paths:
        raise SystemExit("the app has no GET route to try")
    with serve_in_thread(app) as base_url:
        for path in paths:
            try:
                with urllib.request.urlopen(f"{base_url}{path}", timeout=30) as response:
                    status = response.status
            except urllib.error.HTTPError as error:
                raise SystemExit(f"GET {path} -> {error.code} {error.read().decode(errors='replace')}") from None
            if status != 200:
                raise SystemExit(f"GET {path} -> {status}")


def _run_session(text: str, source: str, line: int) -> None:
    test = doctest.DocTestParser().get_doctest(text, {"__name__": "docs_block"}, f"{source}:{line}", source, line)
    report: list[str] = []
    result = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(test, out=report.append, clear_globs=True)
    if result.failed:
        raise SystemExit("".join(report))


def _compile_filters(text: str) -> None:
    import qfilter

    for filter_text in text.splitlines():
        if filter_text.strip():
            qfilter.compile_predicate(filter_text, qfilter.WAYLAY, user="users/docs")


RUNNERS = {"python": _run_python, "pycon": _run_session}


def main(arguments: list[str]) -> None:
    """Run the block ``arguments`` name (see the module's docstring)."""
    kind, block_file, source, line = arguments
    text = Path(block_file).read_text(encoding="utf-8")
    if kind == "q":
        _compile_filters(text)
    else:
        RUNNERS[kind](text, source, int(line))


if __name__ == "__main__":
    main(sys.argv[1:])
