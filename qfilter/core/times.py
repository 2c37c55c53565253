"""Time intervals, timestamps and periods (language sections 5 and 11).

Turns the text of a ``created:``/``modified:`` matcher (an ISO 8601 interval,
or a GitHub-style range ``>=T``, ``A..B``) into a half-open :class:`Interval`
of aware datetimes. Every computation that leaves the years 1 to 9999 (in
UTC or in the filter's zone) is a :class:`~qfilter.core.errors.TimeExpressionError`
naming the token, never an ``OverflowError``. ISO 8601 values are read by
``python-dateutil`` and ``isodate``; the regular expressions here only decide
which of the many ISO 8601 spellings the language accepts, so that week dates,
basic format and fractional years are rejected instead of half-read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING

from .errors import FilterError, TimeExpressionError

if TYPE_CHECKING:
    from dateutil.relativedelta import relativedelta

__all__ = [
    "Interval",
    "Period",
    "parse_interval",
    "parse_comparison",
    "parse_timestamp",
    "parse_period",
    "to_instant",
]

UTC = UTC
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_DATE_TIME = re.compile(
    r"""
    (?P<year>\d{4})
    (?:-(?P<month>\d{2})
      (?:-(?P<day>\d{2})
        (?P<time>[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?
          (?P<offset>Z|[+-]\d{2}(?::?\d{2})?)?
        )?
      )?
    )?
    """,
    re.X | re.A,
)
_NOW = re.compile(r"(?i:now)(?:(?P<sign>[+-])(?P<period>.*))?", re.S)
_EPOCH_MILLIS = re.compile(r"\d+", re.A)
_NUMBER = r"\d+(?:[.]\d+)?"
_PERIOD = re.compile(
    rf"""
    P(?!$)
    (?P<date>(?:\d+Y)?(?:\d+M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?)
    (?:T(?=\d)(?P<time>(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?))?
    """,
    re.X | re.A,
)

_TIMESTAMP_HINT = "use now, now-P1D, 2020-04-22, 2020-04-22T12:34:00Z or epoch milliseconds"
_RANGE_HINT = "times are between the years 1 and 9999, in UTC and in the filter's time zone"
_MICROSECOND = timedelta(microseconds=1)
_PERIOD_HINT = "a period is written like P1W, P3D, PT2H or P1Y2M"


@dataclass(frozen=True, slots=True)
class Period:
    """An ISO 8601 duration split the way calendar arithmetic needs it.

    ``calendar`` (years, months, weeks, days) moves the date on the wall clock;
    ``elapsed`` (hours, minutes, seconds) is physical time.
    """

    text: str
    calendar: relativedelta
    elapsed: timedelta
    _forward: relativedelta | timedelta = dataclass_field(init=False, repr=False, compare=False)
    _backward: relativedelta | timedelta = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Without years or months, relativedelta adds its days and clock time to the wall clock,
        # as a timedelta does: the same instant, for a fifth of the cost (binding runs per request).
        calendar = self.calendar
        forward: relativedelta | timedelta = calendar
        if not (calendar.years or calendar.months or calendar.leapdays or calendar.weekday):
            forward = timedelta(
                days=calendar.days,
                hours=calendar.hours,
                minutes=calendar.minutes,
                seconds=calendar.seconds,
                microseconds=calendar.microseconds,
            )
        object.__setattr__(self, "_forward", forward)
        object.__setattr__(self, "_backward", -forward)

    def add_to(self, moment: datetime, sign: int = 1) -> datetime:
        """``moment + sign * self`` in ``moment``'s own time zone."""
        local: datetime = moment + (self._forward if sign > 0 else self._backward)
        if not self.elapsed:
            return _normalise(local)
        as_utc = local.astimezone(UTC) + sign * self.elapsed
        return as_utc.astimezone(moment.tzinfo)


@dataclass(frozen=True, slots=True)
class Interval:
    """``start <= t < end``; a missing bound is open.

    Bounds are kept in UTC: Python compares two datetimes that share a
    ``tzinfo`` by wall clock, which is wrong around a DST change.
    """

    start: datetime | None
    end: datetime | None

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            bound = getattr(self, name)
            if bound is not None:
                object.__setattr__(self, name, bound.astimezone(UTC))

    def __contains__(self, moment: datetime) -> bool:
        if self.start is not None and moment < self.start:
            return False
        return self.end is None or moment < self.end


def _normalise(moment: datetime) -> datetime:
    """Re-resolve a wall-clock result so that its UTC offset is the right one."""
    return moment.astimezone(UTC).astimezone(moment.tzinfo)


def _error(message: str, token: str, position: int, hint: str | None) -> TimeExpressionError:
    return TimeExpressionError(f"{message} {token!r}", position=position, hint=hint)


@contextmanager
def _in_range(token: str, position: int) -> Iterator[None]:
    """Turn an ``OverflowError`` or ``ValueError`` of date arithmetic into an error naming ``token``."""
    try:
        yield
    except FilterError:
        raise
    except (OverflowError, ValueError):
        raise _error("time out of range:", token, position, _RANGE_HINT) from None


def _representable(moment: datetime, tz: tzinfo) -> datetime:
    """``moment`` itself, once it is known to have a year from 1 to 9999 in UTC and in ``tz``."""
    moment.astimezone(UTC)
    moment.astimezone(tz)
    return moment


def parse_period(token: str, position: int = 0) -> Period:
    """Read an ISO 8601 period token (``P1W``, ``PT2H``, ``P1Y2M``)."""
    match = _PERIOD.fullmatch(token)
    if match is None or not (match["date"] or match["time"]):
        raise _error("invalid period", token, position, _PERIOD_HINT)
    try:
        return _period(token)
    except (OverflowError, ValueError):
        raise _error("period out of range:", token, position, _RANGE_HINT) from None


@lru_cache(maxsize=512)  # per request, a service reads the same few periods (now-P1W): once each
def _period(token: str) -> Period:
    import isodate  # on first use, with relativedelta: a quarter of what importing qfilter would cost
    from dateutil.relativedelta import relativedelta

    match = _PERIOD.fullmatch(token)
    assert match is not None  # parse_period checked it
    calendar = relativedelta()
    if match["date"]:
        date_part = isodate.parse_duration("P" + match["date"])
        if isinstance(date_part, isodate.Duration):
            calendar = relativedelta(
                years=int(date_part.years), months=int(date_part.months), days=date_part.tdelta.days
            )
            rest = date_part.tdelta - timedelta(days=date_part.tdelta.days)
        else:
            calendar = relativedelta(days=date_part.days)
            rest = date_part - timedelta(days=date_part.days)
        # Fractions of a day are wall-clock time, like the whole days.
        calendar += relativedelta(seconds=rest.seconds, microseconds=rest.microseconds)
    elapsed = timedelta()
    if match["time"]:
        elapsed = isodate.parse_duration("PT" + match["time"])
    return Period(token, calendar, elapsed)


def parse_timestamp(token: str, *, now: datetime, tz: tzinfo, position: int = 0) -> datetime:
    """Read a timestamp token (``now``, ``now-P1D``, ISO 8601, epoch millis) as an aware datetime.

    ``now`` is the instant every ``now`` of the filter stands for; ``tz`` is the
    zone of texts without an offset, and of arithmetic on ``now``.
    """
    moment, _ = _timestamp(token, now=now, tz=tz, position=position)
    return moment


def _timestamp(token: str, *, now: datetime, tz: tzinfo, position: int) -> tuple[datetime, str | None]:
    """The instant, and for a reduced-precision date its unit (year, month or day); in range."""
    with _in_range(token, position):
        moment, unit = _read_timestamp(token, now=now, tz=tz, position=position)
        return _representable(moment, tz), unit


def _span(token: str, *, now: datetime, tz: tzinfo, position: int) -> tuple[datetime, datetime | None]:
    """``start(T)`` and the first instant after T: the end of its period for a reduced-precision date.

    The second is ``None`` when it lies past the last representable instant
    (``end(9999)``, in UTC or in ``tz``): no time of the years 1 to 9999 comes
    after T's period, so the period is open at its end.
    """
    start, unit = _timestamp(token, now=now, tz=tz, position=position)
    if not unit:
        return start, _just_after(start, tz)
    try:
        return start, _representable(_normalise(start + _unit_step(unit)), tz)
    except (OverflowError, ValueError):
        return start, None


def _read_timestamp(token: str, *, now: datetime, tz: tzinfo, position: int) -> tuple[datetime, str | None]:
    now_match = _NOW.fullmatch(token)
    if now_match is not None:
        local_now = now.astimezone(tz)
        if now_match["sign"] is None:
            return local_now, None
        period = parse_period(now_match["period"], position + 4)
        with _in_range(token, position):
            return period.add_to(local_now, 1 if now_match["sign"] == "+" else -1), None
    if len(token) != 4 and _EPOCH_MILLIS.fullmatch(token):
        try:
            return _EPOCH + timedelta(milliseconds=int(token)), None
        except (OverflowError, ValueError):
            raise _error("epoch milliseconds out of range", token, position, None) from None
    match = _DATE_TIME.fullmatch(token)
    if match is None:
        raise _unencoded_plus(token, position) or _error("invalid timestamp", token, position, _TIMESTAMP_HINT)
    try:
        parsed = _isoparse(token)
    except (ValueError, OverflowError) as error:
        raise _error(f"impossible date ({error})", token, position, None) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
        parsed = _normalise(parsed) if isinstance(tz, timezone) else parsed
    if match["time"]:
        return parsed, None
    return parsed, "day" if match["day"] else "month" if match["month"] else "year"


# A '+' sent unencoded in a URL arrives as a space (spec section 1): `12:00:00 00:00`, `now P1D`.
_SPACE_FOR_PLUS = re.compile(
    r"(?P<before>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?|(?i:now)) (?P<after>\d{2}(?::?\d{2})?|P.*)",
    re.A | re.S,
)
PLUS_HINT = "a '+' in a URL is a space: send it as %2B"
"""How to fix a time whose '+' a URL turned into a space (the advice of the Waylay search API's documentation)."""


def _unencoded_plus(token: str, position: int) -> TimeExpressionError | None:
    """The error of a timestamp whose '+' became a space in a URL, pointing at the space; ``None`` if it is not one."""
    match = _SPACE_FOR_PLUS.fullmatch(token)
    if match is None or match["before"].lower() == "now" and not match["after"].startswith("P"):
        return None
    example = f"{match['before']}%2B{match['after']}"
    return _error("invalid timestamp", token, position + match.end("before"), f"{PLUS_HINT}, as in {example}")


@lru_cache(maxsize=512)  # a pure function of the text (datetimes are immutable); filters repeat their dates
def _isoparse(token: str) -> datetime:
    from dateutil.parser import isoparse  # on first use: dateutil's parser module is slow to import

    parsed: datetime = isoparse(token)
    return parsed


@lru_cache(maxsize=3)
def _unit_step(unit: str) -> relativedelta:
    """The length of a year, a month or a day on the wall clock (``2020-02`` is February)."""
    from dateutil.relativedelta import relativedelta

    return relativedelta(**{f"{unit}s": 1})  # years, months or days


def parse_interval(text: str, *, now: datetime, tz: tzinfo = UTC) -> Interval:
    """Read an interval matcher into an :class:`Interval` (the language reference: time intervals).

    Raises :class:`~qfilter.core.errors.TimeExpressionError` with a position relative
    to ``text`` for anything that is not one of the accepted forms.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if text.startswith((">", "<")) or ".." in text:
        return _github_range(text, now=now, tz=tz)
    if text.count("/") > 1:
        second = text.index("/", text.index("/") + 1)
        raise TimeExpressionError("an interval has at most one '/'", position=second, hint="write start/end")
    if "/" not in text:
        return _single_date(text, now=now, tz=tz)
    start_text, end_text = text.split("/")
    end_position = len(start_text) + 1
    start_is_period = start_text.startswith("P")
    end_is_period = end_text.startswith("P")
    if not start_text and not end_text:
        raise TimeExpressionError(
            "an interval needs a start or an end", position=0, hint="write e.g. now-P1D/ or 2020/2021"
        )
    if start_is_period and end_is_period:
        raise TimeExpressionError(
            "an interval cannot be two periods", position=0, hint="anchor one end: now-P1W/P1D or P1D/now"
        )
    if start_is_period:
        if not end_text:
            raise TimeExpressionError(
                "a period needs a timestamp on the other side of '/'",
                position=end_position,
                hint=f"write e.g. {start_text}/now",
            )
        period = parse_period(start_text, 0)
        end, _ = _timestamp(end_text, now=now, tz=tz, position=end_position)
        with _in_range(start_text, 0):
            return _interval(_representable(period.add_to(end, -1), tz), end)
    if end_is_period:
        if not start_text:
            raise TimeExpressionError(
                "a period needs a timestamp on the other side of '/'",
                position=0,
                hint=f"write e.g. now-{end_text}/ for since",
            )
        start, _ = _timestamp(start_text, now=now, tz=tz, position=0)
        period = parse_period(end_text, end_position)
        with _in_range(end_text, end_position):
            return _interval(start, _representable(period.add_to(start, 1), tz))
    since = _timestamp(start_text, now=now, tz=tz, position=0)[0] if start_text else None
    until = _timestamp(end_text, now=now, tz=tz, position=end_position)[0] if end_text else None
    return _interval(since, until)


def _interval(start: datetime | None, end: datetime | None) -> Interval:
    # Bounds were checked to be representable in UTC, so Interval's conversion cannot fail.
    return Interval(start, end)


def _nothing(start: datetime) -> Interval:
    """The times after the last representable instant: none (``>9999``), as an interval ending where it starts."""
    return Interval(start, start)


_COMPARISONS = (">=", "<=", ">", "<")


def _github_range(text: str, *, now: datetime, tz: tzinfo) -> Interval:
    """``>=T``, ``>T``, ``<T``, ``<=T``, ``A..B``, ``A..*``, ``*..B`` (the language reference: time ranges)."""
    for operator in _COMPARISONS:
        if text.startswith(operator):
            token = text[len(operator) :]
            start, after = _span(token, now=now, tz=tz, position=len(operator))
            match operator:
                case ">=":
                    return _interval(start, None)
                case ">":
                    return _interval(after, None) if after is not None else _nothing(start)
                case "<":
                    return _interval(None, start)
                case _:
                    return _interval(None, after)
    low, high = text.split("..", 1)
    high_position = len(low) + 2
    if not low or not high:
        raise TimeExpressionError(
            "a range needs a time on both sides of '..'",
            position=0 if not low else high_position,
            hint="write * for an open side: 2020..*, *..2021-06",
        )
    if low == "*" and high == "*":
        raise TimeExpressionError("a range needs at least one time", position=0, hint="write e.g. 2020..* or *..2021")
    since = None if low == "*" else _span(low, now=now, tz=tz, position=0)[0]
    until = None if high == "*" else _span(high, now=now, tz=tz, position=high_position)[1]
    return _interval(since, until)


def parse_comparison(operator: str, token: str, *, now: datetime, tz: tzinfo = UTC, position: int = 0) -> Interval:
    """The instants ``t`` with ``t OP T`` for a function ``lt``, ``lte``, ``gt`` or ``gte``.

    A reduced-precision ``T`` means its first instant (unlike the time ranges,
    where ``<=2020`` includes the whole year).
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if operator not in ("lt", "lte", "gt", "gte"):
        raise ValueError(f"not a comparison: {operator!r}")
    start, _ = _timestamp(token, now=now, tz=tz, position=position)
    match operator:
        case "lt":
            return _interval(None, start)
        case "lte":
            return _interval(None, _just_after(start, tz))
        case "gt":
            after = _just_after(start, tz)
            return _interval(after, None) if after is not None else _nothing(start)
        case _:
            return _interval(start, None)


def _just_after(moment: datetime, tz: tzinfo) -> datetime | None:
    """The next instant (a microsecond later); ``None`` past the last representable one."""
    try:
        return _representable(moment + _MICROSECOND, tz)
    except (OverflowError, ValueError):
        return None


def _single_date(text: str, *, now: datetime, tz: tzinfo) -> Interval:
    """An interval without '/': only a year, month or day stands alone."""
    if text.startswith("P"):
        raise TimeExpressionError(
            f"a period alone is not an interval: {text!r}",
            position=0,
            hint=f"write now-{text}/ for the {text} up to now",
        )
    start, unit = _timestamp(text, now=now, tz=tz, position=0)
    if unit is None:
        raise TimeExpressionError(
            f"an interval needs '/': {text!r}",
            position=0,
            hint=f"write '{text}/' for since, '/{text}' for before, '>={text}' or '<={text}'",
        )
    return _interval(*_span(text, now=now, tz=tz, position=0))


def to_instant(value: object, tz: tzinfo = UTC) -> datetime | None:
    """An entity's time value as an aware datetime, or ``None`` if it holds none.

    Accepts ``datetime`` (naive means ``tz``), ``date`` (its first instant in
    ``tz``) and ISO 8601 text; anything unreadable counts as missing.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            from dateutil.parser import isoparse

            try:
                moment = isoparse(value)
            except (ValueError, OverflowError):
                return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment
