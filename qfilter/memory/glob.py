"""``like()`` globs matched without backtracking (the language reference: function matchers).

A glob matches a text when the *whole* text matches it, ignoring case
(``str.lower`` on both sides): ``*`` is any run of characters, the empty one
included, ``?`` exactly one character, and every other character stands for
itself. A regular expression with ``.*`` for each star backtracks: on
Python's ``re``, ``*a*a*a*a*b`` against 1,000 characters takes minutes.

Here the glob is cut at its stars into segments of fixed length (literal
characters and ``?``). The first segment must sit at the start of the text,
the last at its end, and each one between them is placed at its leftmost
occurrence after the previous one. Taking the leftmost occurrence is never
wrong: a match that places a segment further right can place it there
instead and leave more room for the rest. So a test is one left-to-right
pass of searches, each at most O(len(text) × len(segment)).

A text of up to :data:`SHORT_TEXT` characters is tested by one regular
expression that places the segments so: each middle one an atomic group
``(?>.*?segment)``, which takes the leftmost place and never gives it back.
On longer texts the searches run in C, one call each. A segment of one
letter is a ``str.find`` (``memchr``). A longer one (its outer ``?`` only
shift where it may sit, so they are cut off first) is looked for from the
first occurrence of its first letter, by ``str.find`` or, with ``?``, a
regular expression of literals and ``.``, which cannot backtrack beyond the
segment's length. If it is not in the next :data:`TRIED_FIRST` places, the
rest of the text is searched at once, bit-parallel: on a text made of the
segment's own letters (``abab...`` against ``*a?b*``, or ``aaa...`` against
``*ab*x*``) both searches cost some nanoseconds per character, where the
bit-parallel one costs a fraction of one. Each character becomes a lane of a
few bits of one big integer, and the segment's occurrences are the AND of
that integer shifted once per letter of the segment (or once per doubling,
for evenly spaced repeats of one letter): a few passes of C over the text,
whatever the number of near misses (the text's other characters, Latin-1 or
not, set no bit). Segments with a letter beyond Latin-1 or more than 8
distinct letters keep ``str.find`` or the regular expression:
O(len(text) × len(segment)) still, only slower on such texts.

The common globs cost what their hand-written form does: no wildcard is an
equality, ``abc*`` ``startswith``, ``*abc`` ``endswith``, ``*abc*`` ``in``.
"""

from __future__ import annotations

import binascii
import functools
import re
from collections.abc import Callable

__all__ = ["GlobTest", "glob_test"]

GlobTest = Callable[[str], bool]
"""Whether a text (as it is, not lower-cased) matches a glob."""

TRIED_FIRST = 64
"""How many places a segment of 2 or more characters is tried at, in one search, before the bit-parallel one."""

SHORT_TEXT = 64
"""The longest text tested with one regular expression rather than a search per segment."""

BIT_PARALLEL_FROM = 256
"""The shortest stretch of text searched bit-parallel; below it the one-by-one checks are cheaper."""


class _Segment:
    """A run of the glob between stars: literal characters and ``?``, of fixed length, matched at one place."""

    __slots__ = ("text", "length", "pattern")

    def __init__(self, text: str) -> None:
        self.text = text
        self.length = len(text)
        self.pattern = None if "?" not in text else re.compile(_regex(text), re.DOTALL)

    def at(self, text: str, start: int) -> bool:
        """Whether the segment matches ``text`` at ``start`` (the caller made sure it fits)."""
        if self.pattern is None:
            return text.startswith(self.text, start)
        return self.pattern.match(text, start) is not None


def _regex(segment: str) -> str:
    # DOTALL (by the caller): '?' is any one character, a newline too.
    return "".join("." if c == "?" else re.escape(c) for c in segment)


