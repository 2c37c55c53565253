"""The service's database: opening it, and running each request's work in one transaction.

- :func:`open_database` makes an engine with the service's tables (created
  if missing, safe when several processes start at once) and, on SQLite,
  WAL journaling, a busy timeout and ``BEGIN IMMEDIATE`` for writes, so that
  writers queue instead of failing with "database is locked"; on
  PostgreSQL and MariaDB a lock timeout (on MariaDB for table and metadata
  locks too: ``LOCK TABLES``, ``FLUSH TABLES WITH READ LOCK``, ``ALTER
  TABLE``) and a statement time cap, so that no request waits forever.
- :func:`run_write` and :func:`run_read` run a request's work in a
  transaction and retry it a bounded number of times when the database
  reports a lock timeout, a deadlock or a serialization failure; when that
  persists, they raise :class:`Unavailable` (a 503 with ``Retry-After``);
  so does a statement stopped by the time cap, without trying it again.
- :func:`load_entities` stores a file of Waylay query entities
  (``qfilter serve --load``).

Nothing here keeps state beyond the engine: several processes, or several
machines, can serve from one database.
"""

import math
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from qfilter.service import tables as reference
from qfilter.service.demo import demo_entities
from qfilter.service.models import loaded_entity
from qfilter.sql import install_sqlite_functions

__all__ = [
    "RETRIES",
    "BUSY_TIMEOUT_MS",
    "STATEMENT_TIMEOUT_MS",
    "RETRY_AFTER_SECONDS",
    "Unavailable",
    "default_database_url",
    "connect",
    "open_database",
    "load_entities",
    "is_transient",
    "is_statement_timeout",
    "run_read",
    "run_write",
]

T = TypeVar("T")

RETRIES = 3
"""How many times a transaction is tried again after a lock, deadlock or serialization error."""
BUSY_TIMEOUT_MS = 5000
"""How long a connection waits for another's lock, by default (SQLite's busy timeout, PostgreSQL's
``lock_timeout``, MariaDB's ``lock_wait_timeout`` and ``innodb_lock_wait_timeout`` in whole seconds)."""
STATEMENT_TIMEOUT_MS = 30_000
"""The longest one statement may run on PostgreSQL (``statement_timeout``) and MariaDB
(``max_statement_time``; MySQL: ``max_execution_time``, for reads only), by default."""
RETRY_AFTER_SECONDS = 1
"""The ``Retry-After`` of a 503: when the database was too busy for all the tries."""
_BACKOFF_SECONDS = 0.02  # the first pause between tries; doubled each time, with jitter

_WRITE_OPTION = "qfilter_write"  # a connection execution option: this transaction will write
_TRANSIENT_SQLSTATES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available
    "57P01",  # admin_shutdown (a restarting server)
    "57P03",  # cannot_connect_now (one that is starting)
}
_SQLITE_BUSY = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (primary codes; extended ones add high bits)
_MYSQL_TRANSIENT = {
    1205,  # ER_LOCK_WAIT_TIMEOUT (row locks, and with lock_wait_timeout table and metadata locks)
    1213,  # ER_LOCK_DEADLOCK
    2006,  # CR_SERVER_GONE_ERROR
    2013,  # CR_SERVER_LOST
}
_QUERY_CANCELED = "57014"  # PostgreSQL's statement_timeout (or a cancel)
_MYSQL_STATEMENT_TIMEOUT = {
    1969,  # ER_STATEMENT_TIMEOUT: MariaDB's max_statement_time
    3024,  # ER_QUERY_TIMEOUT: MySQL's max_execution_time
}
_DDL_LOCK_KEY = 0x7166_696C  # "qfil": one advisory lock for creating the tables on PostgreSQL
_DDL_LOCK_NAME = "qfilter_service_tables"  # the same on MariaDB/MySQL (GET_LOCK)


