"""The SQL measure: qfilter's compiled clause against hand-written SQL, same plan, same time.

The data are the in-memory benchmark's Waylay entities (``benchmarks/data.py``),
``--rows`` of them, stored with qfilter's own reference tables and loader
(``qfilter.service.tables``: the entity table with its indexes on the time and
user columns, the tag and resource association tables with their
``(value, name)`` indexes), then ``ANALYZE``-d. Loading a million rows takes
minutes, so the databases are kept between runs: SQLite in
``benchmarks/.data/``, PostgreSQL and MariaDB in a database ``qfilter_bench``
beside the one ``--postgres-url`` or ``--mysql-url`` names; a fingerprint of the data and of the tables'
DDL says when they must be rebuilt.

Each case runs qfilter's statement (``compile_clause`` included) and each
hand-written variant of the same meaning, checks that they return the same
rows, compares their plans (``EXPLAIN QUERY PLAN`` / ``EXPLAIN (COSTS OFF)`` / ``EXPLAIN``)
and times them interleaved. The baseline is the fastest hand-written
variant.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import filters
from .data import DATA_VERSION, NOW, iter_waylay_entities
from .timing import measure

if TYPE_CHECKING:
    import sqlalchemy as sa

    from .bench import Config, Row

DATA_DIR = Path(__file__).resolve().parent / ".data"
START = NOW.replace(year=2020, month=4, day=22, hour=12, minute=34)
END = NOW - timedelta(weeks=1)

# Hand-written SQL of the same meaning as the filters: what a developer writes
# against the reference tables, in two forms: correlated EXISTS for every
# tag and resource term, or IN (subquery) for the positive ones (which lets
# a planner start from the tag index) and NOT EXISTS for the excluded ones.
# Case-insensitive "contains" folds case the way Python does on both
# databases (SQLite's own lower() and LIKE fold ASCII only; PostgreSQL's name
# column has the C collation), as qfilter must.
_NAME = {
    "sqlite": "instr(qfilter_lower(name), :name) > 0",
    # LIKE, as qfilter writes it on PostgreSQL (a trigram index could serve it); no pattern characters in 'demo'.
    "postgresql": 'lower(name COLLATE "und-x-icu") LIKE :name_pattern',
    # LOWER under UCA 14.0 after str.lower's two context rules (docs/sql.md, MariaDB); the name
    # column is utf8mb4_nopad_bin, so INSTR compares code points.
    "mysql": "INSTR(LOWER(REPLACE(REGEXP_REPLACE(name, :sigma, :final_sigma), :dotted_i, :dotted_i_lower)"
    " COLLATE utf8mb4_uca1400_ai_ci) COLLATE utf8mb4_nopad_bin, :name) > 0",
}
_EXISTS = (
    "EXISTS (SELECT 1 FROM {table} WHERE {table}.query_name = waylay_queries.name AND {table}.{column} = :{param})"
)
_IN = "name IN (SELECT query_name FROM {table} WHERE {column} = :{param})"


def _hand_sql(case: str, dialect: str, form: str) -> str:
    member = _EXISTS if form == "EXISTS" else _IN

    def has(table: str, column: str, param: str, negated: bool = False) -> str:
        if negated:  # NOT EXISTS in both forms: NOT IN cannot become an anti-join on PostgreSQL
            return "NOT " + _EXISTS.format(table=table, column=column, param=param)
        return member.format(table=table, column=column, param=param)

    if case == "1 term":
        where = [has("waylay_query_tags", "tag", "tag")]
    else:
        where = [
            _NAME[dialect],
            has("waylay_query_tags", "tag", "tag"),
            has("waylay_query_tags", "tag", "not_tag", negated=True),
            has("waylay_query_resources", "resource", "resource"),
            "created >= :start AND created < :end",
        ]
    return "SELECT name FROM waylay_queries WHERE " + "\n  AND ".join(where)


def _hand_params(case: str, dialect: str) -> dict[str, Any]:
    if case == "1 term":
        return {"tag": "demo"}
    start: str | datetime
    end: str | datetime
    if dialect == "sqlite":  # how the reference table stores times on SQLite (UTC text)
        start, end = (t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") for t in (START, END))
    elif dialect == "mysql":  # DATETIME(6) holding UTC
        start, end = (t.astimezone(UTC).replace(tzinfo=None) for t in (START, END))
    else:
        start, end = START, END
    found: dict[str, Any] = {"name": "demo", "tag": "demo", "not_tag": "not-demo", "resource": "151CF"}
    if dialect == "mysql":
        found.update(_MARIADB_FOLDING)
    if dialect == "postgresql":
        found["name_pattern"] = "%demo%"
    return {**found, "start": start, "end": end}


_MARIADB_FOLDING = {
    "sigma": r"(?-i)((?!\p{Case_Ignorable})\p{Cased}\p{Case_Ignorable}*+)Σ(?!\p{Case_Ignorable}*+\p{Cased})",
    "final_sigma": r"\1ς",
    "dotted_i": "İ",
    "dotted_i_lower": "i̇",
}


CASES = ("seed", "1 term")
FORMS = ("EXISTS", "IN")

# Issue 13: an OR of values of one multi-valued field (the 8 tags of the data, and 2 no entity has).
TAGS_2 = ["demo", "prio1"]
TAGS_10 = ["demo", "not-demo", "old", "imported", "preview", "prio1", "prio2", "ab c", "t9", "t10"]
NAME_FRAGMENT = "co2 12345"
"""A selective ``name:`` fragment (a few names of a million): where a trigram index pays."""


@dataclass
class SqlCase:
    """One statement of qfilter's against hand-written SQL of the same meaning, on one database."""

    name: str
    q: str
    hand: dict[str, str]
    """Each hand-written form's SQL, by the form's name."""
    params: dict[str, Any]
    target: str = ""
    limit: float | None = None
    same_plan: bool = True
    """Whether the verdict needs qfilter's plan to be the fastest hand-written form's."""
    schema: Any = None
    mapping: Any = None
    table: Any = None


