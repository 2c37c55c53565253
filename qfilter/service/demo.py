"""The bundled demo dataset the reference service and ``qfilter filter --demo`` start from."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["demo_entities"]


def demo_entities() -> list[dict[str, Any]]:
    """The bundled demo dataset: Waylay query entities."""
    data = resources.files(__package__).joinpath("data/demo_queries.json").read_text(encoding="utf-8")
    entities: list[dict[str, Any]] = json.loads(data)
    return entities
