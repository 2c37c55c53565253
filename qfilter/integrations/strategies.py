"""Hypothesis strategies for filters, so a service can property-test its endpoint.

Needs ``hypothesis`` (the ``qfilter[strategies]`` extra)::

    from hypothesis import given
    from qfilter import WAYLAY
    from qfilter.integrations.strategies import filter_texts

    @given(filter_texts(WAYLAY))
    def test_listing_never_fails(q):
        assert client.get("/config/query", params={"q": q}).status_code == 200

With a schema, every generated filter is valid for it (right qualifiers, the
matcher kinds they take, well-formed times, the schema's own functions too); ``@me`` is only generated when
``with_me`` is true, so the caller must then supply a current user. Without a
schema, any well-formed qualifier and matcher may appear: the filters parse,
but need not bind.
"""

from __future__ import annotations

from datetime import datetime
from typing import assert_never

from hypothesis import strategies as st

from qfilter.core.ast import (
    Expression,
    Filter,
    Function,
    Item,
    Matcher,
    Sequence,
    Term,
    Value,
    all_of,
    any_of,
    negation,
    sequence,
)
from qfilter.core.functions import BUILTIN_FUNCTIONS, Argument, FunctionTable
from qfilter.core.kinds import Kind, traits
from qfilter.core.plan import ME
from qfilter.core.schema import Field, Schema
from qfilter.integrations.spellings import spellings

__all__ = [
    "filters",
    "expressions",
    "expressions_of",
    "filter_texts",
    "terms",
    "matchers",
    "functions",
    "spellings",
    "range_texts",
    "number_texts",
    "number_range_texts",
    "number_matcher_texts",
    "boolean_texts",
    "timestamp_texts",
    "period_texts",
    "interval_texts",
    "user_ids",
    "any_text",
]

any_text = st.text(min_size=1, max_size=12)
"""Any non-empty text a matcher may hold (quotes, commas, spaces, non-ASCII...)."""

_LOWER = "abcdefghijklmnopqrstuvwxyz_"
_qualifier_heads = st.builds(str.__add__, st.sampled_from(_LOWER), st.text(alphabet=_LOWER + "0123456789", max_size=8))
_path_keys = st.text(alphabet=_LOWER + "ABCXYZ0123456789-", min_size=1, max_size=6)

user_ids = st.sampled_from(["users/0476f99d", "users/alice", "users/bob", "Alice", "@other"])
"""Plain user ids (never ``@me``)."""


def period_texts() -> st.SearchStrategy[str]:
    """ISO 8601 periods the language accepts (``P1W``, ``PT2H``, ``P1Y2M3DT4H5M6.5S``)."""
    count = st.integers(0, 40)
    fraction = st.sampled_from(["", ".5", ".25"])

    @st.composite
    def build(draw: st.DrawFn) -> str:
        parts = {unit: draw(st.one_of(st.none(), count)) for unit in "YMWDHIS"}
        date = "".join(f"{parts[u]}{u}" for u in "YMWD" if parts[u] is not None)
        time = "".join(f"{parts[u]}{draw(fraction)}{'M' if u == 'I' else u}" for u in "HIS" if parts[u] is not None)
        if not date and not time:
            date = f"{draw(st.integers(1, 30))}D"
        return "P" + date + (f"T{time}" if time else "")

    return build()


def timestamp_texts(with_reduced: bool = True) -> st.SearchStrategy[str]:
    """Timestamp tokens: ``now``/``now±P``, ISO dates and date-times with offsets, epoch millis."""
    moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 1, 1))
    offsets = st.sampled_from(["", "Z", "+00:00", "+02:00", "-05:30", "+0100", "-03"])
    options = [
        st.sampled_from(["now", "NOW", "Now"]),
        st.builds(lambda sign, p: f"now{sign}{p}", st.sampled_from("+-"), period_texts()),
        st.builds(lambda m, o: m.strftime("%Y-%m-%dT%H:%M:%S") + o, moments, offsets),
        st.builds(lambda m, o: m.strftime("%Y-%m-%dT%H:%M") + o, moments, offsets),
        st.builds(lambda m, o: m.isoformat(timespec="microseconds") + o, moments, offsets),
        st.integers(10**5, 4 * 10**12).map(str).filter(lambda s: len(s) != 4),
    ]
    if with_reduced:
        options.append(st.builds(lambda m, n: m.strftime("%Y-%m-%d")[:n], moments, st.sampled_from([4, 7, 10])))
    return st.one_of(options)


