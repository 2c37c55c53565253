"""The service under concurrent writers, over real HTTP, on SQLite (a file), PostgreSQL and MariaDB; and locks.

Two service instances (each its own engine and uvicorn server, as two
processes behind a load balancer would be) share one database. Client
threads create, replace, delete, read and search a handful of names at
once, so that every kind of race happens; then a ledger check: for each
name, the creates that got 201 and the deletes that got 204 alternate, so
the name exists at the end exactly when it got one 201 more than 204s, and
then once, with the body of a write that succeeded. No answer is a 5xx.

Bounded: :data:`SECONDS` of traffic per backend (a few in CI), or until
:data:`MIN_OPERATIONS` requests have been answered when that takes longer,
never more than :data:`MAX_SECONDS`; ``QFILTER_LOAD_SECONDS=30`` runs longer.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from service_support import BACKENDS, USER_HEADER, private_database

from qfilter.service import database
from qfilter.service import tables as reference
from qfilter.service.app import create_app, open_database
from qfilter.service.server import serve_in_thread

SECONDS = float(os.environ.get("QFILTER_LOAD_SECONDS") or 2.5)
"""How long the mixed traffic runs per backend."""
MIN_OPERATIONS = 300
"""Requests the traffic goes on for past :data:`SECONDS` on a slow machine, so that every race happens."""
MAX_SECONDS = SECONDS + 60
THREADS = 12
NAMES = [f"load {i} ü" for i in range(6)]  # few names: every operation races with others on the same name
SAVED = "/api/v1beta2/savedqueries"
SAVED_COUNT = 6
RACERS = 16  # clients that POST one name at the same instant
RACE_ROUNDS = 4
EXPECTED = {200, 201, 204, 404, 409}  # anything else (a 5xx above all) is a failure


@dataclass
class Cluster:
    """Two instances of the service on one database, and an engine to look at that database."""

    urls: list[str]
    engine: sa.Engine


@pytest.fixture(params=BACKENDS)
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    with tempfile.TemporaryDirectory() as directory, private_database(request.param, request, Path(directory)) as url:
        engines = [open_database(url, demo=False) for _ in range(2)]
        try:
            with ExitStack() as stack:
                urls = [stack.enter_context(serve_in_thread(create_app(engine))) for engine in engines]
                yield Cluster(urls, engines[0])
        finally:
            for engine in engines:
                engine.dispose()


def _href(name: str) -> str:
    return "/config/query/" + quote(name, safe="")


@dataclass
class Ledger:
    """What each client saw: every answer's status, and per name the writes that succeeded."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    created: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    written: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # name -> write tokens
    saved_deleted: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def going_on(self, elapsed: float) -> bool:
        """Whether the traffic goes on after ``elapsed`` seconds."""
        if elapsed >= MAX_SECONDS:
            return False
        return elapsed < SECONDS or self.statuses.total() < MIN_OPERATIONS

    def record(self, operation: str, response: httpx.Response) -> int:
        with self.lock:
            self.statuses[operation, response.status_code] += 1
            if response.status_code not in EXPECTED:
                self.problems.append(f"{operation}: {response.status_code} {response.text[:300]}")
            elif response.status_code >= 400:
                body = response.json()
                if body.get("code") != response.status_code or not body.get("message"):
                    self.problems.append(f"{operation}: error body {body}")
        return response.status_code