def _tag_list(dialect: str, tags: list[str]) -> tuple[str, dict[str, Any]]:
    names = [f"t{i}" for i in range(len(tags))]
    return ", ".join(f":{n}" for n in names), dict(zip(names, tags, strict=True))


def _or_of_tags(dialect: str, tags: list[str]) -> SqlCase:
    listed, params = _tag_list(dialect, tags)
    subquery = f"SELECT query_name FROM waylay_query_tags WHERE tag IN ({listed})"
    exists = (
        "SELECT name FROM waylay_queries WHERE EXISTS (SELECT 1 FROM waylay_query_tags WHERE "
        f"waylay_query_tags.query_name = waylay_queries.name AND tag IN ({listed}))"
    )
    hand = {"IN": f"SELECT name FROM waylay_queries WHERE name IN ({subquery})", "EXISTS": exists}
    if dialect == "postgresql":
        hand["= ANY"] = (
            "SELECT name FROM waylay_queries WHERE name IN "
            "(SELECT query_name FROM waylay_query_tags WHERE tag = ANY(:tags))"
        )
        params["tags"] = tags
    q = " ".join(f'tag:"{tag}"' for tag in tags)
    return SqlCase(f"OR of {len(tags)} tags", q, hand, params, target="≤ 1.1x, same plan", limit=1.1)


def _extra_cases(dialect: str) -> list[SqlCase]:
    return [_or_of_tags(dialect, TAGS_2), _or_of_tags(dialect, TAGS_10)]


def _count_cases(config: Config, conn: sa.Connection, label: str) -> list[Row]:
    """Issue 20's OR-of-values plan: the count of an OR of tags from the tag table alone, against through the entities.

    ``qfilter.sql.count_matches`` reads the association table alone where the
    foreign key holds (on SQLite with ``PRAGMA foreign_keys``, which the
    benchmark's engine turns on as the service's does); the baseline is the
    count the listing ran before, ``count(*)`` of the entities ``IN`` the lookup.
    """
    import qfilter
    from qfilter import sql
    from qfilter.service import tables as reference

    from .bench import Row

    table = reference.WAYLAY_TABLE
    found = []
    for tags in (TAGS_2, TAGS_10):
        q = " ".join(f'tag:"{tag}"' for tag in tags)
        where = sql.compile_clause(q, qfilter.WAYLAY, reference.WAYLAY_SQL, now=NOW, dialect=conn.dialect)

        def counted(where: Any = where) -> int:
            return sql.count_matches(conn, table, where)

        def through(where: Any = where) -> int:
            return int(conn.execute(sql.count_statement(table, where, through_foreign_keys=False)).scalar_one())

        cases: dict[str, Callable[[], int]] = {"qfilter": counted, "through": through}  # each builds its statement
        answers = {name: case() for name, case in cases.items()}
        if answers["qfilter"] != answers["through"]:
            raise AssertionError(f"count, OR of {len(tags)} tags, {label}: {answers}")
        timings = measure(cases, rounds=config.sql_rounds, sample_time=config.sample_time)
        found.append(
            Row(
                "SQL count",
                f"OR of {len(tags)} tags, {label}, {config.rows:,} rows → {answers['qfilter']:,}",
                "qfilter count_matches (the tag table alone)",
                timings["qfilter"],
                "count(*) of the entities IN the lookup",
                timings["through"],
                target="< 1x (the faster plan wins)",
                limit=1.0,
            )
        )
    return found


