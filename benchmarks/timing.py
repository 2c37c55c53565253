"""Medians of repeated timings, interleaved so that drift hits every case alike.

A case is a zero-argument callable (a ``functools.partial`` where possible, so
that no Python-level wrapper is timed). Each case is first calibrated to a
loop count whose sample lasts about ``sample_time`` seconds; then the cases
are sampled in turn, round after round, each round starting one case later,
so that a slow moment of a shared machine, or a case that slows the next
one, lands on all of them instead of on one. The verdicts use the ratio
of two medians taken this way.
"""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Per-call seconds of one case: the median and the spread of the samples."""

    median: float
    low: float
    high: float
    loops: int
    samples: int


def _loops_for(timer: timeit.Timer, sample_time: float) -> int:
    loops = 1
    while True:
        elapsed = timer.timeit(loops)
        if elapsed >= sample_time / 4 or loops >= 1 << 24:
            break
        loops *= 4 if elapsed < sample_time / 40 else 2
    if elapsed <= 0:
        return loops
    return max(1, round(loops * sample_time / elapsed))


def measure(
    cases: Mapping[str, Callable[[], object]], *, rounds: int = 15, sample_time: float = 0.02
) -> dict[str, Timing]:
    """Time every case ``rounds`` times, interleaved; per-call medians."""
    timers = {name: timeit.Timer(function) for name, function in cases.items()}
    loops = {name: _loops_for(timer, sample_time) for name, timer in timers.items()}
    samples: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for round_ in range(rounds):
        # Each round starts with the next case: a case that disturbs the machine (a scan that
        # evicts the cache) then slows each of the others in as many rounds, not always the same one.
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            timer = timers[name]
            samples[name].append(timer.timeit(loops[name]) / loops[name])
    result = {}
    for name, values in samples.items():
        values.sort()
        quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        result[name] = Timing(statistics.median(values), quartiles[0], quartiles[2], loops[name], len(values))
    return result
