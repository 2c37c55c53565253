"""The kinds of qualifier (:class:`Kind`) and each one's traits, in one table (:data:`KINDS`).

A kind decides what "matches" means for a field. Everything the language
says about a kind is in its :class:`KindTraits`: what its values are read
as (:data:`Reading`, which the backends follow), the built-in functions it
takes, whether it sorts, whether its values are texts, how a plain value
binds, how ``explain`` words it, and the examples the OpenAPI description
shows. Adding a kind is its member and traits here and its matchers in the
Hypothesis strategies; a kind that reads values in a new way is a new
:data:`Reading` too, which mypy then names in every backend (an exhaustive
``match`` ending in ``assert_never``); ``docs/contributing.md`` lists them
and ``tests/test_kinds.py`` checks every kind's.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, TypeAlias

from .ast import Value
from .ir import ME, Contains, Equals, InSet, IsBoolean, ValuePredicate

if TYPE_CHECKING:
    from .binder import Binding

__all__ = [
    "Kind",
    "Reading",
    "KindTraits",
    "KINDS",
    "traits",
    "kind_names",
    "COMPARISON_WORDS",
    "interval_words",
    "number_words",
]


class Kind(enum.Enum):
    """The kind of matcher a qualifier takes, which decides what "matches" means."""

    TEXT = "text"
    """A fragment the text contains, ignoring case (``name:demo``)."""
    EXACT = "exact"
    """A value equal to one of the field's values, case-sensitive (``tag:prio1``)."""
    USER = "user"
    """A user id, or ``@me`` for the current user (``created_by:@me``)."""
    TIME = "time"
    """A time interval (``created:now-P1W/``)."""
    META = "meta"
    """``meta.<path>``: equal value, ``like(glob)`` or ``contains(text)``."""
    NUMBER = "number"
    """A number (``prio:5``, ``prio:>=2``, ``prio:1..5``), compared numerically."""
    BOOLEAN = "boolean"
    """``true`` or ``false`` (any letter case); only a boolean value matches."""


Reading: TypeAlias = Literal["text", "instant", "number", "boolean", "json"]
"""What a value of a kind is read as, in every backend: the backends match on it, not on the kind.

``text``: a scalar's text (a number's decimal spelling, ``true``/``false``);
``instant``: a time (an aware datetime, or text spelling one); ``number``: a
number, never a boolean; ``boolean``: a boolean; ``json``: any JSON value
but null (tested by its text, or as a number, as ``meta.`` reads it).
"""


@dataclass(frozen=True, slots=True)
class KindTraits:
    """What the language says about one :class:`Kind`."""

    kind: Kind
    reads: Reading
    """What a value of this kind is read as (memory's reading, SQL's columns, Django's fields follow it)."""
    functions: frozenset[str]
    """The built-in functions (spec section 9) a field of this kind takes, by canonical name."""
    sortable: bool
    """Its values have one order, so ``sort=`` takes a single-valued field of it (spec section 13)."""
    textual: bool
    """Its values are texts, compared as such: ordered by code point, and a field may ignore case."""
    one_lookup: bool
    """Its plain value is an ``Equals`` of text, so an OR of them may be one set test (:mod:`.optimise`)."""
    plain: Callable[[Binding, Value], ValuePredicate]
    """How a plain value binds: the test of one value a plain matcher means, under the binding of a field."""
    plain_words: Callable[[Value], str]
    """A value satisfying the plain matcher, in words (``containing 'x'``): inside ``not(...)``, say."""
    phrase: Callable[[str, Value], str]
    """A field (its label) satisfying the plain matcher, in words, after "have" (``a name containing 'x'``)."""
    examples: tuple[str, str]
    """For the OpenAPI description: a plain matcher, and one of the newer forms (functions, ranges)."""


COMPARISON_WORDS = {
    "lt": ("less than", "before"),
    "lte": ("at most", "at or before"),
    "gt": ("greater than", "after"),
    "gte": ("at least", "at or after"),
}
"""``lt()`` and its siblings in words: for numbers, and for times."""


def interval_words(text: str) -> str:
    """A TIME field's plain matcher in words (``in the P1W before now``, ``since 2020``)."""
    if text.startswith((">=", "<=", ">", "<")) or ".." in text:
        return _range_words(text)
    if "/" not in text:
        return f"in {text}"
    start, end = text.split("/", 1)
    if start.startswith("P"):
        return f"in the {start} before {end}"
    if end.startswith("P"):
        return f"in the {end} from {start}"
    if not end:
        return f"since {start}"
    if not start:
        return f"before {end}"
    return f"from {start} until {end}"


def _range_words(text: str) -> str:
    for prefix, words in (
        (">=", "at or after the start of"),
        ("<=", "up to the end of"),
        (">", "after"),
        ("<", "before"),
    ):
        if text.startswith(prefix):
            return f"{words} {text[len(prefix) :]}"
    low, high = text.split("..", 1)
    if low == "*":
        return f"up to the end of {high}"
    if high == "*":
        return f"at or after the start of {low}"
    return f"from the start of {low} to the end of {high}"


def number_words(text: str) -> str:
    """A number matcher in words (``at least 5``, ``between 1 and 5``)."""
    for prefix, op in ((">=", "gte"), ("<=", "lte"), (">", "gt"), ("<", "lt")):
        if text.startswith(prefix):
            return f"{COMPARISON_WORDS[op][0]} {text[len(prefix) :]}"
    if ".." not in text:
        return f"equal to {text}"
    low, high = text.split("..", 1)
    if low == "*":
        return f"at most {high}"
    if high == "*":
        return f"at least {low}"
    return f"between {low} and {high}"


