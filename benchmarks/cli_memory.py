"""Peak memory and time of ``qfilter filter`` over a big JSON array file (issue 13, item 7).

Not a test: generates a JSON array of Waylay-shaped entities of about
``--size-mb`` megabytes (default 100) into a temporary directory, runs
``python -m qfilter filter`` over it in a subprocess with stdout to a file,
and prints the child's peak resident set size (``wait4``'s ``ru_maxrss``)
and wall time, next to those of ``qfilter filter --demo`` (the cost of
starting Python and importing qfilter). The target is a peak under 100 MB.

    .venv/bin/python -m benchmarks.cli_memory [--size-mb 100] [--format json|jsonl|pretty] [--stdin]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python benchmarks/cli_memory.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.data import NOW, iter_waylay_entities

QUERY = "tag:demo created:2024/"
"""About one entity in six matches: the output is not empty, and not the whole input either."""


def generate(path: Path, size: int) -> int:
    """Write a JSON array of at least ``size`` bytes to ``path``; the number of entities."""
    count = 0
    written = 1
    with path.open("w", encoding="utf-8") as out:
        out.write("[")
        for entity in iter_waylay_entities(10**9):
            line = ("\n" if count == 0 else ",\n") + json.dumps(entity, ensure_ascii=False)
            out.write(line)
            written += len(line.encode("utf-8"))
            count += 1
            if written >= size:
                break
        out.write("\n]\n")
    return count


def measure(command: list[str], stdin: Path | None, stdout: Path) -> tuple[int, float, float]:
    """Exit status, peak RSS in MB and wall time in seconds of ``command``."""
    with stdout.open("wb") as out, stdin.open("rb") if stdin else open(os.devnull, "rb") as source:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdin=source, stdout=out)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss / 1024, elapsed  # ru_maxrss is in KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=100, help="size of the generated file (default: 100)")
    parser.add_argument("--format", choices=["json", "jsonl", "pretty"], default="json")
    parser.add_argument("--query", default=QUERY, help=f"the filter (default: {QUERY!r})")
    parser.add_argument("--stdin", action="store_true", help="pipe the file into stdin instead of naming it")
    args = parser.parse_args(argv)

    base = [sys.executable, "-m", "qfilter", "filter", "--now", NOW.isoformat(), "--format", args.format]
    with tempfile.TemporaryDirectory(prefix="qfilter-cli-memory-") as folder:
        data, out = Path(folder) / "entities.json", Path(folder) / "out.json"
        started = time.perf_counter()
        count = generate(data, int(args.size_mb * 1e6))
        size = data.stat().st_size
        print(f"input: {size / 1e6:.1f} MB, {count:,} entities (generated in {time.perf_counter() - started:.1f} s)")

        status, demo_rss, demo_time = measure([*base, "--demo", args.query], None, out)
        print(f"qfilter filter --demo:  peak RSS {demo_rss:6.1f} MB, {demo_time:6.2f} s (exit {status})")

        command = [*base, args.query] if args.stdin else [*base, args.query, str(data)]
        status, rss, elapsed = measure(command, data if args.stdin else None, out)
        lines = sum(1 for _ in out.open("rb"))
        where = "stdin" if args.stdin else "FILE"
        print(
            f"qfilter filter {where}:  peak RSS {rss:6.1f} MB, {elapsed:6.2f} s (exit {status}), "
            f"{out.stat().st_size / 1e6:.1f} MB in {lines:,} lines out, {size / 1e6 / elapsed:.1f} MB/s"
        )
        print(f"target: peak under 100 MB: {'met' if status == 0 and rss < 100 else 'NOT met'}")
        return 0 if status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
