"""Text to AST: the Lark LALR parser, its error messages, and the size limits.

The grammar lives in ``grammar/qfilter.lark`` at the top of the source tree
and is shipped inside the package as ``qfilter/qfilter.lark``. The parser is
built on first use, so importing :mod:`qfilter` stays cheap.

Two things make :func:`parse` fast without changing what it returns:

- **A fast path.** Terms side by side whose functions take plain values
  are a regular language, so one regular expression per term recognises
  them and the AST is built from its groups directly (nested functions,
  ``AND``, ``OR``, ``NOT`` and parentheses are left to Lark). It accepts
  only text that the grammar accepts and yields the very same AST,
  positions included; where it stops, Lark parses the rest of the text
  (after a stand-in for the terms the fast path took), and stays the
  definition of the grammar and the source of every syntax error message.
  the test suite checks the two against each other with
  Hypothesis.
- **Limits before parsing.** A pre-scan counts terms and operators,
  matchers and nesting the way the grammar's lexer sees them, so that a
  filter over the limits never costs a parse.
- **A bounded cache.** Services see the same ``q`` many times and the AST is
  immutable, so :func:`parse` keeps the last :data:`DEFAULT_CACHE_SIZE`
  results in an LRU cache keyed on ``(text, default_qualifier, limits, functions)``.
  ``parse(..., cache=False)`` bypasses it for one call;
  :func:`set_cache_size` resizes it (``0`` turns it off) and
  :func:`cache_info` / :func:`clear_cache` inspect and empty it. Errors are
  not cached.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import islice
from typing import TYPE_CHECKING, Any

from .ast import (
    And,
    Expression,
    Filter,
    Function,
    Item,
    Matcher,
    Not,
    Or,
    Sequence,
    Term,
    Value,
    all_of,
    any_of,
    negation,
    sequence,
)
from .errors import FilterError, FilterLimitError, FilterSyntaxError
from .functions import BUILTIN_FUNCTIONS, FunctionTable
from .times import PLUS_HINT

if TYPE_CHECKING:
    from collections.abc import Callable

    from lark import Lark, Token

__all__ = [
    "Limits",
    "DEFAULT_LIMITS",
    "DEFAULT_CACHE_SIZE",
    "parse",
    "set_cache_size",
    "cache_info",
    "clear_cache",
    "grammar_text",
    "checked_function",
]

_QUALIFIER_HEAD = re.compile(r"[a-z_][a-z0-9_]*")
_ESCAPE = re.compile(r"\\(.)", re.S)
_ESCAPABLE = frozenset("\\\"'")
KEYWORDS = frozenset({"AND", "OR", "NOT"})
_AFTER_KEYWORD = re.compile(r"(?:^|[\s()])(AND|OR|NOT)\s*\Z")
"""The operators of boolean expressions (the language reference): upper case, whole words outside quotes."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that keep a hostile filter from costing a service anything.

    ``None`` turns a bound off, except ``max_depth``: every stage after the
    parser walks the expression tree level by level, so ``None`` there means
    :data:`MAX_SAFE_DEPTH`. ``max_terms`` counts the operators ``AND``,
    ``OR`` and ``NOT`` too; ``max_depth`` bounds how deeply parentheses and
    ``NOT`` nest (a term inside ``NOT (... (tag:a))`` with two parentheses
    is at depth 3), and, separately, how deeply functions nest
    (``not(all(x))`` is 2).
    """

    max_length: int | None = 4096
    max_terms: int | None = 64
    max_matchers: int | None = 32
    max_depth: int | None = 16

    @property
    def depth(self) -> int:
        """The depth bound in force (``max_depth``, never more than :data:`MAX_SAFE_DEPTH`)."""
        return MAX_SAFE_DEPTH if self.max_depth is None else min(self.max_depth, MAX_SAFE_DEPTH)


MAX_SAFE_DEPTH = 64
"""The deepest nesting any limits allow: every later stage (``str``, bind, the compilers) recurses once per level."""


DEFAULT_LIMITS = Limits()


def grammar_text() -> str:
    """The Lark grammar of the filter language."""
    from importlib import resources  # with pathlib, only when Lark is built: importing qfilter stays cheap
    from pathlib import Path

    packaged = resources.files(__package__).joinpath("qfilter.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    # Running from a source checkout (editable install): the grammar's home.
    source = Path(__file__).resolve().parents[2] / "grammar" / "qfilter.lark"
    return source.read_text(encoding="utf-8")


def _unquote(token: str) -> str:
    def unescape(match: re.Match[str]) -> str:
        char = match.group(1)
        return char if char in _ESCAPABLE else match.group(0)

    return _ESCAPE.sub(unescape, token[1:-1])


def _quoted_example(text: str, position: int) -> str:
    """The white-space-delimited piece of ``text`` around ``position``, with its matcher quoted."""
    start = max((text.rfind(c, 0, position) for c in " \t\n\r"), default=-1) + 1
    end = min((i for i in (text.find(c, position) for c in " \t\n\r") if i >= 0), default=len(text))
    piece = text[start:end]
    qualifier, colon, value = piece.partition(":")
    if not colon or not value or '"' in value:
        return 'name:"pump (north)"'
    return f'{qualifier}:"{value}"'


_FUNCTIONS: ContextVar[FunctionTable] = ContextVar("qfilter_functions", default=BUILTIN_FUNCTIONS)
"""The functions the parse in progress knows (a schema's, through :func:`parse`): the callbacks are built once."""


def checked_function(written: str, arguments: tuple[Matcher, ...], position: int) -> Function:
    """A :class:`Function` named ``written`` (any letter case), checked against the functions of the parse.

    Raises :class:`UnknownFunctionError` for a name they do not hold and
    :class:`MatcherError` for arguments the function does not take; both
    point at the name (:meth:`~qfilter.core.functions.FunctionTable.checked`).
    """
    return _FUNCTIONS.get().checked(written, arguments, position)


class _ToAst:
    """Callbacks the LALR parser runs as it reduces: it builds the AST directly.

    Stateless, so one parser serves every call; errors raised here carry a
    position only and get their text in :func:`parse`.
    """

    def bare_value(self, children: list[Token]) -> Value:
        (token,) = children
        return Value(str(token), token.start_pos or 0)

    def quoted_value(self, children: list[Token]) -> Value:
        (token,) = children
        value = _unquote(str(token))
        if not value:
            raise FilterSyntaxError(
                "empty matcher", position=token.start_pos, hint="remove it or put text in the quotes"
            )
        return Value(value, (token.start_pos or 0) + 1, True)

    def function(self, children: list[Any]) -> Function:
        name_token, *arguments = children
        return checked_function(str(name_token).split("(", 1)[0], tuple(arguments), name_token.start_pos or 0)

    def matchers(self, children: list[Matcher]) -> tuple[Matcher, ...]:
        return tuple(children)

    def qualified_term(self, children: list[Any]) -> Term:
        minus, qualifier, matchers = children
        name = str(qualifier)[:-1]
        start = qualifier.start_pos or 0
        head = name.split(".", 1)[0]
        if not _QUALIFIER_HEAD.fullmatch(head):
            raise FilterSyntaxError(
                f"invalid qualifier {name!r}",
                position=start,
                hint=f"qualifiers are lowercase letters, digits and '_', e.g. {head.lower()!r}",
            )
        return Term(name, matchers, minus is not None, minus.start_pos if minus is not None else start)

    def bare_term(self, children: list[Any]) -> Term:
        minus, matchers = children
        start = minus.start_pos if minus is not None else matchers[0].position
        return Term("", matchers, minus is not None, start)  # qualifier filled in by parse()

    def misplaced_keyword(self, children: list[Token]) -> Term:
        (token,) = children
        raise FilterSyntaxError(
            f"{token} is a keyword and cannot stand here",
            position=token.start_pos,
            hint=f'AND and OR go between two items, NOT before one; to search for the word, quote it: "{token}"',
        )

    def sequence(self, children: list[Item]) -> Expression:
        return sequence(tuple(children))

    def and_expr(self, children: list[Expression]) -> Expression:
        return all_of(tuple(children))

    def or_expr(self, children: list[Expression]) -> Expression:
        return any_of(tuple(children))

    def group(self, children: list[Expression]) -> Expression:
        (inside,) = children
        return inside

    def not_item(self, children: list[Item]) -> Not:
        (item,) = children
        return negation(item)

    def start(self, children: list[Expression]) -> Filter:
        (expression,) = children
        return Filter.of(expression)


@lru_cache(maxsize=1)
def _lark() -> Lark:
    from lark import Lark

    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        maybe_placeholders=True,
        transformer=_ToAst(),
        cache=True,
    )


