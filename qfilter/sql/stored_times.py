"""How an instant of a filter or a sort compares with the times a ``DateTime`` column holds.

A column with ``timezone=True`` (or :class:`~qfilter.sql.types.UtcDateTime`)
holds instants; one without holds wall-clock times in the schema's zone,
which memory reads with ``fold=0`` (the first of a repeated hour).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import sqlalchemy as sa

from .mappings import datetime_type

__all__ = ["time_bound"]


def _is_ambiguous(wall: datetime, zone: tzinfo) -> bool:
    return wall.replace(tzinfo=zone, fold=0).utcoffset() != wall.replace(tzinfo=zone, fold=1).utcoffset()


def _wall_clock_bound(instant: datetime, zone: tzinfo) -> datetime:
    """The first naive wall-clock time in ``zone`` that memory reads as ``instant`` or later.

    Memory reads a naive time with ``fold=0``: a time of a repeated hour is its
    first occurrence. So when ``instant`` falls in the second occurrence, the
    repeated wall times all read earlier, and the bound is the end of the
    repeated hour. Wall times that do not exist (a skipped hour) are not
    ordered like instants at all; docs/sql.md says so.
    """
    local = instant.astimezone(zone)
    wall = local.replace(tzinfo=None, fold=0)
    if isinstance(zone, timezone) or local.fold == 0:
        return wall
    # Second occurrence: find where the ambiguous stretch ends (at most the zone's shift away).
    first, second = local.replace(fold=0).utcoffset(), local.utcoffset()
    assert first is not None and second is not None  # an aware time (astimezone made it) has an offset
    low, high = wall, wall + (first - second)
    step = timedelta(microseconds=1)
    while high - low > step:
        middle = low + (high - low) // 2
        if _is_ambiguous(middle, zone):
            low = middle
        else:
            high = middle
    return high


def time_bound(instant: datetime | None, column: sa.ColumnElement[Any], zone: tzinfo) -> datetime | None:
    """``instant`` as ``column`` holds it: in UTC for a zone-aware ``DateTime``, else the wall-clock bound in ``zone``.

    ``zone`` is the schema's (the language reference: time intervals: how stored times read).
    """
    if instant is None:
        return None
    kind = datetime_type(column.type)
    if kind is not None and kind.timezone:
        # UTC: SQLite's plain DateTime(timezone=True) stores the wall time it is given.
        return instant.astimezone(UTC)
    return _wall_clock_bound(instant, zone)