class Unavailable(TimeoutError):
    """The database stayed locked (or unreachable) through every try: answer 503, try later."""

    def __init__(self, message: str, detail: str = "", retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(f"{message} ({detail})" if detail else message)
        self.message = message  # what a client is told; ``detail`` (the database's error) is for the log
        self.retry_after = retry_after


def default_database_url() -> str:
    """The SQLite file ``qfilter serve`` uses without ``--db``: under the user's cache directory."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qfilter"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        probe = cache / ".write-test"
        probe.touch()
        probe.unlink()
    except OSError:  # a read-only home: the temp directory still works
        cache = Path(tempfile.gettempdir()) / "qfilter"
        cache.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{cache / 'qfilter-demo.sqlite3'}"


def _execute(dbapi_connection: Any, *statements: str) -> None:
    """Run qfilter's own settings statements (no user input) on a new driver connection."""
    cursor = dbapi_connection.cursor()
    try:
        for statement in statements:
            cursor.execute(statement)
    finally:
        cursor.close()


def _configure_sqlite(engine: sa.Engine, lock_timeout_ms: int) -> None:
    """WAL (readers never wait for the writer), a busy timeout, foreign keys, and ``BEGIN IMMEDIATE`` for writes.

    Python's sqlite3 module begins transactions lazily, before the first
    write; a transaction that read first then fails to take the write lock
    at once ("database is locked", whatever the timeout). So the driver's
    own transaction handling is turned off and SQLAlchemy emits ``BEGIN``:
    ``BEGIN IMMEDIATE`` for :func:`run_write`, which takes the write lock
    up front and waits up to ``lock_timeout_ms`` for it.
    """

    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        # An in-memory database stays in journal mode "memory". Foreign keys are enforced, as on the
        # other databases: a tag names an entity that exists, so an OR of tags is counted from the tag
        # table alone (qfilter.sql.count_matches).
        _execute(
            dbapi_connection,
            f"PRAGMA busy_timeout = {int(lock_timeout_ms)}",
            "PRAGMA journal_mode = WAL",
            "PRAGMA foreign_keys = ON",
        )

    @sa.event.listens_for(engine, "begin")
    def on_begin(conn: sa.Connection) -> None:
        if conn.get_execution_options().get(_WRITE_OPTION):
            # Through SQLAlchemy, which wraps the driver's errors: this one waits for the write lock and
            # may fail to get it, which run_write tries again.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            # A deferred BEGIN touches no file and takes no lock; on the driver's own connection it costs
            # a read far less than SQLAlchemy's execution (compile, events, a result), which a read pays.
            driver = conn.connection.driver_connection
            assert driver is not None  # a connection being begun is open
            driver.execute("BEGIN")


def _configure_postgresql(engine: sa.Engine, lock_timeout_ms: int, statement_timeout_ms: int) -> None:
    """A lock timeout, so that a request waits for another's lock no longer than on SQLite, and a statement cap.

    Without them, a transaction left open elsewhere would hang requests for
    good; with them, the wait ends in a ``lock_not_available`` error, which
    :func:`run_write` tries again and then answers 503, and a statement
    that runs too long in ``query_canceled``, a 503 at once.
    """

    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        _execute(
            dbapi_connection,
            f"SET lock_timeout = {int(lock_timeout_ms)}",
            f"SET statement_timeout = {int(statement_timeout_ms)}",
        )
        dbapi_connection.commit()


def _configure_mysql(engine: sa.Engine, lock_timeout_ms: int, statement_timeout_ms: int) -> None:
    """Lock wait timeouts (whole seconds) for row locks and for table and metadata locks, and a statement cap.

    ``innodb_lock_wait_timeout`` bounds the wait for another's row lock;
    ``lock_wait_timeout`` the wait for a table or metadata lock (another
    session's ``LOCK TABLES ... WRITE``, ``FLUSH TABLES WITH READ LOCK``, an
    ``ALTER TABLE``), which defaults to a year on MySQL and a day on
    MariaDB. Both end in error 1205, tried again like a row lock. The cap
    is MariaDB's ``max_statement_time`` (seconds) or MySQL's
    ``max_execution_time`` (milliseconds, reads only).
    """
    lock_seconds = max(1, math.ceil(lock_timeout_ms / 1000))

    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        server = str(getattr(dbapi_connection, "get_server_info", lambda: "")())
        if "mariadb" in server.lower():
            cap = f"max_statement_time = {int(statement_timeout_ms) / 1000:.3f}"
        else:
            cap = f"max_execution_time = {int(statement_timeout_ms)}"
        _execute(
            dbapi_connection,
            f"SET SESSION innodb_lock_wait_timeout = {lock_seconds}, lock_wait_timeout = {lock_seconds}, {cap}",
        )


def connect(
    url: str, *, lock_timeout_ms: int = BUSY_TIMEOUT_MS, statement_timeout_ms: int = STATEMENT_TIMEOUT_MS
) -> sa.Engine:
    """An engine on ``url`` set up as the service needs it; touches no table.

    ``lock_timeout_ms`` bounds each wait for another's lock (whole seconds
    on MariaDB), ``statement_timeout_ms`` each statement (PostgreSQL and
    MariaDB; SQLite has no such setting).
    """
    if lock_timeout_ms <= 0 or statement_timeout_ms <= 0:
        raise ValueError("the lock and statement timeouts must be positive (0 would mean no bound)")
    # No pool_pre_ping: it costs every request a round trip, and a connection the server has closed
    # fails its first statement with connection_invalidated, which _run tries again on a new one.
    engine = sa.create_engine(url)
    install_sqlite_functions(engine)  # before the first connection: SQLite needs Python's lower()
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, lock_timeout_ms)
    elif engine.dialect.name == "postgresql":
        _configure_postgresql(engine, lock_timeout_ms, statement_timeout_ms)
    elif engine.dialect.name in ("mysql", "mariadb"):
        _configure_mysql(engine, lock_timeout_ms, statement_timeout_ms)
    return engine