def _client_loop(base_urls: list[str], saved_ids: list[str], ledger: Ledger, seed: int, start: float) -> None:
    rng = random.Random(seed)
    clients = [httpx.Client(base_url=url, timeout=60.0) for url in base_urls]
    try:
        sequence = 0
        while ledger.going_on(time.monotonic() - start):
            client = rng.choice(clients)
            name = rng.choice(NAMES)
            sequence += 1
            token = f"t{seed}-{sequence}"
            body = {"name": name, "meta": {"tags": ["load", token], "resource": f"r{seed}"}}
            operation = rng.choices(
                ["create", "replace", "delete", "read", "search", "saved"], weights=[4, 3, 2, 2, 3, 2]
            )[0]
            if operation == "create":
                response = client.post("/config/query", json=body, headers={USER_HEADER: f"users/{seed}"})
                if ledger.record(operation, response) == 201:
                    with ledger.lock:
                        ledger.created[name] += 1
                        ledger.written[name].add(token)
            elif operation == "replace":
                response = client.put(_href(name), json=body, headers={USER_HEADER: f"users/{seed}"})
                if ledger.record(operation, response) == 200:
                    with ledger.lock:
                        ledger.written[name].add(token)
            elif operation == "delete":
                if ledger.record(operation, client.delete(_href(name))) == 204:
                    with ledger.lock:
                        ledger.deleted[name] += 1
            elif operation == "read":
                response = client.get(_href(name))
                if ledger.record(operation, response) == 200 and response.json()["name"] != name:
                    ledger.problems.append(f"read {name!r}: got {response.json()['name']!r}")
            elif operation == "search":
                response = client.get("/config/query", params={"q": "tag:load -tag:none", "limit": 100})
                if ledger.record(operation, response) == 200:
                    page = response.json()
                    names = [entity["name"] for entity in page["queries"]]
                    if names != sorted(set(names)) or not set(names) <= set(NAMES) or page["total"] < len(names):
                        ledger.problems.append(f"search: {names} (total {page['total']})")
            else:
                saved_id = rng.choice(saved_ids)
                action = rng.choice(["get", "put", "put", "delete"])
                if action == "get":
                    ledger.record("saved get", client.get(f"{SAVED}/{saved_id}"))
                elif action == "put":
                    update = {"name": f"saved {token}", "sql": f"select {sequence}", "tags": [token]}
                    ledger.record("saved put", client.put(f"{SAVED}/{saved_id}", json=update))
                elif ledger.record("saved delete", client.delete(f"{SAVED}/{saved_id}")) == 204:
                    with ledger.lock:
                        ledger.saved_deleted[saved_id] += 1
    finally:
        for client in clients:
            client.close()


def _check_ledger(cluster: Cluster, ledger: Ledger, saved_ids: list[str]) -> None:
    assert not ledger.problems, ledger.problems[:10]
    with cluster.engine.connect() as conn:
        stored = {entity["name"]: entity for entity in reference.select_waylay_queries(conn)}
        tags = conn.execute(sa.select(reference.WAYLAY_TAGS_TABLE)).all()
        saved = {item["id"]: item for item in reference.select_saved_queries(conn)}
    assert set(stored) <= set(NAMES)
    for name in NAMES:
        balance = ledger.created[name] - ledger.deleted[name]
        assert balance in (0, 1), f"{name!r}: {ledger.created[name]} creates, {ledger.deleted[name]} deletes"
        assert (name in stored) == (balance == 1), f"{name!r}: balance {balance}, stored: {name in stored}"
        if name in stored:
            token = stored[name]["meta"]["tags"][1]
            assert token in ledger.written[name], f"{name!r} holds {token}, which no successful write sent"
    # The association table agrees with the bodies: no tag of a deleted entity, none lost or doubled.
    expected_tags = sorted((name, tag) for name, entity in stored.items() for tag in entity["meta"]["tags"])
    assert sorted((row.query_name, row.tag) for row in tags) == expected_tags
    for saved_id in saved_ids:
        assert ledger.saved_deleted[saved_id] <= 1, f"saved query {saved_id} deleted twice"
        assert (saved_id in saved) == (ledger.saved_deleted[saved_id] == 0)
    assert not any(status >= 500 for _, status in ledger.statuses)


def test_concurrent_writers_lose_and_duplicate_nothing(cluster: Cluster) -> None:
    with httpx.Client(base_url=cluster.urls[0]) as client:
        saved_ids = [
            client.post(SAVED, json={"name": f"saved {i}", "sql": "select 1"}).json()["id"] for i in range(SAVED_COUNT)
        ]
    ledger = Ledger()
    start = time.monotonic()
    threads = [
        threading.Thread(target=_client_loop, args=(cluster.urls, saved_ids, ledger, seed, start))
        for seed in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=MAX_SECONDS + 120)
        assert not thread.is_alive(), "a client hung"
    _check_ledger(cluster, ledger, saved_ids)
    # The run did race: names were created, taken (409), deleted and searched, on both instances.
    outcomes = {key for key, count in ledger.statuses.items() if count}
    assert {("create", 201), ("create", 409), ("delete", 204), ("replace", 200), ("search", 200)} <= outcomes


def _race_to_create(clients: list[httpx.Client], name: str) -> list[httpx.Response]:
    """The clients (connected beforehand, one thread each) POST ``name`` at the same instant."""
    barrier = threading.Barrier(len(clients))
    responses: list[httpx.Response] = []
    lock = threading.Lock()

    def create(index: int) -> None:
        clients[index].get("/")  # the connection is open before the race starts
        barrier.wait(timeout=60)
        response = clients[index].post("/config/query", json={"name": name, "meta": {"tags": [str(index)]}})
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=create, args=(index,)) for index in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return responses


