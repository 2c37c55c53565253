"""Cursor paging and counts in the listing helpers (``qfilter.integrations.listing``), in memory.

A cursor carries a page's last row (its sort values, typed by kind, and its
id) and what it belongs to; every cursor that is not one the listing made
for this very question is a 400 naming ``cursor``, whatever was done to it.
A walk by cursor sees every entity that exists throughout exactly once,
whatever is inserted and deleted between its pages. Counts are exact,
capped or none, and the body and links say only what is known.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import NOW, examples

from qfilter import WAYLAY, Field, Kind, Schema
from qfilter.core.backend import Position
from qfilter.core.sorting import parse_sort
from qfilter.integrations import cursors, listing
from qfilter.memory import MemoryCompiler, sort_entities

KEY = b"a test key of 32 bytes, no more."
OTHER_KEY = b"another key, of 32 bytes as well"
BASE = "https://example.com/items"
ITEMS = Schema(
    "items",
    (
        Field("name", Kind.TEXT, "name"),
        Field("owner", Kind.USER, "owner"),
        Field("created", Kind.TIME, "created"),
        Field("prio", Kind.NUMBER, "prio"),
        Field("active", Kind.BOOLEAN, "active"),
        Field("code", Kind.EXACT, "code"),
        Field("tag", Kind.EXACT, "tags", many=True),
    ),
)
COMPILER = MemoryCompiler(ITEMS)
T0 = datetime(2021, 1, 10, tzinfo=UTC)
SORTS = st.lists(
    st.tuples(st.sampled_from(["name", "owner", "created", "prio", "active", "code"]), st.booleans()),
    max_size=3,
    unique_by=lambda pair: pair[0],
).map(lambda pairs: ",".join(("-" if down else "") + name for name, down in pairs))


@st.composite
def entity(draw: st.DrawFn, number: int) -> dict[str, Any]:
    """An entity with few distinct values, so that ties (and missing values) are common."""
    return {
        "id": number,
        "name": draw(st.none() | st.sampled_from(["a", "B", "b", "é", "z"])),
        "owner": draw(st.none() | st.sampled_from(["users/a", "users/b"])),
        "created": draw(st.none() | st.integers(0, 3).map(lambda h: (T0 + timedelta(hours=h)).isoformat())),
        "prio": draw(st.none() | st.sampled_from([-1, 0, 2, 2.5, Decimal("2.50")])),
        "active": draw(st.none() | st.booleans()),
        "code": draw(st.none() | st.sampled_from(["9", "10", "x"])),
        "tags": draw(st.lists(st.sampled_from(["t", "u"]), max_size=2, unique=True)),
    }


def entities(most: int = 25) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.integers(0, most).flatmap(lambda n: st.tuples(*(entity(i) for i in range(n))).map(list))


def query(href: str) -> str:
    parts = urlsplit(href)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == BASE
    return parts.query


def read(query_string: str, **options: Any) -> listing.ListingParams:
    options.setdefault("cursor_key", KEY)
    return listing.read_query_string(query_string, ITEMS, now=NOW, **options)


def serve(rows: list[dict[str, Any]], query_string: str, **options: Any) -> dict[str, Any]:
    """One page of a memory listing over ``rows``, by the helpers as a handler uses them."""
    counting = options.pop("counting", listing.EXACT_COUNT)
    params = read(query_string, **options)
    matches = params.order_by(COMPILER)(params.where(COMPILER).filter(rows))
    total = None if not counting.counts else len(matches[: counting.at_most])
    key = options.get("cursor_key", KEY)
    return listing.page_body(
        params.fetch_from(matches) if key is not None else params.window(matches),
        total=total,
        params=params,
        base_url=BASE,
        items_key="items",
        counting=counting,
        cursor_key=key,
    )


def refusal(query_string: str, **options: Any) -> dict[str, object]:
    with pytest.raises(listing.ParameterError) as caught:
        read(query_string, **options)
    body = listing.error_body(caught.value)
    assert body["code"] == 400
    return body


def a_cursor(rows: list[dict[str, Any]], query_string: str) -> str:
    href = serve(rows, query_string)["_links"]["next"]["href"]
    return parse_qs(query(href))["cursor"][0]


ROWS: list[dict[str, Any]] = [
    {
        "id": i,
        "name": f"n{i % 4}",
        "prio": i % 3,
        "created": (T0 + timedelta(hours=i)).isoformat(),
        "active": i % 2 == 0,
        "owner": None,
        "code": str(i),
        "tags": [],
    }
    for i in range(12)
]


# -- the cursor itself -------------------------------------------------------------------------------------


POSITION_VALUES = {
    "name": st.none() | st.text(max_size=20),
    "owner": st.none() | st.text(max_size=5),
    "created": st.none()
    | st.datetimes(
        min_value=datetime(2, 1, 1),
        max_value=datetime(9998, 12, 31),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]),
    ),
    "prio": st.none()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.decimals(allow_nan=False, allow_infinity=False),
    "active": st.none() | st.booleans(),
    "code": st.none() | st.text(max_size=5),
}


@settings(max_examples=examples(300))
@given(
    data=st.data(),
    sort=SORTS,
    identity=st.integers(-(2**63), 2**63) | st.text(max_size=10),
    offset=st.integers(0, 2**63 - 1),
)
def test_a_cursor_reads_back_every_value_in_its_fields_kind(
    data: st.DataObject, sort: str, identity: object, offset: int
) -> None:
    keys = parse_sort(sort, ITEMS)
    values = tuple(data.draw(POSITION_VALUES[key.field.qualifier]) for key in keys)
    made = cursors.Cursor(Position(values, identity), offset, NOW, cursors.PageStart(3, None))
    text = cursors.encode_cursor(made, key=KEY, schema=ITEMS, q="tag:t", keys=keys)
    if text is None:  # too long to be a cursor: the listing links by offset then
        return
    assert len(text) <= cursors.MAX_CURSOR_LENGTH
    back = cursors.decode_cursor(text, key=KEY, schema=ITEMS, q="tag:t", keys=keys)
    assert back == made
    for value, read_back in zip(values, back.position.values, strict=True):
        assert type(read_back) is (type(value) if not isinstance(value, datetime) else datetime)


def test_a_cursor_is_url_safe_and_opaque_but_typed_inside() -> None:
    text = a_cursor(ROWS, "q=-tag:secret&sort=-created,prio&limit=2")
    assert all(character.isalnum() or character in "-_." for character in text)
    payload = json.loads(base64.urlsafe_b64decode(text.split(".")[0] + "=="))
    assert payload["p"] == {"k": [(T0 + timedelta(hours=10)).isoformat(), 1], "i": 10}
    assert payload["o"] == "-created,prio" and payload["s"] == "items" and payload["v"] == cursors.CURSOR_VERSION
    assert "secret" not in base64.urlsafe_b64decode(text.split(".")[0] + "==").decode()  # q is a digest


def test_a_long_sort_value_links_by_offset() -> None:
    rows = [{"id": i, "name": "x" * 3000 + str(i)} for i in range(3)]
    body = serve(rows, "sort=name&limit=1")
    assert body["_links"]["next"]["href"].endswith("&offset=1")
    assert [item["id"] for item in serve(rows, query(body["_links"]["next"]["href"]))["items"]] == [1]


def test_a_key_needs_16_bytes() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        listing.read_params(q=None, limit=None, offset=None, schema=ITEMS, cursor_key="short")
    assert cursors.cursor_key("x" * 16) == b"x" * 16


# -- cursors that are refused: 400 naming cursor, never a page ----------------------------------------------


def _mutations() -> st.SearchStrategy[Any]:
    """Ways to spoil a cursor's text: change, drop or add characters, cut it, mix in another cursor's part."""
    alphabet = st.sampled_from("ABCxyz019-_.=%+/ é")
    return st.one_of(
        st.tuples(st.just("replace"), st.integers(0, 10**6), alphabet),
        st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 5)),
        st.tuples(st.just("insert"), st.integers(0, 10**6), st.text(alphabet, min_size=1, max_size=3)),
        st.tuples(st.just("cut"), st.integers(0, 10**6), st.none()),
        st.tuples(st.just("resign"), st.just(0), st.none()),
        st.tuples(st.just("swap"), st.just(0), st.none()),
    )


def _spoiled(text: str, mutation: tuple[str, int, Any], other: str) -> str:
    kind, at, what = mutation
    at %= len(text) + 1
    if kind == "replace":
        return text[:at] + str(what) + text[at + 1 :]
    if kind == "delete":
        return text[:at] + text[at + what :]
    if kind == "insert":
        return text[:at] + str(what) + text[at:]
    if kind == "cut":
        return text[:at]
    if kind == "resign":  # a payload changed by hand, signed with a key that is not the listing's
        payload = json.loads(base64.urlsafe_b64decode(text.split(".")[0] + "=="))
        payload["p"]["i"] = -1
        made = cursors.Cursor(Position(tuple(payload["p"]["k"]), -1), payload["a"], NOW)
        forged = cursors.encode_cursor(made, key=OTHER_KEY, schema=ITEMS, q="", keys=parse_sort("prio", ITEMS))
        assert forged is not None
        return forged
    return text.split(".")[0] + "." + other.split(".")[1]  # swap: another cursor's signature


@settings(max_examples=examples(500))
@given(mutation=_mutations())
def test_a_spoiled_cursor_is_a_400_naming_cursor(mutation: tuple[str, int, Any]) -> None:
    text = a_cursor(ROWS, "sort=prio&limit=3")
    other = a_cursor(ROWS, "sort=prio&limit=5")
    spoiled = _spoiled(text, mutation, other)
    if spoiled == text or not spoiled.strip():
        return  # unchanged (a replace with the same character), or no cursor at all
    body = refusal(urlencode({"sort": "prio", "limit": 3, "cursor": spoiled}))
    assert body["parameter"] == "cursor"


@settings(max_examples=examples(200))
@given(text=st.text(max_size=3000))
def test_any_text_as_a_cursor_is_a_400_or_nothing(text: str) -> None:
    try:
        params = read(urlencode({"cursor": text}))
    except listing.ParameterError as error:
        assert listing.error_body(error)["parameter"] == "cursor"
    else:
        assert params.cursor is None and not text.strip()


@pytest.mark.parametrize(
    ("asked", "message"),
    [
        ("q=tag:u&sort=prio&limit=3", "another filter"),
        ("sort=-prio&limit=3", "another sort (prio)"),
        ("limit=3", "another sort (prio)"),
    ],
)
def test_a_cursor_of_another_filter_or_sort_is_a_400(asked: str, message: str) -> None:
    text = a_cursor(ROWS, "sort=prio&limit=3")
    body = refusal(f"{asked}&cursor={text}")
    assert body["parameter"] == "cursor" and message in str(body["message"])


def test_a_cursor_of_another_listing_or_key_is_a_400() -> None:
    text = a_cursor(ROWS, "sort=name&limit=3")
    with pytest.raises(listing.ParameterError, match="another listing"):
        listing.read_query_string(f"sort=name&cursor={text}", WAYLAY, cursor_key=KEY)
    assert "another key" in str(refusal(f"sort=name&cursor={text}", cursor_key=OTHER_KEY)["message"])


def test_a_cursor_of_another_version_is_a_400(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cursors, "CURSOR_VERSION", 0)
    text = a_cursor(ROWS, "sort=name&limit=3")
    monkeypatch.undo()
    assert "another version" in str(refusal(f"sort=name&limit=3&cursor={text}")["message"])


def test_a_cursor_with_an_offset_or_without_a_key_is_a_400() -> None:
    text = a_cursor(ROWS, "limit=3")
    assert "not both" in str(refusal(f"limit=3&offset=3&cursor={text}")["message"])
    assert read(f"limit=3&offset=0&cursor={text}").cursor is not None  # offset 0 is no offset
    assert "takes no cursor" in str(refusal(f"limit=3&cursor={text}", cursor_key=None)["message"])
    assert "more than once" in str(refusal(f"cursor={text}&cursor={text}")["message"])


# -- walking by cursor -----------------------------------------------------------------------------------


def walk(rows: list[dict[str, Any]], query_string: str, between: Any = None) -> list[dict[str, Any]]:
    """Every page from the first, following next; ``between(page_number)`` runs before each page after the first."""
    pages = [serve(rows, query_string)]
    while "next" in pages[-1]["_links"]:
        assert pages[-1]["items"], "a page with a next link and nothing in it: the walk may never end"
        if between is not None:
            between(len(pages))
        pages.append(serve(rows, query(pages[-1]["_links"]["next"]["href"])))
    return pages


@settings(max_examples=examples(300))
@given(rows=entities(), sort=SORTS, limit=st.integers(1, 6), q=st.sampled_from(["", "tag:t", "-tag:u", "prio:>0"]))
def test_a_walk_is_the_whole_order_once_with_its_offsets_and_links(
    rows: list[dict[str, Any]], sort: str, limit: int, q: str
) -> None:
    asked = urlencode({"q": q, "sort": sort, "limit": limit})
    pages = walk(rows, asked)
    keys = parse_sort(sort, ITEMS)
    expected = [row["id"] for row in sort_entities(COMPILER.where(read(asked).plan).filter(rows), keys, ITEMS)]
    assert [item["id"] for page in pages for item in page["items"]] == expected
    assert [page["offset"] for page in pages] == list(range(0, max(len(expected), 1), limit))
    assert all(page["total"] == len(expected) for page in pages)
    for before, page in zip(pages, pages[1:], strict=False):
        assert page["_links"]["prev"] == before["_links"]["self"]  # back to exactly the page before
        assert page["_links"]["first"] == pages[0]["_links"]["self"]
        again = serve(rows, query(page["_links"]["self"]["href"]))
        assert again["items"] == page["items"]  # self is this page
    last = pages[-1]
    assert "next" not in last["_links"]
    if len(expected) > limit:
        assert last["_links"]["last"] == last["_links"]["self"]
        assert serve(rows, query(pages[0]["_links"]["last"]["href"]))["items"] == last["items"]


@settings(max_examples=examples(300))
@given(
    rows=entities(20),
    sort=SORTS,
    limit=st.integers(1, 4),
    doomed=st.sets(st.integers(0, 19)),
    writes=st.lists(st.tuples(st.booleans(), st.integers(0, 1000)), max_size=30),
    extra=st.data(),
)
def test_a_walk_under_inserts_and_deletes_sees_every_lasting_entity_once(
    rows: list[dict[str, Any]],
    sort: str,
    limit: int,
    doomed: set[int],
    writes: list[tuple[bool, int]],
    extra: st.DataObject,
) -> None:
    """Between pages, entities are inserted (anywhere in the order) and deleted (the doomed and the new ones)."""
    lasting = {row["id"] for row in rows} - doomed
    pending = list(writes)
    to_delete = [row["id"] for row in rows if row["id"] in doomed]

    def write(_: int) -> None:
        for _ in range(extra.draw(st.integers(0, 3))):
            if not pending:
                return
            insert, number = pending.pop()
            if insert or not to_delete:
                new = extra.draw(entity(1000 + number + 10_000 * len(pending)))
                rows.append(new)
                to_delete.append(new["id"])
            else:
                gone = to_delete.pop(number % len(to_delete))
                rows[:] = [row for row in rows if row["id"] != gone]

    seen = [
        item["id"] for page in walk(rows, urlencode({"sort": sort, "limit": limit}), write) for item in page["items"]
    ]
    assert len(seen) == len(set(seen)), "an entity was seen twice"
    assert lasting <= set(seen), "an entity that existed throughout was missed"
    keys = parse_sort(sort, ITEMS)
    in_order = [row["id"] for row in sort_entities([r for r in rows if r["id"] in lasting], keys, ITEMS)]
    assert [number for number in seen if number in lasting] == in_order


def test_window_and_fetch_from_start_after_the_cursor() -> None:
    ordered = sort_entities(ROWS, parse_sort("-prio", ITEMS), ITEMS)
    text = a_cursor(ROWS, "sort=-prio&limit=4")
    params = read(f"sort=-prio&limit=4&cursor={text}")
    assert [row["id"] for row in params.window(ordered)] == [row["id"] for row in ordered[4:8]]
    assert [row["id"] for row in params.fetch_from(ordered)] == [row["id"] for row in ordered[4:9]]
    assert params.fetch == 5 and params.start == 4 and params.offset == 0


def test_the_walk_keeps_the_now_of_its_first_page() -> None:
    """``created:now-PT5H/`` means the same on every page, however late the next one is asked."""
    rows = [{"id": i, "created": (T0 + timedelta(hours=i)).isoformat()} for i in range(10)]
    first = listing.read_query_string("q=created:now-PT5H/&limit=2", ITEMS, now=T0 + timedelta(hours=9), cursor_key=KEY)
    matches = first.order_by(COMPILER)(first.where(COMPILER).filter(rows))
    body = listing.page_body(first.fetch_from(matches), total=len(matches), params=first, base_url=BASE, cursor_key=KEY)
    later = listing.read_query_string(
        query(body["_links"]["next"]["href"]), ITEMS, now=T0 + timedelta(days=9), cursor_key=KEY
    )
    assert later.now == first.now == T0 + timedelta(hours=9)
    assert [row["id"] for row in later.fetch_from(later.order_by(COMPILER)(later.where(COMPILER).filter(rows)))] == [
        6,
        7,
        8,
    ]


def test_an_order_other_than_the_cursors_is_a_mistake_of_the_handler() -> None:
    text = a_cursor(ROWS, "limit=3")
    params = read(f"limit=3&cursor={text}")
    assert params.keys() == ()
    with pytest.raises(ValueError, match="default_sort"):
        params.order_by(COMPILER, default="name")


def test_page_body_names_the_last_item_it_cannot_place() -> None:
    params = read("limit=1")
    with pytest.raises(ValueError, match="last="):
        listing.page_body(["x", "y"], total=2, params=params, base_url=BASE, cursor_key=KEY)
    body = listing.page_body(["x", "y"], total=2, params=params, base_url=BASE, cursor_key=KEY, last=ROWS[0])
    assert body["items"] == ["x"] and "cursor=" in body["_links"]["next"]["href"]
    with pytest.raises(ValueError, match="cursor_key"):
        listing.page_body([], total=0, params=read(f"limit=1&cursor={a_cursor(ROWS, 'limit=1')}"), base_url=BASE)


# -- counts -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "counting"),
    [
        ("exact", listing.Counting("exact")),
        (" none ", listing.Counting("none")),
        ("capped:10000", listing.Counting.capped(10_000)),
        ("capped:0001", listing.Counting.capped(1)),
    ],
)
def test_counting_reads_its_text(text: str, counting: listing.Counting) -> None:
    assert listing.read_counting(text) == counting
    assert listing.read_counting(str(counting)) == counting


@pytest.mark.parametrize(
    "text", ["", "Exact", "capped", "capped:", "capped:0", "capped:-1", "capped:1e3", "capped:" + "9" * 40, "all"]
)
def test_a_bad_counting_is_an_error_saying_what_is_allowed(text: str) -> None:
    with pytest.raises(ValueError, match="exact, capped:N"):
        listing.read_counting(text)


def test_counting_at_most() -> None:
    assert (listing.EXACT_COUNT.at_most, listing.Counting.capped(5).at_most, listing.Counting("none").at_most) == (
        None,
        6,
        0,
    )
    with pytest.raises(ValueError):
        listing.Counting("capped")
    with pytest.raises(ValueError):
        listing.Counting("exact", 3)


@pytest.mark.parametrize("paging", ["cursor", "offset"])
@pytest.mark.parametrize(
    ("counting", "rows", "expected"),
    [
        # (total, total_count, total_at_least) on the first page of 3, and whether last is linked
        (listing.EXACT_COUNT, 12, ((12, 12, None), True)),
        (listing.Counting.capped(20), 12, ((12, 12, None), True)),
        (listing.Counting.capped(12), 12, ((12, 12, None), True)),
        (listing.Counting.capped(11), 12, ((None, None, 12), False)),
        (listing.Counting.capped(5), 12, ((None, None, 6), False)),
        (listing.Counting("none"), 12, ((None, None, None), False)),
        (listing.Counting("none"), 2, ((None, None, None), False)),
    ],
)
def test_the_body_says_the_count_that_is_known(
    paging: str, counting: listing.Counting, rows: int, expected: tuple[tuple[int | None, ...], bool]
) -> None:
    key = KEY if paging == "cursor" else None
    body = serve(ROWS[:rows], "limit=3", counting=counting, cursor_key=key)
    totals, has_last = expected
    assert (body.get("total"), body.get("total_count"), body.get("total_at_least")) == totals
    assert ("last" in body["_links"]) == has_last
    assert ("next" in body["_links"]) == (rows > 3)


def test_a_capped_count_deep_in_a_walk_says_at_least_what_the_walk_has_passed() -> None:
    rows = ROWS * 1
    pages = walk(rows, "limit=4")
    deep = serve(rows, query(pages[2]["_links"]["self"]["href"]), counting=listing.Counting.capped(2))
    assert deep["offset"] == 8 and deep["total_at_least"] == 12 and "total" not in deep
    assert "last" not in deep["_links"] and "next" not in deep["_links"]
    middle = serve(rows, query(pages[1]["_links"]["self"]["href"]), counting=listing.Counting.capped(2))
    assert middle["total_at_least"] == 9  # 4 passed, 4 here, and one more at least (the next page)
