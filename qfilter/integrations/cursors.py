"""The cursors of keyset paging: where the next page of a listing starts, opaque to clients, signed, checked on return.

A cursor holds the last row of a page as a :class:`~qfilter.core.backend.Position`
(its value for each sort key, then its id), the number of rows the walk has
passed, the instant ``now`` stood for on its first page (so that
``created:now-P1D/`` means the same on every page of one walk), and where the
page before started (for an exact ``prev`` link). It belongs to one listing
question: the schema's name, a digest of the filter text and the sort keys
in effect are in it, with a format version. :func:`encode_cursor` writes it
as compact JSON in base64url, followed by ``.`` and an HMAC-SHA256 of that
text under the application's key (its first 16 bytes, in base64url): the
URL-safe alphabet, nothing to escape. :func:`decode_cursor` takes it back
only if the HMAC is the key's (a tampered, truncated or foreign-key cursor
is refused before its JSON is read), the version is this one, it belongs to
the same schema, filter and sort, and every value has its field's kind;
anything else is a :class:`CursorError`, which the listing answers 400.

Why signed and not only validated: a position edited by a client would still
be a valid position and select a page, but not one the service gave out;
the signature makes every cursor one this application made, so a wrong page
cannot come from one. The signature is :mod:`hmac` of the standard library;
what is written here is the encoding around it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from qfilter.core.backend import Position
from qfilter.core.kinds import traits
from qfilter.core.schema import Field, Schema
from qfilter.core.sorting import SortKey

__all__ = [
    "CURSOR_VERSION",
    "MAX_CURSOR_LENGTH",
    "MIN_KEY_BYTES",
    "CursorError",
    "PageStart",
    "Cursor",
    "cursor_key",
    "encode_cursor",
    "decode_cursor",
]

CURSOR_VERSION = 1
"""The format of the cursors made now; a cursor of another version is refused (start from the first page)."""
MAX_CURSOR_LENGTH = 2048
"""The longest cursor: a longer one is refused unread, and a page whose cursor would be longer
(a sort by a long text) links its next page by offset instead."""
MIN_KEY_BYTES = 16
"""The shortest signing key accepted."""

_MAC_BYTES = 16  # HMAC-SHA256 truncated to 128 bits, as RFC 4868 does for SHA-256
_DOMAIN = b"qfilter-cursor/"  # the key signs nothing else this way
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


class CursorError(ValueError):
    """A cursor this listing does not take: malformed, tampered, of another version, or of another question."""


@dataclass(frozen=True, slots=True)
class PageStart:
    """Where a page starts: after ``position`` (a keyset page), or at ``offset`` from the start when it is ``None``."""

    offset: int
    position: Position | None = None


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page starts: strictly after ``position``, ``offset`` rows into the walk.

    ``now`` is the instant ``now`` stood for on the walk's first page;
    ``back`` where the page before this one started, when known.
    """

    position: Position
    offset: int
    now: datetime
    back: PageStart | None = None

    def without_back(self) -> Cursor:
        """The same page start without the page before it: the cursor of this page's ``self`` link."""
        return Cursor(self.position, self.offset, self.now)


def cursor_key(key: bytes | str) -> bytes:
    """The signing key as bytes (a text as its UTF-8); a ``ValueError`` when shorter than :data:`MIN_KEY_BYTES`."""
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(raw) < MIN_KEY_BYTES:
        raise ValueError(f"a cursor key needs at least {MIN_KEY_BYTES} bytes, got {len(raw)}")
    return raw


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> bytes:
    return hmac.new(key, _DOMAIN + payload.encode("ascii"), hashlib.sha256).digest()[:_MAC_BYTES]


def _digest(q: str) -> str:
    return _b64(hashlib.sha256(q.encode("utf-8", "surrogatepass")).digest()[:12])


def _sort_text(keys: tuple[SortKey, ...]) -> str:
    return ",".join(map(str, keys))


# -- values, typed by the field's kind ----------------------------------------------------------------


def _dump_value(field: Field, value: object) -> object:
    """A sort value as JSON: text, an ISO instant, a number (a ``Decimal`` as its text), a boolean, null."""
    if value is None:
        return None
    kind, reads = field.kind, traits(field.kind).reads  # a value is typed by what its kind reads
    if reads == "text" and isinstance(value, str):
        return value
    if reads == "instant" and isinstance(value, datetime) and value.utcoffset() is not None:
        return value.astimezone(UTC).isoformat()
    if reads == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if reads == "number" and isinstance(value, Decimal) and value.is_finite():
        return str(value)
    if reads == "boolean" and isinstance(value, bool):
        return value
    raise TypeError(f"a {kind.value} sort value cannot be {value!r}")


def _load_value(field: Field, raw: object) -> object:
    """A sort value read back in its field's kind; a :class:`CursorError` for anything of another type."""
    if raw is None:
        return None
    kind, reads = field.kind, traits(field.kind).reads
    if reads == "text" and isinstance(raw, str):
        return raw
    if reads == "instant" and isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            moment = None
        if moment is not None and moment.utcoffset() is not None:
            return moment.astimezone(UTC)
    if reads == "number":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, float):
            return raw  # JSON has no NaN nor infinity: the decoder refuses them
        if isinstance(raw, str) and _DECIMAL.fullmatch(raw):
            try:
                return Decimal(raw)
            except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
                pass
    if reads == "boolean" and isinstance(raw, bool):
        return raw
    raise CursorError(f"a value for {field.qualifier!r} is not a {kind.value}")