def test_racing_creates_of_one_name_give_one_201(cluster: Cluster) -> None:
    with ExitStack() as stack:
        clients = [
            stack.enter_context(httpx.Client(base_url=cluster.urls[index % 2], timeout=60.0)) for index in range(RACERS)
        ]
        for round_ in range(RACE_ROUNDS):
            name = f"race {round_}"
            responses = _race_to_create(clients, name)
            assert sorted(response.status_code for response in responses) == [201] + [409] * (RACERS - 1)
            for response in responses:
                if response.status_code == 409:
                    assert response.json() == {
                        "code": 409,
                        "message": f"a query named {name!r} exists",
                        "system": "neutron",
                    }
            winner = next(response.json() for response in responses if response.status_code == 201)
            with cluster.engine.connect() as conn:
                assert reference.get_waylay_query(conn, name) == {k: v for k, v in winner.items() if k != "_links"}
                tags = conn.execute(
                    sa.select(reference.WAYLAY_TAGS_TABLE.c.tag).where(reference.WAYLAY_TAGS_TABLE.c.query_name == name)
                ).scalars()
                assert list(tags) == winner["meta"]["tags"]


@pytest.mark.postgres
def test_a_delete_that_finds_nothing_leaves_a_create_committed_meanwhile_whole(request: pytest.FixtureRequest) -> None:
    """PostgreSQL's READ COMMITTED reads anew at each statement, and a DELETE does not wait for an uncommitted INSERT.

    A delete that found no entity must not go on to the tags: by then a
    create of that name may have committed, and would keep its entity but
    lose its tags (the load test above found it). Here the create commits
    right after the delete's first statement.
    """
    with tempfile.TemporaryDirectory() as directory, private_database("postgres", request, Path(directory)) as url:
        engine = open_database(url, demo=False)
        try:
            with engine.connect() as creator, engine.connect() as deleter:
                creator.begin()
                reference.insert_waylay_queries(creator, [{"name": "raced", "meta": {"tags": ["a", "b"]}}])

                @sa.event.listens_for(deleter, "after_cursor_execute")
                def create_commits_meanwhile(*_: object) -> None:
                    if creator.in_transaction():
                        creator.commit()

                with deleter.begin():
                    assert not reference.delete_waylay_query(deleter, "raced")
            with engine.connect() as conn:
                assert reference.get_waylay_query(conn, "raced") is not None
                tags = reference.WAYLAY_TAGS_TABLE
                kept = conn.execute(sa.select(tags.c.tag).where(tags.c.query_name == "raced")).scalars()
                assert sorted(kept) == ["a", "b"]
        finally:
            engine.dispose()


# -- a database that stays locked ------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def impatient(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """A database URL and a service on it that waits 50 ms for a lock (not 5 s; MariaDB: 1 s), holding ``held``."""
    with tempfile.TemporaryDirectory() as directory, private_database(request.param, request, Path(directory)) as url:
        engine = open_database(url, demo=False, lock_timeout_ms=50)
        try:
            with serve_in_thread(create_app(engine)) as base_url:
                assert httpx.post(f"{base_url}/config/query", json={"name": "held"}).status_code == 201
                yield url, base_url
        finally:
            engine.dispose()


@contextmanager
def _locked(url: str) -> Iterator[None]:
    """Another client holds the lock a write of ``held`` needs: SQLite's write lock, or the row's on PostgreSQL."""
    other = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with other.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                conn.exec_driver_sql("UPDATE waylay_queries SET created_by = 'locker'")
            else:
                conn.execute(sa.text("SELECT name FROM waylay_queries WHERE name = 'held' FOR UPDATE"))
            yield
            conn.rollback()
    finally:
        other.dispose()


def test_a_lock_held_too_long_is_a_503_with_retry_after(impatient: tuple[str, str]) -> None:
    url, base_url = impatient
    with httpx.Client(base_url=base_url, timeout=60.0) as client:
        with _locked(url):
            for response in (client.put("/config/query/held", json={}), client.delete("/config/query/held")):
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"] == str(database.RETRY_AFTER_SECONDS)
                body = response.json()
                assert body["code"] == 503 and "try again" in body["message"]
            assert client.get("/config/query/held").status_code == 200  # readers do not wait for writers
        # Once the lock is gone, the same requests succeed: nothing was left half done.
        assert client.put("/config/query/held", json={"meta": {"tags": ["after"]}}).status_code == 200
        assert client.get("/config/query", params={"q": "tag:after"}).json()["total"] == 1
        assert client.delete("/config/query/held").status_code == 204


