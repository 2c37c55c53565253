"""The fast path: terms, and boolean expressions of them, read with regular expressions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..ast import (
    Expression,
    Filter,
    Item,
    Matcher,
    Term,
    Value,
    all_of,
    any_of,
    negation,
    sequence,
)
from ..errors import FilterError
from .grammar import _unquote, checked_function

# --- the fast path ---------------------------------------------------------------
#
# The same tokens as the grammar's terminals, with possessive quantifiers: a
# lexer takes each token greedily and never gives characters back, and so do
# these. A term is qualified with a lowercase qualifier head, or bare (no
# qualifier: what the lexer reads where neither a qualifier nor, without a
# '-', a keyword matches); a quoted matcher must not be empty. Everything else
# (nested functions, errors of any kind) is left to Lark: a bare matcher stops
# at '(' and the term then fails its lookahead.
_F_QUOTED = r"""(?:"(?:[^"\\]|\\.)++"|'(?:[^'\\]|\\.)++')"""
_F_BARE = r"""[^\s,"'()]++"""
_F_VALUE = rf"(?:{_F_QUOTED}|{_F_BARE})"
# A function whose arguments are values (not(in(a)) nests: Lark's); `word(` is
# always a function, so it is tried before a bare matcher.
_F_FUNCTION = rf"[A-Za-z]++\(\s*+(?:{_F_VALUE}(?:\s*+,\s*+{_F_VALUE})*+)?+\s*+\)"
_F_MATCHER = rf"(?:{_F_FUNCTION}|{_F_VALUE})"
# What the lexer takes before a bare matcher where an item starts: the grammar's QUALIFIER (any
# letter case: `Tag:x` is an error), and, unless a '-' came first, the keywords AND, OR and NOT.
_F_QUALIFIER = r"[A-Za-z_][A-Za-z0-9_]*+(?:\.[A-Za-z0-9_-]++)*+:"
_F_KEYWORD = r"(?:AND|OR)(?=[\s)]|\Z)|NOT(?=[\s()]|\Z)"
_F_TERM = (
    r"\s*+(-)?+"
    rf"(?:([a-z_][a-z0-9_]*+(?:\.[A-Za-z0-9_-]++)*+):(?:({_F_BARE})|({_F_MATCHER}(?:,{_F_MATCHER})*+))"
    rf"|(?!{_F_QUALIFIER})(?(1)|(?!{_F_KEYWORD}))({_F_MATCHER}(?:,{_F_MATCHER})*+))"
)
_FAST_TERM = re.compile(_F_TERM + r"(?=\s|\Z)", re.S)
_FAST_MATCHER = re.compile(
    rf"""([A-Za-z]++)\(\s*+((?:{_F_VALUE}(?:\s*+,\s*+{_F_VALUE})*+)?+)\s*+\)|({_F_QUOTED})|({_F_BARE})""", re.S
)
_FAST_ARGUMENT = re.compile(rf"""({_F_QUOTED})|({_F_BARE})""", re.S)
_TRAILING_SPACE = re.compile(r"\s*+\Z")


def _fast_quoted(token: str) -> str:
    return _unquote(token) if "\\" in token else token[1:-1]


def _fast_values(text: str, start: int, end: int) -> list[Matcher]:
    values: list[Matcher] = []
    for match in _FAST_ARGUMENT.finditer(text, start, end):
        quoted, bare = match.groups()
        if bare is not None:
            values.append(Value(bare, match.start()))
        else:
            values.append(Value(_fast_quoted(quoted), match.start() + 1, True))
    return values


def _fast_matchers(text: str, start: int, end: int) -> tuple[Matcher, ...] | None:
    """The matchers of a term; ``None`` if a function is one the parser would refuse (Lark says why)."""
    matchers: list[Matcher] = []
    for match in _FAST_MATCHER.finditer(text, start, end):
        name, arguments, quoted, bare = match.groups()
        if bare is not None:
            matchers.append(Value(bare, match.start()))
        elif quoted is not None:
            matchers.append(Value(_fast_quoted(quoted), match.start() + 1, True))
        else:
            try:
                matchers.append(checked_function(name, tuple(_fast_values(text, *match.span(2))), match.start()))
            except FilterError:
                return None
    return tuple(matchers)


