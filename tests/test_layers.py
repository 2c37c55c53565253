"""The layering contract: each layer imports only the ones below it, and breaking it is caught.

``lint-imports`` (import-linter) checks the contracts in ``pyproject.toml``;
``.ci/run`` runs it. These tests run it on a copy of the package with one
forbidden import added, to show that the contract is not vacuous.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed (the dev extra)")


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_with(tmp_path: Path, module: str, line: str) -> Path:
    shutil.copytree(ROOT / "qfilter", tmp_path / "qfilter", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    return tmp_path


def test_the_package_keeps_its_contracts() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("qfilter/core/plan.py", "import qfilter.sql.compiler", "layers"),
        ("qfilter/sql/compiler.py", "import qfilter.integrations.listing", "layers"),
        ("qfilter/memory/closures.py", "import qfilter.sql", "layers"),  # compilers are independent
        ("qfilter/integrations/listing.py", "import qfilter.service.tables", "layers"),
        ("qfilter/core/values.py", "import sqlalchemy", "no database or web framework"),
    ],
)
def test_a_forbidden_import_breaks_the_contract(tmp_path: Path, module: str, line: str, broken: str) -> None:
    result = lint(copy_with(tmp_path, module, line))
    assert result.returncode != 0
    assert any(broken in line for line in broken_contracts(result)), result.stdout


def broken_contracts(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.endswith(" BROKEN")]


def test_an_unlisted_subpackage_breaks_the_contract(tmp_path: Path) -> None:
    # The layers are exhaustive: a subpackage nobody placed cannot slip past them by being unknown.
    root = copy_with(tmp_path, "qfilter/core/values.py", "")
    extra = root / "qfilter" / "reports"
    extra.mkdir()
    (extra / "__init__.py").write_text("import qfilter.service.app\n", encoding="utf-8")
    result = lint(root)
    assert result.returncode != 0
    assert any("layers" in line for line in broken_contracts(result)), result.stdout
    assert "qfilter.reports" in result.stdout


def test_placing_the_subpackage_in_the_layers_keeps_the_contract(tmp_path: Path) -> None:
    root = copy_with(tmp_path, "qfilter/core/values.py", "")
    extra = root / "qfilter" / "reports"
    extra.mkdir()
    (extra / "__init__.py").write_text("import qfilter.service.app\n", encoding="utf-8")
    config = root / "pyproject.toml"
    text = config.read_text(encoding="utf-8")
    assert '    "cli",\n' in text
    config.write_text(text.replace('    "cli",\n', '    "cli",\n    "reports",\n', 1), encoding="utf-8")
    result = lint(root)
    assert result.returncode == 0, result.stdout + result.stderr
