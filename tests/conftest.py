"""Shared fixtures: a fixed clock, private databases, each database in turn, the Hypothesis profiles."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from support import NOW, PROFILE, REQUIRE_DATABASES

# Speed is measured in benchmarks, not here: on a loaded 2-core machine the first
# draws (cold imports, the grammar built once) and database round trips can pass
# Hypothesis' time limits, which would fail a correct property at random.
settings.register_profile(
    "ci", max_examples=100, print_blob=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(PROFILE)


@pytest.fixture
def now() -> datetime:
    return NOW


def _private_database(server: str, variable: str, create: str, drop: str) -> Iterator[str]:
    """A URL to a database of its own on the server ``$variable`` names, dropped afterwards.

    ``create`` and ``drop`` are the server's statements, ``{name}`` standing for
    the database. Without the variable the tests skip, except where databases
    are required (CI=true), since a skip would hide a failure.
    """
    import sqlalchemy as sa

    base = os.environ.get(variable)
    if not base:
        message = f"{variable} is not set"
        if REQUIRE_DATABASES:
            pytest.fail(message + f" (CI=true: {server} tests must run)")
        pytest.skip(message)
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"qfilter_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(create.format(name=name)))
    except sa.exc.OperationalError as error:
        if REQUIRE_DATABASES:
            pytest.fail(f"{server} at {base} does not answer: {error}")
        pytest.skip(f"{server} at {base} does not answer")
    try:
        yield sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(drop.format(name=name)))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of its own on the test PostgreSQL server (QFILTER_TEST_POSTGRES_URL, which ``.ci/run`` sets)."""
    yield from _private_database(
        "PostgreSQL",
        "QFILTER_TEST_POSTGRES_URL",
        "CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0",
        'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
    )


@pytest.fixture(scope="session")
def mysql_url() -> Iterator[str]:
    """A database of its own on the test MariaDB server (QFILTER_TEST_MYSQL_URL, which ``.ci/run`` sets)."""
    yield from _private_database(
        "MariaDB",
        "QFILTER_TEST_MYSQL_URL",
        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4",
        "DROP DATABASE IF EXISTS `{name}`",
    )


@pytest.fixture(
    scope="module",
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ],
)
def database(request: pytest.FixtureRequest) -> Iterator[Any]:
    """An engine on each database in turn (SQLite in memory with qfilter's functions, then the servers).

    A module's ``engine`` fixture creates its tables on it; ``conn`` below is
    the connection most tests want.
    """
    import sqlalchemy as sa

    from qfilter.sql import install_sqlite_functions

    if request.param == "sqlite":
        created = sa.create_engine("sqlite://", poolclass=sa.StaticPool)
        install_sqlite_functions(created)
    else:
        created = sa.create_engine(
            request.getfixturevalue("postgres_url" if request.param == "postgresql" else "mysql_url")
        )
    yield created
    created.dispose()


@pytest.fixture
def conn(engine: Any) -> Iterator[Any]:
    """A connection to the module's ``engine``, in a transaction rolled back afterwards."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()
