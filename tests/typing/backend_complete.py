"""A backend's test of one value that handles every condition: ``mypy --strict`` accepts it.

``tests/test_typing.py`` checks this file and its two broken copies; the
project's own mypy run leaves ``tests/typing/`` out (pyproject.toml).
"""

from typing import assert_never

from qfilter.core.ir import (
    AllOf,
    AnyOf,
    Call,
    Compare,
    Contains,
    Equals,
    InNumbers,
    InSet,
    IsBoolean,
    Like,
    Not,
    ValuePredicate,
    Within,
)
from qfilter.core.kinds import Kind, traits


def value_test(predicate: ValuePredicate) -> str:
    """The backend's expression of one condition (here: its name)."""
    match predicate:
        case Contains() | Equals() | Like() | Within() | InSet() | Compare() | InNumbers() | IsBoolean() | Call():
            return type(predicate).__name__
        case Not(inner):
            return f"not {value_test(inner)}"
        case AllOf(parts) | AnyOf(parts):
            return ", ".join(map(value_test, parts))
        case _:
            assert_never(predicate)


def column_for(kind: Kind) -> str:
    """Where the backend reads a value of ``kind`` (here: a column's name)."""
    reads = traits(kind).reads
    match reads:
        case "text" | "instant":
            return "value"
        case "number":
            return "number"
        case "boolean":
            return "boolean"
        case "json":
            return "document"
        case _:
            assert_never(reads)
