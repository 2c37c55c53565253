"""The SQL backend: a bound Plan becomes a SQLAlchemy boolean clause the database evaluates.

:class:`SqlBackend` is the :class:`~qfilter.core.backend.Backend` of SQL:
each condition on a field becomes a test at each of the field's locations
(:mod:`.mappings`), NULL-safe where it will stand under a NOT; the dialect
parts (:mod:`.dialects`) are chosen when the statement is compiled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any, assert_never, overload

import sqlalchemy as sa

from qfilter.core.ast import Filter
from qfilter.core.backend import build
from qfilter.core.errors import FilterLimitError
from qfilter.core.optimise import one_lookup_per_field
from qfilter.core.plan import (
    AllOf,
    AnyOf,
    Call,
    Compare,
    Condition,
    Contains,
    Equals,
    Exists,
    InNumbers,
    InSet,
    IsBoolean,
    Like,
    Not,
    Number,
    Operator,
    Plan,
    Within,
    to_plan,
)
from qfilter.core.schema import Field, Kind, Schema

from .calls import SqlValue, call_clause, folded_text, typed
from .dialects import SUPPORTED_DIALECTS, Supported, dialect_name, json_any
from .dialects.base import ValueTest
from .elements import LIKE_ESCAPE, contains, number_param, param
from .integers import IntegerTest, integer_clause, integer_comparison, integer_members
from .mappings import (
    Column,
    JsonArray,
    JsonObject,
    Location,
    Related,
    SqlMapping,
    enum_value,
    locations,
    value_class,
    value_text,
)
from .numbers import decimal_compare, float_compare, numbers_in
from .stored_times import time_bound

__all__ = ["MAX_META_KEYS", "SqlBackend", "SqlValue", "compile_clause", "value_test"]

MAX_META_KEYS = 32
"""The deepest ``meta.<path>`` the SQL compiler accepts (SQLite joins at most 64 tables)."""


def _like_pattern(glob: str) -> str:
    """The LIKE pattern (escape ``/``) of a ``like()`` glob, lower-cased as memory does."""
    out = []
    for char in glob.lower():
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char in ("%", "_", LIKE_ESCAPE):
            out.append(LIKE_ESCAPE + char)
        else:
            out.append(char)
    return "".join(out)


_INTEGER = re.compile(r"-?[0-9]{1,20}")  # ASCII digits: int() would also take "+5", " 5", "1_0" and "٥"


def _equals(value: sa.ColumnElement[Any], text: str, dialect: str | None = None) -> sa.ColumnElement[bool]:
    """The value's text is ``text``, compared in the column's own type so that an index serves it.

    A text no value of the column spells (``05`` or ``yes`` for an integer or
    boolean column, an integer beyond the column type's range, a name not in
    an ``Enum``) matches nothing, as in memory; binding it would be a
    database error instead.
    """
    match value_class(value.type):
        case "integer":
            # At most 20 digits: no integer column holds more, and int() refuses over 4,300.
            number = int(text) if _INTEGER.fullmatch(text) else None
            if number is None or str(number) != text:
                return sa.false()
            return _integer_compare(value, "eq", number, dialect)
        case "boolean":
            if text not in ("true", "false"):
                return sa.false()
            return value == sa.bindparam(None, text == "true", type_=value.type)
        case "enum":  # the member (or string) memory reads as text, bound in the column's own type
            member = enum_value(value.type, text)
            return sa.false() if member is None else value == sa.bindparam(None, member, type_=value.type)
        case _:
            return value == param(text)


_OPERATORS = {"eq": "__eq__", "lt": "__lt__", "lte": "__le__", "gt": "__gt__", "gte": "__ge__"}


def _integer_test(value: sa.ColumnElement[Any], test: IntegerTest) -> sa.ColumnElement[bool]:
    """An integer column's comparison: none, every value, or with an integer bound in the column's own type."""
    if test is False:
        return sa.false()
    if test is True:
        return value.is_not(None)
    op, whole = test
    compared: sa.ColumnElement[bool] = getattr(value, _OPERATORS[op])(sa.bindparam(None, whole, type_=value.type))
    return compared


def _integer_compare(
    value: sa.ColumnElement[Any], op: Operator, number: Number, dialect: str | None
) -> sa.ColumnElement[bool]:
    """``value <op> number`` on an integer column: exact, never a number the column's type cannot hold."""
    return integer_clause(
        value.type,
        dialect,
        lambda bounds: integer_comparison(op, number, bounds),
        lambda test: _integer_test(value, test),
    )


