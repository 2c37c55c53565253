"""The Django backend: a bound Plan becomes a ``Q`` object, and ``sort=`` a list of ``order_by`` expressions.

:class:`DjangoBackend` is the :class:`~qfilter.core.backend.Backend` of
Django's ORM. A field of the model itself is tested with Django's lookups
(and the few expressions of :mod:`.expressions` where Django's lookups are
not exact); a field behind relations with a subquery, ``outer IN (SELECT
...)`` where it stands positive and ``EXISTS (...)`` under a negation, so
that a to-many path never joins (no duplicated rows, and ``tag:a,b`` may be
two different tags); a ``JSONField`` with :class:`~.json_paths.JsonAny`. Under a
negation every test is two-valued: a missing value (NULL) makes it false, so
``-owner:x`` keeps the entities without an owner, as memory does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import reduce
from typing import Any, assert_never, cast

from django.db.models import Exists, F, OrderBy, OuterRef, Q, TextField
from django.db.models.functions import Cast
from django.db.models.lookups import Exact, GreaterThan, In, LessThan

from qfilter.core import plan as ir
from qfilter.core.ast import Filter
from qfilter.core.backend import Comparison, build, build_order
from qfilter.core.errors import FilterLimitError
from qfilter.core.functions import Argument, FunctionMatcher
from qfilter.core.kinds import Kind, traits
from qfilter.core.numbers import grid_comparison, nearest_double
from qfilter.core.plan import (
    AllOf,
    AnyOf,
    Call,
    Compare,
    Condition,
    Contains,
    Equals,
    InNumbers,
    InSet,
    IsBoolean,
    Like,
    Not,
    Number,
    Operator,
    Plan,
    ValuePredicate,
    Within,
    to_plan,
)
from qfilter.core.schema import Field, Schema
from qfilter.core.sorting import SortKey

from .expressions import (
    ByCodePoint,
    Exactly,
    FoldCase,
    GlobLike,
    HasFoldedText,
    HasText,
    folds_as_ascii,
    like_pattern,
)
from .json_paths import JsonAny, has_not
from .mapping import DjangoMapping, Place

__all__ = ["MAX_META_KEYS", "DjangoBackend", "compile_q", "order_by"]

MAX_META_KEYS = 32
"""The deepest ``meta.<path>`` the Django backend accepts (SQLite joins at most 64 tables)."""

_INTEGER = re.compile(r"-?[0-9]+")  # ASCII digits: int() would also take "+5", " 5", "1_0" and "٥"
_LOOKUPS = {"eq": "exact", "lt": "lt", "lte": "lte", "gt": "gt", "gte": "gte"}
_SEEK_LOOKUPS = {"lt": LessThan, "gt": GreaterThan, "eq": Exact}


def _false() -> Q:
    """A ``Q`` that holds for no row (Django leaves it out of the SQL: an empty ``IN``)."""
    return Q(pk__in=[])


def _true() -> Q:
    """A ``Q`` that holds for every row, and whose negation holds for none (``~Q()`` would hold for all)."""
    return ~Q(pk__in=[])


def _is_ambiguous(wall: datetime, zone: tzinfo) -> bool:
    return wall.replace(tzinfo=zone, fold=0).utcoffset() != wall.replace(tzinfo=zone, fold=1).utcoffset()


def _wall_clock_bound(instant: datetime, zone: tzinfo) -> datetime:
    """The first naive wall-clock time in ``zone`` that memory reads as ``instant`` or later.

    Memory reads a naive time with ``fold=0``: a time of a repeated hour is its
    first occurrence, so when ``instant`` falls in the second occurrence the
    bound is the end of the repeated hour (the same rule as ``qfilter.sql``).
    """
    local = instant.astimezone(zone)
    wall = local.replace(tzinfo=None, fold=0)
    if isinstance(zone, timezone) or local.fold == 0:
        return wall
    first, second = local.replace(fold=0).utcoffset(), local.utcoffset()
    assert first is not None and second is not None  # local is aware: zone gave it an offset
    shift = first - second
    low, high = wall, wall + shift
    step = timedelta(microseconds=1)
    while high - low > step:
        middle = low + (high - low) // 2
        if _is_ambiguous(middle, zone):
            low = middle
        else:
            high = middle
    return high


def _time_bound(instant: datetime, zone: tzinfo) -> datetime:
    """A bound as Django compares it: an aware instant under ``USE_TZ``, else a naive time in ``zone``."""
    from django.conf import settings

    if settings.USE_TZ:
        return instant.astimezone(UTC)
    return _wall_clock_bound(instant, zone)


def _as_text(place: Place) -> Any:
    """The place's value as memory spells it: text as it is, an integer in decimal."""
    if place.value_class == "integer":
        return Cast(F(place.lookup), output_field=TextField())
    return F(place.lookup)


