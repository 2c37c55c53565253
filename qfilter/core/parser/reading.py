"""Lark after the fast path (the skeleton and the restoring), the checks after parsing, and :func:`parse`."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, cast

from ..ast import (
    And,
    Expression,
    Filter,
    Function,
    Item,
    Not,
    Or,
    Sequence,
    Term,
    Value,
    all_of,
    any_of,
    map_terms,
)
from ..errors import FilterError, FilterLimitError, FilterSyntaxError
from ..functions import BUILTIN_FUNCTIONS, FunctionTable
from ..times import PLUS_HINT
from .fastpath import _BOOLEAN_AHEAD, _TRAILING_SPACE, _fast_expression, _fast_prefix, _Frame, _Stop
from .grammar import _FUNCTIONS, _lark, _quoted_example, _syntax_error
from .limits import DEFAULT_LIMITS, Limits, _prescan, _too_many_items, _too_many_matchers

_STAND_IN = "x:x"


@dataclass(frozen=True, slots=True)
class _StandIn:
    """What a stand-in term of a skeleton stands for: items of a sequence, or a whole expression."""

    items: tuple[Item, ...] = ()
    expression: Expression | None = None


def _skeleton(text: str, stop: _Stop) -> tuple[str, dict[int, _StandIn], int]:
    """The skeleton Lark reads for ``stop``, its stand-ins by position, and where the original text resumes in it."""
    pieces: list[str] = []
    size = 0
    originals: dict[int, _StandIn] = {}

    def put(piece: str) -> None:
        nonlocal size
        pieces.append(piece)
        size += len(piece)

    def stand_in(original: _StandIn, after: str = "") -> None:
        originals[size] = original
        put(_STAND_IN + after)

    last = len(stop.frames) - 1
    for index, frame in enumerate(stop.frames):
        if index:
            put(text[frame.prefix_at : frame.opened_at + 1])  # its NOTs and '('
        for parts, keyword, joined in ((frame.or_parts, " OR ", any_of), (frame.and_parts, " AND ", all_of)):
            if parts:
                stand_in(_StandIn(expression=parts[0]), keyword)
            if len(parts) > 1:
                stand_in(_StandIn(expression=joined(tuple(parts[1:]))), keyword)
        items = frame.items[:-1] if index == last and stop.item_done else frame.items
        if items:
            stand_in(_StandIn(items=tuple(items)), " ")
    if stop.group is None:
        resume = stop.tail
    else:  # the last item is a closed group: its NOTs as written, the group one stand-in
        put(text[stop.tail : stop.group] + "(")
        stand_in(_StandIn(expression=stop.group_expression), ")")
        resume = stop.stop
    return "".join(pieces), originals, resume - size


def _lark_from(text: str, stop: _Stop, until: int) -> Filter:
    """The filter as Lark reads it after a skeleton of what the fast path read up to ``stop``.

    Lark reads the text up to ``until`` only: past an unclosed quote (its
    position plus one), which Lark calls an unterminated quote when it gets
    there, nothing can change what it says (it would only read the rest of
    the filter twice, looking for the closing quote).
    """
    skeleton, originals, shift = _skeleton(text, stop)
    if not originals:
        return _Skeleton(text[:until], text).parse()
    resumes = len(skeleton)
    parsed = _Skeleton(skeleton + text[resumes + shift : until], text, resumes, shift).parse()

    def restored(term: Term) -> Item | tuple[Item, ...]:
        """A term of the skeleton's parse: what its stand-in stands for, or itself shifted."""
        original = originals.get(term.position)
        if original is None:
            moved: Term = _shifted(term, shift)
            return moved
        return original.items if original.expression is None else original.expression

    # Built again with the AST's normal-form constructors (map_terms), so that a stand-in
    # for several parts flattens into its AND or OR as the parts themselves would have.
    expression = Sequence(parsed.terms) if parsed.expression is None else parsed.expression
    return Filter.of(map_terms(expression, restored))


def _shifted(node: Any, offset: int) -> Any:
    """``node`` with every position moved by ``offset`` (recursion: the depth is bounded by now)."""
    match node:
        case Value(text, position, quoted):
            return Value(text, position + offset, quoted)
        case Function(name, arguments, position):
            return Function(name, tuple(_shifted(a, offset) for a in arguments), position + offset)
        case Term(qualifier, matchers, excluded, position):
            return Term(qualifier, tuple(_shifted(m, offset) for m in matchers), excluded, position + offset)
        case Sequence(items):
            return Sequence(tuple(_shifted(item, offset) for item in items))
        case And(parts):
            return And(tuple(_shifted(part, offset) for part in parts))
        case Or(parts):
            return Or(tuple(_shifted(part, offset) for part in parts))
        case Not(item):
            return Not(_shifted(item, offset))
    raise TypeError(f"not a node: {node!r}")


class _InsideStandIn(LookupError):
    """Lark stopped on a stand-in: its message would speak of text the user never wrote."""