def _integer_in(
    value: sa.ColumnElement[Any], numbers: tuple[Number, ...], dialect: str | None
) -> sa.ColumnElement[bool]:
    """``value IN numbers`` on an integer column: the integers among them that its type holds."""

    def build(members: tuple[int, ...]) -> sa.ColumnElement[bool]:
        if not members:
            return sa.false()
        return value.in_([sa.bindparam(None, whole, type_=value.type) for whole in members])

    return integer_clause(value.type, dialect, lambda bounds: integer_members(numbers, bounds), build)


def _compare(value: sa.ColumnElement[Any], op: Operator, number: Number, dialect: str | None) -> sa.ColumnElement[bool]:
    """``value <op> number`` in the column's own type (:mod:`.integers`, :mod:`.numbers`); a JSON number's exactly."""
    match value_class(value.type):
        case "integer":
            return _integer_compare(value, op, number, dialect)
        case "float":
            return float_compare(value, op, number)
        case "decimal":
            return decimal_compare(value, op, number, dialect)
        case _:
            compared: sa.ColumnElement[bool] = getattr(value, _OPERATORS[op])(number_param(number))
            return compared


def _has_not(condition: Condition) -> bool:
    match condition:
        case Not():
            return True
        case AllOf(parts) | AnyOf(parts):
            return any(map(_has_not, parts))
        case _:
            return False


def _in_set(
    value: sa.ColumnElement[Any],
    values: tuple[str, ...],
    ignore_case: bool,
    dialect: str | None = None,
    folded: sa.ColumnElement[Any] | None = None,
) -> sa.ColumnElement[bool]:
    """``in()``/``inIgnoreCase()``: one ``IN`` of bound texts (values with U+0000 match nothing)."""
    texts = [text for text in values if "\x00" not in text]
    if not texts:
        return sa.false()
    if ignore_case:
        return folded_text(value, folded).in_([param(text) for text in texts])
    if value_class(value.type) in ("integer", "boolean", "enum"):
        return sa.or_(*(_equals(value, text, dialect) for text in texts))  # each in the column's own type
    return value.in_([param(text) for text in texts])


_SIMPLE = (Contains, Equals, Like, Within)


def value_test(
    condition: Condition, value: SqlValue | sa.ColumnElement[Any], zone: tzinfo, dialect: str | None = None
) -> sa.ColumnElement[bool]:
    """``condition`` on one value (a column, or a JSON element); a plain column is a text value.

    ``dialect`` (a SQLAlchemy dialect name), when given, is the only
    database the test is built for where the databases differ (the range of
    an integer column).
    """
    if isinstance(condition, _SIMPLE):  # the common case first: it reads the value's text only
        if isinstance(value, SqlValue):
            return _simple_test(condition, value.value, zone, dialect, value.folded)
        return _simple_test(condition, value, zone, dialect)
    if not isinstance(value, SqlValue):
        value = SqlValue(value)
    one = value.value
    match condition:
        case Exists():
            return value.is_present()
        case InSet(values, ignore_case):
            return _in_set(one, values, ignore_case, dialect, value.folded)
        case Compare(op, number):
            if value.number is None:
                return sa.false()
            return _compare(value.number, op, number, dialect)
        case InNumbers(numbers):
            if value.number is None:
                return sa.false()
            match value_class(value.number.type):
                case "integer":
                    return _integer_in(value.number, numbers, dialect)
                case "float" | "decimal" as stored:
                    return numbers_in(value.number, numbers, dialect, decimal=stored == "decimal")
            return value.number.in_([number_param(n) for n in numbers])
        case IsBoolean(expected):
            if value.boolean is None:
                return sa.false()
            return value.boolean == sa.bindparam(None, expected, type_=value.boolean.type)
        case Call():
            return call_clause(
                condition, value, dialect, SUPPORTED_DIALECTS, lambda inner: value_test(inner, value, zone, dialect)
            )
        case Not(inner):
            # Two-valued: NOT of a NULL (a JSON object's text compared) must be true, as in memory.
            return sa.not_(sa.func.coalesce(value_test(inner, value, zone, dialect), sa.false()))
        case AllOf(parts):
            return sa.and_(*(value_test(part, value, zone, dialect) for part in parts))
        case AnyOf(parts):
            return sa.or_(*(value_test(part, value, zone, dialect) for part in parts))
        case _:  # the simple conditions, taken above
            return _simple_test(condition, one, zone, dialect)


def _matched_text(condition: Contains | Equals | Like) -> str:
    if isinstance(condition, Equals):
        return condition.value
    return condition.glob if isinstance(condition, Like) else condition.text


