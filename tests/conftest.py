"""Shared fixtures: a fixed clock, private databases, and the Hypothesis profiles (see ``support``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest
from hypothesis import settings
from support import NOW, PROFILE, REQUIRE_DATABASES

settings.register_profile("ci", max_examples=100, print_blob=True)
settings.register_profile("dev", max_examples=20)
settings.load_profile(PROFILE)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A URL to a database of its own on the test PostgreSQL server, dropped afterwards.

    The server comes from QFILTER_TEST_POSTGRES_URL (``.ci/run`` sets it). Without
    one the tests skip, except under CI=true, where a skip would hide a failure.
    """
    import sqlalchemy as sa

    base = os.environ.get("QFILTER_TEST_POSTGRES_URL")
    if not base:
        message = "QFILTER_TEST_POSTGRES_URL is not set"
        if REQUIRE_DATABASES:
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"qfilter_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    except sa.exc.OperationalError as error:
        if REQUIRE_DATABASES:
            pytest.fail(f"PostgreSQL at {base} does not answer: {error}")
        pytest.skip(f"PostgreSQL at {base} does not answer")
    try:
        yield sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def mysql_url() -> Iterator[str]:
    """A URL to a database of its own on the test MariaDB server, dropped afterwards.

    The server comes from QFILTER_TEST_MYSQL_URL (``mysql+pymysql://root@127.0.0.1:3306/test``).
    Without one the tests skip, except under CI=true, where a skip would hide a failure.
    """
    import sqlalchemy as sa

    base = os.environ.get("QFILTER_TEST_MYSQL_URL")
    if not base:
        message = "QFILTER_TEST_MYSQL_URL is not set"
        if REQUIRE_DATABASES:
            pytest.fail(message + " (CI=true: MariaDB tests must run)")
        pytest.skip(message)
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"qfilter_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except sa.exc.OperationalError as error:
        if REQUIRE_DATABASES:
            pytest.fail(f"MariaDB at {base} does not answer: {error}")
        pytest.skip(f"MariaDB at {base} does not answer")
    try:
        yield sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
