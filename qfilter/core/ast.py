"""The parsed form of a filter: immutable, hashable, typed nodes.

``str()`` of any node is its canonical text; parsing that text gives an equal
node. Source positions are kept for error messages but take no part in
equality or hashing, so ``parse(str(f)) == f`` holds.

A filter of terms only (no boolean expression) is ``Filter(terms)``. One
with ``AND``, ``OR``, ``NOT`` or parentheses (the language reference: boolean expressions) also has an
``expression``: a tree of :class:`Or`, :class:`And`, :class:`Not` and
:class:`Sequence` (items side by side) whose leaves are the terms. Trees are
kept in one normal form, built by :func:`any_of`, :func:`all_of`,
:func:`sequence` and :func:`negation` (the parser uses them too), so that
texts meaning the same structure (``a OR (b OR c)``, ``a OR b OR c``) give
equal nodes and the canonical text needs no other parentheses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias, TypeGuard, assert_never

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "Value",
    "is_number_range",
    "Function",
    "Matcher",
    "Term",
    "Sequence",
    "And",
    "Or",
    "Not",
    "Expression",
    "Item",
    "Filter",
    "sequence",
    "all_of",
    "any_of",
    "negation",
    "expression_terms",
    "map_terms",
]

# A value written bare reads back the same: no white space, ',', quotes or parentheses.
_BARE = re.compile(r"""[^\s,"'()]+""")
_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_NUMBER_RANGE = re.compile(rf"(?:>=|<=|>|<){_NUMBER}|{_NUMBER}\.\.(?:{_NUMBER}|\*)|\*\.\.{_NUMBER}", re.A)


def is_number_range(text: str) -> bool:
    """Whether ``text`` is a number range with JSON number operands (``>10``, ``5..12``, ``*..3``)."""
    return _NUMBER_RANGE.fullmatch(text) is not None


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class Value:
    """A plain matcher: the text to match, with quotes and escapes removed.

    ``quoted`` tells a quoted number range from a bare one: under ``meta.``
    the bare ``>10`` compares numbers and the quoted ``">10"`` is text (the language
    reference: numbers). It is kept only where quotes make that difference, on a
    :func:`is_number_range` text; on any other text quoting is spelling, and
    ``quoted`` is ``False`` however the value was written.
    """

    text: str
    position: int = field(default=0, compare=False, repr=False)
    quoted: bool = False

    def __post_init__(self) -> None:
        if self.quoted and not is_number_range(self.text):
            object.__setattr__(self, "quoted", False)

    def __str__(self) -> str:
        return self.text if not self.quoted and _BARE.fullmatch(self.text) else _quote(self.text)

    @property
    def number_range(self) -> bool:
        """Whether this is a bare number range (``>10``, ``5..12``): under ``meta.``, a comparison of numbers."""
        return not self.quoted and is_number_range(self.text)


@dataclass(frozen=True, slots=True)
class Function:
    """A function matcher ``name(argument, ...)`` (the language reference: function matchers).

    ``name`` is the canonical spelling (:data:`qfilter.core.functions.FUNCTIONS`);
    an argument is a plain :class:`Value` or, for ``not``, ``all`` and
    ``any``, a function. ``position`` is where the name starts.
    """

    name: str
    arguments: tuple[Matcher, ...] = ()
    position: int = field(default=0, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.name}({','.join(map(str, self.arguments))})"


Matcher: TypeAlias = Value | Function


@dataclass(frozen=True, slots=True)
class Term:
    """``[-]qualifier:matcher[,matcher...]``: all matchers must hold."""

    qualifier: str
    matchers: tuple[Matcher, ...]
    excluded: bool = False
    position: int = field(default=0, compare=False, repr=False)

    def __str__(self) -> str:
        sign = "-" if self.excluded else ""
        return f"{sign}{self.qualifier}:{','.join(map(str, self.matchers))}"


@dataclass(frozen=True, slots=True)
class Sequence:
    """Items side by side: its terms combine as terms do, each other item is one more conjunct."""

    items: tuple[Item, ...]

    def __str__(self) -> str:
        return " ".join(_item_text(item) for item in self.items)


@dataclass(frozen=True, slots=True)
class And:
    """``A AND B AND ...``: every part holds."""

    parts: tuple[Expression, ...]

    def __str__(self) -> str:
        return " AND ".join(f"({part})" if isinstance(part, (And, Or)) else str(part) for part in self.parts)


@dataclass(frozen=True, slots=True)
class Or:
    """``A OR B OR ...``: some part holds."""

    parts: tuple[Expression, ...]

    def __str__(self) -> str:
        return " OR ".join(f"({part})" if isinstance(part, Or) else str(part) for part in self.parts)


@dataclass(frozen=True, slots=True)
class Not:
    """``NOT item``: the item does not hold (``NOT tag:a`` means what ``-tag:a`` means)."""

    item: Item

    def __str__(self) -> str:
        return "NOT " + _item_text(self.item)


