"""The one seam between the language and a backend: a bound Plan in, the backend's result out.

A backend (the in-memory compiler, the SQL compiler, one you write) says
how to express four things in its own terms: that a condition holds for some
value of a field, and the all-of, any-of and negation of such results.
:func:`build` walks a :class:`~qfilter.core.plan.Plan` and asks the backend
for exactly those, so every backend applies the same combination logic
(spec section 3) and cannot drift from the others. ``docs/backends.md``
walks through adding one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar, assert_never

from .plan import Condition, Conjunction, Disjunction, Group, Negation, Node, Plan
from .schema import Field

__all__ = ["Backend", "build", "build_group", "build_node"]

Result = TypeVar("Result")


class Backend(Protocol[Result]):
    """What a backend implements to compile a :class:`~qfilter.core.plan.Plan` into a ``Result``.

    A ``Result`` is whatever the backend evaluates: a predicate over
    entities, a SQL boolean clause, a search engine's query object.
    """

    def holds(self, field: Field, condition: Condition, *, negated: bool) -> Result:
        """``condition`` holds for some value of ``field`` (no value: it does not hold).

        ``negated`` is true when the result will stand under a negation (an
        excluded group, or anything under a NOT of the logic tree): a
        backend with three-valued logic (SQL and its NULLs) must then give a
        plain true or false, so that "not" of it means what it says.
        """
        ...

    def all_of(self, parts: Sequence[Result]) -> Result:
        """Every part holds; an empty sequence holds."""
        ...

    def any_of(self, parts: Sequence[Result]) -> Result:
        """Some part holds; an empty sequence does not hold."""
        ...

    def negation(self, part: Result) -> Result:
        """``part`` does not hold."""
        ...


def build_group(group: Group, backend: Backend[Result], *, negated: bool = False) -> Result:
    """The result of one group: any alternative holds (none, when excluded); an alternative is all its conditions.

    ``negated``: the group stands under a NOT of the logic tree.
    """
    under_not = negated or group.excluded
    holds = backend.any_of(
        [
            backend.all_of([backend.holds(group.field, condition, negated=under_not) for condition in conditions])
            for conditions in group.alternatives
        ]
    )
    return backend.negation(holds) if group.excluded else holds


def build_node(node: Node, backend: Backend[Result], *, negated: bool = False) -> Result:
    """The result of a node of a plan's logic tree; ``negated``: it stands under a NOT.

    Recursive: the parser's depth limit bounds how deep a tree can be.
    """
    match node:
        case Group():
            return build_group(node, backend, negated=negated)
        case Conjunction(children):
            return backend.all_of([build_node(child, backend, negated=negated) for child in children])
        case Disjunction(children):
            return backend.any_of([build_node(child, backend, negated=negated) for child in children])
        case Negation(child):
            return backend.negation(build_node(child, backend, negated=True))
        case _:
            assert_never(node)


def build(plan: Plan, backend: Backend[Result]) -> Result:
    """The backend's result for the whole plan: every group holds, or its logic tree (spec section 12)."""
    if plan.root is not None:
        return build_node(plan.root, backend)
    return backend.all_of([build_group(group, backend) for group in plan.groups])