def _name_case(indexed: bool) -> SqlCase:
    folded = 'lower(name COLLATE "und-x-icu")'
    return SqlCase(
        f"name:, {'with the trigram index' if indexed else 'no trigram index'}",
        f'name:"{NAME_FRAGMENT}"',
        {
            "LIKE": f"SELECT name FROM waylay_queries WHERE {folded} LIKE :pattern",
            # With the index, strpos (no index serves it) is a 0.4 s scan among 4 ms statements: each
            # scan upset the next samples; the case without the index shows it.
            **({} if indexed else {"strpos": f"SELECT name FROM waylay_queries WHERE strpos({folded}, :name) > 0"}),
        },
        {"pattern": f"%{NAME_FRAGMENT}%", "name": NAME_FRAGMENT},
        target="≤ 1.1x hand-written LIKE, index used" if indexed else "",
        limit=1.1 if indexed else None,
    )


TRIGRAM_INDEX = "qfilter_bench_name_trgm"
TRIGRAM_DDL = f'CREATE INDEX {TRIGRAM_INDEX} ON waylay_queries USING gin (lower(name COLLATE "und-x-icu") gin_trgm_ops)'
"""The index docs/sql.md documents for ``name:`` and ``like()`` on PostgreSQL."""
JSONB_TABLE = "qfilter_bench_jsonb_tags"


def _jsonb_case(conn: sa.Connection) -> SqlCase:
    """``tag:`` over a ``jsonb`` tags column with a GIN index (the Timeplus shape), made from the tag table."""
    import sqlalchemy as sa
    from sqlalchemy.dialects.postgresql import JSONB

    from qfilter import Field, Kind, Schema
    from qfilter.sql import Column, JsonArray

    wanted = conn.execute(sa.text("SELECT count(*) FROM waylay_queries")).scalar()
    have = None
    if sa.inspect(conn).has_table(JSONB_TABLE):
        have = conn.execute(sa.text(f"SELECT count(*) FROM {JSONB_TABLE}")).scalar()
    if have != wanted:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {JSONB_TABLE}")
        conn.exec_driver_sql(f'CREATE TABLE {JSONB_TABLE} (name TEXT COLLATE "C" PRIMARY KEY, tags JSONB)')
        conn.exec_driver_sql(
            f"INSERT INTO {JSONB_TABLE} SELECT q.name, coalesce(jsonb_agg(t.tag) FILTER (WHERE t.tag IS NOT NULL), "
            "'[]') FROM waylay_queries q LEFT JOIN waylay_query_tags t ON t.query_name = q.name GROUP BY q.name"
        )
        conn.exec_driver_sql(f"CREATE INDEX {JSONB_TABLE}_gin ON {JSONB_TABLE} USING gin (tags)")
        conn.exec_driver_sql(f"ANALYZE {JSONB_TABLE}")
        conn.commit()
    table = sa.Table(
        JSONB_TABLE, sa.MetaData(), sa.Column("name", sa.Text(), primary_key=True), sa.Column("tags", JSONB())
    )
    schema = Schema("bench", (Field("name", Kind.TEXT, "name"), Field("tag", Kind.EXACT, "tags")))
    return SqlCase(
        "tag:, GIN-indexed jsonb column",
        "tag:prio2",
        {"@>": f"SELECT name FROM {JSONB_TABLE} WHERE tags @> CAST(:tags AS jsonb)"},
        {"tags": '["prio2"]'},
        target="≤ 1.1x hand-written @>",
        limit=1.1,
        same_plan=False,
        schema=schema,
        mapping={"name": Column(table.c.name), "tag": JsonArray(table.c.tags)},
        table=table,
    )


def _pending(config: Config, why: str) -> list[Row]:
    from .bench import Row

    backends = ["SQLite"] + (["PostgreSQL"] if config.postgres_url else []) + (["MariaDB"] if config.mysql_url else [])
    return [
        Row(
            "SQL",
            f"{case}, {backend}, {config.rows:,} rows",
            "qfilter clause",
            None,
            "hand-written SQL",
            None,
            target="≤ 1.1x, same plan" if case == "seed" else "",
            limit=1.1 if case == "seed" else None,
            note=f"SQL: pending, {why}.",
        )
        for backend in backends
        for case in CASES
    ]


