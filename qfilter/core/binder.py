"""From AST to meaning: bind a filter to a schema and a context.

:func:`to_plan` is the one way from text (or AST) to a :class:`~.ir.Plan`;
:func:`bind` checks every qualifier against the schema, resolves ``@me`` and
every time expression, and applies the combination logic of the language
(terms grouped by qualifier and exclusion; OR within a group, NOT-OR for an
excluded group, AND across groups; AND between the matchers of a term). The
result is the IR of :mod:`.ir`, which every backend walks.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import TypeGuard, assert_never

from .ast import And, Expression, Filter, Function, Item, Matcher, Or, Sequence, Term, Value
from .ast import Not as NotItem
from .errors import CurrentUserError, FilterError, FilterLimitError, MatcherError
from .functions import BUILTIN_FUNCTIONS, Argument, FunctionMatcher, FunctionTable
from .ir import (
    DEFAULT_USER_HINT,
    ME,
    AllOf,
    AnyOf,
    Call,
    Compare,
    Condition,
    Conjunction,
    Context,
    Disjunction,
    Equals,
    Exists,
    Group,
    InNumbers,
    InSet,
    IsBoolean,
    Negation,
    Node,
    Number,
    Operator,
    Plan,
    ValuePredicate,
    Within,
    groups_of,
)
from .kinds import Kind, kind_names, traits
from .numbers import read_number
from .parser import DEFAULT_LIMITS, MAX_SAFE_DEPTH, Limits, parse
from .schema import Field, Schema
from .times import parse_comparison, parse_interval, parse_timestamp

__all__ = ["Binding", "bind", "to_plan", "json_number"]


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?P<real>(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)", re.A)
_BOOLEANS = {"true": True, "false": False}
_NUMBER_COMPARISONS: tuple[tuple[str, Operator], ...] = ((">=", "gte"), ("<=", "lte"), (">", "gt"), ("<", "lt"))
_COMPARISON_OPERATORS: dict[str, Operator] = {"lt": "lt", "lte": "lte", "gt": "gt", "gte": "gte"}
_NUMBER_FORMS_HINT = "write a JSON number (5, -2.5, 1e3), >5, >=5, <5, <=5 or a range 1..5, *..5, 5..*"


def json_number(text: str) -> Number | None:
    """The number ``text`` spells in JSON syntax (``5``, ``-2.5``, ``1e3``), exactly; ``None`` if it spells none.

    An ``int`` when integral, whatever its size (``-9223372036854775809``),
    else a ``Decimal`` (``9.99``): :func:`~qfilter.core.numbers.read_number`.
    A number beyond the largest double is ``None`` too (the callers say why).
    """
    return read_number(text)


class Binding:
    """The binding of one field's matchers: turns them into conditions, with errors pointing into the filter.

    What a :class:`~qfilter.core.kinds.KindTraits` (its ``plain``) and a
    :class:`~qfilter.core.functions.FunctionMatcher` (its ``bind``) are
    given: ``field`` is the field, ``context`` what the filter is bound
    with (``now`` and ``tz`` resolved), and the methods below read values
    the way the language does, raising the user's error where one is wrong.
    """

    def __init__(
        self,
        field: Field,
        context: Context,
        now: datetime,
        tz: tzinfo,
        source: str,
        functions: FunctionTable = BUILTIN_FUNCTIONS,
    ) -> None:
        self.field = field
        self.context = context
        self.now = now
        self.tz = tz
        self.source = source
        self.functions = functions

    def error(self, message: str, position: int, hint: str | None = None) -> MatcherError:
        """A :class:`~qfilter.core.errors.MatcherError` at ``position`` of the filter, to raise."""
        return MatcherError(message, text=self.source, position=position, hint=hint)

    def condition(self, matcher: Matcher) -> Condition:
        """The condition one matcher of a term means (``exists()``: the whole field)."""
        if isinstance(matcher, Function) and self.declaration(matcher).field_level:
            return Exists()
        return self.predicate(matcher)

    def declaration(self, function: Function) -> FunctionMatcher:
        """The declaration of ``function``, once its name, its arguments and the field's kind are checked."""
        try:
            checked = self.functions.checked(function.name, function.arguments, function.position)
        except FilterError as error:  # a Function built in code rather than parsed
            raise error.with_text(self.source) from None
        declared = self.functions.lookup(checked.name)
        assert declared is not None  # checked_function found it
        kind = self.field.kind
        if kind not in declared.kinds:
            quote = f'; to search for the text, quote it: {self.field.qualifier}:"{function}"'
            raise self.error(
                f"{self.field.qualifier!r} is a {kind.value.upper()} field and takes no {declared.name}()",
                function.position,
                hint=f"{declared.name}() is for {kind_names(declared.kinds)} fields"
                + (quote if kind is not Kind.TIME else ""),
            )
        return declared

    def predicate(self, matcher: Matcher) -> ValuePredicate:
        """The test of one value ``matcher`` means: a plain value the field's own matcher, a function its own."""
        if isinstance(matcher, Value):
            return traits(self.field.kind).plain(self, matcher)
        declared = self.declaration(matcher)
        if declared.bind is not None:
            return declared.bind(self, matcher)
        return self.call(declared, matcher)

    def call(self, declared: FunctionMatcher, function: Function) -> Call:
        """An application's function: its arguments read as declared, and checked by its ``check``."""
        arguments = tuple(
            self.read(declared.argument(index), argument, declared) for index, argument in enumerate(function.arguments)
        )
        if declared.check is not None:
            problem = declared.check(*arguments)
            if problem:
                raise self.error(problem, function.position)
        return Call(declared, arguments, self.field.kind)

    def read(self, argument: Argument, matcher: Matcher, declared: FunctionMatcher) -> object:
        """One argument of ``declared``, read as ``argument`` says (:class:`~qfilter.core.functions.Argument`)."""
        if argument is Argument.MATCHER:
            return self.predicate(matcher)
        if not isinstance(matcher, Value):
            raise self.error(f"the arguments of {declared.name}() are values, not functions", matcher.position)
        kind = self.field.kind
        match argument:
            case Argument.TEXT:
                return self.user(matcher) if kind is Kind.USER else matcher.text
            case Argument.GLOB:
                return matcher.text
            case Argument.NUMBER:
                return self.number(matcher, function=declared.name)
            case Argument.TIME:
                return self.instant(matcher)
            case Argument.BOUND:
                return self.instant(matcher) if kind is Kind.TIME else self.number(matcher, function=declared.name)
            case Argument.VALUE:
                return self.value(matcher, declared.name)
            case _:
                assert_never(argument)

    def value(self, value: Value, function: str) -> object:
        """A value as the field reads one (its kind's ``reads``), an argument of ``function``."""
        reads = traits(self.field.kind).reads
        match reads:
            case "number":
                return self.number(value, function=function)
            case "boolean":
                return self.boolean(value)
            case "instant":
                return self.instant(value)
            case "text" | "json":
                return self.user(value) if self.field.kind is Kind.USER else self.choice(value)
            case _:
                assert_never(reads)

    def interval(self, value: Value) -> ValuePredicate:
        """A TIME field's plain matcher: the value is an instant inside the interval ``value`` spells."""
        try:
            return Within(parse_interval(value.text, now=self.now, tz=self.tz))
        except FilterError as error:
            raise error.with_text(self.source, value.position) from None

    def instant(self, value: Value) -> datetime:
        """The instant a timestamp token spells; a reduced-precision one, its first."""
        try:
            return parse_timestamp(value.text, now=self.now, tz=self.tz)
        except FilterError as error:
            raise error.with_text(self.source, value.position) from None

    def choice(self, value: Value, *, ignore_case: bool = False) -> str:
        """``value``'s text, when the field has no ``choices`` or it is one of them; else an error that suggests one.

        Compared ignoring case when the field or the function (``inIgnoreCase``) does.
        """
        choices = self.field.choices
        if choices is None:
            return value.text
        fold = str.lower if self.field.ignore_case or ignore_case else str
        text = fold(value.text)
        folded = {fold(choice): choice for choice in choices}
        if text in folded:
            return value.text
        import difflib  # for a suggestion in an error message only: not worth importing at start-up

        # Suggested ignoring case whatever the field does: RUNNING is close to running.
        lowered = {choice.lower(): choice for choice in reversed(choices)}
        close = difflib.get_close_matches(value.text.lower(), list(lowered), n=1, cutoff=0.6)
        suggestion = f"did you mean {Value(lowered[close[0]])}? " if close else ""
        listed = ", ".join(str(Value(choice)) for choice in choices)
        raise self.error(
            f"{self.field.qualifier!r} has no value {value.text!r}",
            value.position,
            hint=f"{suggestion}{self.field.qualifier} is one of: {listed}",
        )

    def user(self, value: Value) -> str:
        """A user id as written, or the current user's for ``@me`` (an error when there is none)."""
        if value.text != ME:
            return value.text
        if self.context.user is None:
            raise CurrentUserError(
                "@me needs a current user, and none was given",
                text=self.source,
                position=value.position,
                hint=self.context.user_hint or DEFAULT_USER_HINT,
            )
        return self.context.user

    def number(self, value: Value, offset: int = 0, token: str | None = None, function: str | None = None) -> Number:
        """The number ``value`` (or ``token``, at ``offset`` in it) spells; an error naming the token if none.

        ``function`` names the function it is an argument of: its hint then
        gives only what an argument may be (a number), never the range forms
        of a plain matcher.
        """
        token = value.text[offset:] if token is None else token
        number = json_number(token)
        if number is None:
            too_big = _JSON_NUMBER.fullmatch(token) is not None
            hint = _NUMBER_FORMS_HINT if function is None else f"{function}() takes a JSON number: 5, -2.5, 1e3"
            raise self.error(
                f"{'number out of range' if too_big else 'not a number'}: {token!r}",
                value.position + offset,
                hint=None if too_big else hint,
            )
        return number

    def boolean(self, value: Value) -> bool:
        """``true`` or ``false``, in any letter case."""
        found = _BOOLEANS.get(value.text.lower())
        if found is None:
            raise self.error(f"not a boolean: {value.text!r}", value.position, hint="write true or false")
        return found

    def number_matcher(self, value: Value) -> ValuePredicate:
        """``5``, ``>5``, ``>=5``, ``<5``, ``<=5``, ``1..5``, ``*..5``, ``5..*`` (the language reference: numbers).

        A NUMBER field's plain matcher, and a bare number range under ``meta.``
        (where ``meta.k:5..12`` means ``meta.k:all(gte(5),lte(12))``).
        """
        text = value.text
        for prefix, op in _NUMBER_COMPARISONS:
            if text.startswith(prefix):
                return Compare(op, self.number(value, len(prefix)))
        if ".." not in text:
            return Compare("eq", self.number(value))
        low, high = text.split("..", 1)
        parts: list[ValuePredicate] = []
        if low != "*":
            parts.append(Compare("gte", self.number(value, 0, low)))
        if high != "*":
            parts.append(Compare("lte", self.number(value, len(low) + 2, high)))
        if not parts:
            raise self.error("a range needs at least one number", value.position, hint="write e.g. 1..* or *..5")
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def one_of(self, values: list[Value], *, ignore_case: bool, function: str) -> ValuePredicate:
        """``equals``/``eq``/``in``/``inIgnoreCase``: the value equals one of ``values``."""
        kind, reads = self.field.kind, traits(self.field.kind).reads
        if reads == "number":
            numbers = tuple(dict.fromkeys(self.number(v, function=function) for v in values))
            return Compare("eq", numbers[0]) if len(numbers) == 1 else InNumbers(numbers)
        if reads == "boolean":
            booleans = tuple(dict.fromkeys(self.boolean(v) for v in values))
            return IsBoolean(booleans[0]) if len(booleans) == 1 else AnyOf(tuple(map(IsBoolean, booleans)))
        texts = [self.user(v) if kind is Kind.USER else self.choice(v, ignore_case=ignore_case) for v in values]
        if ignore_case:
            texts = [t.lower() for t in texts]
        unique = tuple(dict.fromkeys(texts))
        text_test: ValuePredicate = (
            Equals(unique[0]) if len(unique) == 1 and not ignore_case else InSet(unique, ignore_case)
        )
        if reads != "json" or ignore_case:
            return text_test
        # Under meta., a JSON number also equals a number numerically: eq(5) holds for 5.0.
        numbers = tuple(dict.fromkeys(n for n in map(json_number, texts) if n is not None))
        if not numbers:
            return text_test
        number_test = Compare("eq", numbers[0]) if len(numbers) == 1 else InNumbers(numbers)
        return AnyOf((text_test, number_test))

    def compare(self, name: str, value: Value) -> ValuePredicate:
        """``lt``/``lte``/``gt``/``gte`` of ``value``: an interval under a TIME field, else a comparison of numbers."""
        op = _COMPARISON_OPERATORS[name]
        if self.field.kind is Kind.TIME:
            try:
                return Within(parse_comparison(op, value.text, now=self.now, tz=self.tz, position=0))
            except FilterError as error:
                raise error.with_text(self.source, value.position) from None
        return Compare(op, self.number(value, function=name))


