"""Issue 18: adversarial ``like()`` globs on a 10,000-character value, against ``like(*a*)`` on it.

Until issue 18 a glob became a backtracking regular expression: ``*a*a*a*a*b``
took 106 s on 1,000 characters. Each glob here has 6 to 12 wildcards, stars
and ``?`` mixed: the backtracking cases (many stars before a letter the text
lacks) and the cases hardest for the matcher that replaced it (segments whose
letters turn up everywhere in the text while the segment itself matches
nowhere or only at the end, see ``qfilter/memory/glob.py``). Each value is 10,000 characters of ``a`` and
``b``. The baseline is the same entity against ``name:like(*a*)``: lower-case
the text once and find an ``a`` (there is one at the start of every value).
Both are timed through the compiled predicate, in the closures and in the
generated code, one entity per call; the row of a value shows its slowest glob.
"""

from __future__ import annotations

import random
from functools import partial
from typing import TYPE_CHECKING, Any

from .timing import measure

if TYPE_CHECKING:
    from .bench import Config, Row

SIZE = 10_000
LIMIT = 10.0
"""The most an adversarial glob may cost, in multiples of ``like(*a*)`` on the same value (issue 18)."""

GLOBS = (
    # backtracking: stars before a letter the value lacks or has only at its end
    "*a*a?a*a*a*b",
    "?*?*?*?*?*b",
    "*a?*?a*a?a*?*a*b",
    "*a*a*a*a*a*a*a*a*a*a*a*b",
    "a*?*a*?*a*?*b",
    "?????*b",
    # near misses: segments with '?' whose letters are everywhere, the segment rarely or nowhere
    "*?a?a?a?a?a?b*",
    "*a?b*a?b*a?b*a?b*",
    "*a?a?a?a?a?a?a?a?a?a?b*",
    "*b?b?b?b?b?b?a*",
    "*a??a??a*b??b??b*",
    "*aaaa?aaaa?aaaa*?*",
    # literal runs: str.find of 'ab' costs some nanoseconds per character of 'aaa...'
    "*ab*?*?*?*?*",
    "*abb*a*?*?*?*",
)


def values() -> dict[str, str]:
    """The values, by what they are; seeded, so every run measures the same ones."""
    rng = random.Random(18)
    return {
        "a × 10,000": "a" * SIZE,
        "a × 9,999 + b": "a" * (SIZE - 1) + "b",
        "ab × 5,000": "ab" * (SIZE // 2),
        "random a and b": "a" + "".join(rng.choice("ab") for _ in range(SIZE - 1)),
    }


def _wildcards(glob: str) -> int:
    return glob.count("*") + glob.count("?")


def run(config: Config) -> list[Row]:
    """One row per value and way of running the predicate: its slowest glob against ``like(*a*)``."""
    import qfilter
    from qfilter.memory import compile_plan

    from .bench import Row

    for glob in GLOBS:
        if not 6 <= _wildcards(glob) <= 12:
            raise AssertionError(f"{glob}: {_wildcards(glob)} wildcards, the issue's cases have 6 to 12")
    rows = []
    answers: dict[tuple[str, str], bool] = {}
    for specialise, subject in ((False, "closures"), (True, "generated code")):
        for label, value in values().items():
            entity = {"name": value}
            cases: dict[str, Any] = {}
            for glob in ("*a*", *GLOBS):
                plan = qfilter.bind(qfilter.parse(f'name:like("{glob}")'), qfilter.WAYLAY)
                predicate = compile_plan(plan, specialise=specialise)
                if (glob, label) not in answers:
                    answers[glob, label] = _spec(glob, value)
                if predicate(entity) != answers[glob, label]:
                    raise AssertionError(f"{glob} on {label}: the predicate answers {predicate(entity)}")
                cases[glob] = partial(predicate, entity)
            timings = measure(cases, rounds=config.rounds, sample_time=config.sample_time)
            baseline = timings.pop("*a*")
            slowest = max(timings, key=lambda glob: timings[glob].median)
            rows.append(
                Row(
                    "glob",
                    f"{label}: slowest of {len(GLOBS)}, {slowest}",
                    f"qfilter {subject}",
                    timings[slowest],
                    "like(*a*), same value",
                    baseline,
                    target=f"≤ {LIMIT:g}x",
                    limit=LIMIT,
                    note=(
                        f"Glob, {label} ({subject}), each glob in multiples of like(*a*): "
                        + ", ".join(f"`{glob}` {timings[glob].median / baseline.median:.2g}x" for glob in GLOBS)
                        + "."
                    ),
                )
            )
    return rows


def _spec(glob: str, value: str) -> bool:
    """Spec section 9's answer, by the textbook dynamic programme with one bit per prefix of the text.

    Bit j of ``matched`` says that the glob's characters so far match the
    first j characters of the lower-cased value; independent of the matcher
    it checks, and quick enough for 10,000 characters.
    """
    folded = value.lower()
    size = len(folded)
    every = (1 << (size + 1)) - 1
    ends_with: dict[str, int] = {}  # per character c: the bits j with folded[j - 1] == c
    for j, c in enumerate(folded, start=1):
        ends_with[c] = ends_with.get(c, 0) | 1 << j
    matched = 1
    for c in glob.lower():
        if c == "*":
            matched = every & ~((matched & -matched) - 1) if matched else 0
        else:
            matched = (matched << 1) & (every if c == "?" else ends_with.get(c, 0))
    return bool(matched >> size & 1)