def _fast_term(text: str, match: re.Match[str]) -> tuple[int, Term] | None:
    """The term a match of :data:`_FAST_TERM` read, and where its text starts; ``None`` for a function Lark refuses."""
    minus, qualifier, bare, _, _ = match.groups()
    if qualifier is None:  # a bare term: qualifier filled in by _checked(), placed as the grammar's callback does
        matchers = _fast_matchers(text, match.start(5), match.end())
        if matchers is None:
            return None
        if minus is None:
            return match.start(5), Term("", matchers, False, matchers[0].position)
        return match.start(1), Term("", matchers, True, match.start(1))
    matchers = (Value(bare, match.start(3)),) if bare is not None else _fast_matchers(text, match.start(4), match.end())
    if matchers is None:
        return None
    if minus is None:
        return match.start(2), Term(qualifier, matchers, False, match.start(2))
    return match.start(1), Term(qualifier, matchers, True, match.start(1))


def _fast_prefix(text: str) -> tuple[list[tuple[int, int, Term]], int]:
    """The terms the fast path reads from the start of ``text`` with their spans, and where it stopped."""
    read: list[tuple[int, int, Term]] = []
    match_term = _FAST_TERM.match
    end = 0
    # Each term is matched where the last one ended (never searched for), so that
    # text the fast path does not take costs one failed attempt, not one per position.
    while (match := match_term(text, end)) is not None:
        found = _fast_term(text, match)
        if found is None:  # a function Lark must refuse, with its message
            break
        end = match.end()
        read.append((found[0], end, found[1]))
    return read, end


def _fast_terms(text: str) -> tuple[Term, ...] | None:
    """The terms of a well-formed filter, exactly as Lark would build them; ``None`` otherwise."""
    read, end = _fast_prefix(text)
    if not read or (end != len(text) and _TRAILING_SPACE.match(text, end) is None):
        return None
    return tuple(term for _, _, term in read)


# The fast path of boolean expressions: the same terms, and between them the
# keywords and parentheses the grammar's terminals take (the same look-aheads,
# the same white space rules), put together with an explicit stack, as the
# parser's callbacks would. Anything else, errors included, is Lark's.
_FAST_ITEM_TERM = re.compile(_F_TERM + r"(?=[\s)]|\Z)", re.S)
_FAST_AND_OR = re.compile(r"(AND|OR)(?=[\s(]|\Z)")
_FAST_NOT = re.compile(r"NOT(?=[\s()]|\Z)")
_FAST_SPACE = re.compile(r"\s++")
_BOOLEAN_AHEAD = re.compile(r"\s*+(?:[()]|(?:AND|OR|NOT)(?=[\s()]|\Z))")


class _Frame:
    """One level of parentheses being read: its OR parts, the AND parts and items of the current ones.

    ``prefix_at`` is where the text of this level's item starts (its first
    ``NOT``, or its ``(``), ``opened_at`` where its ``(`` is.
    """

    __slots__ = ("or_parts", "and_parts", "items", "nots", "outer_nots", "prefix_at", "opened_at")

    def __init__(self, outer_nots: int, prefix_at: int = 0, opened_at: int = 0) -> None:
        self.or_parts: list[Expression] = []
        self.and_parts: list[Expression] = []
        self.items: list[Item] = []
        self.nots = 0  # NOTs waiting for this level's next item
        self.outer_nots = outer_nots  # the NOTs before this level's '('
        self.prefix_at = prefix_at
        self.opened_at = opened_at

    def add(self, item: Item) -> None:
        for _ in range(self.nots):
            item = negation(item)
        self.nots = 0
        self.items.append(item)

    def close(self) -> Expression:
        self.and_parts.append(sequence(tuple(self.items)))
        self.or_parts.append(all_of(tuple(self.and_parts)))
        return any_of(tuple(self.or_parts))


@dataclass(frozen=True, slots=True)
class _Stop:
    """Where the fast path stopped, and what it had read: the state Lark must be brought to there.

    ``frames`` are the open levels (the first is the whole filter); ``stop``
    is just after the last token read. ``tail`` is where the text Lark must
    read as written starts: the last item with the ``NOT``s before it (its
    kind and matchers decide what Lark may take next), or the ``NOT``s
    still waiting for an item, or ``stop``. When the last item is a closed
    group, ``group`` is where its ``(`` is and ``group_expression`` what it
    holds: Lark reads it as a stand-in in parentheses.
    """

    frames: list[_Frame]
    item_done: bool
    stop: int
    tail: int
    group: int | None = None
    group_expression: Expression | None = None


