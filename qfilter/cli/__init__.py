"""The ``qfilter`` command: explain a filter, filter a JSON array with it, show its SQL, serve.

Exit status (``qfilter --help`` and docs/cli.md list them): 0 on success; 1
for input that cannot be read (a file, the entities, the database), a server
that cannot start, or a missing extra; 2 for a usage error: a bad filter (the
error with a caret on stderr), a missing filter, a bad option value or schema
(a one-line message on stderr), an unknown option. No option value makes it
print a traceback: the test suite runs :func:`main` on random hostile
ones.

The modules: :mod:`.commands` (what each subcommand does), :mod:`.jsonstream`
(the streaming JSON reader ``filter`` reads with), :mod:`.schemas` (presets,
``MODULE:NAME`` and schema files), :mod:`.errors` (exit statuses, messages).
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qfilter import __version__
from qfilter.core.errors import FilterError
from qfilter.core.ir import ME

from . import commands
from .errors import EXIT_INPUT, EXIT_OK, EXIT_STATUSES, EXIT_USAGE, InputError, UsageError, shown
from .jsonstream import FORMATS

if TYPE_CHECKING:
    from qfilter.integrations.listing import Counting

__all__ = ["main", "build_parser"]

MAX_WORKERS = 64
"""The most ``serve --workers``: each worker holds its own connection pool (PostgreSQL allows 100 connections)."""
_FILTER_COMMANDS = ("explain", "filter", "sql")
_DASH = "A filter that starts with '-' goes after '--': qfilter filter -- -tag:old items.json"
_QUERY_HELP = "the filter; one that starts with '-' goes after '--'"
_DIGITS_ONLY = re.compile(r"[0-9]{1,6}")  # ASCII: str.isdigit() takes '²' and '٥' too
_NEGATIVE_NUMBER = re.compile(r"-\d+$|-\d*\.\d+$")  # what argparse itself takes for a value, not an option


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
        raise argparse.ArgumentTypeError(f"unknown time zone {shown(name)}") from None


def _counting(text: str) -> Counting:
    """An argparse type: how the service's listings count (a ``qfilter.integrations.listing.Counting``)."""
    from qfilter.integrations.listing import read_counting  # the listing helpers only when serving

    try:
        return read_counting(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def read(text: str) -> int:
        if _DIGITS_ONLY.fullmatch(text) is None or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {high}, got {shown(text)}")
        return int(text)

    return read


def _schema_options(parser: argparse.ArgumentParser, files: object) -> None:
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument(
        "--schema",
        metavar="NAME",
        # None, not "waylay": argparse lets a value equal to the default pass beside its exclusive --schema-file.
        help="a preset, waylay (the default) or timeplus, or your own Schema as MODULE:NAME (mypkg.schemas:DEVICES)",
    )
    _files(
        chosen.add_argument(
            "--schema-file", metavar="PATH", help="your own schema, from a TOML or JSON file (see docs/cli.md)"
        ),
        files,
    )


def _filter_options(parser: argparse.ArgumentParser, files: object) -> None:
    parser.add_argument("--query", metavar="TEXT", dest="query_option", help="the filter, as an option: --query=-tag:x")
    _files(
        parser.add_argument(
            "--query-file", metavar="PATH", help="read the filter from a file ('-': stdin), e.g. a long one"
        ),
        files,
    )


def _context_options(parser: argparse.ArgumentParser, *, user_default: str | None, user_help: str) -> None:
    parser.add_argument("--now", metavar="TIMESTAMP", help="the instant 'now' stands for (default: the clock)")
    parser.add_argument("--user", metavar="ID", default=user_default, help=user_help)
    parser.add_argument(
        "--tz", metavar="ZONE", type=_zone, help="time zone of times without offset (default: the schema's)"
    )


def _files(action: argparse.Action, files: object) -> None:
    """Mark an argument that names a file, for the shell completion (shtab reads ``complete``)."""
    if files is not None:
        setattr(action, "complete", files)  # noqa: B010  (argparse's Action declares no such attribute)


def _build(files: object = None) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="qfilter",
        description="The q search filter language: explain a filter or apply it to JSON entities.",
        epilog=f"{_DASH}\n\n{EXIT_STATUSES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands_ = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    found: dict[str, argparse.ArgumentParser] = {}

    def command(name: str, help: str, run: Callable[..., int]) -> argparse.ArgumentParser:
        sub = commands_.add_parser(name, help=help, description=help[:1].upper() + help[1:] + ".")
        sub.set_defaults(run=run)
        found[name] = sub
        return sub

    explain = command("explain", "show a filter's canonical text, logic and meaning", commands.explain)
    explain.epilog = _DASH.replace("filter -- -tag:old items.json", "explain -- -tag:old")
    _schema_options(explain, files)
    _filter_options(explain, files)
    explain.add_argument("query", metavar="QUERY", nargs="?", help=_QUERY_HELP)

    filter_ = command("filter", "print the entities of a JSON array that match", commands.filter_)
    filter_.epilog = _DASH
    _schema_options(filter_, files)
    _context_options(filter_, user_default=None, user_help="the current user, for @me")
    filter_.add_argument("--demo", action="store_true", help="filter the bundled demo dataset")
    filter_.add_argument(
        "--format",
        choices=FORMATS,
        default="json",
        help="json: a JSON array, one entity a line (default); jsonl: JSON Lines; pretty: an indented JSON array",
    )
    _filter_options(filter_, files)
    filter_.add_argument("query", metavar="QUERY", nargs="?", help=_QUERY_HELP)
    _files(
        filter_.add_argument("file", metavar="FILE", nargs="?", help="JSON array of entities (default: stdin)"), files
    )

    sql = command("sql", "print the SQL statement of a filter over the reference tables or yours", commands.sql)
    sql.epilog = _DASH.replace("filter -- -tag:old items.json", "sql -- -tag:old")
    _schema_options(sql, files)
    sql.add_argument(
        "--dialect", choices=["sqlite", "postgresql", "mariadb"], default="sqlite", help="(default: sqlite)"
    )
    sql.add_argument(
        "--mapping",
        metavar="MODULE:NAME",
        help="the SQL mapping (a qfilter.sql mapping) of your own tables, for your own --schema",
    )
    _context_options(sql, user_default=ME, user_help="the current user, for @me (default: @me itself)")
    _filter_options(sql, files)
    sql.add_argument("query", metavar="QUERY", nargs="?", help=_QUERY_HELP)

    serve = command("serve", "serve the Waylay query search and Timeplus saved queries over HTTP", commands.serve)
    serve.add_argument("--db", metavar="URL", help="SQLAlchemy URL (default: a SQLite file with the demo dataset)")
    _files(
        serve.add_argument("--load", metavar="FILE", help="JSON array of Waylay query entities to store first"), files
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument(
        "--port", type=_bounded(0, 65535), default=8000, help="port to listen on, 0 to 65535 (default: 8000)"
    )
    serve.add_argument(
        "--workers",
        type=_bounded(1, MAX_WORKERS),
        default=1,
        metavar="N",
        help=f"worker processes sharing the database, 1 to {MAX_WORKERS} (default: 1); the app keeps no state",
    )
    serve.add_argument(
        "--count",
        type=_counting,
        default="exact",
        metavar="exact|capped:N|none",
        help="how listings count their matches: all (default), at most N (past it: total_at_least), or not at all",
    )

    completion = command(
        "completion",
        "print a shell completion script (bash: qfilter completion bash > ~/.local/share/bash-completion/"
        "completions/qfilter)",
        lambda args: commands.completion(args, build_parser),
    )
    completion.add_argument("shell", choices=commands.SHELLS, metavar="SHELL", help="bash, zsh or tcsh")
    return parser, found


def build_parser(files: object = None) -> argparse.ArgumentParser:
    """The argument parser of the ``qfilter`` command.

    ``files`` marks the arguments that name a file for shell completion
    (``shtab.FILE``); the command itself needs none.
    """
    return _build(files)[0]


def _dash_hint(argv: Sequence[str], commands_: dict[str, argparse.ArgumentParser]) -> str | None:
    """For a usage error: a word that starts with a single '-' was meant as the filter; say how to write it.

    The filter commands' one short option is ``-h``: any other ``-word`` is a filter's exclusion.
    """
    name = next((word for word in argv if word in commands_), None)
    if name not in _FILTER_COMMANDS:
        return None
    after = list(argv[list(argv).index(name) + 1 :])
    words = after[: after.index("--")] if "--" in after else after
    meant = next(
        (
            word
            for word in words
            if word.startswith("-")
            and not word.startswith("--")
            and word not in ("-", "-h")
            and _NEGATIVE_NUMBER.match(word) is None
        ),
        None,
    )
    if meant is None:
        return None
    quoted = shlex.quote(meant)
    return f"qfilter: a filter that starts with '-' goes after '--': qfilter {name} -- {quoted} (or --query={quoted})"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (module docstring), never raises ``SystemExit``."""
    words = list(sys.argv[1:] if argv is None else argv)
    parser, found = _build()
    try:
        args = parser.parse_args(words)
        if args.command in _FILTER_COMMANDS:
            problem = commands.filter_text(args)
            if problem is not None:
                found[args.command].error(problem)
    except SystemExit as stop:  # --help, --version (0), or a usage error argparse has printed (2)
        code = stop.code if isinstance(stop.code, int) else EXIT_USAGE
        hint = _dash_hint(words, found) if code == EXIT_USAGE else None
        if hint is not None:
            print(hint, file=sys.stderr)
        return code
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except FilterError as error:
        print(error.render(), file=sys.stderr)
        return EXIT_USAGE
    except UsageError as error:
        print(f"qfilter: {error}", file=sys.stderr)
        return EXIT_USAGE
    except InputError as error:
        print(f"qfilter: {error}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:  # pragma: no cover
        return 130
    except BrokenPipeError:  # pragma: no cover - e.g. piped into head
        return EXIT_OK