class _Searched:
    """A middle segment of 2 or more characters, a letter at each end (outer ``?`` cut off): ``a?b``, ``ab``."""

    __slots__ = ("text", "length", "first", "search", "letters", "lane", "bit_parallel", "prepared")

    def __init__(self, text: str) -> None:
        self.text = text
        self.length = len(text)
        self.first = text[0]
        self.search = _searcher(text)
        distinct = sorted(set(text) - {"?"})
        # Per letter, its first and last offset in the segment.
        self.letters = tuple((c, text.index(c), text.rindex(c)) for c in distinct)
        # Bit-parallel search: each character of the text becomes a lane of `lane` bits with one bit
        # set for each of the segment's distinct characters, none for any other (see _lanes).
        self.lane = next((width for width in (1, 2, 4, 8) if len(distinct) <= width), 0)
        self.bit_parallel = bool(self.lane) and all(ord(c) <= 0xFF for c in distinct)
        self.prepared: tuple[bytes, tuple[tuple[int, int, int, int], ...]] | None = None  # on first use

    def _prepare(self) -> tuple[bytes, tuple[tuple[int, int, int, int], ...]]:
        """The translation table of the text's characters to lanes, and the terms ``(bit, first, step, count)``.

        Made on first use, since most texts are never long enough to need them.
        """
        literals = [(offset, c) for offset, c in enumerate(self.text) if c != "?"]
        distinct = [c for c, _, _ in self.letters]
        bit = {c: number for number, c in enumerate(distinct)}
        table = bytearray(b"\0" if self.lane == 8 else b"0") * 256
        for c, number in bit.items():
            table[ord(c)] = 1 << number if self.lane == 8 else ord(f"{1 << number:x}")
        # '?' (what Latin-1 'replace' leaves of other characters) stays unset.
        # The characters the segment has fewest of are ANDed first: in a text of near misses, they
        # are the likeliest to rule every place out early.
        uses = {c: sum(1 for _, d in literals if d == c) for c in distinct}
        terms = [
            (bit[c], first, step, count)
            for c in distinct
            for first, step, count in _runs([offset for offset, d in literals if d == c])
        ]
        terms.sort(key=lambda term: (uses[distinct[term[0]]], -term[1]))
        self.prepared = (bytes(table), tuple(terms))  # one assignment: threads at worst make it twice
        return self.prepared

    def find(self, text: str, start: int, end: int) -> int:
        """The leftmost ``i`` in ``[start, end - length]`` where the segment matches ``text``, or -1."""
        if end - start < self.length:  # also keeps find's end from going negative (from the text's end)
            return -1
        if end - start < BIT_PARALLEL_FROM:
            return self.search(text, start, end)
        # Only one-character finds on long texts: str.find of a longer run costs some nanoseconds
        # per character on a text made of the run's own letters ('ab' in 'aaa...'), one character
        # a fraction of one (memchr).
        start = text.find(self.first, start, end - self.length + 1)  # the first place it may start
        if start < 0:
            return -1
        window = min(end, start + TRIED_FIRST + self.length)
        found = self.search(text, start, window)
        if found >= 0:
            return found
        start = window - self.length + 1
        if end - start < self.length:
            return -1
        if not self.bit_parallel:
            return self.search(text, start, end)
        # Each letter's first and last occurrence bound where the segment may start (one-character
        # finds, cheap): often that rules it out, or leaves little to search.
        last = end - self.length
        for letter, first_at, last_at in self.letters:
            at = text.find(letter, start + first_at, last + first_at + 1)
            if at < 0:
                return -1
            start = max(start, at - first_at)
            last = min(last, text.rfind(letter, start + last_at, last + last_at + 1) - last_at)
            if last < start:
                return -1
        return self._bit_parallel(text, start, last + self.length)

    def _bit_parallel(self, text: str, start: int, end: int) -> int:
        table, terms = self.prepared or self._prepare()
        lane = self.lane
        lanes, bits = _lanes(text[start:end].encode("latin-1", "replace").translate(table), lane)
        lowest = _lowest_bits(lane, lanes)
        found = lowest
        # An occurrence at i needs the character of offset p of the segment p lanes below i's lane
        # (big-endian: the text's first character is the top lane): shifted up there by p lanes and
        # its bit down to the lane's lowest, it lines up with i. Some lanes of each shifted integer
        # hold other bits; `found` started with the lowest bits only, so ANDs keep just those.
        runs: dict[tuple[int, int, int], int] = {}  # the same run at other offsets: 'aaaa?aaaa?aaaa'
        for bit, first, step, count in terms:
            if count == 1:
                shift = lane * first - bit
                found &= bits << shift if shift >= 0 else bits >> -shift
            else:  # `count` offsets `step` apart: double the run covered instead of one shift each
                run = runs.get((bit, step, count))
                if run is None:
                    run = bits if lane == 1 else (bits >> bit) & lowest  # one-bit lanes hold nothing else
                    covered = 1
                    while covered * 2 <= count:
                        run &= run << (lane * step * covered)
                        covered *= 2
                    if covered < count:  # overlapping halves cover the rest
                        run &= run << (lane * step * (count - covered))
                    runs[bit, step, count] = run
                found &= run << (lane * first)
            if not found:
                return -1
        # The top lane left is the leftmost occurrence. Nothing is left above the text's lanes (the
        # first literal is not shifted up), nor in those of starts too near its end (the last
        # literal's lane would lie past it, where the shift brought in zeros).
        return start + lanes - 1 - (found.bit_length() - 1) // lane


