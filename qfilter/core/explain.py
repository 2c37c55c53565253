"""Say what a filter means: its logic tree and a sentence in plain words.

Used by ``qfilter explain``; works on a bound :class:`~qfilter.core.plan.Plan`
so that what it says is what the compilers do.
"""

from __future__ import annotations

from .ast import Function, Matcher
from .plan import ME, Group, Plan
from .schema import Kind

__all__ = ["describe", "logic_tree"]


def _interval_words(text: str) -> str:
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


def _phrase(group: Group, matcher: Matcher) -> str:
    target = group.field
    label = target.label
    if isinstance(matcher, Function):
        verb = "matching" if matcher.name == "like" else "containing"
        return f"have {label} {verb} {matcher.argument!r}"
    value = matcher.text
    match target.kind:
        case Kind.TEXT:
            return f"have a {label} containing {value!r}"
        case Kind.USER:
            return f"have {label} {'the current user' if value == ME else value}"
        case Kind.TIME:
            return f"have a {label} {_interval_words(value)}"
        case Kind.META:
            return f"have {label} equal to {value!r}"
        case _:
            return f"have {label} {value}"


def _group_words(group: Group) -> str:
    alternatives = [" and ".join(_phrase(group, m) for m in term.matchers) for term in group.terms]
    if len(alternatives) > 1:
        alternatives = [f"({a})" if " and " in a else a for a in alternatives]
    if not group.excluded:
        return " or ".join(alternatives)
    if len(alternatives) == 1 and len(group.terms[0].matchers) == 1:
        return "not " + alternatives[0]
    if len(alternatives) == 1:
        return f"not ({alternatives[0]})"
    return "have none of: " + ", ".join(alternatives)


def describe(plan: Plan, noun: str = "entities") -> str:
    """The filter as one English sentence, in the style of the Waylay docs."""
    if not plan.groups:
        return f"all {noun} are selected"
    return f"selected {noun} must " + ", and ".join(_group_words(g) for g in plan.groups)


def logic_tree(plan: Plan) -> str:
    """The combination logic as an indented tree: AND of groups, OR within."""
    if not plan.groups:
        return "TRUE (empty filter)"
    lines = ["AND"]
    for group in plan.groups:
        head = "NOT OR" if group.excluded else "OR"
        lines.append(f"  {head} [{group.field.qualifier}]")
        for term in group.terms:
            if len(term.matchers) == 1:
                lines.append(f"    {term.qualifier}:{term.matchers[0]}")
            else:
                lines.append("    AND")
                lines.extend(f"      {term.qualifier}:{m}" for m in term.matchers)
    return "\n".join(lines)
