"""The framework-agnostic listing helpers: parameters, 400 bodies, pages and their links."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest

import qfilter
from qfilter import TIMEPLUS, WAYLAY, FilterError
from qfilter.core.binder import to_plan
from qfilter.core.ir import Context
from qfilter.integrations import listing
from qfilter.memory import MemoryCompiler, position_of
from qfilter.service.demo import demo_entities

BASE = "https://ts-analytics.waylay.io/config/query"


def _query(href: str) -> dict[str, list[str]]:
    parts = urlsplit(href)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == BASE
    return parse_qs(parts.query, keep_blank_values=True)


def _error(query_string: str, **kwargs: object) -> dict[str, object]:
    with pytest.raises((FilterError, listing.ParameterError)) as caught:
        listing.read_query_string(query_string, WAYLAY, **kwargs)  # type: ignore[arg-type]
    error = caught.value
    assert isinstance(error, (FilterError, listing.ParameterError))
    return listing.error_body(error)


# -- reading parameters ------------------------------------------------------------------------


def test_absent_parameters_take_the_defaults(now: datetime) -> None:
    params = listing.read_query_string("", WAYLAY, now=now)
    assert (params.q, params.limit, params.offset, params.now) == ("", 10, 0, now)
    assert params.filter == qfilter.parse("")


def test_parameters_are_url_decoded_and_parsed() -> None:
    params = listing.read_query_string("q=name%3Ademo+tag%3A%27ab+c%27&limit=0&offset=7&other=x", WAYLAY)
    assert params.q == "name:demo tag:'ab c'"
    assert params.filter == qfilter.parse("name:demo tag:'ab c'")
    assert (params.limit, params.offset) == (0, 7)


@pytest.mark.parametrize("value", ["100", "0", "007"])
def test_limit_accepts_0_to_100(value: str) -> None:
    assert listing.read_limit(value) == int(value)


@pytest.mark.parametrize("value", ["101", "-1", "", "ten", "1.5", "+5", " 5", "1_0", "٥", "9" * 40])
def test_a_bad_limit_is_an_error_naming_limit(value: str) -> None:
    with pytest.raises(listing.ParameterError) as caught:
        listing.read_limit(value)
    body = listing.error_body(caught.value)
    assert body["code"] == 400 and body["parameter"] == "limit"
    assert "limit must be an integer between 0 and 100" in str(body["message"])


@pytest.mark.parametrize("value", ["-1", "", "x", "1e3", str(2**63), "9" * 5000, "1" + "0" * 10_000, "-" + "9" * 5000])
def test_a_bad_offset_is_an_error_naming_offset(value: str) -> None:
    with pytest.raises(listing.ParameterError) as caught:
        listing.read_offset(value)
    assert caught.value.parameter == "offset"
    assert "offset must be an integer" in caught.value.message


def test_offset_has_no_small_upper_bound() -> None:
    assert listing.read_offset(str(2**63 - 1)) == 2**63 - 1


def test_leading_zeros_do_not_count_against_the_bound() -> None:
    # The digits are counted before int() (which refuses over 4,300 of them); zeros in front are no size.
    assert listing.read_offset("0" * 5000 + "7") == 7
    assert listing.read_limit("0" * 5000 + "100") == 100
    assert listing.read_offset("0" * 5000) == 0


@pytest.mark.parametrize("value", ["9" * 5000, "1" + "0" * 4300, "0" * 10 + "101"])
def test_a_limit_of_thousands_of_digits_is_an_error_naming_limit(value: str) -> None:
    body = _error(f"limit={value}")
    assert body["parameter"] == "limit" and "between 0 and 100" in str(body["message"])


def test_limit_default_and_maximum_are_configurable() -> None:
    assert listing.read_limit(None, default=25, maximum=500) == 25
    assert listing.read_limit("500", default=25, maximum=500) == 500


@pytest.mark.parametrize("name", listing.LISTING_PARAMETERS)
def test_a_repeated_parameter_is_an_error(name: str) -> None:
    body = _error(f"{name}=1&other=x&{name}=1")
    assert body["parameter"] == name and "more than once" in str(body["message"])


def test_read_query_values_reads_the_named_parameters_once_each() -> None:
    assert listing.read_query_values(b"q=tag%3Aa&x=1&x=2&limit=") == {"q": "tag:a", "limit": ""}
    assert listing.read_query_values("sort=name&q=%C3%BC", ("q",)) == {"q": "ü"}
    with pytest.raises(listing.ParameterError) as repeated:
        listing.read_query_values("x=1&x=2", ("x",))
    assert repeated.value.parameter == "x"
    for undecodable in (b"q=%FF", b"q=%ED%A0%80", b"q=\xe9"):  # bad UTF-8, an encoded surrogate, a raw Latin-1 byte
        with pytest.raises(listing.ParameterError) as caught:
            listing.read_query_values(undecodable)
        assert caught.value.parameter == "query" and "UTF-8" in caught.value.message


def test_limit_is_checked_before_the_filter() -> None:
    assert _error("q=tga:x&limit=1000")["parameter"] == "limit"


# -- 400 bodies for bad filters ----------------------------------------------------------------


def test_a_syntax_error_says_what_and_where() -> None:
    body = _error("q=tag%3Ademo+tag%3A")
    assert body["code"] == 400
    assert body["parameter"] == "q"
    assert body["error"] == "syntax error"
    assert body["position"] == 13
    assert body["filter"] == "tag:demo tag:"
    assert str(body["message"]).startswith("q: ")
    assert str(body["detail"]).splitlines()[-1] == "  " + " " * 13 + "^"


def test_an_unknown_qualifier_suggests_the_closest() -> None:
    body = _error("q=tga:x")
    assert body["error"] == "unknown qualifier"
    assert body["position"] == 0
    assert "did you mean 'tag'" in str(body["message"])


def test_qualifiers_are_checked_against_the_schema() -> None:
    assert listing.read_query_string("q=sql:select", TIMEPLUS).q == "sql:select"
    assert _error("q=sql:select")["error"] == "unknown qualifier"


def test_a_bad_time_is_a_400_body() -> None:
    body = _error("q=created:now-P1D")
    assert body["error"] == "invalid time"
    assert body["position"] == 8


def test_at_me_needs_a_user() -> None:
    body = _error("q=created_by:@me")
    assert body["error"] == "no current user"
    assert body["position"] == 11
    params = listing.read_query_string("q=created_by:@me", WAYLAY, user="users/alice")
    assert params.plan.groups  # bound, with the user in it


def test_a_filter_over_the_length_limit_is_a_400_body() -> None:
    body = _error("q=" + "tag:x+" * 100, limits=qfilter.Limits(max_terms=5))
    assert body["error"] == "filter too large"


def test_undecodable_query_string() -> None:
    body = _error("q=tag:%ff")
    assert body["code"] == 400 and "UTF-8" in str(body["message"])


# -- links and pages ---------------------------------------------------------------------------


def test_the_seed_sample_links() -> None:
    """The seed's response sample: total 8, limit 1, first page."""
    links = listing.page_links(BASE, q="name:temperature resource:151D8", limit=1, offset=0, total=8)
    assert set(links) == {"self", "next", "last"}
    assert links["next"]["href"] == BASE + "?q=name%3Atemperature+resource%3A151D8&limit=1&offset=1"
    assert links["last"]["href"] == BASE + "?q=name%3Atemperature+resource%3A151D8&limit=1&offset=7"
    assert _query(links["self"]["href"]) == {"q": ["name:temperature resource:151D8"], "limit": ["1"]}


