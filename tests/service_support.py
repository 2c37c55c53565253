"""Shared by the service tests: a private database per service, SQLite, PostgreSQL or MariaDB.

(No tests here: a support module beside support.py, imported by the test_service_* files.)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", marks=pytest.mark.mysql),
]
USER_HEADER = "X-User-Id"
STARTUP_BOUND = 60.0  # seconds a service may take to answer before the test gives up (not an assertion)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def qfilter_serve(args: list[str], home: Path) -> Iterator[str]:
    """Run ``qfilter serve ARGS`` as a process, with ``home`` as HOME and cache; yields its base URL once it answers."""
    port = free_port()
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / "cache")}
    command = [sys.executable, "-m", "qfilter", "serve", "--port", str(port), *args]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_BOUND
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                pytest.fail(f"qfilter serve exited with {process.returncode}:\n{output}")
            try:
                httpx.get(f"{base_url}/", timeout=1.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("qfilter serve did not answer")
                time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - uvicorn stops on SIGTERM
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


@contextmanager
def private_database(kind: str, request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    """A URL to an empty database of this test's own, removed afterwards.

    PostgreSQL tests share the session's database (the ``postgres_url``
    fixture), so each service gets a schema of its own there, made the
    connections' search path through the URL.
    """
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'service-{uuid.uuid4().hex[:8]}.sqlite3'}"
        return
    if kind == "mysql":  # MariaDB: a database of its own beside the session's, dropped afterwards
        base = sa.make_url(request.getfixturevalue("mysql_url"))
        database = f"{base.database}_service_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4"))
        try:
            yield base.set(database=database).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{database}`"))
            admin.dispose()
        return
    base = request.getfixturevalue("postgres_url")
    schema = f"service_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
