"""The IR every backend speaks: a bound filter's conditions, groups, logic tree and :class:`Plan`.

:mod:`.binder` makes a :class:`Plan` from a parsed filter; the compilers (in
memory, SQL, Django, one you write through :mod:`.backend`) walk it and never
see the raw text, so they cannot disagree about what it means.

A condition is either :class:`Exists` (the field has a value) or a
*predicate*, a test of one value, which holds for the field when some value
satisfies it: :class:`Contains`, :class:`Equals`, :class:`Like`,
:class:`Within`, :class:`InSet`, :class:`Compare`, :class:`InNumbers`,
:class:`IsBoolean`, :class:`Call` (a function an application declared:
:class:`~qfilter.core.functions.FunctionMatcher`), and the combinators
:class:`Not`, :class:`AllOf`, :class:`AnyOf` over predicates of the same value.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, TypeAlias, assert_never

from .ast import Filter, Term
from .times import Interval

if TYPE_CHECKING:  # the schema imports the kinds, which build predicates: no import back at run time
    from .functions import FunctionMatcher
    from .kinds import Kind
    from .schema import Field, Schema

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
    "groups_of",
    "Plan",
    "ME",
    "DEFAULT_USER_HINT",
]

ME = "@me"
DEFAULT_USER_HINT = "pass the current user (user=... when compiling the filter)"
"""The hint of ``@me`` without a user when the :class:`Context` gives none of its own."""


@dataclass(frozen=True, slots=True)
class Context:
    """What a filter's meaning depends on besides its text.

    ``now`` is the instant every ``now`` stands for (the current time when
    ``None``); ``user`` is the current user for ``@me``; ``tz`` overrides the
    schema's time zone for times written without an offset. ``user_hint``
    says, where ``@me`` has no user, how to give one in the place the filter
    came from (``--user`` on the command line, a header or sign-in over HTTP);
    by default it speaks of the library's ``user=`` argument.
    """

    now: datetime | None = None
    user: str | None = None
    tz: tzinfo | None = None
    user_hint: str | None = None

    def instant(self) -> datetime:
        """``now`` as an aware datetime (naive means UTC)."""
        if self.now is None:
            return datetime.now(UTC)
        if self.now.tzinfo is None:
            return self.now.replace(tzinfo=UTC)
        return self.now


@dataclass(frozen=True, slots=True)
class Contains:
    """The value's text contains ``text`` (compared lower-cased if ``ignore_case``)."""

    text: str
    ignore_case: bool


@dataclass(frozen=True, slots=True)
class Equals:
    """The value, as text, equals ``value`` exactly."""

    value: str


@dataclass(frozen=True, slots=True)
class Like:
    """The value's text matches a glob (``*`` any run, ``?`` one character), ignoring case."""

    glob: str


@dataclass(frozen=True, slots=True)
class Within:
    """The value is an instant inside the interval."""

    interval: Interval


Number: TypeAlias = int | Decimal | float
"""A number of a filter, exact: an ``int`` when integral, else a ``Decimal`` (:mod:`.numbers`; a ``float`` only in
a plan built in code). Each backend compares it in the stored value's own type (the language reference: numbers)."""
Operator: TypeAlias = Literal["eq", "lt", "lte", "gt", "gte"]


@dataclass(frozen=True, slots=True)
class InSet:
    """The value's text is one of ``values``; ``ignore_case``: compared lower-cased (``values`` already are)."""

    values: tuple[str, ...]
    ignore_case: bool


@dataclass(frozen=True, slots=True)
class Compare:
    """The value is a number (a boolean is not) and ``value <op> number`` holds."""

    op: Operator
    number: Number


@dataclass(frozen=True, slots=True)
class InNumbers:
    """The value is a number (a boolean is not) equal to one of ``numbers``."""

    numbers: tuple[Number, ...]


@dataclass(frozen=True, slots=True)
class IsBoolean:
    """The value is the boolean ``value`` (a JSON or SQL boolean, not its text)."""

    value: bool


