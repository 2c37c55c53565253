"""The ``qfilter`` command: explain a filter, or filter a JSON array with it.

Exit status: 0 on success; 2 for a bad filter (the error with a caret on
stderr) or a bad option value (a one-line message on stderr: an unknown zone
or a bad ``--now``, a port or worker count out of range, a host that does
not resolve); 1 for input that cannot be read (a file, the entities, the
database) or a server that cannot start. No option value makes it print a
traceback: ``tests/test_cli.py`` runs :func:`main` on random hostile ones.
"""

from __future__ import annotations

import argparse
import codecs
import json
import os
import re
import socket
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from typing import IO, Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qfilter.core.errors import FilterError
from qfilter.core.explain import describe, logic_tree
from qfilter.core.parser import parse
from qfilter.core.plan import ME, Context, bind
from qfilter.core.schema import PRESETS, Schema
from qfilter.core.times import parse_timestamp
from qfilter.memory import Predicate, compile_plan
from qfilter.service.demo import demo_entities

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_INPUT, EXIT_FILTER = 0, 1, 2
MAX_WORKERS = 64
"""The most ``serve --workers``: each worker holds its own connection pool (PostgreSQL allows 100 connections)."""
_JSON_TYPES = {dict: "an object", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
_SHOWN = 60  # characters of a bad option value quoted back in a message


class InputError(Exception):
    """Input that is not a readable JSON array of entities, a file that cannot be read, a server that cannot start."""


class OptionError(Exception):
    """An option value the command cannot use (exit status 2)."""


def _shown(value: str) -> str:
    """``value`` quoted for a message, shortened: an option may be 5,000 characters long."""
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def _shown_path(path: str) -> str:
    """A file name for a message: as it is, unless it is long or holds what a terminal would not show."""
    return path if path.isprintable() and len(path) <= 4 * _SHOWN else _shown(path)


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
        raise argparse.ArgumentTypeError(f"unknown time zone {_shown(name)}") from None


def _schema_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--schema", choices=sorted(PRESETS), default="waylay", help="entity shape (default: waylay)")


def _read_entities(source: TextIO, name: str) -> list[Any]:
    try:
        data = json.load(source)
    except (ValueError, UnicodeDecodeError) as error:  # ValueError: also an integer of over 4,300 digits
        raise InputError(f"{name}: not valid JSON ({error})") from None
    except RecursionError:
        raise InputError(f"{name}: nests deeper than Python's recursion limit") from None
    if not isinstance(data, list):
        raise InputError(f"{name}: expected a JSON array of entities, got {_JSON_TYPES.get(type(data), 'null')}")
    return data


def _load(path: str | None) -> list[Any]:
    if path is None or path == "-":
        return _read_entities(sys.stdin, "stdin")
    try:
        with open(path, encoding="utf-8") as handle:
            return _read_entities(handle, path)
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        raise InputError(f"{_shown_path(path)}: cannot read ({_reason(error)})") from None


def _reason(error: OSError | ValueError) -> str:
    return (error.strerror if isinstance(error, OSError) else None) or str(error)


# --- filter: the input streamed, the output written as it is found ---------------------
#
# The input is read in chunks and decoded as UTF-8; each element of the array
# is parsed on its own by the json module's own decoder, so every value is
# exactly what json.load gives (big integers, 1e-05, 5.0, NaN, lone
# surrogates...) while memory holds a chunk and a batch of entities, not the
# file. Matches are written a batch at a time.

_CHUNK = 1 << 16
_FORMATS = ("json", "jsonl", "pretty")
_BATCH = 512
_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_DIGITS = "0123456789"
_PROGRESS_EVERY = 0.1
"""Seconds between two redraws of the progress line."""
_NEAR_END = 64
"""A parse error this close to the end of what was read may just be a token cut in two."""
_KINDS = {"{": "an object", "[": "an array", '"': "a string", "t": "a boolean", "f": "a boolean", "n": "null"}
_KINDS.update(dict.fromkeys("-0123456789NI", "a number"))


@contextmanager
def _opened(path: str | None) -> Iterator[tuple[IO[Any], str]]:
    """FILE opened for reading bytes, and its name for messages; ``None`` or ``-`` is stdin."""
    if path is None or path == "-":
        yield getattr(sys.stdin, "buffer", sys.stdin), "stdin"
        return
    try:
        handle = open(path, "rb")
    except (OSError, ValueError) as error:
        raise InputError(f"{_shown_path(path)}: cannot read ({_reason(error)})") from None
    with handle:
        yield handle, path


class _Progress:
    """How much of the input was read, redrawn on one line of a terminal at most ten times a second."""

    def __init__(self, stream: TextIO, total: int | None) -> None:
        self.stream = stream
        self.total = total
        self.done = 0
        self.entities = 0
        self.shown = False
        self.shares_terminal = False
        """Whether the output goes to a terminal too: the line is erased before each write of it."""
        self._next = time.monotonic() + _PROGRESS_EVERY

    @classmethod
    def on_terminal(cls, source: IO[Any]) -> _Progress | None:
        """A progress line on stderr if it is a terminal, for ``source`` (its size if it is a regular file)."""
        try:
            if not sys.stderr.isatty():
                return None
        except (AttributeError, ValueError):
            return None
        total = None
        try:
            info = os.fstat(source.fileno())
            if stat.S_ISREG(info.st_mode):
                total = info.st_size - source.tell()
        except (AttributeError, OSError, ValueError):
            pass
        progress = cls(sys.stderr, total)
        try:
            progress.shares_terminal = sys.stdout.isatty()
        except (AttributeError, ValueError):
            pass
        return progress

    def read(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now >= self._next:
            self._next = now + _PROGRESS_EVERY
            self.draw()

    def draw(self) -> None:
        line = f"qfilter: {_size(self.done)}"
        if self.total:
            line += f" of {_size(self.total)} ({100 * self.done // self.total}%)"
        self.stream.write(f"\r\x1b[K{line}, {self.entities:,} entities")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Erase the line (before the output goes to the same terminal, and at the end)."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False

    def close(self) -> None:
        self.clear()


def _size(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 100_000 else f"{count / 1e3:.1f} kB"


def _text_chunks(source: IO[Any], name: str, progress: _Progress | None) -> Iterator[str]:
    """The input as text, a chunk at a time; bytes are decoded as UTF-8 (JSON's encoding)."""
    read = getattr(source, "read1", source.read)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # bytes read before this chunk
    while True:
        try:
            data = read(_CHUNK)
        except OSError as error:
            raise InputError(f"{name}: cannot read ({error.strerror or error})") from None
        if isinstance(data, str):  # a text stream (stdin replaced by a StringIO, say)
            if not data:
                return
            yield data
            continue
        if progress is not None:
            progress.read(len(data))
        pending = len(decoder.getstate()[0])
        try:
            text = decoder.decode(data, final=not data)
        except UnicodeDecodeError as error:
            where = offset - pending + error.start
            bad = error.object[error.start : error.start + 1].hex()
            raise InputError(f"{name}: not UTF-8 text (byte 0x{bad} at offset {where})") from None
        offset += len(data)
        if text:
            yield text
        if not data:
            return


class _Text:
    """The input decoded so far and not yet consumed: ``text[pos:]`` is unread."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self._chunks = chunks
        self.text = ""
        self.pos = 0
        self.eof = False
        self._char = 0  # characters, lines and column of the input before text[0]
        self._line = 1
        self._column = 1

    def more(self, at_least: int = 1) -> bool:
        """Read until at least ``at_least`` more characters are there; False if the input had none left."""
        text, pos = self.text, self.pos
        if pos:
            lines = text.count("\n", 0, pos)
            if lines:
                self._line += lines
                self._column = pos - text.rfind("\n", 0, pos)
            else:
                self._column += pos
            self._char += pos
            text, self.pos = text[pos:], 0
        parts, size = [text], len(text)
        while size < len(text) + at_least and not self.eof:
            chunk = next(self._chunks, None)
            if chunk is None:
                self.eof = True
            else:
                parts.append(chunk)
                size += len(chunk)
        self.text = "".join(parts)
        return size > len(text)

    def next_char(self) -> str:
        """The next character past JSON whitespace ('' at the end of the input), not consumed."""
        while True:
            match = _SPACE.match(self.text, self.pos)
            assert match is not None  # the pattern matches the empty string
            self.pos = match.end()
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.more():
                return ""

    def where(self, pos: int | None = None) -> str:
        """Line, column and character offset of ``text[pos]`` (default: the next unread one) in the whole input."""
        pos = self.pos if pos is None else pos
        lines = self.text.count("\n", 0, pos)
        column = pos - self.text.rfind("\n", 0, pos) if lines else self._column + pos
        return f"line {self._line + lines} column {column} (char {self._char + pos})"

    def decode(self, name: str) -> Any:
        """The JSON value that starts at ``pos``, consumed; reads more of the input while it may be cut off."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as error:
                message = f"{name}: not valid JSON ({error.msg} at {self.where(error.pos)})"  # before more() moves text
                cut = error.msg.startswith("Unterminated string") or error.pos >= len(self.text) - _NEAR_END
                if not (cut and self.more(max(_CHUNK, len(self.text) - self.pos))):
                    raise InputError(message) from None
            except ValueError:  # an integer longer than Python converts (sys.get_int_max_str_digits)
                limit = sys.get_int_max_str_digits()
                tail = self.text[-limit - 1 :]
                if not (len(tail) - len(tail.rstrip(_DIGITS)) > limit and self.more(max(_CHUNK, len(self.text)))):
                    raise InputError(
                        f"{name}: the value at {self.where()} has an integer of more than {limit} digits, "
                        "more than Python converts"
                    ) from None
            except RecursionError:
                raise InputError(
                    f"{name}: the value at {self.where()} nests deeper than Python's recursion limit"
                ) from None
            else:
                self.pos = end
                return value


def _read_array(chunks: Iterator[str], name: str, progress: _Progress | None = None) -> Iterator[dict[str, Any]]:
    """The objects of the JSON array the text is, one at a time; anything else is an :class:`InputError`."""
    text = _Text(chunks)
    first = text.next_char()
    if first != "[":
        if not first:
            raise InputError(f"{name}: empty, expected a JSON array of entities")
        if first == "\ufeff":
            raise InputError(f"{name}: not valid JSON (it starts with a byte order mark)")
        if first not in _KINDS:
            raise InputError(f"{name}: not valid JSON (Expecting value at {text.where()})")
        raise InputError(f"{name}: expected a JSON array of entities, got {_KINDS[first]}")
    text.pos += 1
    count = 0
    char = text.next_char()
    if char == "]":
        text.pos += 1
    while char != "]":
        count += 1
        if char != "{":
            if char in _KINDS:
                kind = _KINDS[char]
                raise InputError(f"{name}: element {count:,} (at {text.where()}) is {kind}, not an entity object")
            expected = "the array is not closed: the input ends" if not char else "Expecting value"
            raise InputError(f"{name}: not valid JSON ({expected} at {text.where()})")
        entity = text.decode(name)
        if progress is not None:
            progress.entities = count
        yield entity
        char = text.next_char()
        text.pos += 1
        if char == ",":
            char = text.next_char()
            if char == "]":
                raise InputError(f"{name}: not valid JSON (Expecting value at {text.where()})")
        elif char != "]":
            text.pos -= 1
            expected = "the array is not closed: the input ends" if not char else "Expecting ',' delimiter"
            raise InputError(f"{name}: not valid JSON ({expected} at {text.where()})")
    if text.next_char():
        raise InputError(f"{name}: not valid JSON (Extra data at {text.where()})")


class _Output:
    """Writes the matching entities as they are found: a JSON array (compact or indented) or JSON Lines."""

    def __init__(self, stream: TextIO, form: str) -> None:
        self.stream = stream
        self.form = form
        self.count = 0

    def write(self, entities: Iterable[Any]) -> None:
        write = self.stream.write
        pretty = self.form == "pretty"
        for entity in entities:
            if self.form == "jsonl":
                before, after = "", "\n"
            else:
                before, after = ("[\n" if self.count == 0 else ",\n") + ("  " if pretty else ""), ""
            self.count += 1
            try:
                write(before + self._dump(entity, ensure_ascii=False) + after)
            except UnicodeEncodeError:  # a lone surrogate, or a stdout that is not UTF-8: \\u escapes are the same JSON
                write(before + self._dump(entity, ensure_ascii=True) + after)

    def _dump(self, entity: Any, *, ensure_ascii: bool) -> str:
        try:
            if self.form == "pretty":
                return json.dumps(entity, ensure_ascii=ensure_ascii, indent=2).replace("\n", "\n  ")
            return json.dumps(entity, ensure_ascii=ensure_ascii, separators=(",", ":"))
        except RecursionError:
            raise InputError("an entity nests too deeply to be written") from None

    def close(self) -> None:
        if self.form != "jsonl":
            self.stream.write("[]\n" if self.count == 0 else "\n]\n")
        self.stream.flush()


def _write_matches(predicate: Predicate, entities: Iterable[Any], output: _Output, progress: _Progress | None) -> None:
    """Filter the entities a batch at a time, writing the matches of each batch before reading the next."""
    batch: list[Any] = []
    for entity in entities:
        batch.append(entity)
        if len(batch) == _BATCH:
            _write_batch(predicate.filter(batch), output, progress)
            batch = []
    _write_batch(predicate.filter(batch), output, progress)
    output.close()


def _write_batch(selected: list[Any], output: _Output, progress: _Progress | None) -> None:
    if selected:
        if progress is not None and progress.shares_terminal:
            progress.clear()
        output.write(selected)


def _now(text: str | None, tz: tzinfo) -> datetime:
    current = datetime.now(UTC)
    if text is None:
        return current
    try:
        return parse_timestamp(text, now=current, tz=tz)
    except FilterError as error:
        raise OptionError(f"--now: {error}") from None


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
    except (OSError, ValueError) as error:  # ValueError: not UTF-8, or a NUL in the path
        raise InputError(f"{_shown_path(args.query_file)}: cannot read ({error})") from None


def _query_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--query-file", metavar="PATH", help="read the filter from a file ('-': stdin), e.g. a long one"
    )


def _explain(args: argparse.Namespace) -> int:
    schema: Schema = PRESETS[args.schema]
    parsed = parse(_query(args), default_qualifier=schema.default_qualifier)
    plan = bind(parsed, schema, Context(user=ME))
    _say(f"canonical: {parsed}")
    _say("logic:")
    _say("  " + logic_tree(plan).replace("\n", "\n  "))
    _say(f"meaning: {describe(plan)}")
    return EXIT_OK


def _say(line: str) -> None:
    """Print a line; what stdout cannot encode (a lone surrogate from argv, a non-UTF-8 terminal) as escapes."""
    try:
        print(line)
    except UnicodeEncodeError:
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
        print(line.encode(encoding, "backslashreplace").decode(encoding, "replace"))


def _filter(args: argparse.Namespace) -> int:
    schema: Schema = PRESETS[args.schema]
    tz = args.tz or schema.timezone
    now = _now(args.now, tz)
    parsed = parse(_query(args), default_qualifier=schema.default_qualifier)
    plan = bind(parsed, schema, Context(now=now, user=args.user, tz=args.tz, user_hint="pass the user: --user ID"))
    predicate = compile_plan(plan)
    output = _Output(sys.stdout, args.format)
    if args.demo:
        _write_matches(predicate, demo_entities(), output, None)
        return EXIT_OK
    with _opened(args.file) as (source, name):
        progress = _Progress.on_terminal(source)
        try:
            _write_matches(
                predicate, _read_array(_text_chunks(source, name, progress), name, progress), output, progress
            )
        finally:
            if progress is not None:
                progress.close()
    return EXIT_OK


def _sql(args: argparse.Namespace) -> int:
    # Imported here: SQLAlchemy is loaded for this command only, and is the sql extra.
    try:
        from sqlalchemy import select
        from sqlalchemy.dialects import mysql, postgresql, sqlite
    except ModuleNotFoundError:
        raise InputError("sql needs SQLAlchemy: pip install 'qfilter-lang[sql]'") from None

    from qfilter.service.tables import REFERENCES
    from qfilter.sql import compile_clause

    reference = REFERENCES[args.schema]
    now = _now(args.now, reference.schema.timezone)
    clause = compile_clause(_query(args), reference.schema, reference.mapping, now=now, user=args.user)
    module = {"sqlite": sqlite, "postgresql": postgresql, "mariadb": mysql}[args.dialect]
    dialect = module.dialect(paramstyle="named")
    if args.dialect == "mariadb":
        dialect.is_mariadb = True  # MySQL's own dialect object, told it speaks to MariaDB
    compiled = select(reference.key).where(clause).compile(dialect=dialect)
    _say(f"{compiled};")
    for name, value in compiled.params.items():
        _say(f"-- :{name} = {value.isoformat() if isinstance(value, datetime) else repr(value)}")
    return EXIT_OK


_DIGITS_ONLY = re.compile(r"[0-9]{1,6}")  # ASCII: str.isdigit() takes '²' and '٥' too


def _bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def read(text: str) -> int:
        if _DIGITS_ONLY.fullmatch(text) is None or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {high}, got {_shown(text)}")
        return int(text)

    return read


def _listening_address(host: str, port: int) -> None:
    """Refuse a ``--host`` that names no address to listen on, before the server starts (it would log a traceback)."""
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError, ValueError) as error:  # UnicodeError: a label the IDNA codec refuses
        raise OptionError(f"--host: cannot listen on {_shown(host)} ({error})") from None


def _serve(args: argparse.Namespace) -> int:
    try:
        from qfilter.service.server import serve
    except ImportError as error:  # fastapi or uvicorn missing
        raise InputError(f"serve needs the server extra: pip install 'qfilter-lang[server]' ({error})") from None
    from sqlalchemy.exc import SQLAlchemyError

    _listening_address(args.host, args.port)
    entities = None if args.load is None else _load(args.load)
    try:
        serve(args.db, entities, args.host, args.port, workers=args.workers)
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
    filter_.add_argument(
        "--format",
        choices=_FORMATS,
        default="json",
        help="json: a JSON array, one entity a line (default); jsonl: JSON Lines; pretty: an indented JSON array",
    )
    _query_arguments(filter_)
    filter_.add_argument("query", metavar="QUERY", nargs="?")
    filter_.add_argument("file", metavar="FILE", nargs="?", help="JSON array of entities (default: stdin)")
    filter_.set_defaults(run=_filter)

    sql = commands.add_parser("sql", help="print the SQL WHERE clause of a filter over the reference tables")
    _schema_option(sql)
    sql.add_argument(
        "--dialect", choices=["sqlite", "postgresql", "mariadb"], default="sqlite", help="(default: sqlite)"
    )
    sql.add_argument("--now", metavar="TIMESTAMP", help="the instant 'now' stands for (default: the clock)")
    sql.add_argument("--user", metavar="ID", default=ME, help="the current user, for @me (default: @me itself)")
    _query_arguments(sql)
    sql.add_argument("query", metavar="QUERY", nargs="?")
    sql.set_defaults(run=_sql)

    serve = commands.add_parser("serve", help="serve the Waylay query search and Timeplus saved queries over HTTP")
    serve.add_argument("--db", metavar="URL", help="SQLAlchemy URL (default: a SQLite file with the demo dataset)")
    serve.add_argument("--load", metavar="FILE", help="JSON array of Waylay query entities to store first")
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
    serve.set_defaults(run=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (module docstring), never raises ``SystemExit``."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help (0), or a usage error argparse has printed (2)
        return stop.code if isinstance(stop.code, int) else EXIT_FILTER
    run: _Command = args.run
    try:
        return run(args)
    except FilterError as error:
        print(error.render(), file=sys.stderr)
        return EXIT_FILTER
    except OptionError as error:
        print(f"qfilter: {error}", file=sys.stderr)
        return EXIT_FILTER
    except InputError as error:
        print(f"qfilter: {error}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:  # pragma: no cover
        return 130
    except BrokenPipeError:  # pragma: no cover - e.g. piped into head
        return EXIT_OK