def _canonical_integer(text: str) -> int | None:
    """The integer whose decimal text is exactly ``text`` (``05``, ``+5`` and ``٥`` are none)."""
    if _INTEGER.fullmatch(text) is None or str(int(text)) != text:
        return None
    return int(text)


def _integer_operand(op: Operator, number: Number) -> tuple[Operator, int] | None:
    """The same comparison of an integer with an integer operand; ``None``: no integer equals ``number``."""
    if isinstance(number, int):
        return op, number
    if math.floor(number) == number:
        return op, math.floor(number)
    match op:
        case "eq":
            return None
        case "lt" | "lte":
            return "lte", math.floor(number)
        case "gt" | "gte":
            return "gte", math.ceil(number)
        case _:
            assert_never(op)


def _float_operand(op: Operator, number: Number) -> tuple[Operator, float] | bool:
    """The comparison of a double with the double nearest to ``number``, as memory compares a float.

    ``True``/``False`` beyond the doubles' range: every value, or none.
    """
    nearest = nearest_double(number)
    if math.isinf(nearest):
        return op in (("lt", "lte") if nearest > 0 else ("gt", "gte"))
    return op, nearest


def _compare(place: Place, op: Operator, number: Number) -> Q:
    """``value <op> number`` on a numeric column, exactly, whatever the column's type and the number's."""
    operand: tuple[Operator, Any] | bool | None
    match place.value_class:
        case "integer":
            operand = _integer_operand(op, number)
        case "float":
            operand = _float_operand(op, number)
        case "decimal":  # the number as written (spec section 10: price:9.99 is the decimal 9.99), on the column's grid
            field = place.value
            operand = grid_comparison(op, number, scale=field.decimal_places or 0, precision=field.max_digits)
        case _:
            return _false()  # text, booleans and times are never numbers
    if operand is None or operand is False:
        return _false()
    if operand is True:
        return Q(**{f"{place.lookup}__isnull": False})
    chosen, value = operand
    test = Q(**{f"{place.lookup}__{_LOOKUPS[chosen]}": value})
    if chosen == "eq":
        return test
    # Beyond an integer column's range Django answers "every row" without binding the value: a NULL is still none.
    return Q(**{f"{place.lookup}__isnull": False}) & test


def _in_numbers(place: Place, numbers: tuple[Number, ...]) -> Q:
    if place.value_class not in ("integer", "float", "decimal"):
        return _false()
    return reduce(lambda left, right: left | right, (_compare(place, "eq", number) for number in numbers), _false())


def _texts(values: Sequence[str]) -> list[str]:
    return [text for text in values if "\x00" not in text]


def column_test(condition: Condition, place: Place, zone: tzinfo) -> Q:
    """``condition`` on a column's value (not JSON): a ``Q`` relative to the model ``place.lookup`` starts from."""
    column = place.lookup
    match condition:
        case ir.Exists():
            return Q(**{f"{column}__isnull": False})
        case Contains(text, ignore_case):
            if "\x00" in text:  # no stored text holds U+0000 (PostgreSQL's cannot): it matches nothing
                return _false()
            return Q(HasFoldedText(_as_text(place), text) if ignore_case else HasText(_as_text(place), text))
        case Equals(value):
            if "\x00" in value:
                return _false()
            if place.value_class == "integer":
                number = _canonical_integer(value)
                return _false() if number is None else _compare(place, "eq", number)
            return Q(**{column: Exactly(value)})
        case Like(glob):
            if "\x00" in glob:
                return _false()
            return Q(GlobLike(FoldCase(_as_text(place)), like_pattern(glob)))
        case InSet(values, ignore_case):
            texts = _texts(values)
            if not texts:
                return _false()
            if ignore_case:
                return Q(In(FoldCase(_as_text(place), ascii_only=all(map(folds_as_ascii, texts))), texts))
            if place.value_class == "integer":
                numbers = [n for n in map(_canonical_integer, texts) if n is not None]
                return _in_numbers(place, tuple(numbers))
            return Q(In(F(column), [Exactly(text) for text in texts]))
        case Within(interval):
            tests = Q(**{f"{column}__isnull": False})
            if interval.start is not None:
                tests &= Q(**{f"{column}__gte": _time_bound(interval.start, zone)})
            if interval.end is not None:
                tests &= Q(**{f"{column}__lt": _time_bound(interval.end, zone)})
            return tests
        case Compare(op, number):
            return _compare(place, op, number)
        case InNumbers(numbers):
            return _in_numbers(place, numbers)
        case IsBoolean(value):
            return Q(**{column: value}) if place.value_class == "boolean" else _false()
        case Call(function, arguments):
            return _call(function, arguments, place, zone)
        case Not(inner):
            return ~column_test(inner, place, zone)
        case AllOf(parts):
            return reduce(lambda left, right: left & right, (column_test(p, place, zone) for p in parts))
        case AnyOf(parts):
            return reduce(lambda left, right: left | right, (column_test(p, place, zone) for p in parts))
        case _:
            assert_never(condition)


