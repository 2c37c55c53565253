"""The built wheel: distribution qfilter-lang, import package qfilter, its data files, and a working command."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import qfilter

ROOT = Path(__file__).resolve().parent.parent
DISTRIBUTION = "qfilter-lang"


def build_wheel(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--disable-pip-version-check",
            "-w",
            str(dist),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = dist.glob("qfilter_lang-*.whl")
    return wheel


def test_the_distribution_has_a_name_of_its_own_and_one_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == DISTRIBUTION  # "qfilter" on PyPI is someone else's project
    assert "version" in project["dynamic"]  # read from qfilter.__version__, written once
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_wheel_works_from_outside_the_source_tree(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    assert wheel.name.startswith(f"qfilter_lang-{qfilter.__version__}-")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert {"qfilter/core/qfilter.lark", "qfilter/py.typed", "qfilter/service/data/demo_queries.json"} <= names
        assert f"qfilter_lang-{qfilter.__version__}.dist-info/licenses/LICENSE" in names
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


def test_pip_install_gives_the_import_package_and_the_command(tmp_path: Path) -> None:
    """Installed by its distribution name, it brings ``import qfilter`` and the ``qfilter`` command."""
    wheel = build_wheel(tmp_path)
    prefix = tmp_path / "prefix"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--disable-pip-version-check"]
        # --ignore-installed: pip would otherwise uninstall this environment's own (editable) copy first.
        + ["--ignore-installed", "--prefix", str(prefix), str(wheel)],
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


def test_importing_qfilter_leaves_the_heavy_modules_for_first_use() -> None:
    # What `import qfilter` costs is a target (docs/performance.md): the SQL layer, Lark and
    # the ISO 8601 readers load when a filter first needs them.
    import subprocess
    import sys

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