# What each terminal means to a user, for "expected ..." messages.
_EXPECTED_WORDS = {
    "QUALIFIER": "a qualifier such as 'tag:'",
    "MINUS": "'-'",
    "BARE": "a matcher",
    "STRING": "a quoted matcher",
    "FUNCTION": "a function such as in(",
    "_RPAR": "')'",
    "_LPAR": "'('",
    "_AND": "AND",
    "_OR": "OR",
    "_NOT": "NOT",
    "_SEP": "a space",
    "KEYWORD": "AND or OR",
    "_ARG_SEP": "','",
    "COMMA": "','",
    "_WS": "a space",
    "$END": "the end of the filter",
}


def _describe_expected(names: set[str]) -> str:
    words = sorted({_EXPECTED_WORDS.get(name, name) for name in names})
    return " or ".join(words) if words else "nothing"


def _unmoved(position: int) -> int:
    return position


def _syntax_error(
    error: Exception, text: str, end: int | None = None, place: Callable[[int], int] = _unmoved
) -> FilterSyntaxError:
    """The error Lark raised on ``text`` (parsed up to ``end``, its trailing white space), in the user's words.

    ``place`` maps a position of what Lark read to ``text``, where Lark read a
    skeleton of it (the message looks at the characters of ``text`` around the
    error, never at the stand-ins).
    """
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    end = len(text) if end is None else end
    if isinstance(error, UnexpectedCharacters):
        position = place(error.pos_in_stream or 0)
        char = text[position]
        allowed = _describe_expected(set(error.allowed or ()))
        if char in "\"'":
            return FilterSyntaxError("unterminated quote", text=text, position=position, hint=f"close it with {char}")
        if char == ",":
            return FilterSyntaxError("empty matcher", text=text, position=position, hint="remove the extra ','")
        if char == "(" and text[:position].endswith(")"):
            return FilterSyntaxError("expected a space between two items", text=text, position=position)
        if char in "()":
            return FilterSyntaxError(
                f"a bare matcher cannot hold {char!r}",
                text=text,
                position=position,
                hint=_PARENTHESES_HINT + _quoted_example(text, position),
            )
        if char.isspace():
            return FilterSyntaxError(
                f"unexpected space, expected {allowed}",
                text=text,
                position=position,
                hint="quote a matcher that holds spaces",
            )
        return FilterSyntaxError(f"unexpected character {char!r}, expected {allowed}", text=text, position=position)
    if isinstance(error, UnexpectedToken):
        token = error.token
        at_end = token.type == "$END"
        position = end if at_end else place(token.start_pos or 0)
        expected = set(error.expected or ())
        previous = text[:position].rstrip()
        if previous.endswith("-") and "QUALIFIER" in expected:
            return FilterSyntaxError("expected a qualifier after '-'", text=text, position=position)
        if token.type == "_RPAR" and previous.endswith("(") and "_LPAR" in expected:
            return FilterSyntaxError(
                "empty parentheses",
                text=text,
                position=text.rindex("(", 0, position),
                hint="put a filter inside or remove them",
            )
        next_char = "" if at_end else text[position]
        after_separator = previous.endswith((":", ","))
        if expected & {"BARE", "STRING"} and after_separator and (at_end or next_char in ",)" or next_char.isspace()):
            return FilterSyntaxError(
                "empty matcher",
                text=text,
                position=position,
                hint="a matcher must follow ':' and ','; quote a matcher that holds spaces",
            )
        closing = at_end or str(token).strip() == ")"
        keyword = _AFTER_KEYWORD.search(previous[-4:])  # the keyword ends `previous`, a character before it
        if keyword is not None and closing:
            return FilterSyntaxError(f"expected a term or '(' after {keyword.group(1)}", text=text, position=position)
        if previous.endswith("(") and closing and "_LPAR" in expected:
            return FilterSyntaxError("expected a term or '(' after '('", text=text, position=position)
        if not at_end and str(token).strip() == "(" and previous.endswith(")") and "_SEP" in expected:
            return FilterSyntaxError("expected a space between two items", text=text, position=position)
        if not at_end and str(token).strip() in ("(", ")"):
            char = str(token).strip()
            position = text.index(char, position)
            return FilterSyntaxError(
                f"a bare matcher cannot hold {char!r}",
                text=text,
                position=position,
                hint=_PARENTHESES_HINT + _quoted_example(text, position),
            )
        found = "end of the filter" if at_end else repr(str(token))
        return FilterSyntaxError(
            f"unexpected {found}, expected {_describe_expected(expected)}",
            text=text,
            position=position,
        )
    return FilterSyntaxError(str(error), text=text, position=None)


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
    if parsed.expression is None:
        return Filter(tuple(_restored_items(parsed.terms, originals, shift)))  # type: ignore[arg-type]
    return Filter.of(_restored(parsed.expression, originals, shift))  # type: ignore[arg-type]


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


