"""The one seam between the language and a backend: a bound Plan in, the backend's result out.

A backend (the in-memory compiler, the SQL compiler, one you write) says
how to express four things in its own terms: that a condition holds for some
value of a field, and the all-of, any-of and negation of such results.
:func:`build` walks a :class:`~qfilter.core.ir.Plan` and asks the backend
for exactly those, so every backend applies the same combination logic
(the language reference: combining terms) and cannot drift from the others.

The order of a listing (``sort=``, docs/listings.md: sort) goes through the seam
the same way: a backend's :class:`Ordering` says how to order by one field
and by the id, and how to compare a field with a value; :func:`build_order`
and :func:`build_seek` state the order once, here (missing values last in
both directions, ties by id, ascending), so no backend spells it itself. A
:class:`Compiler` bundles what a listing asks of a backend (filter, order,
seek), which is what :mod:`qfilter.integrations` takes. ``docs/backends.md``
walks through adding one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias, TypeVar, assert_never

from .ir import Condition, Conjunction, Disjunction, Group, Negation, Node, Plan
from .schema import Field
from .sorting import SortKey

__all__ = [
    "Combining",
    "Backend",
    "Ordering",
    "Compiler",
    "Position",
    "Comparison",
    "build",
    "build_group",
    "build_node",
    "build_order",
    "build_seek",
]

Result = TypeVar("Result")
Key = TypeVar("Key")
Key_co = TypeVar("Key_co", covariant=True)
Where = TypeVar("Where")
OrderBy = TypeVar("OrderBy")
Where_co = TypeVar("Where_co", covariant=True)
OrderBy_co = TypeVar("OrderBy_co", covariant=True)

Comparison: TypeAlias = Literal["lt", "gt", "eq"]
"""How :meth:`Ordering.compare` compares a field's value with a given one."""


class Combining(Protocol[Result]):
    """The AND and OR of a backend's results."""

    def all_of(self, parts: Sequence[Result]) -> Result:
        """Every part holds; an empty sequence holds."""
        ...

    def any_of(self, parts: Sequence[Result]) -> Result:
        """Some part holds; an empty sequence does not hold."""
        ...


class Backend(Combining[Result], Protocol[Result]):
    """What a backend implements to compile a :class:`~qfilter.core.ir.Plan` into a ``Result``.

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

    def negation(self, part: Result) -> Result:
        """``part`` does not hold."""
        ...


class Ordering(Combining[Result], Protocol[Key_co, Result]):
    """What a backend implements to order a listing (``Key``) and to seek past a row in that order (``Result``).

    A sortable field has at most one value (:func:`~qfilter.core.sorting.sortable_fields`);
    an entity whose value cannot be read as the field's kind (a text in a
    NUMBER field) has none, a *missing* value. Values are compared as the
    language orders them: text by code point, times as instants, numbers
    numerically, ``false`` before ``true``. The id is compared as the
    entity's identity is typed: numbers numerically, text by code point.
    """

    def sort_key(self, field: Field, *, descending: bool) -> Key_co:
        """Order by ``field``'s value, descending if ``descending``; missing values LAST in both directions."""
        ...

    def id_key(self) -> Key_co:
        """Order by the entity's id, ascending (the last key: it breaks ties, so paging is stable)."""
        ...

    def compare(self, field: Field | None, op: Comparison, value: object) -> Result:
        """``field``'s value (the id's, for ``None``) is less than, greater than or equal to ``value``.

        ``value`` is as :class:`Position` holds it. Never holds for an entity
        whose value is missing.
        """
        ...

    def missing(self, field: Field) -> Result:
        """``field`` has no value (that its kind can read)."""
        ...


@dataclass(frozen=True, slots=True)
class Position:
    """Where a row stands in an order: its value for each sort key, then its id.

    ``values`` has one value per key, ``None`` where the row has none; each
    as the language orders it: a ``str`` for the text kinds, an aware
    ``datetime`` (the instant) for a time, an ``int`` or ``float``, a
    ``bool``. ``id`` is the row's id as stored (``"d1"``, ``10``).
    """

    values: tuple[object, ...]
    id: object


class Compiler(Protocol[Where_co, OrderBy_co]):
    """What a listing asks of a backend: the filter (``Where``), the order (``OrderBy``) and a seek past a row.

    :class:`qfilter.memory.MemoryCompiler` and :class:`qfilter.sql.SqlCompiler`
    implement it; :mod:`qfilter.integrations.listing` and the FastAPI
    dependency take any.
    """

    def where(self, plan: Plan) -> Where_co:
        """The backend's test of the filter ``plan``."""
        ...

    def order(self, keys: Sequence[SortKey]) -> OrderBy_co:
        """The order of ``keys``, then the id (see :func:`build_order`)."""
        ...

    def after(self, keys: Sequence[SortKey], position: Position) -> Where_co:
        """The rows strictly after ``position`` in the order of ``keys`` (see :func:`build_seek`)."""
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
    """The backend's result for the whole plan: every group holds, or its logic tree."""
    if plan.root is not None:
        return build_node(plan.root, backend)
    return backend.all_of([build_group(group, backend) for group in plan.groups])


def build_order(keys: Sequence[SortKey], ordering: Ordering[Key, Result]) -> list[Key]:
    """The order of ``keys``: each key's :meth:`~Ordering.sort_key`, then the id's, ascending."""
    return [ordering.sort_key(key.field, descending=key.descending) for key in keys] + [ordering.id_key()]


def build_seek(keys: Sequence[SortKey], position: Position, ordering: Ordering[Key, Result]) -> Result:
    """The rows strictly after ``position`` in the order :func:`build_order` gives, as one ``Result``.

    A row is after the position when, at the first key where the two differ,
    its value is beyond the position's (greater ascending, less descending)
    or missing where the position's is not (missing values come last); past
    every key, when its id is greater. So, from the last key back::

        after(n) = id > position.id
        after(i) = missing(f_i) AND after(i+1)                                 the position has no value
                 = f_i beyond v OR missing(f_i) OR (f_i = v AND after(i+1))    it has the value v

    This is what a cursor (keyset) page seeks past; it asks nothing of a
    backend but :meth:`~Ordering.compare`, :meth:`~Ordering.missing` and
    the AND and OR of their results.
    """
    if len(position.values) != len(keys):
        raise ValueError(f"a position for {len(keys)} sort keys has {len(position.values)} values")
    if position.id is None:
        raise ValueError("a position needs the row's id")
    after = ordering.compare(None, "gt", position.id)
    for key, value in zip(reversed(keys), reversed(position.values), strict=True):
        if value is None:
            after = ordering.all_of([ordering.missing(key.field), after])
            continue
        beyond: Comparison = "lt" if key.descending else "gt"
        after = ordering.any_of(
            [
                ordering.compare(key.field, beyond, value),
                ordering.missing(key.field),
                ordering.all_of([ordering.compare(key.field, "eq", value), after]),
            ]
        )
    return after
