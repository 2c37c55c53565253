"""What each subcommand does once its arguments are parsed: explain, filter, sql, serve, completion."""

from __future__ import annotations

import argparse
import socket
import sys
from collections import Counter
from datetime import UTC, datetime, tzinfo
from typing import Any

from qfilter.core.binder import to_plan
from qfilter.core.errors import FilterError
from qfilter.core.explain import describe, logic_tree
from qfilter.core.ir import ME, Context
from qfilter.core.schema import Schema
from qfilter.core.times import parse_timestamp
from qfilter.memory import compile_plan
from qfilter.service.demo import demo_entities

from .errors import EXIT_OK, InputError, UsageError, read_text, say, shown
from .jsonstream import filter_entities, filter_file, load_entities
from .schemas import load_object, preset_or_module, read_schema_file

__all__ = ["explain", "filter_", "sql", "serve", "completion", "chosen_schema", "filter_text", "SHELLS"]

SHELLS = ("bash", "zsh", "tcsh")
"""The shells ``qfilter completion`` writes a script for (those shtab knows)."""


def chosen_schema(args: argparse.Namespace) -> Schema:
    """The schema of ``--schema`` (a preset or ``MODULE:NAME``) or ``--schema-file``."""
    if args.schema_file is not None:
        return read_schema_file(args.schema_file)
    return preset_or_module("waylay" if args.schema is None else args.schema)


def filter_text(args: argparse.Namespace) -> str | None:
    """Which of QUERY, ``--query`` and ``--query-file`` gives the filter; a message if none or several do.

    Returns ``None`` when one does (the text is read by :func:`_query`), else
    the usage error to report. With ``--query`` or ``--query-file``, the one
    positional argument of ``filter`` is its FILE.
    """
    options = (args.query_option is not None) + (args.query_file is not None)
    if options and args.query is not None and getattr(args, "file", "") is None:
        args.file, args.query = args.query, None
    given = options + (args.query is not None)
    if given == 0:
        return "give a filter: QUERY, --query TEXT or --query-file PATH (one that starts with '-' goes after '--')"
    if given > 1:
        return "give the filter once: as QUERY, --query TEXT or --query-file PATH"
    return None


def _query(args: argparse.Namespace) -> str:
    if args.query_file is not None:
        return read_text(args.query_file).strip("\r\n")
    text: str = args.query if args.query is not None else args.query_option
    return text


def _now(text: str | None, tz: tzinfo) -> datetime:
    current = datetime.now(UTC)
    if text is None:
        return current
    try:
        return parse_timestamp(text, now=current, tz=tz)
    except FilterError as error:
        raise UsageError(f"--now: {error}") from None


def explain(args: argparse.Namespace) -> int:
    """``qfilter explain``: the canonical text, the logic tree and the meaning in words."""
    schema = chosen_schema(args)
    plan = to_plan(_query(args), schema, context=Context(user=ME))
    say(f"canonical: {plan.filter}")
    say("logic:")
    say("  " + logic_tree(plan).replace("\n", "\n  "))
    say(f"meaning: {describe(plan)}")
    return EXIT_OK


def filter_(args: argparse.Namespace) -> int:
    """``qfilter filter``: the entities of a JSON array (a file, stdin or the demo dataset) that match."""
    schema = chosen_schema(args)
    now = _now(args.now, args.tz or schema.timezone)
    context = Context(now=now, user=args.user, tz=args.tz, user_hint="pass the user: --user ID")
    predicate = compile_plan(to_plan(_query(args), schema, context=context))
    if args.demo:
        filter_entities(predicate, demo_entities(), args.format)
    else:
        filter_file(predicate, args.file, args.format)
    return EXIT_OK