def _restored(node: Item, originals: dict[int, _StandIn], offset: int) -> Item:
    """A node of the skeleton's parse with its stand-ins replaced and the rest shifted (bounded recursion).

    Built again with the AST's normal-form constructors, so that a stand-in
    for several parts flattens into its AND or OR as the parts themselves
    would have.
    """
    match node:
        case Term():
            original = originals.get(node.position)
            if original is None:
                moved: Term = _shifted(node, offset)
                return moved
            if original.expression is not None:
                return original.expression
            return original.items[0] if len(original.items) == 1 else Sequence(original.items)
        case Sequence(items):
            if len(items) == 1 and isinstance(items[0], Term):
                alone = originals.get(items[0].position)
                if alone is not None and alone.expression is not None:
                    return alone.expression
            return Sequence(tuple(_restored_items(items, originals, offset)))
        case And(parts):
            return all_of(tuple(_restored(part, originals, offset) for part in parts))  # type: ignore[misc]
        case Or(parts):
            return any_of(tuple(_restored(part, originals, offset) for part in parts))  # type: ignore[misc]
        case Not(item):
            return negation(_restored(item, originals, offset))


def _restored_items(items: tuple[Item, ...], originals: dict[int, _StandIn], offset: int) -> list[Item]:
    """The items of a sequence, each stand-in of items giving back every item it stands for."""
    restored: list[Item] = []
    for item in items:
        original = originals.get(item.position) if isinstance(item, Term) else None
        if original is None or original.expression is not None:
            restored.append(_restored(item, originals, offset))
        else:
            restored.extend(original.items)
    return restored


