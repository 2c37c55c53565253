"""``like()`` globs in memory mean what spec section 9 says, at any length of text.

The meaning: the whole text matches, ignoring case (``str.lower`` on both
sides), ``*`` any run (the empty one too), ``?`` exactly one character, no
other character special. :func:`reference` below is that meaning written as
the textbook dynamic programme over the lower-cased text, independent of
``qfilter.memory.glob``; the properties hold the matcher, the closures and the
generated code equal to it, on short texts and on texts long enough (and
full enough of near misses) to reach every way the matcher searches.
How fast it is, is measured in ``benchmarks/glob_bench.py``, not here.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import examples

from qfilter import WAYLAY, bind, parse
from qfilter.memory import compile_plan, glob_test


def reference(glob: str, text: str) -> bool:
    """Whether ``text`` matches ``glob`` as a whole, ignoring case: row by row over the glob's characters."""
    pattern, folded = glob.lower(), text.lower()
    # matched[j]: the glob's characters so far match folded[:j]
    matched = [True] + [False] * len(folded)
    for c in pattern:
        if c == "*":
            for j in range(1, len(folded) + 1):
                matched[j] = matched[j] or matched[j - 1]
        else:
            for j in range(len(folded), 0, -1):
                matched[j] = matched[j - 1] and (c == "?" or c == folded[j - 1])
            matched[0] = False
    return matched[-1]


# Few letters, so that texts are full of near misses; Latin-1 and wider letters; 'İ' lower-cases to two
# characters ('i' and a combining dot), 'Σ' to 'σ' or, at the end of a word, 'ς'; '?' and '*' in a text
# are ordinary characters; '%', '_', '[', '.', '\\' are special elsewhere (SQL LIKE, regular expressions).
LETTERS = "aAbB"
ODD = "İiΣσςé€?*%_[.\\\n"
glob_characters = st.sampled_from("*?*?" + LETTERS + ODD)
text_characters = st.sampled_from(LETTERS + LETTERS + ODD)
globs = st.text(glob_characters, max_size=16)
short_texts = st.text(text_characters, max_size=40)
# Long texts: a short unit repeated hundreds of times, broken once by a few other characters, so
# that segments with '?' keep nearly matching well beyond the first places the matcher tries, and
# may match only in the break.
units = st.text(st.sampled_from("aabbİé€"), min_size=1, max_size=4)
long_texts = st.builds(
    lambda unit, before, inset, after, tail: unit * before + inset + unit * after + tail,
    units,
    st.integers(50, 300),
    st.text(text_characters, max_size=12),
    st.integers(0, 100),
    st.text(text_characters, max_size=4),
)
texts = st.one_of(short_texts, long_texts)


@st.composite
def long_heads_and_tails(draw: st.DrawFn) -> tuple[str, str]:
    """A text of a repeated unit, and a glob whose head and tail are a prefix and a suffix of it.

    Some of their letters become '?'. Their lengths are drawn apart, so that
    they often add up to more than the text: then head and tail would overlap,
    and the glob does not match, however well each fits.
    """
    unit = draw(st.text(st.sampled_from("ab"), min_size=1, max_size=3))
    text = unit * draw(st.integers(22, 120)) + draw(st.sampled_from(["", "a", "b"]))

    def blurred(part: str) -> str:
        return "".join("?" if draw(st.integers(0, 4)) == 0 else c for c in part)

    head = blurred(text[: draw(st.integers(0, len(text)))])
    tail = blurred(text[len(text) - draw(st.integers(0, len(text))) :])
    return head + "*" + draw(st.text(glob_characters, max_size=4)) + "*" + tail, text


# Globs of the shape that searches the most: stars around segments of 'a', 'b' and '?'.
segments = st.text(st.sampled_from("aab??"), min_size=1, max_size=6)
searching_globs = st.builds(
    lambda parts, head, tail: head + "*" + "*".join(parts) + "*" + tail,
    st.lists(segments, min_size=1, max_size=4),
    st.sampled_from(["", "a", "?", "b?"]),
    st.sampled_from(["", "b", "?", "?a"]),
)


