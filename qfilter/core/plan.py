"""From AST to meaning: bind a filter to a schema and a context.

:func:`to_plan` is the one way from text (or AST) to a :class:`Plan`;
:func:`bind` checks every qualifier against the schema, resolves ``@me`` and
every time expression, and applies the combination logic of the language
(terms grouped by qualifier and exclusion; OR within a group, NOT-OR for an
excluded group, AND across groups; AND between the matchers of a term). The
result, a :class:`Plan`, is what every compiler (in memory, SQL) walks: they
never see the raw text, so they cannot disagree about what it means.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime, tzinfo
from typing import TypeAlias

from .ast import Filter, Function, Matcher, Term
from .errors import CurrentUserError, FilterError, MatcherError
from .parser import DEFAULT_LIMITS, Limits, parse
from .schema import Field, Kind, Schema
from .times import Interval, parse_interval

__all__ = [
    "Context",
    "Contains",
    "Equals",
    "Like",
    "Within",
    "Condition",
    "Group",
    "Plan",
    "bind",
    "to_plan",
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


Condition: TypeAlias = Contains | Equals | Like | Within


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
class Plan:
    """A bound filter: holds when every group holds. No groups holds always.

    ``context`` is what it was bound with, resolved: ``now`` the instant every
    ``now`` stood for, ``tz`` the zone of times without an offset (the
    schema's unless overridden), ``user`` the current user.
    """

    groups: tuple[Group, ...]
    filter: Filter = dataclass_field(compare=False, repr=False)
    schema: Schema = dataclass_field(compare=False, repr=False)
    context: Context = dataclass_field(default_factory=lambda: Context(), compare=False, repr=False)

    @property
    def tz(self) -> tzinfo:
        """The zone of times written without an offset, in the filter and in the entities."""
        return self.context.tz or self.schema.timezone

    @property
    def source(self) -> str:
        """The filter's text, as the user wrote it, for error messages."""
        return self.filter.source or str(self.filter)


def _condition(matcher: Matcher, target: Field, context: Context, now: datetime, tz: tzinfo, text: str) -> Condition:
    if isinstance(matcher, Function):
        if target.kind is not Kind.META:
            raise MatcherError(
                f"{target.qualifier!r} takes no {matcher.name}(...) matcher",
                text=text,
                position=matcher.position,
                hint=f'to search for the text itself, quote it: {target.qualifier}:"{matcher}"',
            )
        if matcher.name == "like":
            return Like(matcher.argument)
        return Contains(matcher.argument, ignore_case=False)
    value = matcher.text
    kind = target.kind
    if kind is Kind.TEXT:
        return Contains(value.lower(), ignore_case=True)
    if kind is Kind.TIME:
        try:
            return Within(parse_interval(value, now=now, tz=tz))
        except FilterError as error:
            raise error.with_text(text, matcher.position) from None
    if kind is Kind.USER and value == ME:
        if context.user is None:
            raise CurrentUserError(
                "@me needs a current user, and none was given",
                text=text,
                position=matcher.position,
                hint=context.user_hint or DEFAULT_USER_HINT,
            )
        return Equals(context.user)
    return Equals(value)


def bind(parsed: Filter, schema: Schema, context: Context | None = None) -> Plan:
    """Give a parsed filter its meaning under ``schema`` and ``context``.

    Raises a :class:`~qfilter.core.errors.FilterError` for an unknown qualifier, a
    matcher its qualifier does not take, a bad time or ``@me`` without a user.
    """
    context = context or Context()
    now = context.instant()
    tz = context.tz or schema.timezone
    resolved = Context(now=now, user=context.user, tz=tz, user_hint=context.user_hint)
    text = parsed.source or str(parsed)
    grouped: dict[tuple[str, bool], list[Term]] = {}
    fields: dict[str, Field] = {}
    for term in parsed.terms:
        if term.qualifier not in fields:
            fields[term.qualifier] = schema.field_for(term.qualifier, text=text, position=term.position)
        grouped.setdefault((term.qualifier, term.excluded), []).append(term)
    groups = []
    for (qualifier, excluded), terms in grouped.items():
        target = fields[qualifier]
        alternatives = tuple(
            tuple(_condition(m, target, context, now, tz, text) for m in term.matchers) for term in terms
        )
        groups.append(Group(target, excluded, alternatives, tuple(terms)))
    return Plan(tuple(groups), parsed, schema, resolved)


def to_plan(
    query: str | Filter | Plan,
    schema: Schema,
    *,
    now: datetime | None = None,
    user: str | None = None,
    tz: tzinfo | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Plan:
    """The bound :class:`Plan` of a filter given as text, as a parsed :class:`Filter`, or already bound.

    Text is parsed with ``schema``'s default qualifier and ``limits``; then
    bound with ``now``, ``user`` and ``tz``. A :class:`Plan` is returned as
    it is: it carries the context it was bound with, so passing ``now``,
    ``user`` or ``tz`` along with one is a ``TypeError`` rather than a
    silently ignored argument, and so is a Plan bound under another schema.
    """
    if isinstance(query, Plan):
        if now is not None or user is not None or tz is not None:
            raise TypeError("a bound Plan carries its own now, user and tz; bind the filter again to change them")
        if query.schema is not schema and query.schema != schema:
            raise TypeError(f"this Plan was bound under schema {query.schema.name!r}, not {schema.name!r}")
        return query
    if isinstance(query, str):
        query = parse(query, default_qualifier=schema.default_qualifier, limits=limits)
    elif not isinstance(query, Filter):
        raise TypeError(f"a filter is a str, a Filter or a Plan, not {type(query).__name__}")
    return bind(query, schema, Context(now=now, user=user, tz=tz))
