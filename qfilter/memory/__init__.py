"""The in-memory compiler: a bound filter becomes a predicate over entities.

Entities are mappings (parsed JSON) or plain objects. :mod:`.closures` is the
:class:`~qfilter.core.backend.Backend` that defines the meaning: each
condition a closure, so filtering a list costs a few function calls per
entity. On top of it :mod:`.codegen` writes each filter out as one Python
function (and one loop for :meth:`Predicate.filter`), about as fast as a
hand-written function (``docs/performance.md``;
the test suite holds the two equal). :mod:`.sorting` is
memory's order and seek; :class:`MemoryCompiler` puts the three together for
a listing (``qfilter.integrations``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence, Sized
from datetime import datetime, tzinfo
from typing import Any, TypeVar, overload

from qfilter.core.ast import Filter
from qfilter.core.backend import Position, build
from qfilter.core.binder import to_plan
from qfilter.core.ir import Plan
from qfilter.core.optimise import one_lookup_per_field
from qfilter.core.schema import Schema
from qfilter.core.sorting import SortKey

from .closures import MemoryBackend
from .codegen import is_compiled, specialised
from .glob import glob_test
from .sorting import EntityOrder, MemoryOrdering, position_of, sort_entities

__all__ = [
    "Predicate",
    "compile_predicate",
    "compile_plan",
    "glob_test",
    "sort_entities",
    "position_of",
    "EntityOrder",
    "MemoryOrdering",
    "MemoryCompiler",
    "SPECIALISE_AFTER",
]

T = TypeVar("T")
_Specialised = tuple[Callable[[Any], bool], Callable[[Iterable[Any]], list[Any]]]


SPECIALISE_AFTER = 256
"""How many entities a predicate sees before it writes itself out as Python (see :func:`compile_plan`)."""


class Predicate:
    """A compiled filter: call it on an entity, or :meth:`filter` an iterable.

    ``plan`` is the filter it was compiled from; ``None`` for one made
    otherwise (a seek past a position, :meth:`MemoryCompiler.after`).
    """

    __slots__ = ("plan", "_check", "_select", "_specialise")

    def __init__(
        self,
        plan: Plan | None,
        check: Callable[[Any], bool],
        select: Callable[[Iterable[Any]], list[Any]] | None = None,
        specialise: Callable[[], _Specialised] | None = None,
    ) -> None:
        self.plan = plan
        self._check = check
        self._select = select
        self._specialise = specialise
        if specialise is not None:  # count the first calls, then switch to the generated code
            calls = 0

            def counting(entity: Any) -> bool:
                nonlocal calls
                calls += 1
                if calls >= SPECIALISE_AFTER:
                    self._upgrade()
                return check(entity)

            self._check = counting

    def _upgrade(self) -> None:
        specialise = self._specialise
        if specialise is not None:
            self._check, self._select = specialise()
            self._specialise = None

    def __call__(self, entity: Any) -> bool:
        return self._check(entity)

    def filter(self, entities: Iterable[T]) -> list[T]:
        """The entities that match, in their original order."""
        if self._specialise is not None:
            # An iterator: assume a long one.
            many = len(entities) >= SPECIALISE_AFTER if isinstance(entities, Sized) else True
            if many:
                self._upgrade()
        if self._select is not None:
            return self._select(entities)
        check = self._check
        return [entity for entity in entities if check(entity)]


def compile_plan(plan: Plan, *, specialise: bool | None = None) -> Predicate:
    """The predicate of an already bound filter.

    The closures answer first; the generated function (about as fast as
    hand-written code, but costlier to make) takes over once the predicate
    has seen :data:`SPECIALISE_AFTER` entities, in calls or in one
    :meth:`~Predicate.filter`, so that a few checks never pay for it, or at
    once when code for the plan's shape was generated before (by an earlier
    filter that differs only in its values). ``specialise=True`` makes it at
    once, ``False`` never (the same answers either way; for tests).
    """
    if not plan.groups:
        return Predicate(plan, lambda entity: True)
    # Entity times without an offset are in the schema's zone, whatever zone the filter was read in
    # (spec section 5): plan.tz only shaped the plan's own instants.
    backend = MemoryBackend(plan.schema.timezone)
    # The closures take an OR of plain values as one set; the generated code tests them inline already,
    # and is made from the plan as bound (one_lookup_per_field keeps its groups in place).
    slow = build(one_lookup_per_field(plan), backend)
    if plan.root is not None:  # a logic tree (spec section 12): the closures; code is generated for groups only
        return Predicate(plan, slow)
    if specialise is None:
        if is_compiled(plan):
            return Predicate(plan, *specialised(plan, backend, slow))
        return Predicate(plan, slow, specialise=lambda: specialised(plan, backend, slow))
    if not specialise:
        return Predicate(plan, slow)
    return Predicate(plan, *specialised(plan, backend, slow))


@overload
def compile_predicate(query: Plan, schema: Schema | None = None) -> Predicate: ...


@overload
def compile_predicate(
    query: Filter | Plan | str,
    schema: Schema,
    *,
    now: datetime | None = None,
    user: str | None = None,
    tz: tzinfo | None = None,
) -> Predicate: ...


def compile_predicate(
    query: Filter | Plan | str,
    schema: Schema | None = None,
    *,
    now: datetime | None = None,
    user: str | None = None,
    tz: tzinfo | None = None,
) -> Predicate:
    """Compile a filter (text, parsed, or a bound :class:`~qfilter.core.ir.Plan`) into a :class:`Predicate`.

    A Plan carries its schema, ``now``, user and zone (see
    :func:`~qfilter.core.binder.to_plan`): ``compile_predicate(plan)``.
    Text or a parsed filter needs its schema; ``now`` fixes the instant of
    ``now`` (default: the current time), ``user`` is the current user for
    ``@me``, ``tz`` is the zone the filter's own dates, times and ``now``
    arithmetic are read in (default: the schema's). Entity times without an
    offset are always in the schema's zone.
    """
    if schema is None:
        if not isinstance(query, Plan):
            raise TypeError("compile_predicate needs the schema of a filter given as text or parsed")
        return compile_plan(to_plan(query, query.schema, now=now, user=user, tz=tz))
    return compile_plan(to_plan(query, schema, now=now, user=user, tz=tz))


class MemoryCompiler:
    """The :class:`~qfilter.core.backend.Compiler` of memory: a :class:`Predicate`, an :class:`EntityOrder`, a seek.

    ``schema`` says where an entity's id is (``id_path``, which breaks ties)
    and the zone of its times without an offset. What a SQL app does with
    :class:`qfilter.sql.SqlCompiler`, a list in memory does with this::

        compiler = MemoryCompiler(schema)
        page = compiler.order(keys)(compiler.where(plan).filter(entities))[offset : offset + limit]
    """

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.ordering = MemoryOrdering(schema)

    def where(self, plan: Plan) -> Predicate:
        """The predicate of ``plan``."""
        return compile_plan(plan)

    def order(self, keys: Sequence[SortKey]) -> EntityOrder:
        """The order of ``keys``, then the id: call it on entities."""
        return self.ordering.order(keys)

    def after(self, keys: Sequence[SortKey], position: Position) -> Predicate:
        """The entities strictly after ``position`` (:func:`position_of` an entity) in the order of ``keys``."""
        return Predicate(None, self.ordering.after(keys, position))