def sql(args: argparse.Namespace) -> int:
    """``qfilter sql``: the statement over the reference tables, or over the tables of ``--mapping``."""
    # Imported here: SQLAlchemy is loaded for this command only, and is the sql extra.
    try:
        from sqlalchemy import select
        from sqlalchemy.dialects import mysql, postgresql, sqlite
    except ModuleNotFoundError:
        raise InputError("sql needs SQLAlchemy: pip install 'qfilter-lang[sql]'") from None

    from qfilter.service.tables import REFERENCES
    from qfilter.sql import compile_clause

    schema = chosen_schema(args)
    reference = next((r for r in REFERENCES.values() if r.schema is schema), None)
    if args.mapping is not None:
        mapping = load_object("--mapping", args.mapping)
        if not isinstance(mapping, dict):
            raise UsageError(f"--mapping: {args.mapping} is {type(mapping).__name__}, not a SQL mapping (a dict)")
    elif reference is not None:
        mapping = reference.mapping
    else:
        raise UsageError("--mapping: a schema of your own needs its SQL mapping: --mapping MODULE:NAME")
    now = _now(args.now, args.tz or schema.timezone)
    try:
        clause = compile_clause(_query(args), schema, mapping, now=now, user=args.user, tz=args.tz)
    except (ValueError, TypeError) as error:
        if isinstance(error, FilterError):
            raise
        raise UsageError(f"--mapping: {error}") from None
    module = {"sqlite": sqlite, "postgresql": postgresql, "mariadb": mysql}[args.dialect]
    dialect = module.dialect(paramstyle="named")
    if args.dialect == "mariadb":
        dialect.is_mariadb = True  # MySQL's own dialect object, told it speaks to MariaDB
    if args.mapping is None and reference is not None:
        statement = select(reference.key).where(clause)
    else:
        statement = _own_statement(clause, mapping)
    compiled = statement.compile(dialect=dialect)
    say(f"{compiled};")
    for name, value in compiled.params.items():
        say(f"-- :{name} = {value.isoformat() if isinstance(value, datetime) else repr(value)}")
    return EXIT_OK


def _own_statement(clause: Any, mapping: dict[str, Any]) -> Any:
    """SELECT the filtered table's primary key (else ``*``) WHERE the clause: the table most locations are about."""
    import sqlalchemy as sa

    from qfilter.sql.mappings import filtered_table

    places = [p for value in mapping.values() for p in (value if isinstance(value, tuple) else (value,))]
    tables = Counter(table for table in map(filtered_table, places) if table is not None)
    if not tables:
        return sa.select(sa.literal_column("*")).where(clause)
    table = tables.most_common(1)[0][0]
    keys = list(getattr(table, "primary_key", ()))
    return (sa.select(*keys) if keys else sa.select(sa.literal_column("*")).select_from(table)).where(clause)


def _listening_address(host: str, port: int) -> None:
    """Refuse a ``--host`` that names no address to listen on, before the server starts (it would log a traceback)."""
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError, ValueError) as error:  # UnicodeError: a label the IDNA codec refuses
        raise UsageError(f"--host: cannot listen on {shown(host)} ({error})") from None


def serve(args: argparse.Namespace) -> int:
    """``qfilter serve``: the reference listing service."""
    try:
        from qfilter.service.server import serve as run_server
    except ImportError as error:  # fastapi or uvicorn missing
        raise InputError(f"serve needs the server extra: pip install 'qfilter-lang[server]' ({error})") from None
    from sqlalchemy.exc import SQLAlchemyError

    _listening_address(args.host, args.port)
    entities = None if args.load is None else load_entities(args.load)
    try:
        run_server(args.db, entities, args.host, args.port, workers=args.workers, count=args.count)
    except (OSError, ValueError, SQLAlchemyError) as error:
        raise InputError(f"serve: {_first_line(error)}") from None
    except ImportError as error:  # a database driver that is not installed (mysql:// wants mysqlclient)
        raise InputError(f"serve: a module the database needs is missing ({error})") from None
    except SystemExit as stop:  # uvicorn could not start (the port is taken...) and said why in its log
        if stop.code in (None, 0):
            return EXIT_OK
        raise InputError("serve: the server could not start (see the error above)") from None
    return EXIT_OK


def _first_line(error: Exception) -> str:
    """An exception's message without SQLAlchemy's statement and background lines, shortened."""
    line = str(error).strip().split("\n", 1)[0]
    return line if len(line) <= 300 else line[:300] + "..."


def completion(args: argparse.Namespace, parser_with_files: Any) -> int:
    """``qfilter completion SHELL``: the shell's completion script, written by shtab from the parser."""
    try:
        import shtab
    except ModuleNotFoundError:
        raise InputError("completion needs shtab: pip install 'qfilter-lang[completion]'") from None
    sys.stdout.write(shtab.complete(parser_with_files(shtab.FILE), shell=args.shell))
    return EXIT_OK
