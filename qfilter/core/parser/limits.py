"""The size limits, and the pre-scan that applies them before anything is parsed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice

from ..errors import FilterLimitError
from .grammar import KEYWORDS


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