def open_database(
    url: str,
    *,
    demo: bool = True,
    lock_timeout_ms: int = BUSY_TIMEOUT_MS,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
) -> sa.Engine:
    """An engine on ``url`` with the service's tables, created if missing.

    When the tables are created here (the first start on that database) and
    ``demo`` is true, the bundled demo dataset is loaded into them. Several
    processes may do this at once: on PostgreSQL an advisory lock, on
    SQLite the write lock, lets one of them create and load. The timeouts
    are :func:`connect`'s.
    """
    engine = connect(url, lock_timeout_ms=lock_timeout_ms, statement_timeout_ms=statement_timeout_ms)

    def create(conn: sa.Connection) -> None:
        first_start = not sa.inspect(conn).has_table(reference.WAYLAY_TABLE.name)
        reference.METADATA.create_all(conn)
        if first_start and demo:
            _store_entities(conn, [loaded_entity(entity, index) for index, entity in enumerate(demo_entities())])

    def create_alone(conn: sa.Connection) -> None:
        if conn.dialect.name == "postgresql":  # released when the transaction ends
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_DDL_LOCK_KEY)))
            create(conn)
        elif conn.dialect.name in ("mysql", "mariadb"):  # DDL commits by itself: a lock of the session
            conn.execute(sa.select(sa.func.get_lock(_DDL_LOCK_NAME, 60)))
            try:
                create(conn)
            finally:
                conn.execute(sa.select(sa.func.release_lock(_DDL_LOCK_NAME)))
        else:  # SQLite: the write transaction is the lock
            create(conn)

    try:
        run_write(engine, create_alone)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _store_entities(conn: sa.Connection, entities: Sequence[Mapping[str, Any]]) -> None:
    for entity in entities:
        reference.delete_waylay_query(conn, entity["name"])
    reference.insert_waylay_queries(conn, entities)