def interval_texts() -> st.SearchStrategy[str]:
    """Every accepted interval form: ``T/T``, ``T/``, ``/T``, ``T/P``, ``P/T`` and a lone date."""
    stamp = timestamp_texts()
    return st.one_of(
        st.builds(lambda a, b: f"{a}/{b}", stamp, stamp),
        stamp.map(lambda a: f"{a}/"),
        stamp.map(lambda b: f"/{b}"),
        st.builds(lambda a, p: f"{a}/{p}", stamp, period_texts()),
        st.builds(lambda p, b: f"{p}/{b}", period_texts(), stamp),
        st.builds(
            lambda y, m, d, n: f"{y:04d}-{m:02d}-{d:02d}"[:n],
            st.integers(1971, 2099),
            st.integers(1, 12),
            st.integers(1, 28),
            st.sampled_from([4, 7, 10]),
        ),
    )


def range_texts() -> st.SearchStrategy[str]:
    """GitHub-style time ranges: ``>=T``, ``>T``, ``<T``, ``<=T``, ``A..B``, ``A..*``, ``*..B``."""
    stamp = timestamp_texts()
    return st.one_of(
        st.builds(str.__add__, st.sampled_from([">=", ">", "<", "<="]), stamp),
        st.builds(lambda a, b: f"{a}..{b}", stamp, stamp),
        stamp.map(lambda a: f"{a}..*"),
        stamp.map(lambda b: f"*..{b}"),
    )


def number_texts() -> st.SearchStrategy[str]:
    """Numbers in JSON syntax (``5``, ``-2.5``, ``1e-05``)."""
    return st.one_of(
        st.integers(-1000, 1000).map(str),
        st.integers(-(2**70), 2**70).map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.sampled_from(["0", "-0", "1e3", "2.5E-3", "-0.0"]),
    )


def number_range_texts() -> st.SearchStrategy[str]:
    """Number ranges: ``>5``, ``>=5``, ``<5``, ``<=5``, ``1..5``, ``*..5``, ``5..*``."""
    number = number_texts()
    return st.one_of(
        st.builds(str.__add__, st.sampled_from([">=", ">", "<", "<="]), number),
        st.builds(lambda a, b: f"{a}..{b}", number, number),
        number.map(lambda a: f"{a}..*"),
        number.map(lambda b: f"*..{b}"),
    )


def number_matcher_texts() -> st.SearchStrategy[str]:
    """Plain matchers of a NUMBER field: a number (``5``) or a :func:`number_range_texts` range."""
    return st.one_of(number_texts(), number_range_texts())


boolean_texts = st.sampled_from(["true", "false", "TRUE", "False"])
"""The matchers of a BOOLEAN field."""


def _plain_texts(kind: Kind | None, values: st.SearchStrategy[str], with_me: bool) -> st.SearchStrategy[str]:
    """The text of a plain matcher of ``kind``: also what a plain argument of not/all/any holds."""
    match kind:
        case Kind.TIME:
            return st.one_of(interval_texts(), range_texts())
        case Kind.USER:
            return st.one_of(user_ids, st.just(ME)) if with_me else user_ids
        case Kind.NUMBER:
            return number_matcher_texts()
        case Kind.BOOLEAN:
            return boolean_texts
        case Kind.TEXT | Kind.EXACT | Kind.META | None:
            return values
        case _:
            assert_never(kind)


def _plain_values(kind: Kind | None, values: st.SearchStrategy[str], with_me: bool) -> st.SearchStrategy[Value]:
    """Plain matchers of ``kind``; under ``meta.`` also number ranges, bare (numbers) and quoted (text)."""
    plain = _plain_texts(kind, values, with_me).map(Value)
    if kind is not Kind.META:
        return plain
    ranges = number_range_texts()
    return st.one_of(plain, ranges.map(Value), ranges.map(lambda text: Value(text, quoted=True)))