def reference_ddl(engine: sa.Engine) -> str:
    """The DDL of qfilter's reference tables and their indexes on ``engine``'s database, the same in every process.

    The indexes' DDL is sorted as text: a table's indexes are a set, and the
    sort recipe gives each dialect's form of an index the same name, so an
    order by name changed from one process to the next, and with it every
    fingerprint (the data were made again on every run).
    """
    import sqlalchemy as sa

    from qfilter.service import tables as reference

    tables = [str(sa.schema.CreateTable(table).compile(engine)) for table in reference.METADATA.sorted_tables]
    indexes = sorted(
        str(sa.schema.CreateIndex(index).compile(engine))
        for table in reference.METADATA.sorted_tables
        for index in table.indexes
    )
    return "\n".join(tables + indexes)


def _fingerprint(engine: sa.Engine, rows: int) -> str:
    return hashlib.sha256(f"{DATA_VERSION}/{rows}/{reference_ddl(engine)}".encode()).hexdigest()[:16]


def _load(engine: sa.Engine, rows: int, log: Any) -> None:
    """Make the reference tables hold ``rows`` generated entities, unless they already do."""
    import sqlalchemy as sa

    from qfilter.service import tables as reference

    fingerprint = _fingerprint(engine, rows)
    marker = sa.Table("qfilter_bench_info", sa.MetaData(), sa.Column("fingerprint", sa.String(64), primary_key=True))
    with engine.connect() as conn:
        if sa.inspect(conn).has_table(marker.name):
            if conn.execute(sa.select(marker.c.fingerprint)).scalar() == fingerprint:
                return
    log(f"    loading {rows:,} entities into {engine.dialect.name} (kept for later runs) ...")
    started = time.perf_counter()
    with engine.begin() as conn:
        marker.drop(conn, checkfirst=True)
        reference.METADATA.drop_all(conn)
        reference.METADATA.create_all(conn)
        batch: list[dict[str, Any]] = []
        for entity in iter_waylay_entities(rows):
            batch.append(entity)
            if len(batch) == 20_000:
                reference.insert_waylay_queries(conn, batch)
                batch = []
        if batch:
            reference.insert_waylay_queries(conn, batch)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "mysql":
            conn.exec_driver_sql("ANALYZE TABLE " + ", ".join(reference.METADATA.tables))
        else:
            conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
    with engine.begin() as conn:
        marker.create(conn)
        conn.execute(sa.insert(marker), {"fingerprint": fingerprint})
    log(f"    loaded in {time.perf_counter() - started:.0f} s")


def _sqlite_engine(config: Config) -> sa.Engine:
    import sqlalchemy as sa

    from qfilter import sql

    folder = config.output / "sql-smoke" if config.smoke else DATA_DIR
    folder.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(f"sqlite:///{folder / f'waylay-{config.rows}.sqlite3'}")
    sql.install_sqlite_functions(engine)

    @sa.event.listens_for(engine, "connect")
    def foreign_keys(dbapi_connection: Any, record: Any) -> None:  # enforced, as by the service
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    return engine


def _postgres_engine(config: Config) -> sa.Engine:
    import sqlalchemy as sa

    assert config.postgres_url is not None
    url = sa.make_url(config.postgres_url)
    name = "qfilter_bench" if not config.smoke else "qfilter_bench_smoke"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": name}).scalar()
        if not exists:
            conn.exec_driver_sql(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    admin.dispose()
    # psycopg prepares a statement on the server after 5 executions, and PostgreSQL may then
    # swap custom plans for a generic one at a different execution for each of two equal
    # statements: the timings turn bimodal. Without that, every execution is planned with its
    # values, as the EXPLAIN output shows.
    return sa.create_engine(url.set(database=name), connect_args={"prepare_threshold": None})


def _mysql_engine(config: Config) -> sa.Engine:
    import sqlalchemy as sa

    assert config.mysql_url is not None
    url = sa.make_url(config.mysql_url)
    name = "qfilter_bench" if not config.smoke else "qfilter_bench_smoke"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
    admin.dispose()
    return sa.create_engine(url.set(database=name))


def _plan(conn: sa.Connection, sql_text: str) -> str:
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql_text).all()
        depth: dict[int, int] = {0: -1}
        lines = []
        for node, parent, _, detail in rows:
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + detail)
        return "\n".join(lines)
    if conn.dialect.name == "mysql":
        # Each table's access: the row estimates are left out, as PostgreSQL's costs are.
        steps = conn.exec_driver_sql("EXPLAIN " + sql_text.replace("%", "%%")).mappings().all()
        return "\n".join(
            f"{r['id']} {r['select_type']} {r['table']} {r['type']} key={r['key']} ref={r['ref']} {r['Extra'] or ''}"
            for r in steps
        )
    return "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN (COSTS OFF) " + sql_text).all())


