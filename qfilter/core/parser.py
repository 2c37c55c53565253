"""Text to AST: the Lark LALR parser, its error messages, and the size limits.

The grammar lives in ``grammar/qfilter.lark`` at the top of the source tree
and is shipped inside the package as ``qfilter/qfilter.lark``. The parser is
built on first use, so importing :mod:`qfilter` stays cheap.

Two things make :func:`parse` fast without changing what it returns:

- **A fast path.** Without function matchers the language is regular, so one
  regular expression per term recognises a well-formed filter and the AST is
  built from its groups directly (a filter with a function, whose arguments
  nest, is left to Lark). It accepts only text that the grammar accepts
  and yields the very same AST, positions included; any text it does not
  fully accept goes to Lark, which stays the definition of the grammar and
  the source of every syntax error message. ``tests/test_parser_fastpath.py``
  checks the two against each other with Hypothesis.
- **A bounded cache.** Services see the same ``q`` many times and the AST is
  immutable, so :func:`parse` keeps the last :data:`DEFAULT_CACHE_SIZE`
  results in an LRU cache keyed on ``(text, default_qualifier, limits)``.
  ``parse(..., cache=False)`` bypasses it for one call;
  :func:`set_cache_size` resizes it (``0`` turns it off) and
  :func:`cache_info` / :func:`clear_cache` inspect and empty it. Errors are
  not cached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .ast import Filter, Function, Matcher, Term, Value
from .errors import FilterError, FilterLimitError, FilterSyntaxError, MatcherError, UnknownFunctionError
from .functions import FUNCTION_NAMES, closest, lookup

if TYPE_CHECKING:
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


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that keep a hostile filter from costing a service anything.

    ``None`` turns a bound off.
    """

    max_length: int | None = 4096
    max_terms: int | None = 64
    max_matchers: int | None = 32


DEFAULT_LIMITS = Limits()


def grammar_text() -> str:
    """The Lark grammar of the filter language."""
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


def checked_function(written: str, arguments: tuple[Matcher, ...], position: int) -> Function:
    """A :class:`Function` named ``written`` (any letter case), checked against the function table.

    Raises :class:`UnknownFunctionError` for a name the language does not know
    and :class:`MatcherError` for arguments the function does not take; both
    point at the name.
    """
    spec = lookup(written)
    if spec is None:
        suggestion = closest(written)
        hint = f"did you mean {suggestion}? " if suggestion else ""
        raise UnknownFunctionError(
            f"unknown function {written!r}",
            position=position,
            hint=f"{hint}known functions: {', '.join(FUNCTION_NAMES)}; to search for the text, quote it",
        )
    count = len(arguments)
    if count < spec.min_arguments or (spec.max_arguments is not None and count > spec.max_arguments):
        raise MatcherError(f"{spec.name}() takes {spec.arity()}, not {count}", position=position)
    for argument in arguments:
        if not isinstance(argument, Function):
            continue
        inner = lookup(argument.name)
        if not spec.nests:
            raise MatcherError(
                f"the arguments of {spec.name}() are values, not functions",
                position=argument.position,
                hint="only not(), all() and any() take functions",
            )
        if inner is not None and inner.field_level:
            raise MatcherError(
                f"{inner.name}() tests the whole field, not one value: it cannot stand inside {spec.name}()",
                position=argument.position,
                hint=f"make it a matcher of its own, e.g. tag:{inner.name}() or -tag:{inner.name}()",
            )
    return Function(spec.name, arguments, position)


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
        return Value(value, (token.start_pos or 0) + 1)

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

    def start(self, children: list[Term]) -> Filter:
        return Filter(tuple(children))


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
    "_ARG_SEP": "','",
    "COMMA": "','",
    "_WS": "a space",
    "$END": "the end of the filter",
}


def _describe_expected(names: set[str]) -> str:
    words = sorted({_EXPECTED_WORDS.get(name, name) for name in names})
    return " or ".join(words) if words else "nothing"