@dataclass(frozen=True, slots=True)
class Call:
    """The value, read as ``kind`` reads it, satisfies ``function`` with ``arguments``: a function of the application's.

    ``arguments`` are as the declaration's :class:`~qfilter.core.functions.Argument`
    read them (a text, a number, an instant, a glob, a nested predicate).
    Each backend evaluates it through the declaration: memory with its
    ``memory`` test, SQL with its ``sql`` clause, Django with its ``django`` one.
    """

    function: FunctionMatcher
    arguments: tuple[object, ...]
    kind: Kind


@dataclass(frozen=True, slots=True)
class Not:
    """The value does not satisfy ``predicate``."""

    predicate: ValuePredicate


@dataclass(frozen=True, slots=True)
class AllOf:
    """The value satisfies every predicate."""

    predicates: tuple[ValuePredicate, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """The value satisfies some predicate."""

    predicates: tuple[ValuePredicate, ...]


@dataclass(frozen=True, slots=True)
class Exists:
    """The field has at least one value: the one test of a whole field (``exists()``)."""


ValuePredicate: TypeAlias = (
    Contains | Equals | Like | Within | InSet | Compare | InNumbers | IsBoolean | Call | Not | AllOf | AnyOf
)
"""A test of one value; a field satisfies it when some value does."""
Condition: TypeAlias = ValuePredicate | Exists


@dataclass(frozen=True, slots=True)
class Group:
    """Terms sharing a qualifier and an exclusion flag.

    Holds when any alternative holds (none, if ``excluded``); an alternative
    holds when all its conditions hold, each for some value of the field.
    """

    field: Field
    excluded: bool
    alternatives: tuple[tuple[Condition, ...], ...]
    terms: tuple[Term, ...] = dataclass_field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Conjunction:
    """Every child holds (``AND``, and the conjuncts of a sequence of items side by side)."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Disjunction:
    """Some child holds (``OR``)."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Negation:
    """The child does not hold (``NOT`` of something other than one group: that is an excluded group)."""

    child: Node


Node: TypeAlias = Group | Conjunction | Disjunction | Negation
"""A node of a plan's logic tree; the leaves are groups."""


def groups_of(root: Node) -> tuple[Group, ...]:
    """The groups of a logic tree, in order (without recursion: the tree may be deep)."""
    found: list[Group] = []
    pending: list[Node] = [root]
    while pending:
        node = pending.pop()
        match node:
            case Group():
                found.append(node)
            case Conjunction(children) | Disjunction(children):
                pending.extend(reversed(children))
            case Negation(child):
                pending.append(child)
            case _:
                assert_never(node)
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Plan:
    """A bound filter: holds when every group holds. No groups holds always.

    A filter with ``AND``, ``OR``, ``NOT`` or parentheses that does not come
    down to groups side by side has a ``root``: its logic tree, which is then
    the meaning, and ``groups`` lists every group of the tree (each field the
    filter uses is in one). ``root`` is ``None`` for groups side by side, the
    form the compilers know best (the in-memory code generator only takes
    that form). :attr:`tree` is the root either way.

    ``context`` is what it was bound with, resolved: ``now`` the instant every
    ``now`` stood for, ``tz`` the zone of times without an offset (the
    schema's unless overridden), ``user`` the current user.
    """

    groups: tuple[Group, ...]
    filter: Filter = dataclass_field(compare=False, repr=False)
    schema: Schema = dataclass_field(compare=False, repr=False)
    context: Context = dataclass_field(default_factory=lambda: Context(), compare=False, repr=False)
    root: Node | None = None

    @property
    def tree(self) -> Node:
        """The logic tree: ``root``, or the conjunction of the groups."""
        return Conjunction(self.groups) if self.root is None else self.root

    @property
    def tz(self) -> tzinfo:
        """The zone of times written without an offset, in the filter and in the entities."""
        return self.context.tz or self.schema.timezone

    @property
    def source(self) -> str:
        """The filter's text, as the user wrote it, for error messages."""
        return self.filter.source or str(self.filter)