def _literal(statement: Any, conn: sa.Connection) -> str:
    return str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))


def _normalised(plan: str) -> str:
    """A plan without what differs between equal plans: the numbers SQLite gives its
    subqueries and PostgreSQL the second instance of a table (``waylay_query_tags_1``)."""
    from qfilter.service import tables as reference

    plan = re.sub(r"\b(SUBQUERY|LIST SUBQUERY|SCALAR SUBQUERY) \d+", r"\1 N", plan)
    for table in reference.METADATA.tables:
        plan = re.sub(rf"\bon {table} {table}(_\d+)?\b", f"on {table}", plan)
        plan = re.sub(rf"\b{table}_\d+\.", f"{table}.", plan)
    return plan


def _backend(config: Config, label: str, engine: sa.Engine, log: Any) -> list[Row]:
    _load(engine, config.rows, log)
    rows = []
    dialect = engine.dialect.name
    with engine.connect() as conn:
        for case in CASES:
            seed = case == "seed"
            spec = SqlCase(
                case,
                filters.to_q(filters.FILTERS[case]),
                {form: _hand_sql(case, dialect, form) for form in FORMS},
                _hand_params(case, dialect),
                target="≤ 1.1x, same plan" if seed else "",
                limit=1.1 if seed else None,
            )
            rows.append(_run_case(config, conn, label, spec))
        for spec in _extra_cases(dialect):
            rows.append(_run_case(config, conn, label, spec))
        rows += _count_cases(config, conn, label)
        if dialect == "postgresql":
            rows += _postgresql_cases(config, conn, label, log)
    engine.dispose()
    return rows


def _postgresql_cases(config: Config, conn: sa.Connection, label: str, log: Any) -> list[Row]:
    """``name:`` without and with the documented trigram index, and a GIN-indexed jsonb tags column."""
    from .bench import Row

    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")  # left over by an interrupted run
    conn.commit()
    rows = [_run_case(config, conn, label, _name_case(indexed=False))]
    try:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        conn.commit()
    except Exception as error:  # noqa: BLE001  # no pg_trgm or no right to install it: say so in the report
        conn.rollback()
        rows.append(
            Row(
                "SQL",
                f"name:, with the trigram index, {label}",
                "qfilter clause",
                None,
                "hand-written LIKE",
                None,
                target="≤ 1.1x hand-written LIKE, index used",
                limit=1.1,
                note=f"SQL: pg_trgm unavailable, {type(error).__name__}: {str(error).splitlines()[0]}",
            )
        )
    else:
        log("    building the trigram index on the names ...")
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")
        conn.exec_driver_sql(TRIGRAM_DDL)
        conn.exec_driver_sql("ANALYZE waylay_queries")
        conn.commit()
        try:
            row = _run_case(config, conn, label, _name_case(indexed=True))
            row.extra["index_used"] = TRIGRAM_INDEX in row.extra["plans"]["qfilter"]
            row.extra["checks"] = [row.extra["index_used"]]
            rows.append(row)
        finally:  # the next run's "no trigram index" case must not find it
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")
            conn.commit()
    rows.append(_run_case(config, conn, label, _jsonb_case(conn)))
    return rows