def _simple_test(
    condition: Contains | Equals | Like | Within,
    value: sa.ColumnElement[Any],
    zone: tzinfo,
    dialect: str | None,
    folded: sa.ColumnElement[Any] | None = None,
) -> sa.ColumnElement[bool]:
    """The four conditions of sections 1 to 8, on a column or a JSON element's text."""
    if not isinstance(condition, Within) and "\x00" in _matched_text(condition):
        return sa.false()  # PostgreSQL text cannot hold U+0000: such a matcher matches nothing
    match condition:
        case Contains(text, ignore_case):
            haystack = folded_text(value, folded) if ignore_case else value_text(value)
            return contains(haystack, text)
        case Equals(text):
            return _equals(value, text, dialect)
        case Like(glob):
            return folded_text(value, folded).like(param(_like_pattern(glob)), escape=LIKE_ESCAPE)
        case Within(interval):
            start = time_bound(interval.start, value, zone)
            end = time_bound(interval.end, value, zone)
            tests = [] if start is None else [value >= start]
            if end is not None:
                tests.append(value < end)
            if not tests:  # open at both ends (created:<=9999): any time value
                return value.is_not(None)
            return sa.and_(*tests)
        case _:
            assert_never(condition)


def _at(
    location: Location,
    keys: tuple[str, ...],
    condition: Condition,
    zone: tzinfo,
    *,
    two_valued: bool,
    kind: Kind = Kind.EXACT,
    dialect: str | None = None,
) -> sa.ColumnElement[bool]:
    """``condition`` holds for some value at ``location``; never NULL when ``two_valued``."""
    # A not() holds for a value that is there and fails its argument: it needs the value's presence.
    guard = _has_not(condition)
    match location:
        case Column(column):
            test = value_test(condition, typed(column, kind, location.folded), zone, dialect)
            # NOT (x = 'X') is NULL, not true, for a NULL x: an excluded group needs false.
            return sa.and_(column.is_not(None), test) if two_valued or guard else test
        case Related(_, fk, value, references):
            test = value_test(condition, typed(value, kind), zone, dialect)
            if guard:
                test = sa.and_(value.is_not(None), test)
            source = location.source
            # The FROM follows from the columns unless it is a join (fewer elements to build and key).
            joined = isinstance(source, sa.Join)
            if two_valued:
                # Under NOT: EXISTS is never NULL, and PostgreSQL makes NOT EXISTS an anti join.
                exists = sa.exists().select_from(source) if joined else sa.exists()
                return exists.where(fk == references, test)
            # Positive: an uncorrelated IN lets SQLite start the plan from the value's
            # index (it never starts from a correlated EXISTS); a NULL here is only false.
            key: sa.ColumnElement[Any] = references
            values = sa.select(fk).select_from(source) if joined else sa.select(fk)
            return key.in_(values.where(test))
        case JsonArray(column):
            each = _element_test(condition, zone, scalars_only=True, guard=guard)
            return json_any(column, (), condition, each, dialect)
        case JsonObject(column):
            if any("\x00" in key for key in keys):
                return sa.false()  # PostgreSQL text cannot hold U+0000: no key with it is found, anywhere
            return json_any(
                column, keys, condition, _element_test(condition, zone, scalars_only=False, guard=guard), dialect
            )
        case _:
            assert_never(location)


def _element_test(condition: Condition, zone: tzinfo, *, scalars_only: bool, guard: bool) -> ValueTest:
    """The test ``json_any`` applies to each element; text kinds read scalars only, ``meta.`` anything but null."""

    def test(
        text: sa.ColumnElement[Any],
        *,
        number: sa.ColumnElement[Any] | None = None,
        present: sa.ColumnElement[bool] | None = None,
    ) -> sa.ColumnElement[bool]:
        value = SqlValue(text, number=number, present=None if scalars_only else present)
        found = value_test(condition, value, zone)
        return sa.and_(value.is_present(), found) if guard else found

    return test


def _meta_keys(target: Field) -> tuple[str, ...]:
    # Split as memory splits the field's path (qfilter.core.schema): a "[*]" ending is only a reminder there.
    if target.kind is not Kind.META:
        return ()
    return tuple(key.removesuffix("[*]") for key in target.qualifier.split(".")[1:])


