"""The streaming JSON reader of ``qfilter filter``: a JSON array read an entity at a time, with progress.

The input is read in chunks and decoded as UTF-8; each element of the array
is parsed on its own by the json module's own decoder, so every value is
exactly what json.load gives (big integers, 1e-05, 5.0, NaN, lone
surrogates...) while memory holds a chunk and a batch of entities, not the
file. Matches are written a batch at a time, as they are found; a progress
line is drawn on stderr when it is a terminal. Input that cannot be read is
an :class:`~qfilter.cli.errors.InputError` with a one-line message.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import stat
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any, TextIO

from qfilter.memory import Predicate

from .errors import InputError, reason, shown_path

__all__ = ["FORMATS", "filter_entities", "filter_file", "load_entities"]

_JSON_TYPES = {dict: "an object", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


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


def load_entities(path: str | None) -> list[Any]:
    """The JSON array of entities in ``path`` (``None`` or ``-``: stdin), read whole (``serve --load``)."""
    if path is None or path == "-":
        return _read_entities(sys.stdin, "stdin")
    try:
        with open(path, encoding="utf-8") as handle:
            return _read_entities(handle, path)
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        raise InputError(f"{shown_path(path)}: cannot read ({reason(error)})") from None


_CHUNK = 1 << 16
FORMATS = ("json", "jsonl", "pretty")
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
        raise InputError(f"{shown_path(path)}: cannot read ({reason(error)})") from None
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


def filter_entities(predicate: Predicate, entities: Iterable[Any], form: str) -> None:
    """Write the entities that match to stdout in ``form`` (one of :data:`FORMATS`)."""
    _write_matches(predicate, entities, _Output(sys.stdout, form), None)


def filter_file(predicate: Predicate, path: str | None, form: str) -> None:
    """Stream the JSON array of entities in ``path`` (``None`` or ``-``: stdin), writing the matches to stdout."""
    output = _Output(sys.stdout, form)
    with _opened(path) as (source, name):
        progress = _Progress.on_terminal(source)
        try:
            _write_matches(
                predicate, _read_array(_text_chunks(source, name, progress), name, progress), output, progress
            )
        finally:
            if progress is not None:
                progress.close()
