"""The IR (:mod:`.ir`) and the binder (:mod:`.binder`) under their former common name.

This module only re-exports them, so that ``from qfilter.core.plan import ...``
keeps working; new code imports from :mod:`.ir` and :mod:`.binder`.
"""

from __future__ import annotations

from .binder import bind, json_number, to_plan
from .ir import (
    DEFAULT_USER_HINT,
    ME,
    AllOf,
    AnyOf,
    Call,
    Compare,
    Condition,
    Conjunction,
    Contains,
    Context,
    Disjunction,
    Equals,
    Exists,
    Group,
    InNumbers,
    InSet,
    IsBoolean,
    Like,
    Negation,
    Node,
    Not,
    Number,
    Operator,
    Plan,
    ValuePredicate,
    Within,
)

__all__ = [
    "Context",
    "Contains",
    "Equals",
    "Like",
    "Within",
    "InSet",
    "Compare",
    "InNumbers",
    "IsBoolean",
    "Call",
    "Not",
    "AllOf",
    "AnyOf",
    "Exists",
    "ValuePredicate",
    "Condition",
    "Number",
    "Operator",
    "Group",
    "Conjunction",
    "Disjunction",
    "Negation",
    "Node",
    "Plan",
    "ME",
    "DEFAULT_USER_HINT",
    "bind",
    "to_plan",
    "json_number",
]