def _syntax_error(error: Exception, text: str) -> FilterSyntaxError:
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    if isinstance(error, UnexpectedCharacters):
        position = error.pos_in_stream or 0
        char = text[position]
        allowed = _describe_expected(set(error.allowed or ()))
        if char in "\"'":
            return FilterSyntaxError("unterminated quote", text=text, position=position, hint=f"close it with {char}")
        if char == ",":
            return FilterSyntaxError("empty matcher", text=text, position=position, hint="remove the extra ','")
        if char in "()":
            return FilterSyntaxError(
                f"a bare matcher cannot hold {char!r}",
                text=text,
                position=position,
                hint=f"quote a value that holds parentheses, e.g. {_quoted_example(text, position)}",
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
        position = len(text) if at_end else (token.start_pos or 0)
        expected = set(error.expected or ())
        previous = text[:position].rstrip()
        if previous.endswith("-") and "QUALIFIER" in expected:
            return FilterSyntaxError("expected a qualifier after '-'", text=text, position=position)
        next_char = "" if at_end else text[position]
        if expected & {"BARE", "STRING"} and (at_end or next_char in ",)" or next_char.isspace()):
            return FilterSyntaxError(
                "empty matcher",
                text=text,
                position=position,
                hint="a matcher must follow ':' and ','; quote a matcher that holds spaces",
            )
        if not at_end and str(token).strip() in ("(", ")"):
            char = str(token).strip()
            position = text.index(char, position)
            return FilterSyntaxError(
                f"a bare matcher cannot hold {char!r}",
                text=text,
                position=position,
                hint=f"quote a value that holds parentheses, e.g. {_quoted_example(text, position)}",
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
# these. A term is recognised only in its qualified form with a lowercase
# qualifier head; a quoted matcher must not be empty. Everything else (bare
# terms, function matchers, errors of any kind) is left to Lark: a bare
# matcher stops at '(' and the term then fails its lookahead.
_F_QUOTED = r"""(?:"(?:[^"\\]|\\.)++"|'(?:[^'\\]|\\.)++')"""
_F_BARE = r"""[^\s,"'()]++"""
_F_MATCHER = rf"(?:{_F_QUOTED}|{_F_BARE})"
_FAST_TERM = re.compile(
    r"\s*+(-)?+([a-z_][a-z0-9_]*+(?:\.[A-Za-z0-9_-]++)*+):"
    rf"(?:({_F_BARE})|({_F_MATCHER}(?:,{_F_MATCHER})*+))(?=\s|\Z)",
    re.S,
)
_FAST_MATCHER = re.compile(rf"""({_F_QUOTED})|({_F_BARE})""", re.S)
_TRAILING_SPACE = re.compile(r"\s*+\Z")


def _fast_quoted(token: str) -> str:
    return _unquote(token) if "\\" in token else token[1:-1]


def _fast_matchers(text: str, start: int, end: int) -> tuple[Matcher, ...]:
    matchers: list[Matcher] = []
    for match in _FAST_MATCHER.finditer(text, start, end):
        quoted, bare = match.groups()
        if bare is not None:
            matchers.append(Value(bare, match.start()))
        else:
            matchers.append(Value(_fast_quoted(quoted), match.start() + 1))
    return tuple(matchers)


def _fast_terms(text: str) -> tuple[Term, ...] | None:
    """The terms of a well-formed filter, exactly as Lark would build them; ``None`` otherwise."""
    terms: list[Term] = []
    match_term = _FAST_TERM.match
    end = 0
    # Each term is matched where the last one ended (never searched for), so that
    # text the fast path does not take costs one failed attempt, not one per position.
    while (match := match_term(text, end)) is not None:
        end = match.end()
        minus, qualifier, bare, _ = match.groups()
        if bare is not None:
            matchers: tuple[Matcher, ...] = (Value(bare, match.start(3)),)
        else:
            matchers = _fast_matchers(text, match.start(4), end)
        if minus is None:
            terms.append(Term(qualifier, matchers, False, match.start(2)))
        else:
            terms.append(Term(qualifier, matchers, True, match.start(1)))
    if not terms or (end != len(text) and _TRAILING_SPACE.match(text, end) is None):
        return None
    return tuple(terms)


def _lark_terms(text: str) -> tuple[Term, ...]:
    """The terms of a non-blank filter as Lark's LALR parser reads them; its syntax errors."""
    from lark.exceptions import UnexpectedInput

    try:
        parsed: Filter = _lark().parse(text)  # type: ignore[assignment]  # the transformer builds it
    except UnexpectedInput as error:
        raise _syntax_error(error, text) from None
    except FilterError as error:  # raised by the callbacks, with a position only
        raise error.with_text(text) from None
    return parsed.terms


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
    terms = _fast_terms(text) if fast_path else None
    if terms is None:
        terms = _lark_terms(text)
    return _checked(terms, text, default_qualifier, limits)


DEFAULT_CACHE_SIZE = 1024
"""How many parsed filters :func:`parse` keeps by default."""

_cached_parse = lru_cache(maxsize=DEFAULT_CACHE_SIZE)(_parse_text)


def set_cache_size(maxsize: int) -> None:
    """Resize the cache of :func:`parse` (emptying it); ``0`` turns caching off."""
    global _cached_parse
    if not isinstance(maxsize, int) or maxsize < 0:
        raise ValueError(f"a cache size is an int >= 0, not {maxsize!r}")
    _cached_parse = lru_cache(maxsize=maxsize)(_parse_text)


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
) -> Filter:
    """Parse a filter text into a :class:`~qfilter.core.ast.Filter`.

    ``default_qualifier`` makes a bare word ``w`` mean ``default_qualifier:w``;
    without it a bare word is a syntax error. Raises a
    :class:`~qfilter.core.errors.FilterError` for anything that is not a filter.

    Results are cached (see :func:`set_cache_size`): the same text with the
    same settings gives the same, immutable, object. ``cache=False`` parses
    afresh and leaves the cache alone.
    """
    if not isinstance(text, str):
        raise TypeError(f"a filter is a str, not {type(text).__name__}")
    if cache:
        return _cached_parse(text, default_qualifier, limits)
    return _parse_text(text, default_qualifier, limits)


def _checked(terms: tuple[Term, ...], text: str, default_qualifier: str | None, limits: Limits) -> Filter:
    """Apply the size limits and the default qualifier to freshly parsed terms."""
    if limits.max_terms is not None and len(terms) > limits.max_terms:
        raise FilterLimitError(
            f"the filter has {len(terms)} terms, more than the limit of {limits.max_terms}",
            text=text,
            position=terms[limits.max_terms].position,
        )
    for index, term in enumerate(terms):
        if limits.max_matchers is not None and len(term.matchers) > limits.max_matchers:
            raise FilterLimitError(
                f"a term has {len(term.matchers)} matchers, more than the limit of {limits.max_matchers}",
                text=text,
                position=term.matchers[limits.max_matchers].position,
            )
        if not term.qualifier:
            first = term.matchers[0]
            if default_qualifier is None:
                raise FilterSyntaxError(
                    "expected 'qualifier:matcher'",
                    text=text,
                    position=first.position,
                    hint=f"write e.g. name:{first} to search names",
                )
            terms = terms[:index] + (replace(term, qualifier=default_qualifier),) + terms[index + 1 :]
    return Filter(terms, text)