def _user_words(value: Value) -> str:
    return "the current user" if value.text == ME else value.text


def _meta_words(value: Value) -> str:
    return f"a number {number_words(value.text)}" if value.number_range else f"equal to {value.text!r}"


# How a plain value binds, kind by kind (spec sections 1 to 10).


def _text(binding: Binding, value: Value) -> ValuePredicate:
    return Contains(value.text.lower(), ignore_case=True)


def _exact(binding: Binding, value: Value) -> ValuePredicate:
    if binding.field.ignore_case:
        return InSet((binding.choice(value).lower(),), ignore_case=True)
    return Equals(binding.choice(value))


def _user(binding: Binding, value: Value) -> ValuePredicate:
    if binding.field.ignore_case:
        return InSet((binding.user(value).lower(),), ignore_case=True)
    return Equals(binding.user(value))


def _meta(binding: Binding, value: Value) -> ValuePredicate:
    # A bare `>10` or `5..12` compares JSON numbers (spec section 10); quoted, or `>abc`, it is text.
    return binding.number_matcher(value) if value.number_range else Equals(value.text)


def _time(binding: Binding, value: Value) -> ValuePredicate:
    return binding.interval(value)


def _number(binding: Binding, value: Value) -> ValuePredicate:
    return binding.number_matcher(value)


def _boolean(binding: Binding, value: Value) -> ValuePredicate:
    return IsBoolean(binding.boolean(value))


_EQUALITY = frozenset({"equals", "eq", "in"})
_NESTING = frozenset({"not", "all", "any", "exists"})
_COMPARISONS = frozenset({"lt", "lte", "gt", "gte"})
_CASE_AND_GLOB = frozenset({"inIgnoreCase", "like"})

_TRAITS = (
    KindTraits(
        Kind.TEXT,
        reads="text",
        functions=_EQUALITY | _CASE_AND_GLOB | _NESTING | {"contains"},
        sortable=True,
        textual=True,
        one_lookup=False,
        plain=_text,
        plain_words=lambda value: f"containing {value.text!r}",
        phrase=lambda label, value: f"a {label} containing {value.text!r}",
        examples=("demo", "like(demo*)"),
    ),
    KindTraits(
        Kind.EXACT,
        reads="text",
        functions=_EQUALITY | _CASE_AND_GLOB | _NESTING | {"contains"},
        sortable=True,
        textual=True,
        one_lookup=True,
        plain=_exact,
        plain_words=lambda value: f"equal to {value.text!r}",
        phrase=lambda label, value: f"{label} {value.text}",
        examples=("demo", "in(demo,prio1)"),
    ),
    KindTraits(
        Kind.USER,
        reads="text",
        functions=_EQUALITY | _CASE_AND_GLOB | _NESTING,
        sortable=True,
        textual=True,
        one_lookup=True,
        plain=_user,
        plain_words=_user_words,
        phrase=lambda label, value: f"{label} {_user_words(value)}",
        examples=("@me", "in(@me,users/bob)"),
    ),
    KindTraits(
        Kind.TIME,
        reads="instant",
        functions=_COMPARISONS | _NESTING,
        sortable=True,
        textual=False,
        one_lookup=False,
        plain=_time,
        plain_words=lambda value: interval_words(value.text),
        phrase=lambda label, value: f"a {label} {interval_words(value.text)}",
        examples=("now-P1W/", ">=2020-04"),
    ),
    KindTraits(
        Kind.META,
        reads="json",
        functions=_EQUALITY | _CASE_AND_GLOB | _COMPARISONS | _NESTING | {"contains"},
        sortable=False,
        textual=False,
        one_lookup=False,
        plain=_meta,
        plain_words=_meta_words,
        phrase=lambda label, value: f"{label} {_meta_words(value)}",
        examples=("x", "gt(5)"),
    ),
    KindTraits(
        Kind.NUMBER,
        reads="number",
        functions=_EQUALITY | _COMPARISONS | _NESTING,
        sortable=True,
        textual=False,
        one_lookup=False,
        plain=_number,
        plain_words=lambda value: number_words(value.text),
        phrase=lambda label, value: f"a {label} {number_words(value.text)}",
        examples=(">=5", "1..5"),
    ),
    KindTraits(
        Kind.BOOLEAN,
        reads="boolean",
        functions=_EQUALITY | _NESTING,
        sortable=True,
        textual=False,
        one_lookup=False,
        plain=_boolean,
        plain_words=lambda value: value.text.lower(),
        phrase=lambda label, value: f"{label} {value.text.lower()}",
        examples=("true", "not(true)"),
    ),
)

KINDS: Mapping[Kind, KindTraits] = MappingProxyType({each.kind: each for each in _TRAITS})
"""Every kind's traits (``tests/test_kinds.py`` checks that each kind has them)."""


def traits(kind: Kind) -> KindTraits:
    """The traits of ``kind``."""
    return KINDS[kind]


def kind_names(kinds: AbstractSet[Kind]) -> str:
    """Kinds as an error names them, in their order: ``TEXT, EXACT and META``."""
    names = [kind.value.upper() for kind in Kind if kind in kinds]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