_PARENTHESES_HINT = "quote a value that holds parentheses, e.g. "


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
            return _lark().parse(body)  # type: ignore[return-value]  # the transformer builds a Filter
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


# --- limits before parsing ----------------------------------------------------------
#
# Lark costs tens of microseconds per term; a filter over the limits must not
# get that far (issue 13). The pre-scan reads the text the way the grammar's
# lexer does outside quotes: on any text the grammar accepts it counts
# exactly what the checks after parsing count, so it never refuses a valid
# filter within the limits; on other text it may refuse first what Lark
# would have called a syntax error. Quoted matchers are masked first, so that
# nothing inside them counts.
# One quote character class first (the engine skips to the next quote in C, where two alternatives
# were tried at every character), then the loop unrolled: runs of plain characters in one step.
_QUOTED = re.compile(r"""["'](?:(?<=")[^"\\]*+(?:\\.[^"\\]*+)*+"|(?<=')[^'\\]*+(?:\\.[^'\\]*+)*+')""", re.S)
_SPACED_PIECES = re.compile(r"(\s*+)(\(|\)|[^\s()]++)")  # a parenthesis or a piece, and the white space before
_CHUNKS = re.compile(r"\S+")


def _masked(text: str) -> str:
    """``text`` with every quoted matcher's characters replaced (positions kept)."""
    if '"' not in text and "'" not in text:
        return text
    return _QUOTED.sub(lambda match: "x" * len(match.group()), text)


