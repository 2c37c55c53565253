"""The service measure: requests per second of the reference service against a minimal hand-written endpoint.

Both serve the same search over the same database of ``--service-rows``
Waylay entities (the reference tables, loaded like the SQL measure's, in a
database ``qfilter_bench_service`` of SQLite, PostgreSQL and MariaDB), each
from its own uvicorn process with the service's settings, on loopback. The
hand-written endpoint is what a developer writes without qfilter: the
filter's values as plain query parameters, a plain engine, the SQL of the SQL
measure by hand (the ``IN`` form) for the page and the count (for one tag,
the count of the tag table alone, as the service's), in one connection,
and the page as a dict; the service parses, binds and compiles
``q`` on every request and answers its full body (links, cursor). Four
clients, each with its own keep-alive connection, send a bounded number of
requests at once, to each server in turn, round after round; requests per
second is the inverse of the median time per request.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request  # at module level: FastAPI resolves the endpoint's annotations here

from . import filters
from .timing import measure

if TYPE_CHECKING:
    import sqlalchemy as sa

    from .bench import Config, Row

URL_VARIABLE = "QFILTER_BENCH_SERVICE_URL"
ROUTE = "/config/query"
CLIENTS = 4
DATABASE = "qfilter_bench_service"
TARGET = "≥ 0.9x the requests/s (ratio ≤ 1.11)"
LIMIT = 1 / 0.9
CASES = ("seed", "1 term")


def _qfilter_app() -> FastAPI:
    """The reference service over the benchmark database."""
    from qfilter.service.app import create_app
    from qfilter.service.database import connect

    return create_app(connect(os.environ[URL_VARIABLE]))


def _hand_values(dialect: str, query: dict[str, str]) -> dict[str, Any]:
    """The bound values of the hand-written SQL from the endpoint's parameters, as each table stores them."""
    from .sql_bench import _MARIADB_FOLDING

    values: dict[str, Any] = {key: query[key] for key in ("tag", "not_tag", "resource", "name") if key in query}
    if "name" in values:
        if dialect == "postgresql":
            values["name_pattern"] = f"%{values['name']}%"
        elif dialect == "mysql":
            values.update(_MARIADB_FOLDING)
    for key in ("start", "end"):
        if key in query:
            moment = datetime.fromisoformat(query[key])
            if dialect == "sqlite":  # UTC text
                values[key] = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            elif dialect == "mysql":  # DATETIME(6) holding UTC
                values[key] = moment.astimezone(UTC).replace(tzinfo=None)
            else:
                values[key] = moment
    return values


def _hand_app() -> FastAPI:
    """What a developer writes without qfilter: one parameter per value, a plain engine, the SQL by hand."""
    import sqlalchemy as sa

    from qfilter.sql import install_sqlite_functions

    from .sql_bench import _hand_sql

    engine = sa.create_engine(os.environ[URL_VARIABLE])
    install_sqlite_functions(engine)  # the hand-written SQL on SQLite lower-cases as Python does, as qfilter's
    dialect = engine.dialect.name
    statements = {}
    for case in CASES:
        where = _hand_sql(case, dialect, "IN").split(" WHERE ", 1)[1]
        count = f"SELECT count(*) FROM waylay_queries WHERE {where}"
        if case == "1 term":  # the count the service runs for one tag: the tag table alone
            count = "SELECT count(*) FROM (SELECT DISTINCT query_name FROM waylay_query_tags WHERE tag = :tag) AS k"
        statements[case] = (
            sa.text(f"SELECT body FROM waylay_queries WHERE {where} ORDER BY name LIMIT :limit OFFSET :offset"),
            sa.text(count),
        )
    app = FastAPI()

    @app.get(ROUTE)
    def search(request: Request, case: str, limit: int = 10, offset: int = 0) -> dict[str, Any]:
        page_sql, count_sql = statements[case]
        values = _hand_values(dialect, dict(request.query_params))
        with engine.connect() as conn:
            bodies = conn.execute(page_sql, {**values, "limit": limit, "offset": offset}).scalars().all()
            total = conn.execute(count_sql, values).scalar_one()
        origin = str(request.base_url).rstrip("/")
        queries = []
        for body in bodies:
            entity = json.loads(body) if isinstance(body, str | bytes) else body
            entity["_links"] = {"self": {"href": f"{origin}{ROUTE}/{entity['name']}"}}
            queries.append(entity)
        return {"queries": queries, "count": len(queries), "total": total}

    return app


APPS: dict[str, Callable[[], FastAPI]] = {"qfilter": _qfilter_app, "hand-written": _hand_app}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(which: str, url: str) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {**os.environ, URL_VARIABLE: url}
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.service_bench", which, str(port)], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, port
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"the {which} server exited with {process.returncode}") from None
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the {which} server did not start in 60 s")


def _get(connection: http.client.HTTPConnection, path: str) -> bytes:
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise AssertionError(f"{path}: {response.status} {body[:300]!r}")
    return body