def _call(function: FunctionMatcher, arguments: tuple[object, ...], place: Place, zone: tzinfo) -> Q:
    """An application's function: its declaration's ``django(lookup, *arguments)``, where the column has a value.

    A nested matcher (:attr:`~qfilter.core.functions.Argument.MATCHER`) is given as its ``Q`` on the same column.
    """
    if function.django is None:
        raise ValueError(
            f"{function.name}() has no meaning for the Django backend: declare it with FunctionMatcher(django=...), "
            "a function of the lookup path and the arguments giving a Q"
        )
    given = [
        column_test(cast(ValuePredicate, argument), place, zone)
        if function.argument(index) is Argument.MATCHER
        else argument
        for index, argument in enumerate(arguments)
    ]
    test: Q = function.django(place.lookup, *given)
    return Q(**{f"{place.lookup}__isnull": False}) & test


def _has_call(condition: Condition) -> bool:
    match condition:
        case Call():
            return True
        case Not(inner):
            return _has_call(inner)
        case AllOf(parts) | AnyOf(parts):
            return any(map(_has_call, parts))
        case _:
            return False


def _meta_keys(target: Field) -> tuple[str, ...]:
    return tuple(target.qualifier.split(".")[1:]) if target.kind is Kind.META else ()


class DjangoBackend:
    """The :class:`~qfilter.core.backend.Backend` (``Q`` objects over ``mapping.model``) and Ordering of Django.

    ``zone`` is the zone of naive stored times (Django without ``USE_TZ``).
    """

    def __init__(self, mapping: DjangoMapping, zone: tzinfo) -> None:
        self.mapping = mapping
        self.zone = zone
        self._places: dict[Field, tuple[Place, ...]] = {}

    def places(self, field: Field) -> tuple[Place, ...]:
        """The places of ``field``, checked once (a ``ValueError`` for a missing or unfit one)."""
        found = self._places.get(field)
        if found is None:
            found = self._places[field] = self.mapping.places_of(field)
        return found

    def holds(self, field: Field, condition: Condition, *, negated: bool) -> Q:
        """Some value at some place of ``field`` satisfies ``condition``; never NULL when ``negated``."""
        keys = _meta_keys(field)
        tests = [self._at(place, keys, condition, field.kind, negated=negated) for place in self.places(field)]
        return self.any_of(tests)

    def _at(self, place: Place, keys: tuple[str, ...], condition: Condition, kind: Kind, *, negated: bool) -> Q:
        if place.value_class == "json":
            if _has_call(condition):
                raise ValueError(
                    f"{place.lookup}: an application's function has no meaning inside a JSONField in Django"
                )
            # An EXISTS: never NULL, and it needs no guard.
            test = Q(JsonAny(F(place.json_lookup), place.keys + keys, condition, kind))
        else:
            test = column_test(condition, place, self.zone)
            # NOT (x = 'X') is NULL, not true, for a NULL x; and a not() needs a value to hold.
            if has_not(condition) or (negated and place.local):
                test = Q(**{f"{place.lookup}__isnull": False}) & test
        if place.local:
            return test
        assert place.model is not None and place.outer is not None and place.inner is not None
        rows = place.model._base_manager.filter(test)
        if negated:
            return Q(Exists(rows.filter(**{place.inner: OuterRef(place.outer)})))
        # Positive: an uncorrelated IN, which a database can start from the value's index.
        return Q(**{f"{place.outer}__in": rows.values(place.inner)})

    def all_of(self, parts: Sequence[Q]) -> Q:
        """``AND``; every row for no parts."""
        if not parts:
            return _true()
        return reduce(lambda left, right: left & right, parts)

    def any_of(self, parts: Sequence[Q]) -> Q:
        """``OR``; no row for no parts."""
        if not parts:
            return _false()
        return reduce(lambda left, right: left | right, parts)

    def negation(self, part: Q) -> Q:
        """``NOT``."""
        return ~part

    # The Ordering (qfilter.core.backend): build_order and build_seek state the order, these its parts.

    def _sort_value(self, field: Field | None) -> Any:
        """What the order compares: the primary key for ``None``; a text kind's text by code point."""
        if field is None:
            return F("pk")
        places = self.places(field)
        place = places[0]
        if len(places) != 1 or place.many or place.value_class == "json":
            raise ValueError(f"sorting by {field.qualifier!r} needs one place of a single value")
        value: Any = F(place.path)  # a to-one path joins: one row per entity still
        if traits(field.kind).textual:
            text = Cast(value, output_field=TextField()) if place.value_class == "integer" else value
            value = ByCodePoint(text)
        return value

    def sort_key(self, field: Field, *, descending: bool) -> OrderBy:
        """The field's value, missing values last in both directions."""
        value = self._sort_value(field)
        ordered: OrderBy = value.desc(nulls_last=True) if descending else value.asc(nulls_last=True)
        return ordered

    def id_key(self) -> OrderBy:
        """The primary key, ascending."""
        return F("pk").asc()

    def compare(self, field: Field | None, op: Comparison, value: object) -> Q:
        """The value (the primary key's, for ``None``) compared with ``value`` as the order compares."""
        if isinstance(value, datetime) and field is not None and field.kind is Kind.TIME:
            value = _time_bound(value, self.zone)
        return Q(_SEEK_LOOKUPS[op](self._sort_value(field), value))

    def missing(self, field: Field) -> Q:
        """The field has no value (NULL)."""
        self._sort_value(field)  # a ValueError for a field that cannot be sorted by
        return Q(**{f"{self.places(field)[0].path}__isnull": True})

    def order_by(self, keys: Sequence[SortKey]) -> list[OrderBy]:
        """The ``order_by`` expressions of ``keys``, then the primary key, ascending.

        Missing values last in both directions, text by code point whatever
        the column's collation (docs/listings.md: sort). A key must be a field with
        one place of the model or behind to-one relations (``orm_schema``
        makes only those sortable); anything else is a ``ValueError``.
        """
        return build_order(keys, self)