def _run_case(config: Config, conn: sa.Connection, label: str, spec: SqlCase) -> Row:
    """Time qfilter's statement (compiled each time) against each hand-written form; same rows or the run fails."""
    import sqlalchemy as sa

    import qfilter
    from qfilter import sql
    from qfilter.service import tables as reference

    from .bench import Row

    dialect = conn.dialect.name
    schema = spec.schema or qfilter.WAYLAY
    mapping = spec.mapping or reference.WAYLAY_SQL
    table = spec.table if spec.table is not None else reference.WAYLAY_TABLE

    def run_qfilter() -> Sequence[str]:
        clause = sql.compile_clause(spec.q, schema, mapping, now=NOW, dialect=conn.dialect)
        return conn.execute(sa.select(table.c.name).where(clause)).scalars().all()

    statement = sa.select(table.c.name).where(sql.compile_clause(spec.q, schema, mapping, now=NOW))
    cases: dict[str, Any] = {"qfilter": run_qfilter}
    plans = {"qfilter": _plan(conn, _literal(statement, conn))}
    texts = {"qfilter": _literal(statement, conn)}
    started = time.perf_counter()
    expected = sorted(run_qfilter())
    slowest = time.perf_counter() - started
    for form, text in spec.hand.items():
        hand = sa.text(text).bindparams(
            *(
                sa.bindparam(k, v, type_=sa.ARRAY(sa.Text()) if isinstance(v, list) else None)
                for k, v in spec.params.items()
                if re.search(rf":{k}\b", text)
            )
        )

        def run_hand(hand: Any = hand) -> Sequence[str]:
            return conn.execute(hand).scalars().all()

        started = time.perf_counter()
        got = sorted(run_hand())
        slowest = max(slowest, time.perf_counter() - started)
        if got != expected:
            raise AssertionError(
                f"SQL {spec.name} on {dialect}: hand-written ({form}) finds {len(got)} rows, qfilter {len(expected)}"
            )
        who = f"hand-written, {form}"
        cases[who] = run_hand
        plans[who] = _plan(conn, _literal(hand, conn))
        texts[who] = text
    # A statement slower than 5 s (a bad plan) gets 3 rounds, so that the run stays short.
    rounds = config.sql_rounds if slowest < 5 else min(config.sql_rounds, 3)
    if slowest < 2 and not config.smoke:  # 9 rounds left a 1.3 s statement's median swinging by 10%
        rounds = max(rounds, 15)
    # Samples of about 1 s, each case calibrated on its own: one call of a few milliseconds is
    # noise (the 4 ms trigram case swung by 20% when a 0.4 s variant set one call per sample).
    timings = measure(cases, rounds=rounds, sample_time=0.0 if config.smoke else 1.0)
    hand_names = [name for name in cases if name != "qfilter"]
    fastest = min(hand_names, key=lambda name: timings[name].median)
    same_plan = _normalised(plans["qfilter"]) == _normalised(plans[fastest])
    extra: dict[str, Any] = {"plans": plans, "sql": texts}
    if spec.same_plan:
        extra["same_plan"] = same_plan
    extra["variants"] = {
        name: (timings[name], _normalised(plans[name]) == _normalised(plans["qfilter"])) for name in hand_names
    }
    note = ""
    if not same_plan and spec.same_plan:
        note = (
            f"SQL, {spec.name} on {label}: qfilter's plan is not the plan of the fastest hand-written "
            f"form ({fastest}); the EXPLAIN output of each is below."
        )
    return Row(
        "SQL",
        f"{spec.name}, {label}, {config.rows:,} rows → {len(expected):,}",
        "qfilter clause",
        timings["qfilter"],
        f"{fastest} ({'same plan' if same_plan else 'OTHER PLAN'})",
        timings[fastest],
        target=spec.target,
        limit=spec.limit,
        note=note,
        extra=extra,
    )


def run(config: Config, log: Any = print) -> list[Row]:
    if importlib.util.find_spec("qfilter.sql") is None or importlib.util.find_spec("qfilter.service.tables") is None:
        return _pending(config, "qfilter.sql and qfilter.service.tables (issue #4) are not in this checkout yet")
    rows = _backend(config, "SQLite", _sqlite_engine(config), log) if "sqlite" in config.sql_databases else []
    servers = (
        ("PostgreSQL", config.postgres_url, "postgresql", _postgres_engine),
        ("MariaDB", config.mysql_url, "mariadb", _mysql_engine),
    )
    for label, url, key, make_engine in servers:
        if not url or key not in config.sql_databases:
            continue
        try:
            engine = make_engine(config)
        except Exception as error:  # noqa: BLE001  # no server: say so in the report, measure the rest
            from .bench import Row

            rows.append(
                Row(
                    "SQL",
                    f"seed, {label}, {config.rows:,} rows",
                    "qfilter clause",
                    None,
                    "hand-written SQL",
                    None,
                    target="≤ 1.1x, same plan",
                    limit=1.1,
                    note=f"SQL on {label}: not measured, {type(error).__name__}: {str(error).splitlines()[0]}",
                )
            )
        else:
            rows += _backend(config, label, engine, log)
    return rows
