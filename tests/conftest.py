"""Shared fixtures: a fixed clock, the demo data, and a private PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


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
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"qfilter_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    except sa.exc.OperationalError as error:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {base} does not answer: {error}")
        pytest.skip(f"PostgreSQL at {base} does not answer")
    try:
        yield sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