def _clients(port: int, path: str, per_client: int, pool: ThreadPoolExecutor) -> Callable[[], None]:
    """A batch: ``CLIENTS`` clients at once, each sending ``per_client`` requests over its own keep-alive connection.

    Each batch connects anew: a connection kept from the last round may have
    been closed by the server meanwhile (uvicorn's keep-alive timeout, 5 s,
    is shorter than the other server's batch on a large table).
    """

    def one_client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            for _ in range(per_client):
                _get(connection, path)
        finally:
            connection.close()

    def batch() -> None:
        for finished in [pool.submit(one_client) for _ in range(CLIENTS)]:
            finished.result()

    return batch


def _paths(case: str) -> dict[str, str]:
    from .sql_bench import START

    q = filters.to_q(filters.FILTERS[case])
    # The service's clock is the real one: the seed's now-P1W is a week before the request.
    end = datetime.now(UTC) - timedelta(weeks=1)
    if case == "seed":
        values = {"name": "demo", "tag": "demo", "not_tag": "not-demo", "resource": "151CF"}
        hand = {**values, "start": START.isoformat(), "end": end.isoformat()}
    else:
        hand = {"tag": "demo"}
    return {"qfilter": f"{ROUTE}?{urlencode({'q': q})}", "hand-written": f"{ROUTE}?{urlencode({'case': case, **hand})}"}


def _database_url(config: Config, database: str) -> sa.URL | None:
    """The benchmark database on ``database``'s server, made if missing; None where no server is configured."""
    import sqlalchemy as sa

    from .sql_bench import DATA_DIR

    name = DATABASE + ("_smoke" if config.smoke else "")
    if database == "sqlite":
        folder = config.output / "service-smoke" if config.smoke else DATA_DIR
        folder.mkdir(parents=True, exist_ok=True)
        return sa.make_url(f"sqlite:///{folder / f'{name}-{config.service_rows}.sqlite3'}")
    server = config.postgres_url if database == "postgresql" else config.mysql_url
    if not server:
        return None
    url = sa.make_url(server)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if database == "postgresql":
            if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": name}).scalar():
                conn.exec_driver_sql(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
        else:
            conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
    admin.dispose()
    return url.set(database=name)


LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mariadb": "MariaDB"}


def _one_database(config: Config, database: str, url: sa.URL, log: Any) -> list[Row]:
    import sqlalchemy as sa

    from qfilter.sql import install_sqlite_functions

    from .bench import Row
    from .sql_bench import _load

    engine = sa.create_engine(url)
    install_sqlite_functions(engine)
    _load(engine, config.service_rows, log)
    engine.dispose()
    servers = {which: _start(which, url.render_as_string(hide_password=False)) for which in APPS}
    per_client = 3 if config.smoke else 10
    rows = []
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            for case in CASES:
                paths = _paths(case)
                answers = {}
                for which, (_, port) in servers.items():
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                    answers[which] = json.loads(_get(connection, paths[which]))
                    connection.close()
                names = {which: [e["name"] for e in answer["queries"]] for which, answer in answers.items()}
                totals = {which: answer.get("total") for which, answer in answers.items()}
                if names["qfilter"] != names["hand-written"] or totals["qfilter"] != totals["hand-written"]:
                    raise AssertionError(f"service, {database}, {case}: the answers differ: {names} {totals}")
                cases = {which: _clients(port, paths[which], per_client, pool) for which, (_, port) in servers.items()}
                timings = measure(cases, rounds=config.rounds, sample_time=0.0)
                requests = CLIENTS * per_client
                per_second = {which: requests / timing.median for which, timing in timings.items()}
                rows.append(
                    Row(
                        "service",
                        f"{case}, {LABELS[database]}, {config.service_rows:,} rows → {totals['qfilter']:,}, "
                        f"page of 10, {CLIENTS} clients",
                        f"qfilter service ({per_second['qfilter']:.0f} req/s)",
                        timings["qfilter"],
                        f"hand-written FastAPI ({per_second['hand-written']:.0f} req/s)",
                        timings["hand-written"],
                        target=TARGET,
                        limit=LIMIT,
                        note=(
                            f"Service: the ratio is of the time per batch ({CLIENTS} clients at once, each sending "
                            f"{per_client} sequential requests on its own keep-alive connection); ≤ 1.11x is "
                            "≥ 0.9x the requests/s."
                        ),
                    )
                )
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=30)
    return rows


def run(config: Config, log: Any = print) -> list[Row]:
    """The service against the hand-written endpoint on each database the SQL measure uses."""
    from .bench import Row

    rows = []
    for database in ("sqlite", "postgresql", "mariadb"):
        if database not in config.sql_databases:
            continue
        url = _database_url(config, database)
        if url is None:
            for case in CASES:
                subject, baseline = "qfilter service", "hand-written FastAPI"
                case_text = f"{case}, {LABELS[database]}"
                rows.append(Row("service", case_text, subject, None, baseline, None, target=TARGET, limit=LIMIT))
            continue
        log(f"  service on {LABELS[database]} ...")
        rows += _one_database(config, database, url, log)
    return rows


def main(argv: list[str]) -> None:
    """``python -m benchmarks.service_bench qfilter|hand-written PORT``: serve one of the two apps."""
    import uvicorn

    from qfilter.service.server import uvicorn_options

    which, port = argv
    uvicorn.run(APPS[which](), host="127.0.0.1", port=int(port), log_level="warning", **uvicorn_options())


if __name__ == "__main__":
    main(sys.argv[1:])
