"""The SQL measure: qfilter's compiled clause against hand-written SQL, same plan, same time.

Needs ``qfilter.sql`` (issue #4). Until it exists this reports the measure as
pending instead of failing the run.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .bench import Config, Row


def _pending(config: Config, why: str) -> list[Row]:
    from .bench import Row

    backends = ["SQLite"] + (["PostgreSQL"] if config.postgres_url else [])
    return [
        Row(
            "SQL",
            f"seed, {backend}, {config.rows:,} rows",
            "qfilter clause",
            None,
            "hand-written SQL",
            None,
            target="≤ 1.1x, same plan",
            limit=1.1,
            note=f"SQL: pending, {why}.",
        )
        for backend in backends
    ]


def run(config: Config) -> list[Row]:
    if importlib.util.find_spec("qfilter.sql") is None:
        return _pending(config, "qfilter.sql (issue #4) is not in this checkout yet")
    return _pending(config, "the benchmark is not written against qfilter.sql yet")