@st.composite
def near_misses(draw: st.DrawFn) -> tuple[str, str]:
    """A long text of a repeated unit broken once, and a glob with a segment copied from around the break.

    Some of the segment's characters become '?', and sometimes one is changed,
    so that its literal runs turn up all along the text while the segment
    matches at the break (or nowhere), long after the places tried first.
    """
    # mostly 'a' and 'b'; 'é' is Latin-1 still, '€' and 'İ' (two characters lower-cased) are not
    unit = draw(st.text(st.sampled_from("aaabbbé€İ"), min_size=1, max_size=3))
    inset = draw(st.text(st.sampled_from("aabbé€İ?"), min_size=1, max_size=8))
    text = unit * draw(st.integers(300, 600)) + inset + unit * draw(st.integers(0, 50))
    folded = text.lower()
    at = len((text[: text.rindex(inset)]).lower())
    start = at - draw(st.integers(0, 6))
    segment = list(folded[start : at + len(inset.lower()) + draw(st.integers(0, 6))])
    inner = range(1, len(segment) - 1)
    for index in draw(st.lists(st.sampled_from(inner))) if inner else ():
        segment[index] = "?"
    if draw(st.booleans()):  # mostly a segment of Latin-1 in a text that need not be
        segment = ["?" if ord(c) > 0xFF else c for c in segment]
    if draw(st.booleans()):
        index = draw(st.integers(0, len(segment) - 1))
        segment[index] = "b" if segment[index] == "a" else "a"
    template = draw(st.sampled_from(["*{}*", "*{}*", "?*{}*", "*{}*?", "*{}*a*", "*a*{}*", "*{0}*{0}*"]))
    return template.format("".join(segment)), text


def test_the_reference_reads_the_spec_as_written() -> None:
    # The reference itself, on cases whose answer needs no program.
    assert reference("*", "") and reference("", "") and not reference("", "a")
    assert reference("a?c", "ABC") and not reference("a?c", "ac") and not reference("a?c", "abbc")
    assert reference("*a*", "xax") and not reference("*a*", "xyz")
    assert reference("İ", "i̇") and reference("?", "ß") and not reference("?", "İ")


@settings(max_examples=examples(1000))
@given(globs, texts)
def test_the_matcher_is_the_spec(glob: str, text: str) -> None:
    assert glob_test(glob)(text) == reference(glob, text)


@settings(max_examples=examples(500))
@given(long_heads_and_tails())
def test_long_heads_and_tails_are_the_spec(case: tuple[str, str]) -> None:
    glob, text = case
    assert glob_test(glob)(text) == reference(glob, text)


@settings(max_examples=examples(600))
@given(st.one_of(st.tuples(searching_globs, texts), near_misses()))
def test_segments_are_found_however_many_near_misses(case: tuple[str, str]) -> None:
    glob, text = case
    assert glob_test(glob)(text) == reference(glob, text)


