"""The service measure: requests per second of the reference service against a hand-written FastAPI endpoint.

Both serve the seed filter's search over the same PostgreSQL database of
``--service-rows`` Waylay entities (the reference tables, loaded like the SQL
measure's, in a database ``qfilter_bench_service``), each from its own uvicorn
process with the service's settings, on loopback. The hand-written endpoint
takes the seed's values as plain query parameters and runs the hand-written
SQL of the SQL measure (the ``IN`` form) through the same page-and-count helper
the service uses; the service parses, binds and compiles ``q`` on every
request. One client sends a bounded number of requests over one keep-alive
connection to each in turn, round after round; requests per second is the
inverse of the median time per request.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request  # at module level: FastAPI resolves the endpoint's annotations here

from . import filters
from .timing import measure

if TYPE_CHECKING:
    from .bench import Config, Row

URL_VARIABLE = "QFILTER_BENCH_SERVICE_URL"
ROUTE = "/config/query"


def _qfilter_app() -> FastAPI:
    """The reference service over the benchmark database."""
    from qfilter.service.app import create_app
    from qfilter.service.database import connect

    return create_app(connect(os.environ[URL_VARIABLE]))


def _hand_app() -> FastAPI:
    """What a developer writes without qfilter: one parameter per value of the seed filter, the SQL by hand."""
    import sqlalchemy as sa

    from qfilter.service import tables as reference
    from qfilter.service.database import connect, run_read

    from .sql_bench import _hand_sql

    engine = connect(os.environ[URL_VARIABLE])
    order = reference.order_by_name(engine.dialect.name)
    where_sql = _hand_sql("seed", "postgresql", "IN").split(" WHERE ", 1)[1]
    app = FastAPI()

    @app.get(ROUTE)
    def search(
        request: Request,
        name: str,
        tag: str,
        not_tag: str,
        resource: str,
        start: datetime,
        end: datetime,
        limit: int = 10,
        offset: int = 0,
    ) -> dict[str, Any]:
        values = {"name_pattern": f"%{name}%", "tag": tag, "not_tag": not_tag, "resource": resource}
        # A text clause: SQLAlchemy takes it in WHERE.
        where: Any = sa.text(where_sql).bindparams(**values, start=start, end=end)
        page, total = run_read(
            engine,
            lambda conn: reference.select_waylay_page(conn, where, offset=offset, limit=limit, order_by=order),
        )
        origin = str(request.base_url).rstrip("/")
        queries = [{**e, "_links": {"self": {"href": f"{origin}{ROUTE}/{e['name']}"}}} for e in page]
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


def _client(port: int, path: str, requests: int) -> Callable[[], None]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def batch() -> None:
        for _ in range(requests):
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise AssertionError(f"{path}: {response.status} {body[:200]!r}")

    return batch


def _paths() -> dict[str, str]:
    from datetime import UTC, datetime, timedelta

    from .sql_bench import START

    q = filters.to_q(filters.SEED)
    # The service's clock is the real one: the seed's now-P1W is a week before the request.
    end = datetime.now(UTC) - timedelta(weeks=1)
    hand = {
        "name": "demo",
        "tag": "demo",
        "not_tag": "not-demo",
        "resource": "151CF",
        "start": START.isoformat(),
        "end": end.isoformat(),
    }
    return {"qfilter": f"{ROUTE}?{urlencode({'q': q})}", "hand-written": f"{ROUTE}?{urlencode(hand)}"}


def run(config: Config, log: Any = print) -> list[Row]:
    import json

    import sqlalchemy as sa

    from .bench import Row
    from .sql_bench import _load

    rows_wanted = config.service_rows
    target = "≥ 0.8x the requests/s (ratio ≤ 1.25)"
    if not config.postgres_url:
        return [
            Row("service", "seed", "qfilter service", None, "hand-written FastAPI", None, target=target, limit=1.25)
        ]
    url = sa.make_url(config.postgres_url)
    name = "qfilter_bench_service" + ("_smoke" if config.smoke else "")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": name}).scalar():
            conn.exec_driver_sql(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    admin.dispose()
    bench_url = url.set(database=name)
    engine = sa.create_engine(bench_url)
    _load(engine, rows_wanted, log)
    engine.dispose()
    servers = {which: _start(which, bench_url.render_as_string(hide_password=False)) for which in APPS}
    try:
        paths = _paths()
        answers = {}
        for which, (_, port) in servers.items():
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("GET", paths[which])
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise AssertionError(f"service, {which}: {response.status} {body[:300]!r}")
            answers[which] = json.loads(body)
            connection.close()
        names = {which: [e["name"] for e in answer["queries"]] for which, answer in answers.items()}
        if names["qfilter"] != names["hand-written"] or answers["qfilter"]["total"] != answers["hand-written"]["total"]:
            raise AssertionError(f"service: qfilter answers {names['qfilter']}, the hand-written endpoint {names}")
        per_batch = 5 if config.smoke else 20
        cases = {which: _client(port, paths[which], per_batch) for which, (_, port) in servers.items()}
        timings = measure(cases, rounds=config.rounds, sample_time=0.0)
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=30)
    q_time, hand_time = timings["qfilter"], timings["hand-written"]
    per_request = {k: 1 / (t.median / per_batch) for k, t in timings.items()}
    return [
        Row(
            "service",
            f"seed, PostgreSQL, {rows_wanted:,} rows → {answers['qfilter']['total']:,}, page of 10",
            f"qfilter service ({per_request['qfilter']:.0f} req/s)",
            q_time,
            f"hand-written FastAPI ({per_request['hand-written']:.0f} req/s)",
            hand_time,
            target=target,
            limit=1.25,
            note=(
                "Service: the ratio is of the time per request (per batch of "
                f"{per_batch} sequential requests on one keep-alive connection); ≤ 1.25x is ≥ 0.8x the requests/s."
            ),
        )
    ]


def main(argv: list[str]) -> None:
    """``python -m benchmarks.service_bench qfilter|hand-written PORT``: serve one of the two apps."""
    import uvicorn

    from qfilter.service.server import uvicorn_options

    which, port = argv
    uvicorn.run(APPS[which](), host="127.0.0.1", port=int(port), log_level="warning", **uvicorn_options())


if __name__ == "__main__":
    main(sys.argv[1:])