def _fast_expression(text: str, read: list[tuple[int, int, Term]], position: int = 0) -> Filter | _Stop:
    """A filter with AND, OR, NOT or parentheses, exactly as Lark would build it; where it stopped otherwise.

    ``read`` holds the spans and terms :func:`_fast_prefix` read up to
    ``position``, where this goes on (the terms are not read twice).
    """
    frames = [_Frame(0)]
    frame = frames[0]
    frame.items = [term for _, _, term in read]
    size = len(text)
    item_done = bool(read)  # the last thing read was a term or a ')'
    last_start = read[-1][0] if read else 0  # where the last item read (its NOTs included) begins
    group: int | None = None  # and its '(', when it is a closed group
    group_expression: Expression | None = None
    waiting = 0  # where the NOTs waiting for the next item begin

    def stopped(stop: int) -> _Stop:
        if item_done:
            return _Stop(frames, True, stop, last_start, group, group_expression)
        return _Stop(frames, False, stop, waiting if frame.nots else stop)

    while True:
        stop = position
        space = _FAST_SPACE.match(text, position)
        if space is not None:
            position = space.end()
        if position == size:
            break
        char = text[position]
        if item_done:
            if char == ")":
                if len(frames) == 1:
                    return stopped(stop)
                inner = frames.pop()
                frame = frames[-1]
                frame.nots = inner.outer_nots
                group_expression = inner.close()
                frame.add(group_expression)
                last_start, group = inner.prefix_at, inner.opened_at
                position += 1
                continue
            keyword = _FAST_AND_OR.match(text, position)
            if keyword is not None:
                if space is None:
                    return stopped(stop)
                frame.and_parts.append(sequence(tuple(frame.items)))
                frame.items = []
                if keyword.group() == "OR":
                    frame.or_parts.append(all_of(tuple(frame.and_parts)))
                    frame.and_parts = []
                position, item_done = keyword.end(), False
                continue
            if space is None:  # two items side by side need white space between them
                return stopped(stop)
        begins = waiting if frame.nots else position  # where the item read next begins, its NOTs included
        if char == "(":
            frames.append(_Frame(frame.nots, begins, position))
            frame.nots = 0
            frame = frames[-1]
            position, item_done = position + 1, False
            continue
        if char == ")":
            return stopped(stop)
        negated = _FAST_NOT.match(text, position)
        if negated is not None:
            if not frame.nots:
                waiting = position
            frame.nots += 1
            position, item_done = negated.end(), False
            continue
        match = _FAST_ITEM_TERM.match(text, position)
        found = None if match is None else _fast_term(text, match)
        if match is None or found is None:
            return stopped(stop)
        position, item_done = match.end(), True
        last_start, group, group_expression = begins, None, None
        read.append((found[0], position, found[1]))
        frame.add(found[1])
        # Terms side by side, the common case, read in a tight loop: after white space, what is
        # neither AND nor OR and matches a term is what the loop above would read there too.
        while (space := _FAST_SPACE.match(text, position)) is not None and not _FAST_AND_OR.match(text, space.end()):
            match = _FAST_ITEM_TERM.match(text, position)
            found = None if match is None else _fast_term(text, match)
            if match is None or found is None:
                break
            last_start, position = space.end(), match.end()
            read.append((found[0], position, found[1]))
            frame.items.append(found[1])
    if not item_done or len(frames) != 1:
        return stopped(stop)
    return Filter.of(frame.close())


# Where the fast path stopped, Lark reads what follows after a skeleton of what the
# fast path read: the same levels of parentheses, NOTs and operators, each run of
# parts or items before the last item one stand-in term (two where the grammar's
# state tells one from several), and the last item as written. Lark's state at the
# end of the skeleton is then the state it would reach in the whole text, so the
# rest parses, or fails, as there (its positions shifted), whatever its length
# before: a 4 KB filter broken anywhere costs about one valid parse (issues 13, 18).
