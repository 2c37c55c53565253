"""A backend that forgot a condition (an application's function, ``Call``): ``mypy --strict`` rejects it.

The error is at ``assert_never``, and names the condition left out.
"""

from typing import assert_never

from qfilter.core.ir import (
    AllOf,
    AnyOf,
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


def value_test(predicate: ValuePredicate) -> str:
    """The backend's expression of one condition, without a case for Call."""
    match predicate:
        case Contains() | Equals() | Like() | Within() | InSet() | Compare() | InNumbers() | IsBoolean():
            return type(predicate).__name__
        case Not(inner):
            return f"not {value_test(inner)}"
        case AllOf(parts) | AnyOf(parts):
            return ", ".join(map(value_test, parts))
        case _:
            assert_never(predicate)  # the error: "Call" reaches here
