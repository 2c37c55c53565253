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
from typing import Protocol, TypeVar

from .plan import Condition, Group, Plan
from .schema import Field

__all__ = ["Backend", "build", "build_group"]

Result = TypeVar("Result")


class Backend(Protocol[Result]):
    """What a backend implements to compile a :class:`~qfilter.core.plan.Plan` into a ``Result``.

    A ``Result`` is whatever the backend evaluates: a predicate over
    entities, a SQL boolean clause, a search engine's query object.
    """

    def holds(self, field: Field, condition: Condition, *, negated: bool) -> Result:
        """``condition`` holds for some value of ``field`` (no value: it does not hold).

        ``negated`` is true when the result will stand under a negation: a
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


def build_group(group: Group, backend: Backend[Result]) -> Result:
    """The result of one group: any alternative holds (none, when excluded); an alternative is all its conditions."""
    holds = backend.any_of(
        [
            backend.all_of([backend.holds(group.field, condition, negated=group.excluded) for condition in conditions])
            for conditions in group.alternatives
        ]
    )
    return backend.negation(holds) if group.excluded else holds


def build(plan: Plan, backend: Backend[Result]) -> Result:
    """The backend's result for the whole plan: every group holds."""
    return backend.all_of([build_group(group, backend) for group in plan.groups])
