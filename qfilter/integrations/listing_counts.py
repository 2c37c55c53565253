"""How a listing counts its matches: exactly, up to a cap, or not at all (:class:`Counting`).

Exported by :mod:`qfilter.integrations.listing` too, the names to import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from qfilter.integrations.listing_params import ASCII_DIGITS, MAX_OFFSET

__all__ = ["CountMode", "Counting", "EXACT_COUNT", "read_counting"]


CountMode: TypeAlias = Literal["exact", "capped", "none"]
"""How a listing counts its matches (:class:`Counting`)."""


@dataclass(frozen=True, slots=True)
class Counting:
    """How a listing counts its matches: ``exact`` (all), ``capped`` (at most ``cap`` + 1 rows) or ``none``.

    An exact count is the Waylay API's ``total``, and costs a read of every
    match. A capped count reads at most :attr:`at_most` rows: up to ``cap``
    matches it is exact, past it the body says ``total_at_least`` instead.
    ``none`` counts nothing, and the body has no total. Without an exact
    total there is no ``last`` link. :func:`read_counting` reads the text
    form (``exact``, ``capped:10000``, ``none``).
    """

    mode: CountMode = "exact"
    cap: int | None = None
    """The most matches counted exactly (``capped`` only)."""

    def __post_init__(self) -> None:
        if self.mode not in ("exact", "capped", "none"):
            raise ValueError(f"a count is exact, capped or none, not {self.mode!r}")
        if (self.mode == "capped") != (self.cap is not None):
            raise ValueError("a capped count needs its cap, and only a capped count has one")
        if self.cap is not None and not 1 <= self.cap <= MAX_OFFSET - 1:
            raise ValueError(f"a count's cap is between 1 and {MAX_OFFSET - 1}, got {self.cap}")

    @classmethod
    def capped(cls, cap: int) -> Counting:
        """Count at most ``cap`` + 1 matches: exact up to ``cap``, a lower bound past it."""
        return cls("capped", cap)

    @property
    def counts(self) -> bool:
        """Whether the listing counts at all (not ``none``)."""
        return self.mode != "none"

    @property
    def at_most(self) -> int | None:
        """How many matches to count at most (``cap`` + 1; ``None``: all of them; 0: none)."""
        if self.mode == "exact":
            return None
        return 0 if self.cap is None else self.cap + 1

    def exact_total(self, counted: int | None) -> int | None:
        """The number of matches, when ``counted`` (counted this way) gives it exactly; else ``None``."""
        if counted is None or self.mode == "none":
            return None
        if self.cap is not None and counted > self.cap:
            return None
        return counted

    def __str__(self) -> str:
        return f"capped:{self.cap}" if self.mode == "capped" else self.mode


EXACT_COUNT = Counting()
"""Count every match (the Waylay API's ``total``): the default."""


def read_counting(text: str) -> Counting:
    """A :class:`Counting` from its text: ``exact``, ``capped:N`` (N >= 1) or ``none``; a ``ValueError`` otherwise."""
    value = text.strip()
    if value == "exact":
        return EXACT_COUNT
    if value == "none":
        return Counting("none")
    name, _, cap = value.partition(":")
    if name == "capped" and ASCII_DIGITS.fullmatch(cap) and len(cap.lstrip("0")) <= len(str(MAX_OFFSET)):
        number = int(cap)
        if 1 <= number < MAX_OFFSET:
            return Counting.capped(number)
    raise ValueError(f"a count is exact, capped:N (N a whole number from 1) or none, got {text!r}")