@dataclass(frozen=True, slots=True)
class _Skeleton:
    """Text for Lark whose start may be a skeleton of the original: from ``resumes`` on, the original moved.

    A position of the skeleton at or after ``resumes`` is ``shift`` more in
    the original; one before it belongs to the skeleton's stand-ins.
    """

    text: str
    original: str
    resumes: int = 0
    shift: int = 0

    def place(self, position: int) -> int:
        """Where ``position`` of the skeleton lies in the original (:class:`_InsideStandIn` for a stand-in's)."""
        if position < self.resumes:
            raise _InsideStandIn(position)
        return position + self.shift

    def parse(self) -> Filter:
        """Lark's reading of the skeleton; its errors are placed in, and worded from, the original text.

        What a syntax error says depends on the characters around it, so the
        message is made from the original: Lark stops after the skeleton,
        where the text is the original moved. Should it stop inside the
        skeleton, the original is parsed whole instead (slower, but the same
        words as without the fast path). Without a skeleton, Lark reads the
        original itself.
        """
        from lark.exceptions import UnexpectedInput

        # Trailing white space is dropped, not parsed: the grammar's separators all
        # look ahead at what follows them, and positions before it do not move.
        body = self.text.rstrip()
        failure: FilterError | None = None
        try:
            return cast(Filter, _lark().parse(body))  # the transformer builds a Filter
        except UnexpectedInput as error:
            try:
                failure = _syntax_error(error, self.original, len(self.original.rstrip()), self.place)
            except _InsideStandIn:
                pass
        except FilterError as error:  # raised by the callbacks, with a position only
            try:
                placed = None if error.position is None else self.place(error.position)
                failure = type(error)(error.message, text=self.original, position=placed, hint=error.hint)
            except _InsideStandIn:
                pass
        if failure is None:
            return _lark_filter(self.original)
        # Raised here, not in the except block: the error keeps no reference to Lark's (and so
        # to its parser's state), and none from this frame, so a rejection leaves no garbage cycle.
        try:
            raise failure
        finally:
            del failure


def _lark_filter(text: str) -> Filter:
    """A non-blank filter as Lark's LALR parser reads it; its syntax errors."""
    return _Skeleton(text, text).parse()  # no skeleton: Lark reads the text itself


def _lark_terms(text: str) -> tuple[Term, ...]:
    """The terms of a non-blank filter as Lark's LALR parser reads them, in text order; its syntax errors."""
    return _lark_filter(text).terms


def _parse_text(text: str, default_qualifier: str | None, limits: Limits, fast_path: bool = True) -> Filter:
    """:func:`parse` without the cache (and, for the tests, optionally without the fast path)."""
    if limits.max_length is not None and len(text) > limits.max_length:
        raise FilterLimitError(
            f"the filter is {len(text)} characters long, more than the limit of {limits.max_length}",
            text=text,
            position=limits.max_length,
        )
    if not text or text.isspace():
        return Filter()
    masked = _prescan(text, limits)
    if fast_path:
        read, end = _fast_prefix(text)
        if read and (end == len(text) or _TRAILING_SPACE.match(text, end) is not None):
            return _checked(Filter(tuple(term for _, _, term in read)), text, default_qualifier, limits)
        frame = _Frame(0)
        frame.items = [term for _, _, term in read]
        stop = _Stop([frame], bool(read), end, read[-1][0] if read else end)
        # Only a keyword or a parenthesis where the terms stopped makes a boolean expression.
        if _BOOLEAN_AHEAD.match(text, end) is not None:
            expression = _fast_expression(text, read, end)
            if isinstance(expression, Filter):
                return _checked(expression, text, default_qualifier, limits)
            stop = expression
        # Quoted matchers are masked: a quote left is one never closed.
        unclosed = [index for index in (masked.find('"'), masked.find("'")) if index >= 0]
        until = min(unclosed) + 1 if unclosed else len(text)
        return _checked(_lark_from(text, stop, until), text, default_qualifier, limits)
    return _checked(_lark_filter(text), text, default_qualifier, limits)


DEFAULT_CACHE_SIZE = 1024
"""How many parsed filters :func:`parse` keeps by default."""


def _parse_with(text: str, default_qualifier: str | None, limits: Limits, functions: FunctionTable) -> Filter:
    token = _FUNCTIONS.set(functions)
    try:
        return _parse_text(text, default_qualifier, limits)
    finally:
        _FUNCTIONS.reset(token)


_cached_parse = lru_cache(maxsize=DEFAULT_CACHE_SIZE)(_parse_with)


def set_cache_size(maxsize: int) -> None:
    """Resize the cache of :func:`parse` (emptying it); ``0`` turns caching off."""
    global _cached_parse
    if not isinstance(maxsize, int) or maxsize < 0:
        raise ValueError(f"a cache size is an int >= 0, not {maxsize!r}")
    _cached_parse = lru_cache(maxsize=maxsize)(_parse_with)


