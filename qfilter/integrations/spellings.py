"""Hypothesis strategies for the spellings of a filter: the texts that parse to one filter AST.

:func:`spellings` (also exported by :mod:`qfilter.integrations.strategies`)
varies what the language leaves free: quoting and quote style, a function
name's letter case, spaces, and parentheses that change nothing.
"""

from __future__ import annotations

from hypothesis import strategies as st

from qfilter.core.ast import And, Expression, Filter, Item, Matcher, Not, Or, Sequence, Term, Value

__all__ = ["spellings"]


def _quoted(text: str, quote: str) -> str:
    return quote + text.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


def _spell_value(draw: st.DrawFn, text: str, bare_ok: bool) -> str:
    options = ['"', "'"] + (["bare"] if bare_ok else [])
    choice = draw(st.sampled_from(options))
    return text if choice == "bare" else _quoted(text, choice)


def _spell_matcher(draw: st.DrawFn, matcher: Matcher) -> str:
    """One spelling of a matcher: quoting, the name's letter case, and spaces inside a function vary."""
    if isinstance(matcher, Value):
        if matcher.number_range:  # quoted, `>10` would be text under meta.: a different matcher
            return matcher.text
        return _spell_value(draw, matcher.text, not str(matcher).startswith('"'))
    name = (
        "".join(c.upper() if draw(st.booleans()) else c for c in matcher.name) if draw(st.booleans()) else matcher.name
    )
    space = st.sampled_from(["", "", " ", "  ", "\t"])
    arguments = [_spell_matcher(draw, argument) for argument in matcher.arguments]
    inside = "".join(
        (draw(space) + "," + draw(space) if index else "") + argument for index, argument in enumerate(arguments)
    )
    return f"{name}({draw(space)}{inside}{draw(space) if arguments else ''})"


_SPACES = st.sampled_from([" ", "  ", "\t", " \n "])
_OPTIONAL_SPACES = st.sampled_from(["", "", " ", "\t"])


def _spell_term(draw: st.DrawFn, term: Term) -> str:
    written = [_spell_matcher(draw, matcher) for matcher in term.matchers]
    return ("-" if term.excluded else "") + f"{term.qualifier}:" + ",".join(written)


def _parenthesised(draw: st.DrawFn, text: str) -> str:
    return f"({draw(_OPTIONAL_SPACES)}{text}{draw(_OPTIONAL_SPACES)})"


def _spell_part(draw: st.DrawFn, node: Expression) -> str:
    """A part of AND or OR, or a whole filter: parentheses around it change nothing, so they may come."""
    text = _spell_expression(draw, node)
    return _parenthesised(draw, text) if draw(st.integers(0, 4)) == 0 else text


def _spell_item(draw: st.DrawFn, item: Item) -> str:
    """An item of a sequence or of NOT: a term or a NOT as it is, anything else in parentheses."""
    if isinstance(item, Term):
        return _spell_term(draw, item)
    if isinstance(item, Not):
        return _spell_expression(draw, item)
    return _parenthesised(draw, _spell_expression(draw, item))


def _spell_expression(draw: st.DrawFn, node: Expression) -> str:
    match node:
        case Sequence(items):
            return draw(_SPACES).join(_spell_item(draw, item) for item in items)
        case And(parts) | Or(parts):
            keyword = "AND" if isinstance(node, And) else "OR"
            out = ""
            for index, part in enumerate(parts):
                if index:
                    out += f"{draw(_SPACES)}{keyword}{draw(_SPACES)}"
                out += f"({_spell_expression(draw, part)})" if isinstance(part, (And, Or)) else _spell_part(draw, part)
            return out
        case Not(item):
            inner = _spell_item(draw, item)
            if isinstance(item, Term) and draw(st.booleans()):
                inner = _parenthesised(draw, inner)  # NOT (tag:a) is NOT tag:a
            return "NOT" + (draw(_OPTIONAL_SPACES) if inner.startswith("(") else draw(_SPACES)) + inner


def spellings(parsed: Filter) -> st.SearchStrategy[str]:
    """Texts that parse to ``parsed``: quoting, quote style, spacing and redundant parentheses vary."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        if parsed.expression is not None:
            return draw(st.sampled_from(["", " "])) + _spell_part(draw, parsed.expression) + draw(_OPTIONAL_SPACES)
        text = "".join(_spell_term(draw, term) + draw(_SPACES) for term in parsed.terms)
        return draw(st.sampled_from(["", " "])) + text

    return build()