def test_hrefs_encode_every_special_character() -> None:
    q = "name:\"a&b=c+d%\" tag:Größe,'x#y'"
    href = listing.page_href(BASE, q=q, limit=5, offset=5)
    assert _query(href) == {"q": [q], "limit": ["5"], "offset": ["5"]}
    assert "&b=" not in href and "#" not in href


@pytest.mark.parametrize(
    ("limit", "offset", "total", "next_offset", "last_offset"),
    [
        (10, 0, 0, None, None),  # nothing matches
        (10, 0, 10, None, None),  # exactly one full page
        (10, 0, 11, 10, 10),
        (10, 10, 11, None, 10),  # on the last page
        (10, 30, 11, None, 10),  # past the end
        (10, 3, 48, 13, 40),  # not aligned: last counts pages from 0
        (1, 0, 8, 1, 7),
        (100, 0, 48, None, None),
        (0, 0, 48, None, None),  # limit 0: no pages to step through
    ],
)
def test_next_and_last(limit: int, offset: int, total: int, next_offset: int | None, last_offset: int | None) -> None:
    links = listing.page_links(BASE, q="tag:demo", limit=limit, offset=offset, total=total)
    assert _query(links["self"]["href"]).get("offset", ["0"]) == [str(offset)]
    if next_offset is None:
        assert "next" not in links
    else:
        assert _query(links["next"]["href"])["offset"] == [str(next_offset)]
    if last_offset is None:
        assert "last" not in links
    else:
        assert _query(links["last"]["href"]).get("offset", ["0"]) == [str(last_offset)]


