"""The command's exit statuses, its two kinds of failure, and how it quotes what it was given."""

from __future__ import annotations

import sys

__all__ = [
    "EXIT_OK",
    "EXIT_INPUT",
    "EXIT_USAGE",
    "EXIT_STATUSES",
    "InputError",
    "UsageError",
    "shown",
    "shown_path",
    "reason",
    "say",
    "decoded",
    "read_text",
]

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2
EXIT_STATUSES = f"""\
exit status:
  {EXIT_OK}  success
  {EXIT_INPUT}  input that cannot be read (a file, the entities, the database), a server that
     cannot start, or an extra the command needs that is not installed
  {EXIT_USAGE}  a usage error: a bad filter (the error with a caret), a missing filter, a bad
     option value or schema, an unknown option"""
"""The exit statuses, as ``--help`` and docs/cli.md list them."""

_SHOWN = 60  # characters of a bad option value quoted back in a message


class InputError(Exception):
    """Input that is not a readable JSON array of entities, a file that cannot be read, a server that cannot start."""


class UsageError(Exception):
    """What the command line asks for cannot be done: a bad option value or schema (exit status 2)."""


def shown(value: str) -> str:
    """``value`` quoted for a message, shortened: an option may be 5,000 characters long."""
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def shown_path(path: str) -> str:
    """A file name for a message: as it is, unless it is long or holds what a terminal would not show."""
    return path if path.isprintable() and len(path) <= 4 * _SHOWN else shown(path)


def reason(error: OSError | ValueError) -> str:
    """Why a file could not be read, in the operating system's words."""
    return (error.strerror if isinstance(error, OSError) else None) or str(error)


def say(line: str) -> None:
    """Print a line; what stdout cannot encode (a lone surrogate from argv, a non-UTF-8 terminal) as escapes."""
    try:
        print(line)
    except UnicodeEncodeError:
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
        print(line.encode(encoding, "backslashreplace").decode(encoding, "replace"))


def decoded(data: bytes, name: str) -> str:
    """``data`` as UTF-8 text; an :class:`InputError` naming the first byte that is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = data[error.start : error.start + 1].hex()
        raise InputError(f"{name}: not UTF-8 text (byte 0x{bad} at offset {error.start})") from None


def read_text(path: str) -> str:
    """A whole file (``-``: stdin) as UTF-8 text; an :class:`InputError` if it cannot be read."""
    if path == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:  # a text stdin (a StringIO in tests, an embedding program)
            return str(sys.stdin.read())
        return decoded(stream.read(), "stdin")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        raise InputError(f"{shown_path(path)}: cannot read ({reason(error)})") from None
    return decoded(data, shown_path(path))