_TERM_COMMAS = re.compile(r"[(),]")


def _matcher_position(text: str, masked: str, start: int, index: int) -> int:
    """Where the ``index``-th (0-based) matcher of the term at ``start`` begins, as the AST places it."""
    position, depth, seen = start, 0, 0
    for match in _TERM_COMMAS.finditer(masked, start):
        char = match.group()
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0:  # a comma between matchers, not between a function's arguments
            seen += 1
            if seen == index:
                position = match.end()
                break
    return position + 1 if text[position : position + 1] in ('"', "'") else position


def _too_many_items(text: str, position: int, limit: int) -> FilterLimitError:
    return FilterLimitError(
        f"the filter has more terms and operators than the limit of {limit}",
        text=text,
        position=position,
        hint="AND, OR and NOT count as terms",
    )


def _too_deep(text: str, position: int, limit: int, functions: bool = False) -> FilterLimitError:
    what = "functions nest" if functions else "parentheses and NOT nest"
    return FilterLimitError(f"{what} more than {limit} levels deep", text=text, position=position)


def _too_many_matchers(text: str, position: int, count: int, limit: int) -> FilterLimitError:
    return FilterLimitError(
        f"a term has {count} matchers, more than the limit of {limit}", text=text, position=position
    )


def _prescan(text: str, limits: Limits) -> str:
    """Raise the limit errors the parsed filter would get, without parsing it (see above); the masked text."""
    masked = _masked(text)
    if "(" in masked or ")" in masked:
        if not _within_bounds(masked, limits):
            _prescan_nested(text, masked, limits)
        return masked
    chunks = masked.split()
    if not chunks:
        return masked
    max_terms, max_matchers = limits.max_terms, limits.max_matchers
    if max_terms is not None and len(chunks) > max_terms:
        extra = next(islice(_CHUNKS.finditer(masked), max_terms, None))
        raise _too_many_items(text, extra.start(), max_terms)
    if max_matchers is not None and max(chunk.count(",") for chunk in chunks) >= max_matchers:
        for match in _CHUNKS.finditer(masked):
            count = match.group().count(",") + 1
            if count > max_matchers:
                position = _matcher_position(text, masked, match.start(), max_matchers)
                raise _too_many_matchers(text, position, count, max_matchers)
    if "NOT" in masked:  # only a run of NOTs nests without parentheses
        depth, limit = 0, limits.depth
        for match in _CHUNKS.finditer(masked):
            depth = depth + 1 if match.group() == "NOT" else 0
            if depth > limit:
                raise _too_deep(text, match.start(), limit)
    return masked


_ITEM_PIECES = re.compile(r"[^\s()]+")
# The parentheses of a function without functions inside (closed, or open to the end): a '(' right
# after a piece that is not a keyword (`NOT(` is a group). The scan counts no piece between them.
_INNERMOST_FUNCTION = re.compile(  # the '(' first, so that the engine looks for it in C, then what is before it
    r"\((?<=[^\s()]\()(?<![\s()]NOT\()(?<!^NOT\()(?<![\s()]AND\()(?<!^AND\()(?<![\s()]OR\()(?<!^OR\()"
    r"[^()]*+(?:\)|\Z)"
)