def _conjunction(children: list[Node]) -> Node:
    """AND of ``children``: nested ANDs flattened, excluded groups of one field merged.

    (NOT a AND NOT b is NOT (a OR b): ``-tag:a AND -tag:b`` is the plan of ``-tag:a -tag:b``.)
    """
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, Conjunction) else (child,))
    merged = _merge(flat, excluded=True)
    return merged[0] if len(merged) == 1 else Conjunction(tuple(merged))


def _disjunction(children: list[Node]) -> Node:
    """OR of ``children``: nested ORs flattened, plain groups of one field merged (a group is an OR already).

    ``tag:a OR tag:b`` so becomes the plan of ``tag:a tag:b``, which the
    compilers make one lookup of the field (not one per row and value).
    """
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, Disjunction) else (child,))
    merged = _merge(flat, excluded=False)
    return merged[0] if len(merged) == 1 else Disjunction(tuple(merged))


def _merge(nodes: list[Node], *, excluded: bool) -> list[Node]:
    """``nodes`` with the groups of one field and exclusion ``excluded`` made one, where the first one stood."""
    first: dict[Field, int] = {}
    out: list[Node] = []
    for node in nodes:
        if isinstance(node, Group) and node.excluded is excluded:
            index = first.get(node.field)
            if index is not None:
                held = out[index]
                assert isinstance(held, Group)
                out[index] = Group(held.field, excluded, held.alternatives + node.alternatives, held.terms + node.terms)
                continue
            first[node.field] = len(out)
        out.append(node)
    return out


