"""Say what a filter means: its logic tree and a sentence in plain words.

Used by ``qfilter explain``; works on a bound :class:`~qfilter.core.plan.Plan`
so that what it says is what the compilers do.
"""

from __future__ import annotations

from typing import assert_never

from .ast import Function, Matcher, Value
from .plan import ME, Condition, Conjunction, Disjunction, Group, Negation, Node, Plan, Within
from .schema import Field, Kind

__all__ = ["choices_words", "describe", "logic_tree"]

_COMPARISON_WORDS = {
    "lt": ("less than", "before"),
    "lte": ("at most", "at or before"),
    "gt": ("greater than", "after"),
    "gte": ("at least", "at or after"),
}


def _interval_words(text: str) -> str:
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


def _number_words(text: str) -> str:
    for prefix, op in ((">=", "gte"), ("<=", "lte"), (">", "gt"), ("<", "lt")):
        if text.startswith(prefix):
            return f"{_COMPARISON_WORDS[op][0]} {text[len(prefix) :]}"
    if ".." not in text:
        return f"equal to {text}"
    low, high = text.split("..", 1)
    if low == "*":
        return f"at most {high}"
    if high == "*":
        return f"at least {low}"
    return f"between {low} and {high}"


def _plain_words(kind: Kind, value: Value) -> str:
    """A value that satisfies the field's own matcher on ``value``, in words."""
    text = value.text
    match kind:
        case Kind.TEXT:
            return f"containing {text!r}"
        case Kind.META if value.number_range:
            return f"a number {_number_words(text)}"
        case Kind.EXACT | Kind.META:
            return f"equal to {text!r}"
        case Kind.USER:
            return "the current user" if text == ME else text
        case Kind.TIME:
            return _interval_words(text)
        case Kind.NUMBER:
            return _number_words(text)
        case Kind.BOOLEAN:
            return text.lower()
        case _:
            assert_never(kind)


def _words(kind: Kind, matcher: Matcher) -> str:
    """What one value must be to satisfy ``matcher``, in words (``equal to one of 'a', 'b'``)."""
    if isinstance(matcher, Value):
        return _plain_words(kind, matcher)
    arguments = matcher.arguments
    texts = [a.text for a in arguments if isinstance(a, Value)]
    quoted = ", ".join(
        "the current user" if kind is Kind.USER and t == ME else t if kind is Kind.NUMBER else repr(t) for t in texts
    )
    match matcher.name:
        case "not":
            return f"not {_words(kind, arguments[0])}"
        case "all" | "any":
            joined = (" and " if matcher.name == "all" else " or ").join(_words(kind, a) for a in arguments)
            return f"({joined})" if len(arguments) > 1 else joined
        case "equals" | "eq":
            return f"equal to {quoted}"
        case "in":
            return f"equal to one of {quoted}" if len(texts) > 1 else f"equal to {quoted}"
        case "inIgnoreCase":
            return f"equal to one of {quoted}, ignoring case" if len(texts) > 1 else f"equal to {quoted}, ignoring case"
        case "like":
            return f"matching {texts[0]!r}"
        case "contains":
            return f"containing {texts[0]!r}"
        case "lt" | "lte" | "gt" | "gte":
            number_words, time_words = _COMPARISON_WORDS[matcher.name]
            return f"{time_words if kind is Kind.TIME else number_words} {texts[0]}"
        case _:
            return f"{matcher}"


def _empty(condition: Condition) -> bool:
    """An interval whose end is not after its start: it matches nothing."""
    if not isinstance(condition, Within):
        return False
    start, end = condition.interval.start, condition.interval.end
    return start is not None and end is not None and end <= start


_EMPTY = " (an empty interval: its end is not after its start, so nothing matches)"
_AFTER_THE_LAST = " (an empty interval: no time of the years 1 to 9999 is after it, so nothing matches)"


def _empty_words(matcher: Matcher, condition: Condition) -> str:
    """Why a time matcher matches nothing, if it does not: an end before the start, or after the last instant."""
    if not _empty(condition):
        return ""
    after = matcher.text.startswith(">") if isinstance(matcher, Value) else matcher.name == "gt"
    return _AFTER_THE_LAST if after else _EMPTY