class SqlBackend:
    """The :class:`~qfilter.core.backend.Backend` whose results are SQLAlchemy boolean clauses.

    ``mapping`` says where each qualifier's values are; ``zone`` is the zone
    of naive ``DateTime`` columns; ``dialect`` (a SQLAlchemy dialect name),
    when given, is the only dialect whose JSON search is built.
    """

    def __init__(
        self,
        mapping: SqlMapping,
        zone: tzinfo,
        dialect: str | None = None,
        located: dict[Field, tuple[Location, ...]] | None = None,
    ) -> None:
        self.mapping = mapping
        self.zone = zone
        self.dialect = dialect
        self._located = {} if located is None else located  # each field's locations, checked once

    def holds(self, field: Field, condition: Condition, *, negated: bool) -> sa.ColumnElement[bool]:
        """Some value at some location of ``field`` satisfies ``condition``; never NULL when ``negated``."""
        keys = _meta_keys(field)
        found = self._located.get(field)
        if found is None:
            found = self._located[field] = locations(field, self.mapping)
        tests = [
            _at(location, keys, condition, self.zone, two_valued=negated, kind=field.kind, dialect=self.dialect)
            for location in found
        ]
        return tests[0] if len(tests) == 1 else sa.or_(*tests)

    # One part is the part itself: the same SQL as an AND or OR of one, without building one per condition.

    def all_of(self, parts: Sequence[sa.ColumnElement[bool]]) -> sa.ColumnElement[bool]:
        """``AND``; ``true`` for no parts."""
        if len(parts) == 1:
            return parts[0]
        return sa.and_(*parts) if parts else sa.true()

    def any_of(self, parts: Sequence[sa.ColumnElement[bool]]) -> sa.ColumnElement[bool]:
        """``OR``; ``false`` for no parts."""
        if len(parts) == 1:
            return parts[0]
        return sa.or_(*parts) if parts else sa.false()

    def negation(self, part: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
        """``NOT``."""
        return sa.not_(part)


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


@overload
def compile_clause(
    query: Plan, mapping: SqlMapping, /, *, dialect: sa.Dialect | str | None = None
) -> sa.ColumnElement[bool]: ...


@overload
def compile_clause(
    query: Filter | Plan | str,
    schema: Schema,
    mapping: SqlMapping,
    /,
    *,
    now: datetime | None = None,
    user: str | None = None,
    tz: tzinfo | None = None,
    dialect: sa.Dialect | str | None = None,
) -> sa.ColumnElement[bool]: ...


def compile_clause(
    query: Filter | Plan | str,
    schema: Schema | SqlMapping,
    mapping: SqlMapping | None = None,
    /,
    *,
    now: datetime | None = None,
    user: str | None = None,
    tz: tzinfo | None = None,
    dialect: sa.Dialect | str | None = None,
) -> sa.ColumnElement[bool]:
    """The boolean clause of a filter, for ``select(...).where(...)``: ``compile_clause(plan, mapping)``.

    A bound :class:`~qfilter.core.ir.Plan` carries its schema, ``now``,
    user and zone, so the plan and ``mapping`` are enough. Filter text or a
    parsed :class:`~qfilter.core.ast.Filter` comes with its schema:
    ``compile_clause(text, schema, mapping, now=..., user=..., tz=...)``
    (``now``, ``user`` and ``tz`` mean what they mean for
    :func:`qfilter.compile_predicate`); so may a Plan, bound under that
    schema. Naive ``DateTime`` columns are in the schema's zone, whatever
    ``tz`` is (the language reference: time intervals). Raises a
    :class:`~qfilter.core.errors.FilterError` for a bad filter and a ``ValueError``
    when ``mapping`` has no usable location for a qualifier the filter uses.

    ``dialect`` (``engine.dialect``, or its name: ``"postgresql"``) builds
    the clause for that database only, which is cheaper where the dialects
    differ (JSON); the clause then refuses to compile for another one.
    Without it, the clause compiles for any supported database.
    """
    if isinstance(schema, Schema):
        if mapping is None:
            raise TypeError("compile_clause(query, schema, mapping): the SQL mapping is missing")
        plan = to_plan(query, schema, now=now, user=user, tz=tz)
    elif mapping is not None or not isinstance(query, Plan):
        raise TypeError("compile_clause(plan, mapping) takes a bound Plan; text needs its schema: (q, schema, mapping)")
    else:
        plan, mapping = query, schema
    # A ValueError for a missing or wrong location, before any SQL is built.
    located = {group.field: locations(group.field, mapping) for group in plan.groups}
    _check_meta_depth(plan)
    name = dialect_name(dialect)
    backend = SqlBackend(mapping, plan.schema.timezone, name, located)  # stored times: schema's zone
    return Supported(build(one_lookup_per_field(plan), backend), name)
