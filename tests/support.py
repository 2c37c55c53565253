"""What the tests share: the fixed clock, whether databases are required, and Hypothesis example counts.

Imported as ``support`` (pytest puts ``tests/`` on ``sys.path``); fixtures live
in ``conftest.py``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

__all__ = ["DEMO_NOW", "DEMO_NOW_TEXT", "IN_CI", "NOW", "PROFILE", "REQUIRE_DATABASES", "examples"]

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
"""The instant ``now`` stands for in tests that do not need a particular one."""
DEMO_NOW = datetime(2020, 9, 1, 12, 0, tzinfo=UTC)
"""The instant the expectations over the bundled demo dataset are written against."""
DEMO_NOW_TEXT = "2020-09-01T12:00:00Z"
""":data:`DEMO_NOW` as the command line's ``--now`` takes it."""

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REQUIRE_DATABASES = IN_CI or os.environ.get("QFILTER_REQUIRE_DATABASES", "") == "1"
"""Whether a database test that cannot reach its server fails instead of skipping."""

PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if IN_CI else "dev")
"""``ci``: every property runs its full number of examples; ``dev``: a fifth of them, for quick local runs."""


def examples(full: int) -> int:
    """How many examples a property runs: ``full`` under the ``ci`` profile, a fifth (at least 20) under ``dev``."""
    return full if PROFILE == "ci" else max(20, full // 5)