def _check_meta_depth(plan: Plan) -> None:
    for group in plan.groups:
        keys = _meta_keys(group.field)
        if len(keys) > MAX_META_KEYS:
            term = group.terms[0]
            head = group.field.qualifier.split(".", 1)[0]
            raise FilterLimitError(
                f"{head}.<path> has {len(keys)} keys, more than the limit of {MAX_META_KEYS}",
                text=plan.source,
                position=term.position + (1 if term.excluded else 0),
            )


def compile_q(
    query: Filter | Plan | str,
    schema: Schema,
    mapping: DjangoMapping,
    *,
    user: str | None = None,
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> Q:
    """The ``Q`` of a filter, for ``Model.objects.filter(...)``: the entities memory would keep.

    ``query`` is filter text, a parsed :class:`~qfilter.core.ast.Filter` or a
    bound :class:`~qfilter.core.plan.Plan` (which keeps its own ``now``,
    ``user`` and ``tz``). ``user`` is the current user for ``@me``, ``now``
    the instant of ``now`` (default: the clock), ``tz`` the zone of times
    written without an offset (default: the schema's). Raises a
    :class:`~qfilter.core.errors.FilterError` for a bad filter and a
    ``ValueError`` when ``mapping`` has no fit place for a qualifier it uses.
    """
    plan = to_plan(query, schema, now=now, user=user, tz=tz)
    backend = DjangoBackend(mapping, schema.timezone)
    for group in plan.groups:  # a ValueError for a missing or unfit place, before anything is built
        backend.places(group.field)
    _check_meta_depth(plan)
    if not plan.groups:
        return Q()
    return build(plan, backend)


def order_by(keys: Sequence[SortKey], schema: Schema, mapping: DjangoMapping) -> list[OrderBy]:
    """The ``order_by`` expressions of ``sort=`` keys (:func:`qfilter.core.sorting.parse_sort`), ties by primary key.

    ``queryset.order_by(*order_by(parse_sort("-created,name", SCHEMA), SCHEMA, MAPPING))``.
    """
    return DjangoBackend(mapping, schema.timezone).order_by(keys)
