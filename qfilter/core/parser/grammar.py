"""The grammar and its Lark LALR parser: the AST callbacks, and syntax errors in the user's words."""

from __future__ import annotations

import re
from contextvars import ContextVar
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..ast import (
    Expression,
    Filter,
    Function,
    Item,
    Matcher,
    Not,
    Term,
    Value,
    all_of,
    any_of,
    negation,
    sequence,
)
from ..errors import FilterSyntaxError
from ..functions import BUILTIN_FUNCTIONS, FunctionTable

if TYPE_CHECKING:
    from collections.abc import Callable

    from lark import Lark, Token

_QUALIFIER_HEAD = re.compile(r"[a-z_][a-z0-9_]*")
_ESCAPE = re.compile(r"\\(.)", re.S)
_ESCAPABLE = frozenset("\\\"'")
KEYWORDS = frozenset({"AND", "OR", "NOT"})
_AFTER_KEYWORD = re.compile(r"(?:^|[\s()])(AND|OR|NOT)\s*\Z")
"""The operators of boolean expressions (the language reference): upper case, whole words outside quotes."""

_PARENTHESES_HINT = "quote a value that holds parentheses, e.g. "


def grammar_text() -> str:
    """The Lark grammar of the filter language."""
    from importlib import resources  # with pathlib, only when Lark is built: importing qfilter stays cheap
    from pathlib import Path

    packaged = resources.files("qfilter.core").joinpath("qfilter.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    # Running from a source checkout (editable install): the grammar's home.
    source = Path(__file__).resolve().parents[3] / "grammar" / "qfilter.lark"
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
