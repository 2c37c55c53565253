"""Run the benchmarks and rewrite docs/performance.md and docs/performance.png.

``bash benchmarks/run`` is the documented way in (it prepares the benchmark
environment); ``python -m benchmarks --help`` shows the options. Peers that
are not installed are skipped and said to be missing, so the same code runs
as a smoke test in qfilter's own test environment.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from . import filters, handwritten
from .data import NOW, waylay_entities
from .timing import Timing, measure

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_MYSQL_URL = "mysql+pymysql://root@127.0.0.1:3306/test"


@dataclass
class Row:
    """One comparison: a subject's median against a baseline's, from the same run."""

    measure: str
    case: str
    subject: str
    subject_time: Timing | None
    baseline: str
    baseline_time: Timing | None
    target: str = ""
    limit: float | None = None  # the ratio must be <= limit ...
    absolute_limit: float | None = None  # ... and/or the subject's median <= this many seconds
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.subject_time is None or self.baseline_time is None:
            return None
        return self.subject_time.median / self.baseline_time.median

    @property
    def ratio_text(self) -> str:
        if self.ratio is None:
            return "—"
        if "above" in self.extra:
            return f"+{self.extra['above'] * 1e3:.0f} ms ({self.ratio:.3g}x)"
        return f"{self.ratio:.3g}x"

    @property
    def verdict(self) -> str:
        if self.subject_time is None or self.baseline_time is None:
            targeted = self.limit is not None or self.absolute_limit is not None or bool(self.target)
            return "pending" if targeted else "—"
        if not self.target:
            return "—"
        checks = []
        if self.limit is not None:
            checks.append(self.ratio is not None and self.ratio <= self.limit)
        if self.absolute_limit is not None:
            checks.append(self.subject_time.median <= self.absolute_limit)
        if "same_plan" in self.extra:
            checks.append(bool(self.extra["same_plan"]))
        checks.extend(bool(check) for check in self.extra.get("checks", ()))  # e.g. an index the plan must use
        if self.extra.get("limit_above") is not None:
            checks.append(self.extra["above"] <= self.extra["limit_above"])
        if not checks:
            return "—"
        return "met" if all(checks) else "MISSED"


@dataclass
class Config:
    entities: int
    rows: int
    rounds: int
    sample_time: float
    import_runs: int
    sql_rounds: int
    postgres_url: str | None
    only: set[str]
    output: Path
    smoke: bool
    mysql_url: str | None = None
    sql_databases: frozenset[str] = frozenset({"sqlite", "postgresql", "mariadb"})


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# --- parse ---------------------------------------------------------------------------------


def _peer_parsers() -> dict[str, tuple[Any, Any]]:
    """Each installed peer: (translator to its language, text -> parsed tree)."""
    peers: dict[str, tuple[Any, Any]] = {}
    if _have("odata_query"):
        from odata_query.grammar import ODataLexer, ODataParser

        odata_lexer, odata_parser = ODataLexer(), ODataParser()
        peers["odata-query"] = (filters.to_odata, lambda text: odata_parser.parse(odata_lexer.tokenize(text)))
    if _have("scim2_filter_parser"):
        from scim2_filter_parser.lexer import SCIMLexer
        from scim2_filter_parser.parser import SCIMParser

        scim_lexer, scim_parser = SCIMLexer(), SCIMParser()
        peers["scim2-filter-parser"] = (filters.to_scim, lambda text: scim_parser.parse(scim_lexer.tokenize(text)))
    if _have("luqum"):
        from luqum.parser import parser as luqum_parser

        peers["luqum"] = (filters.to_luqum, luqum_parser.parse)
    return peers


PEERS = ("odata-query", "scim2-filter-parser", "luqum")


def parse_suite(config: Config) -> tuple[list[Row], dict[str, dict[str, Timing]], dict[str, dict[str, str]]]:
    import qfilter
    from qfilter.core import parser as qparser

    peers = _peer_parsers()
    rows: list[Row] = []
    tables: dict[str, dict[str, Timing]] = {}
    texts: dict[str, dict[str, str]] = {}
    lark_only = getattr(qparser, "_parse_text", None)
    for name, terms in filters.FILTERS.items():
        q = filters.to_q(terms)
        parsed = qfilter.parse(q, cache=False)
        qfilter.bind(parsed, qfilter.WAYLAY, qfilter.Context(now=NOW))  # a filter that means something
        texts[name] = {"qfilter": q}
        cases: dict[str, Any] = {
            "qfilter": partial(qfilter.parse, q, cache=False),
            "qfilter, cached": partial(qfilter.parse, q),
        }
        if lark_only is not None:
            cases["qfilter, Lark only"] = partial(lark_only, q, None, qfilter.DEFAULT_LIMITS, False)
        for peer, (translate, parse) in peers.items():
            text = translate(terms)
            parse(text)  # it must be valid in the peer's language
            texts[name][peer] = text
            cases[peer] = partial(parse, text)
        cases["regex tokenise (floor)"] = partial(filters.tokenise, q)
        timings = measure(cases, rounds=config.rounds, sample_time=config.sample_time)
        tables[name] = timings
        fastest = min((p for p in PEERS if p in timings), key=lambda p: timings[p].median, default=None)
        seed = name == "seed"
        rows.append(
            Row(
                "parse",
                name,
                "qfilter",
                timings["qfilter"],
                f"fastest peer ({fastest})" if fastest else "fastest peer (none installed)",
                timings[fastest] if fastest else None,
                target="≥ 4x faster (ratio ≤ 0.25)" if seed else "",
                limit=0.25 if seed else None,
            )
        )
        rows.append(
            Row(
                "parse",
                name,
                "qfilter",
                timings["qfilter"],
                "regex tokenise (floor)",
                timings["regex tokenise (floor)"],
                target="≤ 8x" if seed else "",
                limit=8.0 if seed else None,
            )
        )
        rows.append(
            Row(
                "cached parse",
                name,
                "qfilter, cached",
                timings["qfilter, cached"],
                "qfilter (uncached)",
                timings["qfilter"],
                target="median ≤ 2 µs" if seed else "",
                absolute_limit=2e-6 if seed else None,
            )
        )
    return rows, tables, texts


# --- in memory -----------------------------------------------------------------------------


def memory_suite(config: Config) -> list[Row]:
    import qfilter

    entities = waylay_entities(config.entities)
    rows = []
    for name, make in handwritten.HANDWRITTEN.items():
        q = filters.to_q(filters.FILTERS[name])

        def compiled(q: str = q) -> list[Any]:
            return qfilter.compile_predicate(q, qfilter.WAYLAY, now=NOW).filter(entities)

        def by_hand(make: Callable[[datetime], Callable[[list[Any]], list[Any]]] = make) -> list[Any]:
            return make(NOW)(entities)

        expected, got = by_hand(), compiled()
        if [id(e) for e in got] != [id(e) for e in expected]:
            raise AssertionError(f"{name}: qfilter keeps {len(got)} entities, the hand-written code {len(expected)}")
        timings = measure(
            {"qfilter": compiled, "hand-written": by_hand}, rounds=config.rounds, sample_time=config.sample_time
        )
        seed = name == "seed"
        rows.append(
            Row(
                "in memory",
                f"{name}, {config.entities:,} entities → {len(got):,}",
                "qfilter compile + filter",
                timings["qfilter"],
                "hand-written Python",
                timings["hand-written"],
                target="≤ 1.3x" if seed else "",
                limit=1.3 if seed else None,
            )
        )
    return rows


# --- import --------------------------------------------------------------------------------


def import_suite(config: Config) -> list[Row]:
    from .timing import Timing

    seed = filters.to_q(filters.SEED)
    programs = {
        "bare": "pass",
        "import": "import qfilter",
        "import + parse": f"import qfilter; qfilter.parse({seed!r})",
        "import + Lark": "import qfilter.core.parser as p; p._lark()",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    samples: dict[str, list[float]] = {name: [] for name in programs}
    for program in programs.values():  # warm the file system cache and .pyc files
        subprocess.run([sys.executable, "-c", program], check=True, env=env, cwd=ROOT)
    for _ in range(config.import_runs):
        for name, program in programs.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", program], check=True, env=env, cwd=ROOT)
            samples[name].append(time.perf_counter() - start)

    def timing(values: list[float]) -> Timing:
        import statistics

        values = sorted(values)
        q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        return Timing(statistics.median(values), q[0], q[2], 1, len(values))

    t = {name: timing(values) for name, values in samples.items()}
    above = {name: t[name].median - t["bare"].median for name in programs}
    rows = []
    for name, case, label, target in (
        ("import", "import qfilter", "python -c 'import qfilter'", "≤ 80 ms above bare start"),
        ("import + parse", "import, parse the seed", "… then qfilter.parse(seed)", ""),
        ("import + Lark", "import, build Lark", "… then build the Lark parser", ""),
    ):
        rows.append(
            Row(
                "import",
                case,
                label,
                t[name],
                "python -c 'pass'",
                t["bare"],
                target=target,
                absolute_limit=None,
                extra={"above": above[name], "limit_above": 0.080 if target else None},
            )
        )
    return rows


# --- SQL -----------------------------------------------------------------------------------


def sql_suite(config: Config) -> list[Row]:
    from . import sql_bench

    return sql_bench.run(config)


# --- report --------------------------------------------------------------------------------

SUITES = ("parse", "memory", "import", "sql")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds: checks that it all runs")
    parser.add_argument("--entities", type=int, help="in-memory entities (default 100,000)")
    parser.add_argument("--rows", type=int, help="SQL table rows (default 1,000,000)")
    parser.add_argument("--rounds", type=int, help="timed samples per case (default 15)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(SUITES)}")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("QFILTER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="SQLAlchemy URL of a PostgreSQL database to use (default %(default)s; 'none' to skip)",
    )
    parser.add_argument(
        "--mysql-url",
        default=os.environ.get("QFILTER_BENCH_MYSQL_URL", DEFAULT_MYSQL_URL),
        help="SQLAlchemy URL of a MariaDB database to use (default %(default)s; 'none' to skip)",
    )
    parser.add_argument(
        "--sql-databases",
        default="sqlite,postgresql,mariadb",
        help="comma-separated databases the sql suite measures (default %(default)s)",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "docs", help="where performance.md/.png go")
    args = parser.parse_args(argv)
    smoke = args.smoke
    config = Config(
        entities=args.entities or (300 if smoke else 100_000),
        rows=args.rows or (2_000 if smoke else 1_000_000),
        rounds=args.rounds or (3 if smoke else 15),
        sample_time=0.002 if smoke else 0.02,
        import_runs=2 if smoke else 21,
        sql_rounds=2 if smoke else 9,
        postgres_url=None if args.postgres_url in ("", "none") else args.postgres_url,
        only=set(args.only.split(",")) if args.only else set(SUITES),
        output=args.output,
        smoke=smoke,
        mysql_url=None if args.mysql_url in ("", "none") else args.mysql_url,
        sql_databases=frozenset(args.sql_databases.split(",")),
    )
    unknown = config.only - set(SUITES)
    if unknown:
        parser.error(f"unknown suites: {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    rows: list[Row] = []
    parse_tables: dict[str, dict[str, Timing]] = {}
    texts: dict[str, dict[str, str]] = {}
    if "parse" in config.only:
        print("parse ...", flush=True)
        parse_rows, parse_tables, texts = parse_suite(config)
        rows += parse_rows
    if "memory" in config.only:
        print("in memory ...", flush=True)
        rows += memory_suite(config)
    if "sql" in config.only:
        print("SQL ...", flush=True)
        rows += sql_suite(config)
    if "import" in config.only:
        print("import ...", flush=True)
        rows += import_suite(config)
    elapsed = time.perf_counter() - started
    from .report import write_report

    config.output.mkdir(parents=True, exist_ok=True)
    write_report(config, rows, parse_tables, texts, elapsed, _environment())
    for row in rows:
        print(f"  {row.measure:12} {row.case:36} {row.subject:28} vs {row.baseline:36}", row.ratio_text, row.verdict)
    print(f"done in {elapsed:.0f} s; wrote {config.output / 'performance.md'}")
    return 0


def _environment() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = []
    for package in ("qfilter", "lark", "odata-query", "scim2-filter-parser", "luqum", "sqlalchemy", "psycopg"):
        try:
            versions.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores ({_cpu_name()})",
        "load": load,
        "packages": ", ".join(versions),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"