@pytest.mark.parametrize(
    ("limit", "offset", "total", "prev_offset"),
    [
        (10, 0, 48, None),  # the first page has neither first nor prev
        (10, 10, 48, 0),
        (10, 40, 48, 30),
        (10, 3, 48, 0),  # not aligned: prev stops at offset 0
        (10, 25, 48, 15),
        (10, 30, 11, 10),  # past the end: prev is the last page
        (10, 5, 0, 0),  # nothing matches: prev is the first page
        (0, 10, 48, None),  # limit 0: no pages to step through
    ],
)
def test_first_and_prev(limit: int, offset: int, total: int, prev_offset: int | None) -> None:
    links = listing.page_links(BASE, q="tag:demo", limit=limit, offset=offset, total=total)
    if prev_offset is None:
        assert "first" not in links and "prev" not in links
    else:
        assert _query(links["first"]["href"]) == {"q": ["tag:demo"], "limit": [str(limit)]}
        assert _query(links["prev"]["href"]).get("offset", ["0"]) == [str(prev_offset)]


def test_an_empty_filter_is_left_out_of_hrefs() -> None:
    assert _query(listing.page_href(BASE, q="", limit=10, offset=0)) == {"limit": ["10"]}


def test_page_body_over_the_demo_dataset(now: datetime) -> None:
    """The module docstring's recipe, in memory: filter, order by name, window, page, through a compiler."""
    params = listing.read_query_string("q=tag:demo&limit=4&offset=4", WAYLAY, now=now)
    compiler = MemoryCompiler(WAYLAY)
    matches = params.order_by(compiler, default="name")(params.where(compiler).filter(demo_entities()))
    predicate = qfilter.compile_predicate(params.filter, WAYLAY, now=params.now)
    assert matches == sorted(predicate.filter(demo_entities()), key=lambda entity: entity["name"])
    body = listing.page_body(params.window(matches), total=len(matches), params=params, base_url=BASE)
    assert "messages" not in body  # only when given, as the Waylay service does
    assert body["items"] == matches[4:8]
    assert (body["count"], body["offset"], body["limit"], body["total"]) == (4, 4, 4, len(matches))
    assert len(matches) > 8
    assert set(body["_links"]) == {"self", "first", "prev", "next", "last"}
    assert body["total_count"] == body["total"]  # the name Waylay's queries SDK reads
    assert all("demo" in entity["meta"]["tags"] for entity in body["items"])


def test_filter_params_hold_the_text_the_plan_and_the_sort_and_read_the_rest_from_the_plan(now: datetime) -> None:
    params = listing.read_filter("created_by:@me tag:a", schema=WAYLAY, user="users/ann", now=now, sort="-created")
    assert [name for name in listing.FilterParams.__dataclass_fields__] == ["q", "plan", "sort", "default_sort"]
    assert params.filter is params.plan.filter and params.filter == qfilter.parse("created_by:@me tag:a")
    assert params.now == now == params.plan.context.now and params.plan.context.user == "users/ann"
    assert params.plan == to_plan("created_by:@me tag:a", WAYLAY, context=Context(now=now, user="users/ann"))
    assert params.keys() == params.sort and [str(key) for key in params.keys("name")] == ["-created"]
    assert [str(key) for key in listing.read_filter("", schema=WAYLAY).keys("name")] == ["name"]


def test_the_helpers_take_a_compiler_for_the_filter_the_order_and_a_seek(now: datetime) -> None:
    params = listing.read_query_string("q=tag:demo&sort=-created", WAYLAY, now=now)
    compiler = MemoryCompiler(WAYLAY)
    ordered = params.order_by(compiler)(params.where(compiler).filter(demo_entities()))
    assert len(ordered) > 2 and all("demo" in entity["meta"]["tags"] for entity in ordered)
    first = ordered[0]
    position = position_of(first, params.sort, WAYLAY)
    assert position.id == first["name"]  # WAYLAY's id_path
    assert params.after(compiler, position).filter(ordered) == ordered[1:]


def test_to_plan_takes_a_context_or_its_parts_not_both(now: datetime) -> None:
    with pytest.raises(TypeError, match="not both"):
        to_plan("tag:a", WAYLAY, now=now, context=Context(now=now))
    plan = to_plan("tag:a", WAYLAY, context=Context(now=now))
    with pytest.raises(TypeError, match="carries its own"):
        to_plan(plan, WAYLAY, context=Context(now=now))
    assert to_plan(plan, WAYLAY) is plan


def test_page_body_items_key_and_messages() -> None:
    params = listing.read_query_string("limit=2", TIMEPLUS)
    body = listing.page_body([], total=0, params=params, base_url=BASE, items_key="items", messages=["hi"])
    assert body["items"] == [] and body["messages"] == ["hi"] and body["count"] == 0
    assert "queries" not in body
    waylay = listing.page_body(["a"], total=1, params=params, base_url=BASE, items_key="queries", messages=())
    assert list(waylay)[:2] == ["messages", "queries"] and waylay["messages"] == [] and waylay["queries"] == ["a"]


def test_a_nul_character_is_a_syntax_error_at_its_place() -> None:
    body = _error("q=name:a%00b")
    assert body["error"] == "syntax error" and body["position"] == 6
