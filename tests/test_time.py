"""Time intervals, timestamps and periods (spec section 5), through the public API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from support import examples

from qfilter import WAYLAY, Context, TimeExpressionError, bind, parse
from qfilter.core.plan import Within
from qfilter.core.times import Interval, parse_interval, parse_period, parse_timestamp
from qfilter.integrations.strategies import interval_texts

UTC = UTC
END_OF_MARCH = datetime(2020, 3, 31, 12, 0, tzinfo=UTC)
BRUSSELS = ZoneInfo("Europe/Brussels")


def interval(text: str, now: datetime = END_OF_MARCH, tz: tzinfo = UTC) -> Interval:
    return parse_interval(text, now=now, tz=tz)


def at(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
    *,
    tz: tzinfo = UTC,
) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=tz)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2020-04-22T12:34:00+00:00/2020-05-01", at(2020, 4, 22, 12, 34), at(2020, 5, 1)),
        ("2020-04-22T12:34:00+00:00/", at(2020, 4, 22, 12, 34), None),
        ("/2020-04-22T12:34", None, at(2020, 4, 22, 12, 34)),
        ("2020-01-01/P1W", at(2020, 1, 1), at(2020, 1, 8)),
        ("P1D/2020-01-01", at(2019, 12, 31), at(2020, 1, 1)),
        ("now-P1W/", at(2020, 3, 24, 12), None),
        ("/now", None, END_OF_MARCH),
        ("now-PT2H/Now+PT30M", at(2020, 3, 31, 10), at(2020, 3, 31, 12, 30)),
        ("2020", at(2020, 1, 1), at(2021, 1, 1)),
        ("2020-02", at(2020, 2, 1), at(2020, 3, 1)),
        ("2020-12", at(2020, 12, 1), at(2021, 1, 1)),
        ("2020-02-29", at(2020, 2, 29), at(2020, 3, 1)),
        ("1587558840000/", at(2020, 4, 22, 12, 34), None),
        ("0/10000", at(1970, 1, 1), at(1970, 1, 1, 0, 0, 10)),
        ("1000/1000-02", at(1000, 1, 1), at(1000, 2, 1)),  # exactly 4 digits is a year
        ("2020/2021-06", at(2020, 1, 1), at(2021, 6, 1)),
        ("2021/2020", at(2021, 1, 1), at(2020, 1, 1)),
        ("2020-04-22 12:34:56.5Z/", at(2020, 4, 22, 12, 34, 56, 500000), None),
    ],
)
def test_interval_forms(text: str, start: datetime | None, end: datetime | None) -> None:
    assert interval(text) == Interval(start, end)


@pytest.mark.parametrize(
    ("token", "offset"),
    [
        ("2020-04-22T12:34:00Z", timedelta(0)),
        ("2020-04-22T12:34:00+02:00", timedelta(hours=2)),
        ("2020-04-22T12:34:00+0200", timedelta(hours=2)),
        ("2020-04-22T12:34:00-05", timedelta(hours=-5)),
        ("2020-04-22T12:34:00-03:30", timedelta(hours=-3, minutes=-30)),
    ],
)
def test_offsets_name_the_instant(token: str, offset: timedelta) -> None:
    moment = parse_timestamp(token, now=END_OF_MARCH, tz=BRUSSELS)
    assert moment.utcoffset() == offset
    assert moment == datetime(2020, 4, 22, 12, 34, tzinfo=timezone(offset))


def test_no_offset_means_the_configured_zone() -> None:
    moment = parse_timestamp("2020-07-01T12:00", now=END_OF_MARCH, tz=BRUSSELS)
    assert moment == at(2020, 7, 1, 10)  # CEST is UTC+2
    assert interval("2020-07-01", tz=BRUSSELS).start == at(2020, 6, 30, 22)


@pytest.mark.parametrize(
    ("start", "period", "sign", "expected"),
    [
        (at(2020, 3, 31), "P1M", -1, at(2020, 2, 29)),  # leap year clamp
        (at(2021, 3, 31), "P1M", -1, at(2021, 2, 28)),
        (at(2020, 1, 31), "P1M", 1, at(2020, 2, 29)),
        (at(2020, 2, 29), "P1Y", 1, at(2021, 2, 28)),
        (at(2020, 2, 29), "P4Y", 1, at(2024, 2, 29)),
        (at(2020, 5, 31), "P1Y1M", -1, at(2019, 4, 30)),
        (at(2020, 12, 31), "P2M", 1, at(2021, 2, 28)),
        (at(2020, 1, 1), "P1W3DT2H", 1, at(2020, 1, 11, 2)),
        (at(2020, 1, 1), "PT0.5S", 1, at(2020, 1, 1, 0, 0, 0, 500000)),
        (at(2020, 1, 1), "P1.5D", 1, at(2020, 1, 2, 12)),
    ],
)
def test_calendar_arithmetic(start: datetime, period: str, sign: int, expected: datetime) -> None:
    assert parse_period(period).add_to(start, sign) == expected


def test_spec_month_end_example_relative_to_now() -> None:
    assert interval("now-P1M/", now=at(2020, 3, 31, 9)).start == at(2020, 2, 29, 9)


def test_days_are_calendar_days_and_hours_are_elapsed_across_dst() -> None:
    # Brussels moved to summer time on 2021-03-28: that day has 23 hours.
    day = interval("2021-03-28/P1D", tz=BRUSSELS)
    assert day.start is not None and day.end is not None  # bounded: narrows for the subtraction
    assert day.end - day.start == timedelta(hours=23)
    hours = interval("2021-03-28/PT24H", tz=BRUSSELS)
    assert hours.end == datetime(2021, 3, 29, 1, tzinfo=BRUSSELS)
    assert hours.start is not None and hours.end is not None  # bounded: narrows for the subtraction
    assert hours.end - hours.start == timedelta(hours=24)


def test_all_nows_of_a_filter_are_one_instant() -> None:
    plan = bind(parse("created:now-P1D/now modified:/now"), WAYLAY, Context(now=END_OF_MARCH))
    created, modified = (group.alternatives[0][0] for group in plan.groups)
    assert isinstance(created, Within) and isinstance(modified, Within)
    assert created.interval.end == modified.interval.end == END_OF_MARCH


LAST = datetime.max.replace(tzinfo=UTC)


@pytest.mark.parametrize("tz", [UTC, timezone(timedelta(hours=5)), timezone(timedelta(hours=-5)), BRUSSELS])
@pytest.mark.parametrize(
    ("text", "first", "open_end"),
    [
        ("9999", (9999, 1, 1), True),
        ("9999-12", (9999, 12, 1), True),
        ("9999-12-31", (9999, 12, 31), True),
        ("9999-12-30", (9999, 12, 30), False),
        ("9999-11", (9999, 11, 1), False),
        ("9999..*", (9999, 1, 1), True),
        ("2020..9999", (2020, 1, 1), True),
        ("9999/", (9999, 1, 1), True),
    ],
)
def test_a_period_ending_past_the_year_9999_is_open_at_its_end(
    text: str, first: tuple[int, int, int], open_end: bool, tz: tzinfo
) -> None:
    # The end of the year 9999 is past the last instant datetime holds: no time comes after it.
    result = interval(text, tz=tz)
    assert result.start == datetime(*first, tzinfo=tz)
    assert (result.end is None) == open_end
    assert LAST in result if open_end else LAST not in result


@pytest.mark.parametrize("text", [">9999", ">9999-12-31", ">9999-12-31T23:59:59.999999Z"])
def test_after_the_last_period_nothing_is(text: str) -> None:
    result = interval(text)
    assert LAST not in result
    assert datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) not in result
    assert result.start is not None and result.start == result.end  # empty, with bounds every zone holds


@pytest.mark.parametrize("text", ["<=9999", "*..9999", "*..9999-12-31", "<=9999-12-31T23:59:59.999999Z"])
def test_up_to_the_last_period_everything_is(text: str) -> None:
    result = interval(text)
    assert result == Interval(None, None)
    assert LAST in result and datetime(1, 1, 1, tzinfo=UTC) in result


@pytest.mark.parametrize(
    ("text", "position", "words", "hint"),
    [
        ("now-P1D", 0, "an interval needs '/'", "write 'now-P1D/' for since, '/now-P1D' for before"),
        ("2020-04-22T12:34", 0, "an interval needs '/'", "'2020-04-22T12:34/'"),
        ("now", 0, "an interval needs '/'", "'now/'"),
        ("/", 0, "needs a start or an end", None),
        ("P1D/P2D", 0, "cannot be two periods", None),
        ("P1D", 0, "a period alone", "now-P1D/"),
        ("P1D/", 4, "needs a timestamp", None),
        ("/P1D", 0, "needs a timestamp", None),
        ("2020-02-30/", 0, "impossible date", None),
        ("2021-02-29", 0, "impossible date", None),
        ("2020-13/", 0, "impossible date", None),
        ("2020-W01/", 0, "invalid timestamp '2020-W01'", "2020-04-22"),
        ("2020-001/", 0, "invalid timestamp", None),
        ("2020/20200422T1234", 5, "invalid timestamp", None),
        ("now-P1.5Y/", 4, "invalid period 'P1.5Y'", "P1W"),
        ("now-P1.5M/", 4, "invalid period", None),
        ("now-PT/", 4, "invalid period", None),
        ("now-P/", 4, "invalid period", None),
        ("now-p1d/", 4, "invalid period", None),
        ("2020/2021/2022", 9, "at most one '/'", None),
        ("tomorrow/", 0, "invalid timestamp 'tomorrow'", None),
        ("99999999999999999999/", 0, "out of range", None),
    ],
)
def test_time_errors_name_the_token(text: str, position: int, words: str, hint: str | None) -> None:
    with pytest.raises(TimeExpressionError) as caught:
        interval(text)
    assert words in caught.value.message
    assert caught.value.position == position
    if hint is not None:
        assert hint in (caught.value.hint or "")


def test_time_error_positions_are_in_the_whole_filter() -> None:
    text = 'tag:a created:"2020/now-P1.5Y"'
    with pytest.raises(TimeExpressionError) as caught:
        bind(parse(text), WAYLAY, Context(now=END_OF_MARCH))
    assert caught.value.position == text.index("P1.5Y")
    assert caught.value.text == text


@settings(max_examples=examples(300))
@given(interval_texts())
def test_every_generated_interval_is_accepted(text: str) -> None:
    result = interval(text)
    assert result.start is not None or result.end is not None
    for bound in (result.start, result.end):
        assert bound is None or bound.tzinfo is not None


@pytest.mark.parametrize(
    ("text", "space", "example"),
    [
        ("2020-04-22T12:00:00 00:00/", 19, "2020-04-22T12:00:00%2B00:00"),
        ("2020-04-22 12:34 0200/", 16, "2020-04-22 12:34%2B0200"),
        ("2020/2020-04-22T12:00:00.5 01", 26, "2020-04-22T12:00:00.5%2B01"),
        ("now P1D/", 3, "now%2BP1D"),
    ],
)
def test_a_plus_a_url_made_a_space_gets_the_seed_s_advice(text: str, space: int, example: str) -> None:
    # The seed's own example sent as is: `created:"2020-04-22T12:00:00+00:00/"` reaches the server with a space.
    with pytest.raises(TimeExpressionError) as caught:
        interval(text)
    assert caught.value.position == space
    assert "%2B" in (caught.value.hint or "") and example in (caught.value.hint or "")


@pytest.mark.parametrize("text", ["2020-04-22T12:00:00 x/", "now 5/", "2020-04-22T00:00 +01:00/"])
def test_other_spaces_in_a_time_keep_the_usual_hint(text: str) -> None:
    with pytest.raises(TimeExpressionError) as caught:
        interval(text)
    assert "%2B" not in (caught.value.hint or "")
