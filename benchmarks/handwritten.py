"""What a careful developer writes by hand for the benchmark filters, in memory.

Each function applies the meaning of one filter (docs/language.md, section 3)
to Waylay-shaped dicts: the same fields, the same case rules, the same
treatment of missing values, nothing more. The benchmark checks that each
returns exactly the entities qfilter's predicate returns.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

Entity = dict[str, Any]


def seed(now: datetime) -> Callable[[list[Entity]], list[Entity]]:
    """``name:demo tag:demo -tag:not-demo resource:151CF created:"2020-04-22T12:34:00+00:00/now-P1W"``."""
    start = datetime(2020, 4, 22, 12, 34, tzinfo=UTC)
    end = now - timedelta(weeks=1)

    def keep(entity: Entity) -> bool:
        name = entity.get("name")
        if not isinstance(name, str) or "demo" not in name.lower():
            return False
        meta = entity.get("meta") or {}
        tags = meta.get("tags") or ()
        if "demo" not in tags or "not-demo" in tags:
            return False
        query = entity.get("query") or {}
        if (
            meta.get("resource") != "151CF"
            and query.get("resource") != "151CF"
            and not any(item.get("resource") == "151CF" for item in query.get("data") or ())
        ):
            return False
        created = (entity.get("attrs") or {}).get("created")
        if not created:
            return False
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return start <= moment < end

    def run(entities: list[Entity]) -> list[Entity]:
        return [entity for entity in entities if keep(entity)]

    return run


def one_term(now: datetime) -> Callable[[list[Entity]], list[Entity]]:
    """``tag:demo``."""

    def run(entities: list[Entity]) -> list[Entity]:
        return [entity for entity in entities if "demo" in ((entity.get("meta") or {}).get("tags") or ())]

    return run


HANDWRITTEN = {"seed": seed, "1 term": one_term}
