"""Say what a filter means: its logic tree and a sentence in plain words.

Used by ``qfilter explain``; works on a bound :class:`~qfilter.core.plan.Plan`
so that what it says is what the compilers do. The words of each kind's
plain matcher are its traits' (:mod:`.kinds`), each function's its
declaration's (:mod:`.functions`).
"""

from __future__ import annotations

from typing import assert_never

from .ast import Function, Matcher, Value
from .functions import Argument, FunctionTable
from .ir import ME, Condition, Conjunction, Disjunction, Group, Negation, Node, Plan, Within
from .kinds import Kind, traits
from .schema import Field

__all__ = ["choices_words", "describe", "logic_tree"]


def _argument_words(kind: Kind, argument: Argument, matcher: Matcher, functions: FunctionTable) -> str:
    """One argument of a function in words: a nested function's words, a value as its argument reads it."""
    if isinstance(matcher, Function):
        return _words(kind, matcher, functions)
    text = matcher.text
    match argument:
        case Argument.MATCHER:
            return traits(kind).plain_words(matcher)
        case Argument.VALUE | Argument.TEXT if kind is Kind.USER and text == ME:
            return "the current user"
        case Argument.VALUE if kind is Kind.NUMBER:
            return text
        case Argument.VALUE | Argument.TEXT | Argument.GLOB:
            return repr(text)
        case Argument.NUMBER | Argument.TIME | Argument.BOUND:
            return text
        case _:
            assert_never(argument)


def _words(kind: Kind, matcher: Matcher, functions: FunctionTable) -> str:
    """What one value must be to satisfy ``matcher``, in words (``equal to one of 'a', 'b'``)."""
    if isinstance(matcher, Value):
        return traits(kind).plain_words(matcher)
    declared = functions.lookup(matcher.name)
    if declared is None:  # a plan bound under another table: say it as written
        return f"{matcher}"
    arguments = tuple(
        _argument_words(kind, declared.argument(index), argument, functions)
        for index, argument in enumerate(matcher.arguments)
    )
    return declared.words_for(kind, arguments)


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


def _phrase(group: Group, matcher: Matcher, condition: Condition, functions: FunctionTable) -> str:
    target = group.field
    label = target.label
    # Only a time's interval can be empty (a Within): for every other condition this is "".
    empty = _empty_words(matcher, condition)
    if isinstance(matcher, Value):
        return f"have {traits(target.kind).phrase(label, matcher)}{empty}"
    declared = functions.lookup(matcher.name)
    if declared is not None and declared.field_level:
        return f"have a {label}"
    return f"have {label} {_words(target.kind, matcher, functions)}{empty}"


def _group_words(group: Group, functions: FunctionTable) -> str:
    alternatives = [
        " and ".join(_phrase(group, m, c, functions) for m, c in zip(term.matchers, conditions, strict=True))
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


def _node_words(node: Node, functions: FunctionTable) -> str:
    """A node of the logic tree in words; parentheses show how the parts nest (recursion: the depth is bounded)."""
    match node:
        case Group():
            return _with_choices(node, _group_words(node, functions))
        case Conjunction(children):
            return ", and ".join(_part_words(child, functions) for child in children)
        case Disjunction(children):
            return ", or ".join(_part_words(child, functions) for child in children)
        case Negation(child):
            return f"not ({_node_words(child, functions)})"
        case _:
            assert_never(node)


def _part_words(node: Node, functions: FunctionTable) -> str:
    words = _node_words(node, functions)
    simple = isinstance(node, Negation) or (
        isinstance(node, Group) and not any(joint in _group_words(node, functions) for joint in (" or ", " and ", ", "))
    )
    return words if simple else f"({words})"


def describe(plan: Plan, noun: str = "entities") -> str:
    """The filter as one English sentence, in the style of the Waylay docs."""
    if not plan.groups:
        return f"all {noun} are selected"
    functions = plan.schema.function_table
    if plan.root is not None:
        return f"selected {noun} must " + _node_words(plan.root, functions)
    words = (_with_choices(group, _group_words(group, functions)) for group in plan.groups)
    return f"selected {noun} must " + ", and ".join(words)


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
