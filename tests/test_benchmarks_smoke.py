"""The benchmarks still run (tiny sizes, a few seconds): ``python -m benchmarks --smoke``.

Not a timing test: nothing here looks at how fast anything is. It runs in
qfilter's own test environment, where the peers and matplotlib are usually
absent; the benchmarks then skip them and say so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_benchmarks_run_on_tiny_sizes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--smoke",
            "--output",
            str(tmp_path),
            "--postgres-url",
            "none",
            "--mysql-url",
            "none",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = (tmp_path / "performance.md").read_text(encoding="utf-8")
    for heading in (
        "## Results against the targets of issues #6, #12, #13 and #14",
        "## Parse: text to syntax tree",
        "## This run",
    ):
        assert heading in report
    measures = (
        "| parse |",
        "| cached parse |",
        "| reject |",
        "| boolean |",
        "| in memory |",
        "| glob |",
        "| compile |",
        "| SQL |",
        "| import |",
        "| Django |",
        "| listing |",
        "| paging |",
    )
    for measure in (*measures, "| service |"):
        assert measure in report
    assert "(smoke sizes)" in report
    assert not (ROOT / "docs" / "performance.md").exists() or "smoke sizes" not in (
        ROOT / "docs" / "performance.md"
    ).read_text(encoding="utf-8")


def _suite_alone(tmp_path: Path, suite: str, *options: str) -> str:
    """The report of ``python -m benchmarks --smoke --only suite`` (which must succeed), in ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    command = [sys.executable, "-m", "benchmarks", "--smoke", "--only", suite, "--output", str(tmp_path), *options]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return (tmp_path / "performance.md").read_text(encoding="utf-8")


def test_the_glob_suite_runs_alone(tmp_path: Path) -> None:
    report = _suite_alone(tmp_path, "glob")
    rows = [line for line in report.splitlines() if line.startswith("| glob |")]
    # four values, closures and generated code, each in the targets' table and in the full table
    assert len(rows) == 2 * 4 * 2
    assert all("like(*a*), same value" in row and "≤ 10x" in row for row in rows[:8])


def test_the_listing_suite_runs_alone_and_every_sort_walks_an_index(tmp_path: Path) -> None:
    report = _suite_alone(tmp_path, "listing", "--postgres-url", "none", "--mysql-url", "none")
    rows = [line for line in report.splitlines() if line.startswith("| listing |")]
    # Waylay's 5 and Timeplus' 5 sortable fields, both directions, in the targets' table and in the full table
    assert len(rows) == 2 * 10 * 2
    targeted = rows[:20]
    assert all("≤ 1.2x, index walk" in row for row in targeted)
    # The plan shape is what smoke sizes can tell: both sides walk an index, on the generated SQLite rows.
    assert all(row.count("(index walk)") == 2 for row in targeted), targeted
    for sort in ("sort=name,", "sort=-created,", "sort=modified_by,"):
        assert any(sort in row and "Timeplus" in row for row in targeted)


def test_the_paging_suite_runs_alone(tmp_path: Path) -> None:
    # The suite asserts that the deep page by cursor is the page by offset, and that a capped count is capped.
    report = _suite_alone(tmp_path, "paging", "--postgres-url", "none", "--mysql-url", "none")
    targeted = [line for line in report.splitlines() if line.startswith("| paging |") and "≤" in line]
    # three orders by cursor and one capped count on SQLite
    assert len(targeted) == 4, targeted
    assert sum("next page by cursor" in row and "≤ 2x" in row for row in targeted) == 3
    assert sum("count capped at" in row and "≤ 1.5x" in row for row in targeted) == 1


def test_the_benchmark_filters_mean_the_same_in_qfilter() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import filters
    finally:
        sys.path.remove(str(ROOT))
    import qfilter

    seed = filters.to_q(filters.SEED)
    assert seed == 'name:demo tag:demo -tag:not-demo resource:151CF created:"2020-04-22T12:34:00+00:00/now-P1W"'
    for terms in filters.FILTERS.values():
        parsed = qfilter.parse(filters.to_q(terms))
        assert len(parsed.terms) == len(terms)
        qfilter.bind(parsed, qfilter.WAYLAY)
        assert filters.tokenise(filters.to_q(terms))


def test_the_deep_benchmark_filter_is_issue_twelves_case() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.bench import deep_filter
    finally:
        sys.path.remove(str(ROOT))
    import qfilter
    from qfilter.core import parser

    deep, flat = deep_filter()
    wide = qfilter.Limits(max_terms=128)
    parsed = qfilter.parse(deep, limits=wide)
    assert parser._operators(parsed.expression) == 64  # type: ignore[arg-type]
    assert parsed.terms == qfilter.parse(flat).terms  # the same terms, positions aside
    with pytest.raises(qfilter.FilterLimitError, match="16 levels"):
        qfilter.parse(f"({deep})", limits=wide)
    assert qfilter.parse(deep, limits=qfilter.Limits(max_terms=128, max_depth=16)) == parsed
    with pytest.raises(qfilter.FilterLimitError, match="15 levels"):
        qfilter.parse(deep, limits=qfilter.Limits(max_terms=128, max_depth=15))
    with pytest.raises(qfilter.FilterLimitError, match="terms and operators"):
        qfilter.parse(deep, limits=qfilter.Limits(max_terms=127))


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_the_kept_datas_fingerprints_are_the_same_in_every_process(dialect: str) -> None:
    # A fingerprint that changes between processes makes a run load its 10^6 rows again, every time.
    script = (
        "import sqlalchemy as sa\n"
        "from benchmarks import listing_bench, sql_bench\n"
        f"engine = sa.create_engine(sa.engine.URL.create({dialect!r}))\n"
        "print(listing_bench._fingerprint(engine, 10), sql_bench._fingerprint(engine, 10))\n"
    )
    seen = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        for seed in range(3)
    }
    assert len(seen) == 1, seen