def _within_bounds(masked: str, limits: Limits) -> bool:
    """Whether bounds counted in C keep a text with parentheses within every limit, so it needs no scan.

    Each count is at least what :func:`_prescan_nested` counts: an item is a
    piece between white space and parentheses, once the functions it can
    tell are taken out; a level of nesting a '(' or a NOT; a matcher a ','
    (plus one).
    """
    max_terms, max_matchers = limits.max_terms, limits.max_matchers
    if max_matchers is not None and masked.count(",") + 1 > max_matchers:
        return False
    if masked.count("(") + masked.count("NOT") > limits.depth:
        return False
    if max_terms is None:
        return True
    for _ in range(limits.depth):  # each pass takes out the innermost functions
        masked, found = _INNERMOST_FUNCTION.subn("", masked)
        if not found:
            break
    return len(_ITEM_PIECES.findall(masked)) <= max_terms


def _prescan_nested(text: str, masked: str, limits: Limits) -> None:
    """:func:`_prescan` for a text with parentheses: groups, functions, or both."""
    max_terms, max_matchers, limit = limits.max_terms, limits.max_matchers, limits.depth
    items = 0
    depth = 0  # parentheses of groups and NOTs around the current point
    pending = 0  # NOTs waiting for the item they negate
    functions = 0  # open parentheses of functions in the current term
    opened: list[int] = []  # per open parenthesis: the depth it added (0: a function's)
    in_term = False  # the last piece belongs to a term that white space has not ended yet
    term_start = matchers = 0
    for match in _SPACED_PIECES.finditer(masked):
        if match.group(1):  # white space ends a term, but not inside a function's parentheses
            in_term = in_term and functions > 0
        piece = match.group(2)
        if piece == "(":
            if in_term:  # `word(`: a function
                functions += 1
                opened.append(0)
                if functions > limit:
                    raise _too_deep(text, match.start(2), limit, functions=True)
            else:
                added = pending + 1
                depth, pending = depth + added, 0
                opened.append(added)
                if depth > limit:
                    raise _too_deep(text, match.start(2), limit)
        elif piece == ")":
            if opened:
                added = opened.pop()
                if added:
                    depth -= added
                    in_term = False
                else:
                    functions -= 1
        elif functions:
            continue  # arguments of a function
        elif in_term:  # the term goes on after a function: `tag:in(a),b`
            matchers += piece.count(",")
            if max_matchers is not None and matchers > max_matchers:
                position = _matcher_position(text, masked, term_start, max_matchers)
                raise _too_many_matchers(text, position, matchers, max_matchers)
        else:
            start = match.start(2)
            items += 1
            if max_terms is not None and items > max_terms:
                raise _too_many_items(text, start, max_terms)
            if piece in KEYWORDS:
                if piece == "NOT":
                    pending += 1
                    if depth + pending > limit:
                        raise _too_deep(text, start, limit)
                continue
            if depth + pending > limit:
                raise _too_deep(text, start, limit)
            pending = 0
            in_term, term_start, matchers = True, start, piece.count(",") + 1
            if max_matchers is not None and matchers > max_matchers:
                position = _matcher_position(text, masked, term_start, max_matchers)
                raise _too_many_matchers(text, position, matchers, max_matchers)


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


def _with_qualifier(node: Item, qualifier: str) -> Item:
    """``node`` with ``qualifier`` given to its bare terms (recursion: the depth is bounded by now)."""
    match node:
        case Term():
            return node if node.qualifier else replace(node, qualifier=qualifier)
        case Sequence(items):
            return Sequence(tuple(_with_qualifier(item, qualifier) for item in items))
        case And(parts):
            return And(tuple(_with_qualifier(part, qualifier) for part in parts))  # type: ignore[misc]
        case Or(parts):
            return Or(tuple(_with_qualifier(part, qualifier) for part in parts))  # type: ignore[misc]
        case Not(item):
            return Not(_with_qualifier(item, qualifier))


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
    if parsed.expression is None:
        return Filter(tuple(_with_qualifier(term, default_qualifier) for term in terms), text)  # type: ignore[misc]
    return Filter.of(_with_qualifier(parsed.expression, default_qualifier), text)  # type: ignore[arg-type]
