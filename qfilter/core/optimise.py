"""Rewrites of a :class:`~qfilter.core.ir.Plan` that keep its meaning and that backends opt into.

:func:`one_lookup_per_field` makes an OR of plain values of one field one
set test. The SQL compiler applies it to every plan (one ``IN`` is one
lookup of the value's index, where an OR of subqueries is a per-row
subplan on PostgreSQL); the in-memory closures too (one set lookup per
value, whatever the number of terms). A backend of your own may apply it or
not: the answers are the same either way.
"""

from __future__ import annotations

import operator
from dataclasses import replace
from typing import assert_never

from .ir import Condition, Conjunction, Disjunction, Equals, Group, InSet, Negation, Node, Plan
from .kinds import KINDS

__all__ = ["ONE_LOOKUP_KINDS", "one_lookup", "one_lookup_per_field"]

ONE_LOOKUP_KINDS = frozenset(kind for kind, traits in KINDS.items() if traits.one_lookup)
"""Kinds whose OR of plain values becomes one :class:`~qfilter.core.ir.InSet` (their traits say so: :mod:`.kinds`).

Their plain value is an :class:`~qfilter.core.ir.Equals` of text only.
``META`` is left alone: ``meta.k:5`` is a text comparison there, kept as
the user's terms.
"""


def _is_plain_value(alternative: tuple[Condition, ...]) -> bool:
    return len(alternative) == 1 and isinstance(alternative[0], Equals)


def one_lookup(group: Group) -> Group:
    """``group`` with its alternatives that are one :class:`Equals` each made one :class:`InSet` (``tag:a tag:b``).

    The same meaning: some value's text equals ``a`` or some value's text
    equals ``b`` is some value's text in ``{a, b}`` (both read text values
    only). The set stands where the first plain value stood; the other
    alternatives stay as they are. A group of another kind, or with fewer
    than two plain values, is returned as it is.
    """
    if group.field.kind not in ONE_LOOKUP_KINDS:
        return group
    plain = [alternative for alternative in group.alternatives if _is_plain_value(alternative)]
    if len(plain) < 2:
        return group
    values = tuple(dict.fromkeys(condition.value for (condition,) in plain if isinstance(condition, Equals)))
    merged: tuple[Condition, ...] = (InSet(values, ignore_case=False),)
    alternatives: list[tuple[Condition, ...]] = []
    for alternative in group.alternatives:
        if not _is_plain_value(alternative):
            alternatives.append(alternative)
        elif merged not in alternatives:
            alternatives.append(merged)
    return replace(group, alternatives=tuple(alternatives))


def _one_lookup_node(node: Node) -> Node:
    match node:
        case Group():
            return one_lookup(node)
        case Conjunction(children):
            return Conjunction(tuple(map(_one_lookup_node, children)))
        case Disjunction(children):
            return Disjunction(tuple(map(_one_lookup_node, children)))
        case Negation(child):
            return Negation(_one_lookup_node(child))
        case _:
            assert_never(node)


def one_lookup_per_field(plan: Plan) -> Plan:
    """``plan`` with every OR of plain values of one EXACT or USER field as one :class:`InSet`.

    The groups keep their number and order (``plan.groups[i]`` is still the
    same field's group), so a backend may pair the two plans' groups.
    """
    groups = tuple(map(one_lookup, plan.groups))
    if plan.root is None:
        if all(map(operator.is_, groups, plan.groups)):
            return plan  # nothing to merge: most filters
        return replace(plan, groups=groups)
    return replace(plan, groups=groups, root=_one_lookup_node(plan.root))