def _phrase(group: Group, matcher: Matcher, condition: Condition) -> str:
    target = group.field
    label = target.label
    if isinstance(matcher, Function):
        if matcher.name == "exists":
            return f"have a {label}"
        empty = _empty_words(matcher, condition) if target.kind is Kind.TIME else ""
        return f"have {label} {_words(target.kind, matcher)}{empty}"
    value = matcher.text
    match target.kind:
        case Kind.TEXT:
            return f"have a {label} containing {value!r}"
        case Kind.USER:
            return f"have {label} {'the current user' if value == ME else value}"
        case Kind.TIME:
            return f"have a {label} {_interval_words(value)}{_empty_words(matcher, condition)}"
        case Kind.META:
            return f"have {label} {_plain_words(target.kind, matcher)}"
        case Kind.NUMBER:
            return f"have a {label} {_number_words(value)}"
        case Kind.BOOLEAN:
            return f"have {label} {value.lower()}"
        case Kind.EXACT:
            return f"have {label} {value}"
        case _:
            assert_never(target.kind)


def _group_words(group: Group) -> str:
    alternatives = [
        " and ".join(_phrase(group, m, c) for m, c in zip(term.matchers, conditions, strict=True))
        for term, conditions in zip(group.terms, group.alternatives, strict=True)
    ]
    if len(alternatives) > 1:
        alternatives = [f"({a})" if " and " in a else a for a in alternatives]
    if not group.excluded:
        return " or ".join(alternatives)
    if len(alternatives) == 1 and len(group.terms[0].matchers) == 1:
        return "not " + alternatives[0]
    if len(alternatives) == 1:
        return f"not ({alternatives[0]})"
    return "have none of: " + ", ".join(alternatives)


def choices_words(field: Field) -> str:
    """The values an enum field can hold, in words (``status is one of running, stopped``); ``""`` for another field."""
    if field.choices is None:
        return ""
    return f"{field.qualifier} is one of {', '.join(str(Value(choice)) for choice in field.choices)}"


def _with_choices(group: Group, words: str) -> str:
    """A group's words, followed by the values its field can hold when it is an enum (which an exclusion leaves)."""
    choices = choices_words(group.field)
    return f"{words} ({choices})" if choices else words


def _node_words(node: Node) -> str:
    """A node of the logic tree in words; parentheses show how the parts nest (recursion: the depth is bounded)."""
    match node:
        case Group():
            return _with_choices(node, _group_words(node))
        case Conjunction(children):
            return ", and ".join(_part_words(child) for child in children)
        case Disjunction(children):
            return ", or ".join(_part_words(child) for child in children)
        case Negation(child):
            return f"not ({_node_words(child)})"
        case _:
            assert_never(node)


def _part_words(node: Node) -> str:
    words = _node_words(node)
    simple = isinstance(node, Negation) or (
        isinstance(node, Group) and not any(joint in _group_words(node) for joint in (" or ", " and ", ", "))
    )
    return words if simple else f"({words})"


def describe(plan: Plan, noun: str = "entities") -> str:
    """The filter as one English sentence, in the style of the Waylay docs."""
    if not plan.groups:
        return f"all {noun} are selected"
    if plan.root is not None:
        return f"selected {noun} must " + _node_words(plan.root)
    return f"selected {noun} must " + ", and ".join(_with_choices(g, _group_words(g)) for g in plan.groups)


def _group_lines(group: Group, indent: str, lines: list[str]) -> None:
    head = "NOT OR" if group.excluded else "OR"
    lines.append(f"{indent}{head} [{group.field.qualifier}]")
    for term in group.terms:
        if len(term.matchers) == 1:
            lines.append(f"{indent}  {term.qualifier}:{term.matchers[0]}")
        else:
            lines.append(f"{indent}  AND")
            lines.extend(f"{indent}    {term.qualifier}:{m}" for m in term.matchers)


def _node_lines(node: Node, indent: str, lines: list[str]) -> None:
    match node:
        case Group():
            _group_lines(node, indent, lines)
        case Conjunction(children) | Disjunction(children):
            lines.append(indent + ("AND" if isinstance(node, Conjunction) else "OR"))
            for child in children:
                _node_lines(child, indent + "  ", lines)
        case Negation(child):
            lines.append(indent + "NOT")
            _node_lines(child, indent + "  ", lines)
        case _:
            assert_never(node)


def logic_tree(plan: Plan) -> str:
    """The combination logic as an indented tree: AND of groups, OR within; AND, OR and NOT nest as written."""
    if not plan.groups:
        return "TRUE (empty filter)"
    lines: list[str] = []
    _node_lines(plan.tree, "", lines)
    return "\n".join(lines)