_PACK = {
    # lanes of 4 bits (two to a byte) holding values below 4 -> a hexadecimal digit of two 2-bit lanes
    2: bytes(ord(f"{(byte >> 4 & 3) << 2 | byte & 3:x}") for byte in range(256)),
    # lanes of 2 bits (four to a byte) holding 0 or 1 -> a hexadecimal digit of four 1-bit lanes
    1: bytes(ord(f"{(byte >> 3 & 8) | (byte >> 2 & 4) | (byte >> 1 & 2) | (byte & 1):x}") for byte in range(256)),
}


def _lanes(digits: bytes, lane: int) -> tuple[int, int]:
    """How many lanes, and the big integer of them, from one translated byte per character.

    For lanes of 8 bits the bytes are the lanes. Otherwise each byte is a
    hexadecimal digit (a 4-bit lane): ``binascii.a2b_hex`` packs two to a
    byte, and each halving of the lane (for fewer distinct characters) maps
    every byte to one digit again and packs anew: a few passes in C over
    ever shorter bytes, and a smaller integer for every shift that follows.
    """
    width = 8 if lane == 8 else 4
    packed = digits
    while width >= lane and width < 8:
        if len(packed) % 2:  # a character no literal matches: the segment ends with a literal, never there
            packed += b"0"
        packed = binascii.a2b_hex(packed)
        if width == lane:
            break
        width //= 2
        packed = packed.translate(_PACK[width])
    return len(packed) * 8 // lane, int.from_bytes(packed, "big")


_LOWEST: dict[int, tuple[int, int]] = {}  # per lane width: (lanes, their lowest bits) for as many lanes as yet needed
_KEEP_LOWEST = 1 << 20  # lanes: longer texts build theirs each time rather than keep megabytes


