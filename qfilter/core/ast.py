"""The parsed form of a filter: immutable, hashable, typed nodes.

``str()`` of any node is its canonical text; parsing that text gives an equal
node. Source positions are kept for error messages but take no part in
equality or hashing, so ``parse(str(f)) == f`` holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeAlias

__all__ = ["Value", "Function", "Matcher", "Term", "Filter"]

# A value written bare reads back the same: no white space, ',', quotes or parentheses.
_BARE = re.compile(r"""[^\s,"'()]+""")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class Value:
    """A plain matcher: the text to match, with quotes and escapes removed."""

    text: str
    position: int = field(default=0, compare=False, repr=False)

    def __str__(self) -> str:
        return self.text if _BARE.fullmatch(self.text) else _quote(self.text)


@dataclass(frozen=True, slots=True)
class Function:
    """A function matcher ``name(argument, ...)`` (spec section 9).

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
class Filter:
    """A whole filter: its terms in their original order. No terms matches all."""

    terms: tuple[Term, ...] = ()
    source: str = field(default="", compare=False, repr=False)
    """The text this filter was parsed from, for error messages ("" if built in code)."""

    def __str__(self) -> str:
        return " ".join(map(str, self.terms))
