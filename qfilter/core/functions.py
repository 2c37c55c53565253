"""The function matchers of the language (spec section 9), defined once.

Every part that deals with functions (the parser's checks and errors, the
meaning in :mod:`~qfilter.core.plan`, :mod:`~qfilter.core.explain`, the
Hypothesis strategies, the OpenAPI examples) reads this table, so a function
is added or changed here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from .schema import Kind

__all__ = ["FunctionSpec", "FUNCTIONS", "FUNCTION_NAMES", "lookup", "closest"]

_ALL = frozenset(Kind)
_TEXTUAL = frozenset({Kind.TEXT, Kind.EXACT, Kind.USER, Kind.META})


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """One function: its canonical spelling, how many arguments it takes, which kinds accept it."""

    name: str
    """The canonical spelling, the one ``str()`` writes (``inIgnoreCase``)."""
    min_arguments: int
    max_arguments: int | None
    """``None``: no upper bound."""
    kinds: frozenset[Kind]
    """The kinds of qualifier that accept it."""
    nests: bool = False
    """Whether its arguments may be functions themselves (``not``, ``all``, ``any``)."""
    field_level: bool = False
    """A test of the whole field (``exists()``), not of one value: not allowed inside another function."""
    words: str = ""
    """What it tests, for documentation and error hints."""

    def arity(self) -> str:
        """The number of arguments in words: ``no argument``, ``one argument``, ``one or more arguments``."""
        if self.max_arguments == 0:
            return "no argument"
        if self.max_arguments == 1:
            return "one argument"
        return "one or more arguments"


_SPECS = (
    FunctionSpec("equals", 1, 1, _ALL - {Kind.TIME}, words="the value equals x exactly"),
    FunctionSpec("eq", 1, 1, _ALL - {Kind.TIME}, words="the value equals x exactly"),
    FunctionSpec("in", 1, None, _ALL - {Kind.TIME}, words="the value equals one of the arguments"),
    FunctionSpec("inIgnoreCase", 1, None, _TEXTUAL, words="the value equals one of the arguments, ignoring case"),
    FunctionSpec("like", 1, 1, _TEXTUAL, words="the value's text matches a glob (* any run, ? one character)"),
    FunctionSpec("contains", 1, 1, frozenset({Kind.TEXT, Kind.EXACT, Kind.META}), words="the value's text contains x"),
    FunctionSpec("lt", 1, 1, frozenset({Kind.NUMBER, Kind.TIME, Kind.META}), words="the value is less than x"),
    FunctionSpec("lte", 1, 1, frozenset({Kind.NUMBER, Kind.TIME, Kind.META}), words="the value is at most x"),
    FunctionSpec("gt", 1, 1, frozenset({Kind.NUMBER, Kind.TIME, Kind.META}), words="the value is greater than x"),
    FunctionSpec("gte", 1, 1, frozenset({Kind.NUMBER, Kind.TIME, Kind.META}), words="the value is at least x"),
    FunctionSpec("not", 1, 1, _ALL, nests=True, words="the value does not satisfy the argument"),
    FunctionSpec("all", 1, None, _ALL, nests=True, words="the value satisfies every argument"),
    FunctionSpec("any", 1, None, _ALL, nests=True, words="the value satisfies some argument"),
    FunctionSpec("exists", 0, 0, _ALL, field_level=True, words="the field has at least one value"),
)

FUNCTIONS: MappingProxyType[str, FunctionSpec] = MappingProxyType({spec.name.lower(): spec for spec in _SPECS})
"""Every function, by its name in lower case (names are read in any letter case)."""

FUNCTION_NAMES: tuple[str, ...] = tuple(spec.name for spec in _SPECS)
"""The canonical spellings, in the spec's order."""


def lookup(name: str) -> FunctionSpec | None:
    """The function called ``name`` in any letter case; ``None`` if there is none."""
    return FUNCTIONS.get(name.lower())


def closest(name: str) -> str | None:
    """The canonical spelling of the known function closest to ``name``, if one is close."""
    import difflib  # for a suggestion in an error message only: not worth importing at start-up

    found = difflib.get_close_matches(name.lower(), list(FUNCTIONS), n=1, cutoff=0.6)
    return FUNCTIONS[found[0]].name if found else None