def _lowest_bits(lane: int, lanes: int) -> int:
    """The integer with the lowest bit of each of ``lanes`` lanes of ``lane`` bits set."""
    if lane == 1:
        return (1 << lanes) - 1
    have, widest = _LOWEST.get(lane, (0, 0))
    if have < lanes:
        widest = int.from_bytes({2: b"\x55", 4: b"\x11", 8: b"\x01"}[lane] * (lanes * lane // 8 + 1), "big")
        have = widest.bit_length() // lane + 1
        if lanes <= _KEEP_LOWEST:
            _LOWEST[lane] = (have, widest)  # one assignment: threads at worst build it twice
    return widest >> (lane * (have - lanes))


def _runs(offsets: list[int]) -> list[tuple[int, int, int]]:
    """``offsets`` (ascending) as (first, step, count): evenly spaced runs of 4 or more, the rest one by one."""
    runs = []
    index = 0
    while index < len(offsets):
        last, step = index, 0
        if index + 1 < len(offsets):
            step = offsets[index + 1] - offsets[index]
            while last + 1 < len(offsets) and offsets[last + 1] - offsets[last] == step:
                last += 1
        if last - index + 1 >= 4:
            runs.append((offsets[index], step, last - index + 1))
            index = last + 1
        else:
            runs.append((offsets[index], 0, 1))
            index += 1
    return runs


def _searcher(segment: str) -> Callable[[str, int, int], int]:
    """``search(text, start, end)``: where ``segment`` first matches in ``text[start:end]``, or -1."""
    if "?" not in segment:
        return lambda text, start, end: text.find(segment, start, end)
    search = re.compile(_regex(segment), re.DOTALL).search
    return lambda text, start, end: -1 if (found := search(text, start, end)) is None else found.start()


def _middle(text: str) -> tuple[int, _Searched | str, int]:
    """A segment between stars as (leading ``?``, what must be found, trailing ``?``).

    One character is found with ``str.find`` (``memchr``); anything longer may
    need the bit-parallel search.
    """
    core = text.strip("?")
    before = len(text) - len(text.lstrip("?"))
    after = len(text) - before - len(core)
    return before, (_Searched(core) if len(core) > 1 else core), after


def _general(head: str, inner: list[str], tail: str) -> GlobTest:
    """The test of a glob with at least one star: ``head*inner[0]*...*tail``."""
    first, last = _Segment(head), _Segment(tail)
    middles = tuple(_middle(part) for part in inner if part)  # '**' is one star
    # Short texts: one regular expression does the same left-to-right placement. Each middle is
    # an atomic group `(?>.*?segment)`: its leftmost place, never given back; the tail is tried
    # back from the end once. Cheaper than the searches below for a few dozen characters, slower
    # for long texts (`.*?` steps through every character where str.find skips).
    atomic = "".join(f"(?>.*?{_regex(part)})" for part in inner if part)
    whole = re.compile(f"{_regex(head)}{atomic}.*{_regex(tail)}", re.DOTALL).fullmatch

    def matches(value: str) -> bool:
        text = value.lower()
        size = len(text)
        if size <= SHORT_TEXT:
            return whole(text) is not None
        end = size - last.length  # the middles must fit in text[head.length:end]
        if end < first.length or not last.at(text, end):  # head and tail may not overlap
            return False
        if not first.at(text, 0):
            return False
        position = first.length
        for before, core, after in middles:
            if isinstance(core, str):
                if end - after - position - before < len(core):  # also keeps find's end from going negative
                    return False
                found = text.find(core, position + before, end - after)
                length = len(core)
            else:
                found = core.find(text, position + before, end - after)
                length = core.length
            if found < 0:
                return False
            position = found + length + after
        return True

    return matches


@functools.lru_cache(maxsize=256)
def glob_test(glob: str) -> GlobTest:
    """The function telling whether a whole text matches ``glob``, ignoring case.

    ``*`` is any run of characters, ``?`` one character, every other
    character itself. The test costs at most O(len(text) × len(glob)).
    The tests of the last 256 globs are kept: a service's requests repeat them.
    """
    pattern = glob.lower()
    parts = pattern.split("*")
    if len(parts) == 1:
        if "?" not in pattern:
            return lambda value: value.lower() == pattern
        fullmatch = re.compile(_regex(pattern), re.DOTALL).fullmatch
        return lambda value: fullmatch(value.lower()) is not None
    head, *inner, tail = parts
    if "?" not in pattern:
        if not any(inner):
            if not head and not tail:
                return lambda value: True
            if not tail:
                return lambda value: value.lower().startswith(head)
            if not head:
                return lambda value: value.lower().endswith(tail)
        elif not head and not tail and sum(1 for part in inner if part) == 1:
            literal = next(part for part in inner if part)
            return lambda value: literal in value.lower()
    return _general(head, inner, tail)
