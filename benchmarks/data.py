"""Deterministic Waylay-shaped query entities (the shape of qfilter/service/data/demo_queries.json)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
"""The instant ``now`` stands for in every benchmark, so that runs compare."""

_FIRST = datetime(2019, 1, 1, tzinfo=UTC)
_SPAN = int((NOW - _FIRST).total_seconds())
_PREFIXES = ["demo", "Demo", "prod", "test", "151CF", "office-7", "Zürich-3", "APL4995"]
_METRICS = ["temperature", "humidity", "co2", "door_open", "battery", "pressure", "energy_%"]
_TAGS = ["demo", "not-demo", "old", "imported", "preview", "prio1", "prio2", "ab c"]
_RESOURCES = ["151CF", "151D8", "APL4995", "office-7", "Zürich-3"]
_USERS = ["users/alice", "users/bob", "users/carol", "users/0476f99d-ac60-4f86-bc45-7215962754cd"]


def _time(rng: random.Random) -> str:
    moment = _FIRST + timedelta(seconds=rng.randrange(_SPAN), microseconds=rng.randrange(1_000_000))
    return moment.isoformat()


def _resource(rng: random.Random) -> str:
    return rng.choice(_RESOURCES) if rng.random() < 0.7 else f"dev-{rng.randrange(10_000):04d}"


def waylay_entity(rng: random.Random, index: int) -> dict[str, Any]:
    metric = rng.choice(_METRICS)
    name = f"{rng.choice(_PREFIXES)} {metric} {index}"
    tags = rng.sample(_TAGS, rng.choice((0, 1, 1, 2, 2, 3)))
    meta: dict[str, Any] = {"name": metric, "tags": tags}
    if rng.random() < 0.3:
        meta["description"] = f"{metric} of {rng.choice(_RESOURCES)}, averaged {rng.choice(('hourly', 'daily'))}"
    query: dict[str, Any] = {"freq": rng.choice(("PT1H", "PT5M"))}
    where = rng.random()
    if where < 0.35:
        meta["resource"] = _resource(rng)
        query["aggregation"] = "mean"
    elif where < 0.7:
        query["resource"] = _resource(rng)
        query["metric"] = metric
    else:
        query["data"] = [{"resource": _resource(rng), "metric": metric} for _ in range(rng.randrange(4))]
    attrs: dict[str, Any] = {"created": _time(rng), "created_by": rng.choice(_USERS)}
    if rng.random() < 0.8:
        attrs["modified"] = max(attrs["created"], _time(rng))
        attrs["modified_by"] = rng.choice(_USERS)
    return {"name": name, "meta": meta, "attrs": attrs, "query": query}


def iter_waylay_entities(count: int, seed: int = 6) -> Iterator[dict[str, Any]]:
    """The same entities as :func:`waylay_entities`, one at a time."""
    rng = random.Random(seed)
    for index in range(count):
        yield waylay_entity(rng, index)


def waylay_entities(count: int, seed: int = 6) -> list[dict[str, Any]]:
    return list(iter_waylay_entities(count, seed))


DATA_VERSION = 1
"""Bump when the generated data changes, so that stored benchmark databases are rebuilt."""