def _negation(child: Node) -> Node:
    """NOT of ``child``: a group flips its exclusion (``NOT tag:a`` is ``-tag:a``), NOT NOT cancels."""
    if isinstance(child, Group):
        return Group(child.field, not child.excluded, child.alternatives, child.terms)
    if isinstance(child, Negation):
        return child.child
    return Negation(child)


class _TreeBinder:
    """Binds an expression (the language reference: boolean expressions) to a logic tree of groups."""

    def __init__(self, schema: Schema, context: Context, now: datetime, tz: tzinfo, text: str) -> None:
        self.schema = schema
        self.context = context
        self.now = now
        self.tz = tz
        self.text = text
        self.fields: dict[str, Field] = {}

    def field(self, term: Term) -> Field:
        found = self.fields.get(term.qualifier)
        if found is None:
            found = self.fields[term.qualifier] = self.schema.field_for(
                term.qualifier, text=self.text, position=term.position
            )
        return found

    def groups(self, terms: list[Term]) -> list[Group]:
        """The groups of terms side by side, in the order each first appears."""
        grouped: dict[tuple[str, bool], list[Term]] = {}
        for term in terms:
            self.field(term)
            grouped.setdefault((term.qualifier, term.excluded), []).append(term)
        groups = []
        for (qualifier, excluded), members in grouped.items():
            target = self.fields[qualifier]
            binder = Binding(target, self.context, self.now, self.tz, self.text, self.schema.function_table)
            alternatives = tuple(tuple(binder.condition(m) for m in term.matchers) for term in members)
            groups.append(Group(target, excluded, alternatives, tuple(members)))
        return groups

    def node(self, item: Item | Expression, depth: int = 0) -> Node:
        if depth > 4 * MAX_SAFE_DEPTH:  # parsed filters are far shallower; a tree built in code may not be
            raise FilterLimitError(f"the filter nests more than {MAX_SAFE_DEPTH} levels deep", text=self.text)
        match item:
            case Term():
                return self.groups([item])[0]
            case Sequence(items):
                terms = [i for i in items if isinstance(i, Term)]
                groups = iter(self.groups(terms))
                seen: set[tuple[str, bool]] = set()
                children: list[Node] = []
                for inner in items:
                    if not isinstance(inner, Term):
                        children.append(self.node(inner, depth + 1))
                    elif (inner.qualifier, inner.excluded) not in seen:
                        seen.add((inner.qualifier, inner.excluded))
                        children.append(next(groups))
                return _conjunction(children)
            case And(parts):
                return _conjunction([self.node(part, depth + 1) for part in parts])
            case Or(parts):
                return _disjunction([self.node(part, depth + 1) for part in parts])
            case NotItem(inner):
                return _negation(self.node(inner, depth + 1))
            case _:
                assert_never(item)


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
    binder = _TreeBinder(schema, context, now, tz, text)
    if parsed.expression is None:
        return Plan(tuple(binder.groups(list(parsed.terms))), parsed, schema, resolved)
    root = binder.node(parsed.expression)
    if isinstance(root, Group):
        return Plan((root,), parsed, schema, resolved)
    if isinstance(root, Conjunction) and _only_groups(root.children):
        return Plan(root.children, parsed, schema, resolved)
    return Plan(groups_of(root), parsed, schema, resolved, root)