def _argument_texts(
    kind: Kind | None, argument: Argument, values: st.SearchStrategy[str], with_me: bool
) -> st.SearchStrategy[str]:
    """The texts of an argument that reads as ``argument`` under ``kind`` (any kind when ``None``)."""
    reads = None if kind is None else traits(kind).reads
    match argument:
        case Argument.VALUE if reads == "instant":
            return timestamp_texts()
        case Argument.VALUE if reads == "number":
            return number_texts()
        case Argument.VALUE if reads == "boolean":
            return boolean_texts
        case Argument.VALUE | Argument.TEXT | Argument.GLOB if kind is Kind.USER:
            return _plain_texts(kind, values, with_me)
        case Argument.VALUE | Argument.TEXT | Argument.GLOB:
            return values
        case Argument.NUMBER:
            return number_texts()
        case Argument.TIME:
            return timestamp_texts()
        case Argument.BOUND if reads == "instant":
            return timestamp_texts()
        case Argument.BOUND if kind is None:
            return st.one_of(number_texts(), timestamp_texts())
        case Argument.BOUND:
            return number_texts()
        case Argument.MATCHER:
            return _plain_texts(kind, values, with_me)
        case _:
            assert_never(argument)


def functions(
    kind: Kind | None = None,
    *,
    values: st.SearchStrategy[str] = any_text,
    with_me: bool = False,
    depth: int = 2,
    field_level: bool = True,
    table: FunctionTable = BUILTIN_FUNCTIONS,
) -> st.SearchStrategy[Function]:
    """Function matchers a field of ``kind`` accepts (any function when ``None``).

    ``table`` holds the functions to draw from: a schema's ``function_table``
    has its own beside the built-ins; each is drawn as its declaration says
    (its ``strategy``, else each argument as its ``Argument`` reads). ``not``,
    ``all`` and ``any`` nest up to ``depth`` levels; ``exists()`` only where
    ``field_level`` (it cannot stand inside another function).
    """
    declared = [
        function
        for function in table
        if (kind is None or kind in function.kinds)
        and (field_level or not function.field_level)
        and (depth > 0 or not function.nests)
    ]

    @st.composite
    def build(draw: st.DrawFn) -> Function:
        function = draw(st.sampled_from(declared))
        if function.strategy is not None and kind is not None:
            texts = draw(function.strategy(kind))
            return Function(function.name, tuple(Value(text) for text in texts))
        most = function.max_arguments if function.max_arguments is not None else 3
        count = draw(st.integers(function.min_arguments, max(most, function.min_arguments)))
        arguments: list[Matcher] = []
        for index in range(count):
            argument = function.argument(index)
            if argument is Argument.MATCHER:
                inner = st.one_of(
                    _plain_values(kind, values, with_me),
                    functions(kind, values=values, with_me=with_me, depth=depth - 1, field_level=False, table=table),
                )
                arguments.append(draw(inner))
            else:
                arguments.append(Value(draw(_argument_texts(kind, argument, values, with_me))))
        return Function(function.name, tuple(arguments))

    return build()


def matchers(
    kind: Kind | None = None,
    *,
    values: st.SearchStrategy[str] = any_text,
    with_me: bool = False,
    table: FunctionTable = BUILTIN_FUNCTIONS,
) -> st.SearchStrategy[Matcher]:
    """Matchers valid for a kind of qualifier (any kind when ``None``): plain ones and functions of ``table``.

    Under ``meta.`` the plain ones include number ranges (``>10``, ``5..12``),
    bare (compared as numbers) and quoted (text), as the language reference reads them (numbers).
    """
    plain = _plain_values(kind, values, with_me)
    return st.one_of(plain, plain, functions(kind, values=values, with_me=with_me, table=table))


def _field_qualifier(target: Field) -> st.SearchStrategy[str]:
    if target.kind is Kind.META:
        return st.lists(_path_keys, min_size=1, max_size=2).map(lambda keys: ".".join([target.qualifier, *keys]))
    return st.just(target.qualifier)