def test_a_lock_released_while_a_request_waits_is_no_error(impatient: tuple[str, str]) -> None:
    url, base_url = impatient
    held = threading.Event()

    def hold() -> None:
        with _locked(url):
            held.set()
            time.sleep(0.1)  # longer than one wait for the lock, shorter than all the tries

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(timeout=30)
        response = httpx.put(f"{base_url}/config/query/held", json={"meta": {"tags": ["late"]}}, timeout=60.0)
    finally:
        holder.join()
    assert response.status_code == 200, response.text


# -- MariaDB's table and metadata locks, and the statement time cap ---------------------------------

TABLE_LOCK_SECONDS = 1  # the service's lock wait in these tests (MariaDB counts whole seconds)


@pytest.fixture
def mariadb(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """A MariaDB URL and a service on it that waits 1 s for a lock, holding one entity, ``held``."""
    with tempfile.TemporaryDirectory() as directory, private_database("mysql", request, Path(directory)) as url:
        engine = open_database(url, demo=False, lock_timeout_ms=TABLE_LOCK_SECONDS * 1000)
        try:
            with serve_in_thread(create_app(engine)) as base_url:
                assert httpx.post(f"{base_url}/config/query", json={"name": "held"}).status_code == 201
                yield url, base_url
        finally:
            engine.dispose()


@pytest.mark.mysql
@pytest.mark.parametrize(
    ("lock", "blocked", "served"),
    [
        # Another session's table lock: every request on the table waits for it, reads too.
        ("LOCK TABLES waylay_queries WRITE", [("GET", "/config/query"), ("PUT", "/config/query/held")], []),
        # The global read lock of a backup: reads go on, writes wait.
        ("FLUSH TABLES WITH READ LOCK", [("POST", "/config/query")], [("GET", "/config/query/held")]),
    ],
)
def test_a_table_lock_held_on_mariadb_is_a_503_within_the_bound(
    mariadb: tuple[str, str], lock: str, blocked: list[tuple[str, str]], served: list[tuple[str, str]]
) -> None:
    """MariaDB's ``lock_wait_timeout`` (a day by default) is the service's lock timeout, so the wait ends in a 503."""
    url, base_url = mariadb
    # Each try waits one lock timeout; with the pauses between tries and slack for a slow machine, a bound far
    # below the default day (the test's client gives up at 60 s rather than hang).
    bound = (database.RETRIES + 1) * TABLE_LOCK_SECONDS + 10
    other = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with httpx.Client(base_url=base_url, timeout=60.0) as client, other.connect() as conn:
            conn.exec_driver_sql(lock)
            try:
                for method, path in blocked:
                    started = time.monotonic()
                    response = client.request(method, path, json={"name": "new"} if method == "POST" else {})
                    waited = time.monotonic() - started
                    assert response.status_code == 503, response.text
                    assert response.headers["retry-after"] == str(database.RETRY_AFTER_SECONDS)
                    body = response.json()
                    assert body["code"] == 503 and "try again" in body["message"]
                    assert TABLE_LOCK_SECONDS <= waited < bound, waited
                for method, path in served:
                    assert client.request(method, path).status_code == 200
            finally:
                conn.exec_driver_sql("UNLOCK TABLES")
            # Once the lock is gone, the same requests succeed: nothing was left half done.
            assert client.put("/config/query/held", json={"meta": {"tags": ["after"]}}).status_code == 200
            assert client.post("/config/query", json={"name": "new"}).status_code == 201
            assert client.get("/config/query").json()["total"] == 2
    finally:
        other.dispose()


@pytest.mark.parametrize(
    ("backend", "sleep"),
    [
        pytest.param("postgres", "SELECT pg_sleep(5)", marks=pytest.mark.postgres),
        pytest.param("mysql", "SELECT SLEEP(5)", marks=pytest.mark.mysql),
    ],
)
def test_a_statement_past_the_time_cap_is_unavailable_at_once(
    backend: str, sleep: str, request: pytest.FixtureRequest
) -> None:
    """PostgreSQL's ``statement_timeout`` and MariaDB's ``max_statement_time`` stop it; it is not tried again."""
    with tempfile.TemporaryDirectory() as directory, private_database(backend, request, Path(directory)) as url:
        engine = database.connect(url, statement_timeout_ms=200)
        tries = 0

        def slow(conn: sa.Connection) -> object:
            nonlocal tries
            tries += 1
            return conn.exec_driver_sql(sleep).all()

        try:
            with pytest.raises(database.Unavailable) as caught:
                database.run_read(engine, slow)
            assert tries == 1  # the same statement would run as long again
            assert "too long" in caught.value.message and caught.value.retry_after == database.RETRY_AFTER_SECONDS
            assert database.run_read(engine, lambda conn: conn.exec_driver_sql("SELECT 1").scalar()) == 1
        finally:
            engine.dispose()


@pytest.mark.parametrize(
    ("backend", "whoami", "kill"),
    [
        pytest.param(
            "postgres", "SELECT pg_backend_pid()", "SELECT pg_terminate_backend({})", marks=pytest.mark.postgres
        ),
        pytest.param("mysql", "SELECT CONNECTION_ID()", "KILL {}", marks=pytest.mark.mysql),
    ],
)
def test_a_pooled_connection_the_server_closed_is_replaced_without_an_error(
    backend: str, whoami: str, kill: str, request: pytest.FixtureRequest
) -> None:
    """A dead session fails its first statement (nothing pings a connection before use), and the work runs again."""
    with tempfile.TemporaryDirectory() as directory, private_database(backend, request, Path(directory)) as url:
        engine = database.connect(url)
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            first = database.run_read(engine, lambda conn: conn.exec_driver_sql(whoami).scalar())
            with admin.connect() as conn:  # the server ends the session the pool holds
                conn.exec_driver_sql(kill.format(int(str(first))))
            tries = 0

            def read(conn: sa.Connection) -> object:
                nonlocal tries
                tries += 1
                return conn.exec_driver_sql(whoami).scalar()

            second = database.run_read(engine, read)
            assert second != first and tries <= 2  # at most one try on the dead session; a new one answered
            # and writes go on as well, on the new session
            assert database.run_write(engine, lambda conn: conn.exec_driver_sql(whoami).scalar()) == second
        finally:
            admin.dispose()
            engine.dispose()


def test_timeouts_must_be_bounds() -> None:
    for timeouts in ({"lock_timeout_ms": 0}, {"statement_timeout_ms": 0}, {"lock_timeout_ms": -5}):
        with pytest.raises(ValueError, match="positive"):
            database.connect("sqlite://", **timeouts)


# -- several worker processes ----------------------------------------------------------------------

WORKERS = 2
STARTUP_BOUND = 60.0  # seconds the workers may take to answer before the test gives up (not an assertion)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux' /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="counts worker processes in /proc")
@pytest.mark.parametrize("backend", BACKENDS)
def test_several_worker_processes_share_one_database(backend: str, request: pytest.FixtureRequest) -> None:
    """``serve(..., workers=2)``: worker processes, each with its own engine, one database and one cursor key."""
    port = _free_port()
    command = [
        sys.executable,
        "-c",
        "import sys; from qfilter.service.server import serve; "
        f"serve(sys.argv[1], [], '127.0.0.1', {port}, workers={WORKERS})",
    ]
    with tempfile.TemporaryDirectory() as directory, private_database(backend, request, Path(directory)) as url:
        process = subprocess.Popen([*command, url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_BOUND
            while True:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                try:
                    if httpx.get(f"{base_url}/", timeout=1.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the workers did not answer"
                time.sleep(0.1)
            workers = [pid for pid in _children(process.pid) if b"spawn_main" in _command_line(pid)]
            assert len(workers) >= WORKERS, workers
            with ExitStack() as stack:
                clients = [stack.enter_context(httpx.Client(base_url=base_url, timeout=60.0)) for _ in range(8)]
                responses = _race_to_create(clients, "one name, two workers")
            assert sorted(response.status_code for response in responses) == [201] + [409] * 7
            listed = httpx.get(f"{base_url}/config/query", params={"q": "name:workers"}).json()
            assert [entity["name"] for entity in listed["queries"]] == ["one name, two workers"]
            # A cursor one worker made, another takes: serve hands them all one key (a new connection each page).
            for number in range(11):
                assert (
                    httpx.post(
                        f"{base_url}/config/query", json={"name": f"w{number:02}", "meta": {"tags": ["w"]}}
                    ).status_code
                    == 201
                )
            href: str | None = f"{base_url}/config/query?q=tag:w&limit=1"
            walked: list[str] = []
            while href is not None:
                answer = httpx.get(href, headers={"Connection": "close"})
                assert answer.status_code == 200, answer.text
                walked += [entity["name"] for entity in answer.json()["queries"]]
                href = answer.json()["_links"].get("next", {}).get("href")
            assert walked == [f"w{number:02}" for number in range(11)]
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover - uvicorn stops its workers on SIGTERM
                process.kill()
                process.wait()
            if process.stdout:
                process.stdout.close()
