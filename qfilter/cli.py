"""The ``qfilter`` command: explain a filter, or filter a JSON array with it.

Exit status: 0 on success, 2 for a bad filter or bad arguments (the error
with a caret on stderr), 1 for input that cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qfilter.core.errors import FilterError
from qfilter.core.explain import describe, logic_tree
from qfilter.core.parser import parse
from qfilter.core.plan import ME, Context, bind
from qfilter.core.schema import PRESETS, Schema
from qfilter.core.times import parse_timestamp
from qfilter.memory import compile_plan
from qfilter.service.demo import demo_entities

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_INPUT, EXIT_FILTER = 0, 1, 2
_JSON_TYPES = {dict: "an object", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


class InputError(Exception):
    """Input that is not a readable JSON array of entities."""


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"unknown time zone {name!r}") from None


def _schema_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--schema", choices=sorted(PRESETS), default="waylay", help="entity shape (default: waylay)")


def _read_entities(source: TextIO, name: str) -> list[Any]:
    try:
        data = json.load(source)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{name}: not valid JSON ({error})") from None
    if not isinstance(data, list):
        raise InputError(f"{name}: expected a JSON array of entities, got {_JSON_TYPES.get(type(data), 'null')}")
    return data


def _load(path: str | None) -> list[Any]:
    if path is None or path == "-":
        return _read_entities(sys.stdin, "stdin")
    try:
        with open(path, encoding="utf-8") as handle:
            return _read_entities(handle, path)
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None


def _now(text: str | None, tz: tzinfo) -> datetime:
    current = datetime.now(UTC)
    if text is None:
        return current
    return parse_timestamp(text, now=current, tz=tz)


def _query(args: argparse.Namespace) -> str:
    """The filter text: the QUERY argument, or the contents of --query-file."""
    if args.query_file is not None and args.query is not None and getattr(args, "file", "") is None:
        # With --query-file the one positional argument is the entities file.
        args.file, args.query = args.query, None
    if args.query_file is None:
        if args.query is None:
            raise InputError("give a QUERY or --query-file")
        query: str = args.query
        return query
    if args.query_file == "-":
        return sys.stdin.read().strip("\r\n")
    try:
        with open(args.query_file, encoding="utf-8") as handle:
            return handle.read().strip("\r\n")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{args.query_file}: cannot read ({error})") from None


def _query_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--query-file", metavar="PATH", help="read the filter from a file ('-': stdin), e.g. a long one"
    )


def _explain(args: argparse.Namespace) -> int:
    schema: Schema = PRESETS[args.schema]
    parsed = parse(_query(args), default_qualifier=schema.default_qualifier)
    plan = bind(parsed, schema, Context(user=ME))
    print(f"canonical: {parsed}")
    print("logic:")
    print("  " + logic_tree(plan).replace("\n", "\n  "))
    print(f"meaning: {describe(plan)}")
    return EXIT_OK


def _filter(args: argparse.Namespace) -> int:
    schema: Schema = PRESETS[args.schema]
    tz = args.tz or schema.timezone
    try:
        now = _now(args.now, tz)
    except FilterError as error:
        print(f"qfilter: --now: {error}", file=sys.stderr)
        return EXIT_FILTER
    parsed = parse(_query(args), default_qualifier=schema.default_qualifier)
    plan = bind(parsed, schema, Context(now=now, user=args.user, tz=args.tz))
    predicate = compile_plan(plan, tz)
    entities = demo_entities() if args.demo else _load(args.file)
    json.dump(predicate.filter(entities), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


def _sql(args: argparse.Namespace) -> int:
    # Imported here: SQLAlchemy is loaded for this command only.
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql, sqlite

    from qfilter.service.tables import REFERENCES
    from qfilter.sql import compile_clause

    reference = REFERENCES[args.schema]
    now = _now(args.now, reference.schema.timezone)
    clause = compile_clause(_query(args), reference.schema, reference.mapping, now=now, user=args.user)
    dialect = (sqlite if args.dialect == "sqlite" else postgresql).dialect(paramstyle="named")
    compiled = select(reference.key).where(clause).compile(dialect=dialect)
    print(f"{compiled};")
    for name, value in compiled.params.items():
        print(f"-- :{name} = {value.isoformat() if isinstance(value, datetime) else repr(value)}")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    try:
        from qfilter.service.app import serve
    except ImportError as error:  # fastapi or uvicorn missing
        raise InputError(f"serve needs the server extra: pip install 'qfilter[server]' ({error})") from None
    from sqlalchemy.exc import SQLAlchemyError

    entities = None if args.load is None else _load(args.load)
    try:
        serve(args.db, entities, args.host, args.port)
    except (OSError, ValueError, SQLAlchemyError) as error:
        raise InputError(f"serve: {error}") from None
    return EXIT_OK


_Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``qfilter`` command."""
    parser = argparse.ArgumentParser(
        prog="qfilter",
        description="The q search filter language: explain a filter or apply it to JSON entities.",
        epilog="A query that starts with '-' goes after '--': qfilter filter -- -tag:old items.json",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    explain = commands.add_parser("explain", help="show a filter's canonical text, logic and meaning")
    _schema_option(explain)
    _query_arguments(explain)
    explain.add_argument("query", metavar="QUERY", nargs="?")
    explain.set_defaults(run=_explain)

    filter_ = commands.add_parser("filter", help="print the entities of a JSON array that match")
    _schema_option(filter_)
    filter_.add_argument("--now", metavar="TIMESTAMP", help="the instant 'now' stands for (default: the clock)")
    filter_.add_argument("--user", metavar="ID", help="the current user, for @me")
    filter_.add_argument("--tz", metavar="ZONE", type=_zone, help="time zone of times without offset")
    filter_.add_argument("--demo", action="store_true", help="filter the bundled demo dataset")
    _query_arguments(filter_)
    filter_.add_argument("query", metavar="QUERY", nargs="?")
    filter_.add_argument("file", metavar="FILE", nargs="?", help="JSON array of entities (default: stdin)")
    filter_.set_defaults(run=_filter)

    sql = commands.add_parser("sql", help="print the SQL WHERE clause of a filter over the reference tables")
    _schema_option(sql)
    sql.add_argument("--dialect", choices=["sqlite", "postgresql"], default="sqlite", help="(default: sqlite)")
    sql.add_argument("--now", metavar="TIMESTAMP", help="the instant 'now' stands for (default: the clock)")
    sql.add_argument("--user", metavar="ID", default=ME, help="the current user, for @me (default: @me itself)")
    _query_arguments(sql)
    sql.add_argument("query", metavar="QUERY", nargs="?")
    sql.set_defaults(run=_sql)

    serve = commands.add_parser("serve", help="serve the Waylay query search and Timeplus saved queries over HTTP")
    serve.add_argument("--db", metavar="URL", help="SQLAlchemy URL (default: a SQLite file with the demo dataset)")
    serve.add_argument("--load", metavar="FILE", help="JSON array of Waylay query entities to store first")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    serve.set_defaults(run=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    run: _Command = args.run
    try:
        return run(args)
    except FilterError as error:
        print(error.render(), file=sys.stderr)
        return EXIT_FILTER
    except InputError as error:
        print(f"qfilter: {error}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:  # pragma: no cover
        return 130
    except BrokenPipeError:  # pragma: no cover - e.g. piped into head
        return EXIT_OK