def terms(
    schema: Schema | None = None,
    *,
    values: st.SearchStrategy[str] = any_text,
    meta_keys: st.SearchStrategy[str] | None = None,
    with_me: bool = False,
    max_matchers: int = 3,
) -> st.SearchStrategy[Term]:
    """One term; with a schema, one that is valid for it."""

    @st.composite
    def build(draw: st.DrawFn) -> Term:
        table = BUILTIN_FUNCTIONS if schema is None else schema.function_table
        if schema is None:
            qualifier = draw(
                st.builds(lambda h, ks: ".".join([h, *ks]), _qualifier_heads, st.lists(_path_keys, max_size=2))
            )
            kind = None
            texts = values
        else:
            target = draw(st.sampled_from(schema.fields))
            kind = target.kind
            if kind is Kind.META and meta_keys is not None:
                qualifier = f"{target.qualifier}.{draw(meta_keys)}"
            else:
                qualifier = draw(_field_qualifier(target))
            # An enum field takes its own values only (any other is an error).
            texts = values if target.choices is None else st.sampled_from(target.choices)
        found = draw(
            st.lists(matchers(kind, values=texts, with_me=with_me, table=table), min_size=1, max_size=max_matchers)
        )
        return Term(qualifier, tuple(found), draw(st.booleans()))

    return build()


def _as_expression(node: Item) -> Expression:
    return Sequence((node,)) if isinstance(node, Term) else node


def expressions_of(terms: st.SearchStrategy[Term], *, max_terms: int = 8) -> st.SearchStrategy[Expression]:
    """Boolean expressions (the language reference: boolean expressions) over the terms ``terms`` draws.

    Sequences, ``AND``, ``OR``, ``NOT`` and parenthesised items, nested, with
    at most ``max_terms`` terms; in the normal form :mod:`qfilter.core.ast`
    keeps, so that ``parse(str(e))`` gives ``e`` back.
    """
    term: st.SearchStrategy[Item] = terms

    def extend(children: st.SearchStrategy[Item]) -> st.SearchStrategy[Item]:
        parts = st.lists(children.map(_as_expression), min_size=2, max_size=3).map(tuple)
        return st.one_of(
            st.lists(st.one_of(term, children), min_size=1, max_size=3).map(lambda items: sequence(tuple(items))),
            parts.map(all_of),
            parts.map(any_of),
            children.map(negation),
        )

    return st.recursive(term, extend, max_leaves=max_terms).map(_as_expression)


def expressions(
    schema: Schema | None = None,
    *,
    values: st.SearchStrategy[str] = any_text,
    meta_keys: st.SearchStrategy[str] | None = None,
    with_me: bool = False,
    max_terms: int = 8,
) -> st.SearchStrategy[Expression]:
    """Boolean expressions over :func:`terms` (options as there); see :func:`expressions_of`."""
    term = terms(schema, values=values, meta_keys=meta_keys, with_me=with_me, max_matchers=2)
    return expressions_of(term, max_terms=max_terms)


def filters(
    schema: Schema | None = None,
    *,
    values: st.SearchStrategy[str] = any_text,
    meta_keys: st.SearchStrategy[str] | None = None,
    with_me: bool = False,
    max_terms: int = 6,
    boolean: bool = False,
) -> st.SearchStrategy[Filter]:
    """Filter ASTs; with a schema, ones that bind under it.

    ``values`` draws the text of plain matchers and function arguments: pass a
    small pool to make filters that actually select some of your entities.
    ``boolean`` mixes in :func:`expressions` (``AND``, ``OR``, ``NOT``,
    parentheses); otherwise the filters are terms side by side.
    """
    plain = st.lists(terms(schema, values=values, meta_keys=meta_keys, with_me=with_me), max_size=max_terms).map(
        lambda found: Filter(tuple(found))
    )
    if not boolean:
        return plain
    nested = expressions(schema, values=values, meta_keys=meta_keys, with_me=with_me, max_terms=max_terms).map(
        Filter.of
    )
    return st.one_of(plain, nested, nested)


def filter_texts(
    schema: Schema | None = None,
    *,
    values: st.SearchStrategy[str] = any_text,
    meta_keys: st.SearchStrategy[str] | None = None,
    with_me: bool = False,
    max_terms: int = 6,
    boolean: bool = False,
) -> st.SearchStrategy[str]:
    """Filter texts (not only canonical ones); the options are :func:`filters`'."""
    drawn = filters(schema, values=values, meta_keys=meta_keys, with_me=with_me, max_terms=max_terms, boolean=boolean)
    return drawn.flatmap(spellings)