@pytest.mark.parametrize(
    ("glob", "text", "expected"),
    [
        # spec section 9 and docs/language.md
        ("prj:*", "prj:alpha", True),
        ("prj:*", "PRJ:", True),
        ("prj:*", "my prj:alpha", False),
        ("*:done", "prj:Done", True),
        ("*temp?rature*", "Room temperature, hourly", True),
        ("*temp?rature*", "Room temprature", False),
        ("room*", "Room temperature, hourly", True),
        ("room", "Room temperature, hourly", False),
        ("50%_[x].", "50%_[x].", True),
        ("50?_*", "500_x", True),
        ("50%_[x].", "500_x.", False),
        ("a?c", "a\nc", True),  # '?' is any character, a line break too
        ("", "", True),
        ("*", "", True),
        ("?", "", False),
        ("**", "x", True),
        ("a" * 40 + "*" + "a" * 40, "a" * 70, False),  # head and tail may not overlap, on long texts too
        ("a" * 40 + "*" + "a" * 40, "a" * 80, True),
        ("ab?" * 30 + "*?" + "a" * 10, "abc" * 30 + "x" + "a" * 10, True),
        ("ab?" * 30 + "*?" + "a" * 10, "abc" * 30 + "a" * 10, False),  # the '?' after the star needs one more
        ("İ*", "i̇stanbul", True),  # both sides lower-cased: 'İ' is two characters then
        ("?stanbul", "İstanbul", False),
        ("??stanbul", "İstanbul", True),
        # the backtracking cases of issue 18: a regular expression took minutes on these
        ("*a*a*a*a*a*b", "a" * 100, False),
        ("*a*a*a*a*b", "a" * 1000, False),
        ("*a*a*a*a*b", "a" * 1000 + "b", True),
        ("*a?a*a?a*?*a*a*b", "a" * 10_000, False),
        # near misses all the way: 'a?b' needs 'a' and 'b' two apart, never so in 'abab...'
        ("*ab*?*?*?*?*", "a" * 10_000, False),
        ("*ab*?*?*?*?*", "a" * 10_000 + "b", False),
        ("*ab*?*?*?*?*", "a" * 10_000 + "bxyzw", True),
        ("*ba*ab*", "ab" * 5_000, True),
        ("*abb*", "ab" * 5_000, False),
        ("*abb*a*", "ab" * 5_000 + "b" + "a", True),
        ("*a?b*", "ab" * 5_000, False),
        ("*a?b*", "ab" * 5_000 + "aab", True),
        ("*a?a?a?a?a?b*", "ab" * 5_000, False),
        ("*a?a?a?a?a?b*", "ab" * 5_000 + "a" * 10 + "b", True),
        ("*a?b*b?b*", "aab" * 3_000, False),  # b every third character: never two apart
        ("*a?b*b?b*", "aab" * 3_000 + "bab", True),
        ("*é?€*", "é€" * 2_000 + "éx€", True),
        ("*é?€*", "é€" * 2_000, False),
    ],
)
def test_examples(glob: str, text: str, expected: bool) -> None:
    assert glob_test(glob)(text) is expected
    assert reference(glob, text) is expected


def test_a_segment_is_found_wherever_it_first_matches() -> None:
    # 'a?b' first matches 'aab' at k, whatever k (near misses before it: 'a' and 'b' alternate); the
    # 'x' right after it is found only if the search resumes exactly where 'aab' ends.
    filler = "ab" * 200
    for k in range(300):
        text = filler[:k] + "aab" + "x" + filler[k:]
        assert glob_test("*a?b*x*")(text) is True, k
        for glob in ("*a?b*", "*a?b*b*", "a*a?b*x*b", "*a?b*x?a*", "*a?b*a?b*", "*aab*x*", "*aab*bx?*"):
            assert glob_test(glob)(text) == reference(glob, text), (glob, k)


def test_repeats_of_one_character_count_every_one() -> None:
    # five in a row or seven two apart, never more than four in the text
    assert glob_test("*aaaaa?b*")("aaaabxb" * 300) is False
    assert glob_test("*aaaaa?b*")("aaaabxb" * 300 + "aaaaaxb") is True
    assert glob_test("*a?a?a?a?a?a?a*")("ababababbb" * 300) is False
    assert glob_test("*a?a?a?a?a?a?a*")("ababababbb" * 300 + "ababababababa") is True


def _quoted(glob: str) -> str:
    return '"' + glob.replace("\\", "\\\\").replace('"', '\\"') + '"'


@settings(max_examples=examples(300))
@given(st.one_of(globs.filter(bool), searching_globs), st.lists(texts, min_size=1, max_size=4))
def test_closures_and_generated_code_agree_with_the_spec(glob: str, names: list[str]) -> None:
    by_name: list[Any] = [{"name": name, "id": f"name {number}"} for number, name in enumerate(names)]
    by_meta: list[Any] = [{"meta": {"description": name}, "id": f"meta {number}"} for number, name in enumerate(names)]
    entities = by_name + by_meta
    for field, holders in (("name", by_name), ("meta.description", by_meta)):
        plan = bind(parse(f"{field}:like({_quoted(glob)})"), WAYLAY)
        expected = [e["id"] for e, name in zip(holders, names, strict=True) if reference(glob, name)]
        for specialise in (False, True):  # the closures alone; the generated code at once
            predicate = compile_plan(plan, specialise=specialise)
            assert [e["id"] for e in predicate.filter(entities)] == expected, (field, specialise)
            assert [e["id"] for e in entities if predicate(e)] == expected, (field, specialise)