Expression: TypeAlias = Sequence | And | Or | Not
"""A boolean expression (the language reference: boolean expressions)."""
Item: TypeAlias = Term | Expression
"""What a :class:`Sequence` holds: a term, or a conjunct of its own (a parenthesised expression or a NOT)."""


def _item_text(item: Item) -> str:
    """An item of a sequence or of a NOT: a term or a NOT as it is, anything else in parentheses."""
    return str(item) if isinstance(item, (Term, Not)) else f"({item})"


def sequence(items: tuple[Item, ...]) -> Expression:
    """Items side by side; one item that is not a term stands for itself (``(a OR b)`` is ``a OR b``)."""
    if len(items) == 1 and not isinstance(items[0], Term):
        return items[0]
    return Sequence(items)


def all_of(parts: tuple[Expression, ...]) -> Expression:
    """``AND`` of the parts, nested ``AND`` flattened; one part stands for itself."""
    if len(parts) == 1:
        return parts[0]
    return And(tuple(inner for part in parts for inner in (part.parts if isinstance(part, And) else (part,))))


def any_of(parts: tuple[Expression, ...]) -> Expression:
    """``OR`` of the parts, nested ``OR`` flattened; one part stands for itself."""
    if len(parts) == 1:
        return parts[0]
    return Or(tuple(inner for part in parts for inner in (part.parts if isinstance(part, Or) else (part,))))


def negation(item: Item) -> Not:
    """``NOT item``; ``NOT (tag:a)`` is ``NOT tag:a``."""
    if isinstance(item, Sequence) and len(item.items) == 1 and isinstance(item.items[0], Term):
        item = item.items[0]
    return Not(item)


def expression_terms(expression: Expression) -> tuple[Term, ...]:
    """Every term of ``expression``, in text order (without recursion: the tree may be deep)."""
    found: list[Term] = []
    pending: list[Item] = [expression]
    while pending:
        node = pending.pop()
        match node:
            case Term():
                found.append(node)
            case Sequence(items):
                pending.extend(reversed(items))
            case And(parts) | Or(parts):
                pending.extend(reversed(parts))
            case Not(item):
                pending.append(item)
    return tuple(found)


def map_terms(expression: Expression, leaf: Callable[[Term], Item | tuple[Item, ...]]) -> Expression:
    """``expression`` built again with each term replaced by what ``leaf`` gives for it.

    The one walk that rebuilds a tree (``ast.NodeTransformer.generic_visit``
    in spirit): the nodes above the terms are built again from their mapped
    children with the normal-form constructors, so a term replaced by an
    expression merges into its place as that expression written there would
    (an ``OR`` in an ``OR`` flattens, an item alone in a sequence stands for
    itself). Several items for a term take its place in its sequence, as
    ``NodeTransformer`` splices a list; under ``NOT`` they are one sequence.
    Recursive, one call per level: the parser bounds the depth.
    """
    match expression:
        case Sequence(items):
            mapped: list[Item] = []
            for item in items:
                if not isinstance(item, Term):
                    mapped.append(map_terms(item, leaf))
                elif isinstance(replaced := leaf(item), tuple):
                    mapped.extend(replaced)
                else:
                    mapped.append(replaced)
            return sequence(tuple(mapped))
        case And(parts):
            return all_of(tuple(map_terms(part, leaf) for part in parts))
        case Or(parts):
            return any_of(tuple(map_terms(part, leaf) for part in parts))
        case Not(item):
            if not isinstance(item, Term):
                return negation(map_terms(item, leaf))
            replaced = leaf(item)
            return negation(sequence(replaced) if isinstance(replaced, tuple) else replaced)
        case _:
            assert_never(expression)


def _only_terms(items: tuple[Item, ...]) -> TypeGuard[tuple[Term, ...]]:
    return all(isinstance(item, Term) for item in items)


@dataclass(frozen=True, slots=True)
class Filter:
    """A whole filter: its terms in their original order. No terms matches all.

    ``expression`` is the boolean structure of a filter that has one (``AND``,
    ``OR``, ``NOT``, parentheses) and ``None`` for terms side by side only; ``terms`` then
    lists every term of the expression, in text order. Build one with
    :meth:`of`, which keeps a term-only filter a plain ``Filter(terms)``.
    """

    terms: tuple[Term, ...] = ()
    source: str = field(default="", compare=False, repr=False)
    """The text this filter was parsed from, for error messages ("" if built in code)."""
    expression: Expression | None = None

    @classmethod
    def of(cls, expression: Expression | None, source: str = "") -> Filter:
        """The filter of an expression (normal form: :func:`sequence`, :func:`all_of`...); terms only stay terms."""
        if expression is None:
            return cls((), source)
        if isinstance(expression, Sequence) and _only_terms(expression.items):
            return cls(expression.items, source)
        return cls(expression_terms(expression), source, expression)

    def __str__(self) -> str:
        if self.expression is not None:
            return str(self.expression)
        return " ".join(map(str, self.terms))
