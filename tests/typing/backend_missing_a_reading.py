"""A backend that forgot a way of reading values (JSON, the META kind's): ``mypy --strict`` rejects it.

A new kind that reads values in a new way is a new ``Reading``: mypy then
names every backend that must read it, here.
"""

from typing import assert_never

from qfilter.core.kinds import Kind, traits


def column_for(kind: Kind) -> str:
    """Where the backend reads a value of ``kind``, without a case for "json"."""
    reads = traits(kind).reads
    match reads:
        case "text" | "instant":
            return "value"
        case "number":
            return "number"
        case "boolean":
            return "boolean"
        case _:
            assert_never(reads)  # the error: "json" reaches here
