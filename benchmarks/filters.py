"""The filters the parse benchmark reads, in qfilter's language and in each peer's.

Every filter is written once, as a list of :class:`Term` (qualifier, kind,
matchers, excluded), and translated: to a ``q`` text, and to an expression of
the same meaning for each peer, applying the ``q`` combination logic (terms
of one qualifier and exclusion are OR-ed, an excluded group is negated,
groups are AND-ed, the matchers of a term are AND-ed). Where a peer's
language has no exact equivalent (a glob, a relative time) the closest
construct of the same size is used, and that is said next to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    qualifier: str
    kind: str  # "text", "tags", "exact", "time", "like"
    matchers: tuple[str, ...]
    excluded: bool = False


def term(spec: str, kind: str, excluded: bool = False) -> Term:
    qualifier, _, rest = spec.partition(":")
    return Term(qualifier, kind, tuple(rest.split("|")), excluded)


SEED = [
    term("name:demo", "text"),
    term("tag:demo", "tags"),
    term("tag:not-demo", "tags", excluded=True),
    term("resource:151CF", "exact"),
    term("created:2020-04-22T12:34:00+00:00/now-P1W", "time"),
]
"""The issue's seed filter, with the quoted interval of the Waylay docs."""

ONE = [term("tag:demo", "tags")]

TWENTY = [
    term("name:demo", "text"),
    term("name:temperature|hourly", "text"),
    term("name:test", "text", excluded=True),
    term("tag:demo", "tags"),
    term("tag:prio1", "tags"),
    term("tag:ab c", "tags"),
    term("tag:not-demo", "tags", excluded=True),
    term("tag:old", "tags", excluded=True),
    term("resource:151CF", "exact"),
    term("resource:APL4995", "exact"),
    term("resource:office-7", "exact"),
    term("resource:151D8", "exact", excluded=True),
    term("created_by:users/alice", "exact"),
    term("modified_by:users/bob", "exact"),
    term("user:users/carol", "exact", excluded=True),
    term("created:2020-01-01T00:00:00+00:00/2024-01-01T00:00:00+00:00", "time"),
    term("created:2022-01-01T00:00:00+00:00/2022-02-01T00:00:00+00:00", "time", excluded=True),
    term("modified:now-P1M/now", "time"),
    term("modified:2019-01-01T00:00:00+00:00/now-P1W", "time"),
    term("meta.description:like(*hourly*)", "like"),
]
"""Twenty terms over every kind of qualifier of the Waylay preset."""

FILTERS: dict[str, list[Term]] = {"seed": SEED, "1 term": ONE, "20 terms": TWENTY}

# --- qfilter -------------------------------------------------------------------------

_BARE = re.compile(r"""[^\s,"']+""")


def _q_matcher(kind: str, value: str) -> str:
    if kind == "like":
        return value
    if kind == "time" or not _BARE.fullmatch(value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def to_q(terms: list[Term]) -> str:
    return " ".join(
        ("-" if t.excluded else "") + t.qualifier + ":" + ",".join(_q_matcher(t.kind, m) for m in t.matchers)
        for t in terms
    )


# --- combination logic shared by the peers -------------------------------------------


def _groups(terms: list[Term]) -> list[tuple[bool, list[Term]]]:
    groups: dict[tuple[str, bool], list[Term]] = {}
    for t in terms:
        groups.setdefault((t.qualifier, t.excluded), []).append(t)
    return [(excluded, members) for (_, excluded), members in groups.items()]


def _combine(terms: list[Term], atom: Callable[[Term, str], str], and_: str, or_: str, not_: str) -> str:
    def conj(parts: list[str]) -> str:
        return parts[0] if len(parts) == 1 else "(" + f" {and_} ".join(parts) + ")"

    def disj(parts: list[str]) -> str:
        return parts[0] if len(parts) == 1 else "(" + f" {or_} ".join(parts) + ")"

    out = []
    for excluded, members in _groups(terms):
        alternatives = [conj([atom(t, m) for m in t.matchers]) for t in members]
        expression = disj(alternatives)
        if excluded:
            inner = expression if expression.startswith("(") else f"({expression})"
            expression = f"{not_} {inner}"
        out.append(expression)
    return f" {and_} ".join(out)


def _interval(value: str) -> tuple[str, str]:
    start, _, end = value.partition("/")
    return start, end


# --- odata-query ----------------------------------------------------------------------


def _odata_time(token: str) -> str:
    if token == "now":
        return "now()"
    if token.startswith("now-"):  # OData durations are days and time: P1W is P7D, P1M about P30D
        period = {"P1W": "P7D", "P1M": "P30D"}.get(token[4:], token[4:])
        return f"now() sub duration'{period}'"
    return token


def _odata_atom(t: Term, value: str) -> str:
    path = t.qualifier.replace(".", "/")
    if t.kind == "text":
        return f"contains({path},'{value}')"
    if t.kind == "tags":
        return f"tags/any(t: t eq '{value}')"
    if t.kind == "exact":
        return f"{path} eq '{value}'"
    if t.kind == "like":  # OData has no glob: contains() of the glob's text
        return f"contains({path},'{value[6:-2]}')"
    start, end = _interval(value)
    return f"({path} ge {_odata_time(start)} and {path} lt {_odata_time(end)})"


def to_odata(terms: list[Term]) -> str:
    return _combine(terms, _odata_atom, "and", "or", "not")


# --- scim2-filter-parser --------------------------------------------------------------


def _scim_atom(t: Term, value: str) -> str:
    if t.kind == "text":
        return f'{t.qualifier} co "{value}"'
    if t.kind in ("tags", "exact"):
        return f'{"tags" if t.kind == "tags" else t.qualifier} eq "{value}"'
    if t.kind == "like":  # SCIM has no glob: co (contains)
        return f'{t.qualifier} co "{value[6:-2]}"'
    start, end = _interval(value)  # SCIM has no relative times: the token as a string
    return f'({t.qualifier} ge "{start}" and {t.qualifier} lt "{end}")'


def to_scim(terms: list[Term]) -> str:
    return _combine(terms, _scim_atom, "and", "or", "not")


# --- luqum (Lucene) -------------------------------------------------------------------

_LUCENE_WORD = re.compile(r"[A-Za-z0-9_.*-]+")


def _lucene_value(value: str) -> str:
    return value if _LUCENE_WORD.fullmatch(value) else f'"{value}"'


def _luqum_atom(t: Term, value: str) -> str:
    if t.kind == "like":
        return f"{t.qualifier}:{value[5:-1]}"
    if t.kind == "time":
        start, end = _interval(value)
        return f'{t.qualifier}:["{start}" TO "{end}"}}'
    return f"{t.qualifier}:{_lucene_value(value)}"


def to_luqum(terms: list[Term]) -> str:
    return _combine(terms, _luqum_atom, "AND", "OR", "NOT")


# --- the floor --------------------------------------------------------------------------

FLOOR = re.compile(r"""-(?=[a-z_])|[a-z_][a-z0-9_.]*:|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|,|[^\s,"']+""")
"""One compiled regular expression that only cuts a ``q`` text into its tokens."""


def tokenise(text: str) -> list[str]:
    return FLOOR.findall(text)