def load_entities(engine: sa.Engine, entities: Sequence[Mapping[str, Any]]) -> int:
    """Store Waylay query entities, replacing those with the same name; returns how many.

    Each entity gets the checks of a POST (raising ``ValueError`` naming the
    entity's index), but keeps its ``attrs``.
    """
    checked = [loaded_entity(entity, index) for index, entity in enumerate(entities)]
    run_write(engine, lambda conn: _store_entities(conn, checked))
    return len(checked)


def is_transient(error: sa.exc.DBAPIError) -> bool:
    """Whether trying the transaction again may succeed: a lock, deadlock or serialization error, a lost connection."""
    if error.connection_invalidated:
        return True
    original = error.orig
    if original is None:
        return False
    if type(original).__module__.startswith("psycopg"):
        sqlstate = getattr(original, "sqlstate", None)
        if sqlstate is None:  # no answer from the server at all: it cannot be reached
            return isinstance(error, sa.exc.OperationalError)
        return sqlstate in _TRANSIENT_SQLSTATES or sqlstate.startswith("08")  # class 08: connection exception
    if type(original).__module__.startswith(("pymysql", "MySQLdb")):
        return bool(original.args) and original.args[0] in _MYSQL_TRANSIENT
    if isinstance(original, sqlite3.OperationalError):
        code = getattr(original, "sqlite_errorcode", None)
        if isinstance(code, int):
            return code & 0xFF in _SQLITE_BUSY
        return "locked" in str(original) or "busy" in str(original)
    return False


def is_statement_timeout(error: sa.exc.DBAPIError) -> bool:
    """Whether the database stopped a statement that ran past its time cap (:data:`STATEMENT_TIMEOUT_MS`).

    Not worth trying again at once: the same statement would likely run as
    long. It is answered 503 all the same, since the database was too busy.
    """
    original = error.orig
    if original is None:
        return False
    if type(original).__module__.startswith("psycopg"):
        return getattr(original, "sqlstate", None) == _QUERY_CANCELED
    if type(original).__module__.startswith(("pymysql", "MySQLdb")):
        return bool(original.args) and original.args[0] in _MYSQL_STATEMENT_TIMEOUT
    return False


def _run(engine: sa.Engine, work: Callable[[sa.Connection], T], *, write: bool) -> T:
    pause = _BACKOFF_SECONDS
    for attempt in range(RETRIES + 1):
        try:
            with engine.connect() as conn:
                if write:
                    conn.execution_options(**{_WRITE_OPTION: True})
                    if conn.dialect.name in ("mysql", "mariadb"):
                        # No gap locks on rows that are not there (REPEATABLE READ takes them for a
                        # DELETE or locking read that finds nothing), so fewer deadlocks to retry.
                        conn.execution_options(isolation_level="READ COMMITTED")
                elif conn.dialect.name == "postgresql":
                    # One snapshot for the whole transaction, so that a page and its total agree
                    # (read-only, it never fails to serialize). SQLite reads from one snapshot anyway.
                    conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    return work(conn)
        except sa.exc.DBAPIError as error:
            if is_statement_timeout(error):
                detail = " ".join(str(error.orig).split())
                raise Unavailable("the database took too long to answer; try again later", detail) from error
            if not is_transient(error):
                raise
            if attempt == RETRIES:
                detail = " ".join(str(error.orig).split())
                raise Unavailable(
                    f"the database is busy or unreachable (tried {RETRIES + 1} times); try again later", detail
                ) from error
        time.sleep(pause * (1 + random.random()))
        pause *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def run_write(engine: sa.Engine, work: Callable[[sa.Connection], T]) -> T:
    """``work(conn)`` in one write transaction, tried again on a transient error (:func:`is_transient`).

    ``work`` may run more than once, so it must do nothing but use ``conn``.
    An exception from ``work`` rolls the transaction back and propagates
    (``IntegrityError`` included); a transient error on every try raises
    :class:`Unavailable`.
    """
    return _run(engine, work, write=True)


def run_read(engine: sa.Engine, work: Callable[[sa.Connection], T]) -> T:
    """``work(conn)`` in one transaction that only reads, tried again like :func:`run_write`."""
    return _run(engine, work, write=False)
