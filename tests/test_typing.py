"""mypy names every backend that misses a condition or a way of reading values (issue 19, point 5).

As attrs pins its typing with mypy test cases, ``tests/typing/`` holds a
backend that handles every condition and every ``Reading``, and two copies
that each leave one out. ``mypy --strict`` (the project's configuration)
must accept the first and reject each copy with an error at its
``assert_never`` naming what it left out: adding a condition class to the
IR, or a reading to the kinds, then fails the type check of every backend
that does not handle it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api", reason="mypy is in the dev dependency group")

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "typing"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """mypy's errors for each case file, by file name (one run for all three)."""
    files = sorted(CASES.glob("*.py"))
    cache = tmp_path_factory.mktemp("mypy-cache")
    stdout, stderr, _ = api.run(
        ["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(cache), "--no-error-summary"]
        + [str(path) for path in files]
    )
    assert not stderr, stderr
    found: dict[str, list[str]] = {path.name: [] for path in files}
    for line in stdout.splitlines():
        match = re.match(r"(?:.*[/\\])?([^/\\]+\.py):(\d+): error: (.*)", line)
        if match:
            found.setdefault(match[1], []).append(f"{match[2]}: {match[3]}")
    return found


def _line_of(name: str, text: str) -> int:
    lines = (CASES / name).read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def test_a_backend_that_handles_everything_type_checks(reports: dict[str, list[str]]) -> None:
    assert reports["backend_complete.py"] == []


def test_a_backend_missing_a_condition_fails_at_its_assert_never(reports: dict[str, list[str]]) -> None:
    line = _line_of("backend_missing_a_condition.py", "assert_never(predicate)")
    errors = reports["backend_missing_a_condition.py"]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{line}: ") and '"assert_never" has incompatible type "Call"' in errors[0]


def test_a_backend_missing_a_reading_fails_at_its_assert_never(reports: dict[str, list[str]]) -> None:
    line = _line_of("backend_missing_a_reading.py", "assert_never(reads)")
    errors = reports["backend_missing_a_reading.py"]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{line}: ")
    assert '"assert_never" has incompatible type "Literal[\'json\']"' in errors[0]