def to_plan(
    query: str | Filter | Plan,
    schema: Schema,
    *,
    now: datetime | None = None,
    user: str | None = None,
    tz: tzinfo | None = None,
    limits: Limits = DEFAULT_LIMITS,
    context: Context | None = None,
) -> Plan:
    """The bound :class:`Plan` of a filter given as text, as a parsed :class:`Filter`, or already bound.

    The one way from text to a Plan (the listing helpers and the command use
    it too). Text is parsed with ``schema``'s default qualifier and
    ``limits``; then bound with ``context``, or with ``now``, ``user`` and
    ``tz`` (not both: a ``TypeError``). A :class:`Plan` is returned as it
    is: it carries the context it was bound with, so passing a context along
    with one is a ``TypeError`` rather than a silently ignored argument,
    and so is a Plan bound under another schema.
    """
    given = now is not None or user is not None or tz is not None
    if given and context is not None:
        raise TypeError("give now, user and tz, or a context, not both")
    if isinstance(query, Plan):
        if given or context is not None:
            raise TypeError("a bound Plan carries its own now, user and tz; bind the filter again to change them")
        if query.schema is not schema and query.schema != schema:
            raise TypeError(f"this Plan was bound under schema {query.schema.name!r}, not {schema.name!r}")
        return query
    if isinstance(query, str):
        query = parse(query, default_qualifier=schema.default_qualifier, limits=limits, functions=schema.function_table)
    elif not isinstance(query, Filter):
        raise TypeError(f"a filter is a str, a Filter or a Plan, not {type(query).__name__}")
    return bind(query, schema, context or Context(now=now, user=user, tz=tz))


def _only_groups(children: tuple[Node, ...]) -> TypeGuard[tuple[Group, ...]]:
    return all(isinstance(child, Group) for child in children)