def cache_info() -> Any:
    """Hits, misses, size and current size of the cache of :func:`parse` (``functools`` style)."""
    return _cached_parse.cache_info()


def clear_cache() -> None:
    """Empty the cache of :func:`parse`."""
    _cached_parse.cache_clear()


def parse(
    text: str,
    *,
    default_qualifier: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    cache: bool = True,
    functions: FunctionTable = BUILTIN_FUNCTIONS,
) -> Filter:
    """Parse a filter text into a :class:`~qfilter.core.ast.Filter`.

    ``default_qualifier`` makes a bare word ``w`` mean ``default_qualifier:w``;
    without it a bare word is a syntax error. ``functions`` are the functions
    a filter may use (a schema's ``function_table``; the built-ins by default). Raises a
    :class:`~qfilter.core.errors.FilterError` for anything that is not a filter.

    Results are cached (see :func:`set_cache_size`): the same text with the
    same settings gives the same, immutable, object. ``cache=False`` parses
    afresh and leaves the cache alone.
    """
    if not isinstance(text, str):
        raise TypeError(f"a filter is a str, not {type(text).__name__}")
    if cache:
        return _cached_parse(text, default_qualifier, limits, functions)
    return _parse_with(text, default_qualifier, limits, functions)


def _operators(expression: Expression) -> int:
    """How many AND, OR and NOT the expression holds (without recursion)."""
    count = 0
    pending: list[Item] = [expression]
    while pending:
        node = pending.pop()
        match node:
            case Sequence(items):
                pending.extend(items)
            case And(parts) | Or(parts):
                count += len(parts) - 1
                pending.extend(parts)
            case Not(item):
                count += 1
                pending.append(item)
            case Term():
                pass
    return count


# `created:2020-04-22T12:00:00+00:00/` sent unencoded in a URL arrives as `...12:00:00 00:00/`: the rest of
# the offset is a bare word after a time (and `now+P1D/` arrives as `now P1D/`).
_TIME_BEFORE_SPACE = re.compile(r"(?:\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?|(?i:now)) \Z", re.A)
_OFFSET_AFTER_SPACE = re.compile(r"\d{2}(?::?\d{2})?(?:/|\.\.|\Z)|P", re.A)


def _space_for_plus(text: str, term: Term) -> str | None:
    """The hint for a bare word that is the rest of a time whose '+' a URL made a space; ``None`` otherwise."""
    if term.excluded or not _TIME_BEFORE_SPACE.search(text, 0, term.position):
        return None
    first = term.matchers[0]
    rest = first.text if isinstance(first, Value) else ""
    after_now = text[: term.position - 1].lower().endswith("now")
    if not _OFFSET_AFTER_SPACE.match(rest) or after_now != rest.startswith("P"):
        return None
    start = max(text.rfind(c, 0, term.position - 1) for c in " \t\n\r") + 1
    end = min((i for i in (text.find(c, term.position) for c in " \t\n\r") if i >= 0), default=len(text))
    return f"{PLUS_HINT}, as in {text[start : term.position - 1]}%2B{text[term.position : end]}"


def _checked(parsed: Filter, text: str, default_qualifier: str | None, limits: Limits) -> Filter:
    """Apply the size limits and the default qualifier to a freshly parsed filter.

    :func:`_prescan` has counted the same things already on any text that
    parses; these checks stay as the definition.
    """
    terms = parsed.terms
    operators = 0 if parsed.expression is None else _operators(parsed.expression)
    if limits.max_terms is not None and len(terms) + operators > limits.max_terms:
        raise _too_many_items(text, terms[max(0, limits.max_terms - operators)].position, limits.max_terms)
    bare = False
    for term in terms:
        if limits.max_matchers is not None and len(term.matchers) > limits.max_matchers:
            raise _too_many_matchers(
                text, term.matchers[limits.max_matchers].position, len(term.matchers), limits.max_matchers
            )
        if not term.qualifier:
            bare = True
            if default_qualifier is None:
                first = term.matchers[0]
                hint = f"write e.g. name:{first} to search names"
                position = first.position
                before = text[: term.position].rstrip()
                if before.endswith("("):  # `name:pump (north)`: since spec section 12, a group
                    position = len(before) - 1
                    example = _quoted_example(text, position)
                    hint = f"a parenthesis starts a group; quote a value that holds one, e.g. {example}"
                elif (plus := _space_for_plus(text, term)) is not None:
                    hint = plus
                raise FilterSyntaxError("expected 'qualifier:matcher'", text=text, position=position, hint=hint)
    if not bare or default_qualifier is None:
        return Filter(terms, text, parsed.expression)

    def qualified(term: Term, qualifier: str = default_qualifier) -> Term:
        return term if term.qualifier else replace(term, qualifier=qualifier)

    if parsed.expression is None:  # terms side by side, the common case: no tree to walk
        return Filter(tuple(map(qualified, terms)), text)
    return Filter.of(map_terms(parsed.expression, qualified), text)