def _dump_id(value: object) -> object:
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise TypeError(f"a cursor holds an id that is a text or an integer, not {value!r}")


def _load_id(raw: object) -> object:
    if isinstance(raw, str) or (isinstance(raw, int) and not isinstance(raw, bool)):
        return raw
    raise CursorError("the id is not a text or an integer")


def _dump_position(position: Position, keys: tuple[SortKey, ...]) -> dict[str, object]:
    if len(position.values) != len(keys):
        raise ValueError(f"a position for {len(keys)} sort keys has {len(position.values)} values")
    values = [_dump_value(key.field, value) for key, value in zip(keys, position.values, strict=True)]
    return {"k": values, "i": _dump_id(position.id)}


def _load_position(raw: object, keys: tuple[SortKey, ...]) -> Position:
    if not isinstance(raw, dict) or set(raw) != {"k", "i"} or not isinstance(raw["k"], list):
        raise CursorError("the position is not a list of values and an id")
    if len(raw["k"]) != len(keys):
        raise CursorError(f"the position has {len(raw['k'])} values for {len(keys)} sort keys")
    values = tuple(_load_value(key.field, value) for key, value in zip(keys, raw["k"], strict=True))
    return Position(values, _load_id(raw["i"]))


def _load_count(raw: object, what: str) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < 2**63:
        return raw
    raise CursorError(f"{what} is not a row count")


# -- the cursor itself ----------------------------------------------------------------------------------


def encode_cursor(cursor: Cursor, *, key: bytes, schema: Schema, q: str, keys: tuple[SortKey, ...]) -> str | None:
    """The cursor's text for the listing of ``schema``, filter text ``q`` and sort ``keys`` (those in effect).

    ``None`` when it would be longer than :data:`MAX_CURSOR_LENGTH` (a long
    text as a sort value), or its position cannot be written (an id that is
    neither a text nor an integer): the listing then links by offset.
    """
    try:
        body: dict[str, object] = {
            "v": CURSOR_VERSION,
            "s": schema.name,
            "f": _digest(q),
            "o": _sort_text(keys),
            "n": cursor.now.astimezone(UTC).isoformat(),
            "a": cursor.offset,
            "p": _dump_position(cursor.position, keys),
        }
        if cursor.back is not None:
            back = cursor.back
            body["b"] = {"a": back.offset, "p": None if back.position is None else _dump_position(back.position, keys)}
    except TypeError:
        return None
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    payload = _b64(text.encode("utf-8"))
    made = f"{payload}.{_b64(_mac(key, payload))}"
    return made if len(made) <= MAX_CURSOR_LENGTH else None


def _read_signed(text: str, key: bytes) -> dict[str, Any]:
    """The JSON object of a cursor whose signature is ``key``'s; a :class:`CursorError` for anything else."""
    refused = CursorError(
        "cursor is not one this listing gave out (altered, cut short, or made with another key, "
        "as by another server or before a restart); start again from the first page"
    )
    if len(text) > MAX_CURSOR_LENGTH or _ALPHABET.fullmatch(text) is None:
        raise refused
    payload, mac = text.split(".")
    # Compared as text: base64 leaves spare bits in the last character, which a byte comparison would not see.
    if not hmac.compare_digest(mac, _b64(_mac(key, payload))):
        raise refused
    try:
        body = json.loads(_unb64(payload).decode("utf-8"))
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise refused from None
    if not isinstance(body, dict):
        raise refused
    return body


def decode_cursor(text: str, *, key: bytes, schema: Schema, q: str, keys: tuple[SortKey, ...]) -> Cursor:
    """The cursor ``text`` stands for, if it is one this application made for this question.

    ``schema``, ``q`` and ``keys`` (the sort in effect) are the request's;
    raises :class:`CursorError` saying what is wrong otherwise.
    """
    body = _read_signed(text, key)
    if body.get("v") != CURSOR_VERSION:
        raise CursorError("cursor is of another version of this listing; start again from the first page")
    if body.get("s") != schema.name:
        raise CursorError(f"cursor belongs to another listing than {schema.name!r}; follow this listing's own links")
    if body.get("f") != _digest(q):
        raise CursorError("cursor belongs to another filter (q); give the q it was made for, or start again")
    if body.get("o") != _sort_text(keys):
        made_for = body.get("o") if isinstance(body.get("o"), str) and body.get("o") else "the default order"
        raise CursorError(f"cursor belongs to another sort ({made_for}); give that sort, or start again")
    try:
        now = datetime.fromisoformat(body["n"])
    except (KeyError, TypeError, ValueError):
        raise CursorError("cursor has no instant for now") from None
    if now.utcoffset() is None:
        raise CursorError("cursor has no instant for now")
    back = None
    if "b" in body:
        raw = body["b"]
        if not isinstance(raw, dict) or set(raw) != {"a", "p"}:
            raise CursorError("cursor's previous page is not a page start")
        position = None if raw["p"] is None else _load_position(raw["p"], keys)
        back = PageStart(_load_count(raw["a"], "the previous page's offset"), position)
    return Cursor(_load_position(body.get("p"), keys), _load_count(body.get("a"), "the offset"), now, back)
