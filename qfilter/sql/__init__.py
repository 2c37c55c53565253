"""The SQL compiler: a filter becomes a SQLAlchemy boolean clause the database evaluates.

Import it explicitly (``import qfilter.sql``): :mod:`qfilter` itself does not
load SQLAlchemy. A *SQL mapping* says, for each qualifier of a schema, where
its value lives::

    from qfilter.sql import Column, Related, JsonArray, JsonObject, compile_clause

    MAPPING = {
        "name": Column(devices.c.name),                       # a plain column
        "tag": Related(labels, labels.c.device_id, labels.c.label),  # an association table
        "owner": (Column(devices.c.created_by), Column(devices.c.modified_by)),  # several places
        "created": Column(devices.c.created),                 # a DateTime column
        "meta": JsonObject(devices.c.meta),                   # meta.<path> inside a JSON object
    }
    rows = conn.execute(select(devices).where(compile_clause("tag:demo", SCHEMA, MAPPING)))

The clause gives the same answers as :mod:`qfilter.memory` on the same data,
on SQLite and PostgreSQL (``docs/sql.md`` lists the decisions that make it so,
and the few documented limits). Every matcher reaches the database as a bound
parameter. On SQLite, call :func:`install_sqlite_functions` on the engine
first: case-insensitive matching uses Python's ``str.lower`` there.

The clause is dialect-neutral until it is compiled: the few pieces that differ
between SQLite and PostgreSQL (case folding, substring search, walking JSON)
are chosen when SQLAlchemy compiles the statement for a connection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from qfilter.core.ast import Filter
from qfilter.core.errors import FilterLimitError
from qfilter.core.parser import parse
from qfilter.core.plan import Condition, Contains, Context, Equals, Group, Like, Plan, Within, bind
from qfilter.core.schema import Field, Kind, Schema

__all__ = [
    "Column",
    "Related",
    "JsonArray",
    "JsonObject",
    "Location",
    "SqlMapping",
    "UtcDateTime",
    "json_keeping_numbers",
    "check_mapping",
    "compile_clause",
    "install_sqlite_functions",
    "SQLITE_LOWER",
    "MAX_META_KEYS",
    "POSTGRESQL_COLLATION",
]

SQLITE_LOWER = "qfilter_lower"
"""The SQLite function :func:`install_sqlite_functions` registers: Python's ``str.lower``."""
POSTGRESQL_COLLATION = "und-x-icu"
"""The ICU collation whose ``lower()`` folds case the way Python's ``str.lower`` does."""

_SUPPORTED_DIALECTS = ("sqlite", "postgresql")
_LIKE_ESCAPE = "/"
_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]
_ZERO: sa.ColumnElement[int] = sa.literal_column("0", sa.Integer())
MAX_META_KEYS = 32
"""The deepest ``meta.<path>`` the SQL compiler accepts (SQLite joins at most 64 tables)."""


def _as_column(value: Any, role: str) -> sa.ColumnElement[Any]:
    """A Core column expression, from a column or an ORM attribute (``Device.name``)."""
    element = value.__clause_element__() if hasattr(value, "__clause_element__") else value
    if not isinstance(element, sa.ColumnElement):
        raise TypeError(f"{role} must be a SQLAlchemy column or ORM attribute, not {type(value).__name__}")
    return element


# -- where a qualifier's value lives -----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Column:
    """The value is in a column of the filtered table; NULL means "no value".

    For a time qualifier the column is a ``DateTime``: with ``timezone=True``
    (or :class:`UtcDateTime`) it holds instants, without it wall-clock times
    in the schema's time zone.
    """

    column: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "column", _as_column(self.column, "Column(column)"))


@dataclass(frozen=True, eq=False)
class Related:
    """A multi-valued field in an association table: ``key IN (SELECT fk ...)``, ``NOT EXISTS`` when excluded.

    ``fk`` is the association table's column that refers to the filtered
    table, ``value`` the column holding one value per row. ``references`` is
    the filtered table's column ``fk`` points at; by default the target of
    ``fk``'s (only) ``ForeignKey``.
    """

    table: sa.FromClause
    fk: Any
    value: Any
    references: Any = None

    def __post_init__(self) -> None:
        fk = _as_column(self.fk, "Related(fk)")
        object.__setattr__(self, "fk", fk)
        object.__setattr__(self, "value", _as_column(self.value, "Related(value)"))
        if self.references is None:
            targets = list(getattr(fk, "foreign_keys", ()))
            if len(targets) != 1:
                raise ValueError(f"Related: {fk} has {len(targets)} foreign keys; pass references=")
            object.__setattr__(self, "references", targets[0].column)
        else:
            object.__setattr__(self, "references", _as_column(self.references, "Related(references)"))


@dataclass(frozen=True, eq=False)
class JsonArray:
    """A JSON array of scalars in one column (``["demo", "prio1"]``): any element may match.

    Use a ``JSON`` column (SQLite: ``json_each``), or ``JSONB`` on PostgreSQL,
    where an exact match is a GIN-indexable ``@>``.
    """

    column: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "column", _as_column(self.column, "JsonArray(column)"))


@dataclass(frozen=True, eq=False)
class JsonObject:
    """The JSON object the ``meta.<path>`` keys are looked up in (the ``Kind.META`` qualifier).

    As in memory, a list met on the path is looked into, element by element.
    """

    column: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "column", _as_column(self.column, "JsonObject(column)"))


Location: TypeAlias = Column | Related | JsonArray | JsonObject
SqlMapping: TypeAlias = Mapping[str, Location | Sequence[Location]]
"""Qualifier to location(s). Several locations mean "any of them" (``user``)."""

_ALLOWED: dict[Kind, tuple[type, ...]] = {
    Kind.TEXT: (Column, Related, JsonArray),
    Kind.EXACT: (Column, Related, JsonArray),
    Kind.USER: (Column, Related, JsonArray),
    Kind.TIME: (Column, Related),
    Kind.META: (JsonObject,),
}


def _datetime_type(type_: sa.types.TypeEngine[Any]) -> sa.DateTime | None:
    impl = type_.impl_instance if isinstance(type_, sa.TypeDecorator) else type_
    return impl if isinstance(impl, sa.DateTime) else None


def _location_problem(target: Field, location: Location) -> str | None:
    allowed = _ALLOWED[target.kind]
    if not isinstance(location, allowed):
        names = " or ".join(kind.__name__ for kind in allowed)
        return f"{target.qualifier!r} ({target.kind.value}) needs {names}, not {type(location).__name__}"
    if target.kind is Kind.TIME:
        column = location.value if isinstance(location, Related) else location.column
        if _datetime_type(column.type) is None:
            return f"{target.qualifier!r} is a time: its column {column} must be a DateTime, not {column.type}"
    return None


def _locations(target: Field, mapping: SqlMapping) -> tuple[Location, ...]:
    head = target.qualifier.split(".", 1)[0] if target.kind is Kind.META else target.qualifier
    try:
        found = mapping[head]
    except KeyError:
        raise ValueError(f"the SQL mapping has no location for {head!r}") from None
    locations = tuple(found) if isinstance(found, Sequence) else (found,)
    if not locations:
        raise ValueError(f"the SQL mapping has no location for {head!r}")
    for location in locations:
        problem = _location_problem(target, location)
        if problem:
            raise ValueError(f"SQL mapping: {problem}")
    return locations


def check_mapping(schema: Schema, mapping: SqlMapping) -> None:
    """Raise a ``ValueError`` naming every qualifier of ``schema`` the mapping misses or maps wrongly.

    :func:`compile_clause` checks the qualifiers a filter uses; call this at
    start-up to learn about a bad mapping before a user does.
    """
    problems = []
    for target in schema.fields:
        try:
            _locations(target, mapping)
        except ValueError as error:
            problems.append(str(error))
    unknown = sorted(set(mapping) - set(schema.by_qualifier))
    if unknown:
        problems.append(f"the SQL mapping names qualifiers {schema.name!r} does not have: {', '.join(unknown)}")
    if problems:
        raise ValueError("; ".join(problems))


# -- time columns ------------------------------------------------------------------------------------


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware ``DateTime`` that stores UTC on every database.

    PostgreSQL: ``timestamp with time zone``. SQLite, which has no timestamp
    type: SQLAlchemy's fixed-width text ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC,
    so text order is time order and an index serves ranges. Binding a naive
    datetime is an error (its zone would be a guess); results are aware, UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"UtcDateTime needs an aware datetime, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _SQLiteJsonText(sqlite.JSON):
    """SQLite JSON in a column declared ``TEXT``."""

    cache_ok = True


@compiles(_SQLiteJsonText, "sqlite")
def _sqlite_json_text(type_: _SQLiteJsonText, compiler: Any, **kw: Any) -> str:
    return "TEXT"


def json_keeping_numbers(*, binary: bool = False) -> sa.JSON:
    """A JSON column type under which filters compare numbers by their JSON spelling, as in memory.

    On SQLite the column is declared ``TEXT``: declared ``JSON`` it would have
    numeric affinity, which turns a bare number stored as the whole value
    (``1e-05``) into a REAL and loses its spelling. On PostgreSQL it is
    ``json``, which keeps each number's text, or with ``binary`` ``jsonb``,
    which a GIN index serves but which keeps numerics (docs/sql.md: limits).
    """
    json = sa.JSON().with_variant(_SQLiteJsonText(), "sqlite")
    return json.with_variant(postgresql.JSONB(), "postgresql") if binary else json


def _is_ambiguous(wall: datetime, zone: tzinfo) -> bool:
    return wall.replace(tzinfo=zone, fold=0).utcoffset() != wall.replace(tzinfo=zone, fold=1).utcoffset()


def _wall_clock_bound(instant: datetime, zone: tzinfo) -> datetime:
    """The first naive wall-clock time in ``zone`` that memory reads as ``instant`` or later.

    Memory reads a naive time with ``fold=0``: a time of a repeated hour is its
    first occurrence. So when ``instant`` falls in the second occurrence, the
    repeated wall times all read earlier, and the bound is the end of the
    repeated hour. Wall times that do not exist (a skipped hour) are not
    ordered like instants at all; docs/sql.md says so.
    """
    local = instant.astimezone(zone)
    wall = local.replace(tzinfo=None, fold=0)
    if isinstance(zone, timezone) or local.fold == 0:
        return wall
    # Second occurrence: find where the ambiguous stretch ends (at most the zone's shift away).
    low, high = wall, wall + (local.replace(fold=0).utcoffset() - local.utcoffset())  # type: ignore[operator]
    step = timedelta(microseconds=1)
    while high - low > step:
        middle = low + (high - low) // 2
        if _is_ambiguous(middle, zone):
            low = middle
        else:
            high = middle
    return high


def _time_bound(instant: datetime | None, column: sa.ColumnElement[Any], zone: tzinfo) -> datetime | None:
    if instant is None:
        return None
    kind = _datetime_type(column.type)
    if kind is not None and kind.timezone:
        # UTC: SQLite's plain DateTime(timezone=True) stores the wall time it is given.
        return instant.astimezone(UTC)
    return _wall_clock_bound(instant, zone)


# -- dialect-specific pieces -------------------------------------------------------------------------


def _unsupported(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    raise sa.exc.CompileError(
        f"qfilter.sql compiles for {' and '.join(_SUPPORTED_DIALECTS)}, not {compiler.dialect.name}"
    )


class _fold_case(FunctionElement[str]):
    """Lower-case text exactly as Python's ``str.lower`` does."""

    type = sa.String()
    inherit_cache = True
    name = "qfilter_fold_case"


class _position(FunctionElement[int]):
    """1-based position of the second text in the first, 0 if absent (no pattern characters)."""

    type = sa.Integer()
    inherit_cache = True
    name = "qfilter_position"


compiles(_fold_case)(_unsupported)
compiles(_position)(_unsupported)


@compiles(_fold_case, "sqlite")
def _fold_case_sqlite(element: _fold_case, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_LOWER}({compiler.process(element.clauses, **kw)})"


@compiles(_fold_case, "postgresql")
def _fold_case_postgresql(element: _fold_case, compiler: SQLCompiler, **kw: Any) -> str:
    return f'lower(({compiler.process(element.clauses, **kw)}) COLLATE "{POSTGRESQL_COLLATION}")'


@compiles(_position, "sqlite")
def _position_sqlite(element: _position, compiler: SQLCompiler, **kw: Any) -> str:
    return f"instr({compiler.process(element.clauses, **kw)})"


@compiles(_position, "postgresql")
def _position_postgresql(element: _position, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strpos({compiler.process(element.clauses, **kw)})"


class _PerDialect(sa.ColumnElement[bool]):
    """One boolean expression per dialect, chosen when the statement is compiled.

    Every variant is a child, so the statement cache key covers all their
    bound parameters, and each variant owns its parameters.
    """

    __visit_name__ = "qfilter_per_dialect"
    inherit_cache = True
    type = sa.Boolean()
    _traverse_internals = [
        ("dialects", InternalTraversal.dp_string_list),
        ("variants", InternalTraversal.dp_clauseelement_tuple),
    ]

    def __init__(self, variants: Mapping[str, sa.ColumnElement[bool]]) -> None:
        self.dialects = tuple(variants)
        self.variants = tuple(variants.values())


@compiles(_PerDialect)
def _per_dialect(element: _PerDialect, compiler: SQLCompiler, **kw: Any) -> str:
    name = compiler.dialect.name
    if name not in element.dialects:
        return _unsupported(element, compiler)
    # Parenthesised: the variant may be an AND, and the element may stand under a NOT.
    return f"({compiler.process(element.variants[element.dialects.index(name)], **kw)})"


def install_sqlite_functions(engine: sa.Engine) -> None:
    """Register, on every new SQLite connection of ``engine``, the functions compiled clauses call.

    That is :data:`SQLITE_LOWER`, Python's ``str.lower`` (SQLite's own
    ``lower()`` folds ASCII only). Call it before the engine's first
    connection; engines of other databases are left alone.
    """
    if engine.dialect.name != "sqlite":
        return

    def register(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.create_function(SQLITE_LOWER, 1, _python_lower, deterministic=True)

    sa.event.listen(engine, "connect", register)


def _python_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


# -- compiling ---------------------------------------------------------------------------------------


def _param(value: str) -> sa.BindParameter[str]:
    return sa.bindparam(None, value, type_=sa.String())


def _constant(text: str) -> sa.ColumnElement[str]:
    """One of qfilter's own SQL string constants (never user text), written inline for readability."""
    return sa.literal_column(f"'{text}'", sa.String())


def _like_pattern(glob: str) -> str:
    """The LIKE pattern (escape ``/``) of a ``like()`` glob, lower-cased as memory does."""
    out = []
    for char in glob.lower():
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char in ("%", "_", _LIKE_ESCAPE):
            out.append(_LIKE_ESCAPE + char)
        else:
            out.append(char)
    return "".join(out)


def _test(condition: Condition, value: sa.ColumnElement[Any], zone: tzinfo) -> sa.ColumnElement[bool]:
    """``condition`` on one value (a column, or the text of a JSON element)."""
    match condition:
        case Contains(text, _) | Equals(text) | Like(text) if "\x00" in text:
            return sa.false()  # PostgreSQL text cannot hold U+0000: such a matcher matches nothing
        case Contains(text, ignore_case):
            haystack = _fold_case(value) if ignore_case else value
            return _position(haystack, _param(text)) > _ZERO
        case Equals(text):
            return value == _param(text)
        case Like(glob):
            return _fold_case(value).like(_param(_like_pattern(glob)), escape=_LIKE_ESCAPE)
        case Within(interval):
            start = _time_bound(interval.start, value, zone)
            end = _time_bound(interval.end, value, zone)
            tests = [] if start is None else [value >= start]
            if end is not None:
                tests.append(value < end)
            return sa.and_(*tests)
    raise TypeError(f"unknown condition {condition!r}")  # pragma: no cover


def _sqlite_json_any(
    column: sa.ColumnElement[Any], keys: tuple[str, ...], condition: Condition, zone: tzinfo
) -> sa.ColumnElement[bool]:
    """EXISTS a scalar at ``keys`` in a JSON column that satisfies ``condition`` (SQLite).

    Each level wraps its value in an array unless it is one, so that
    ``json_each`` lists exactly the values memory sees (an array unwrapped
    once, anything else as itself), and looks the next key up in objects only.
    """

    def as_array(value: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        # value -> '$' is the value as JSON (not as a string) for json_array().
        as_json = value.op("->", return_type=sa.String())(_constant("$"))
        return sa.case((sa.func.json_type(value) == _constant("array"), value), else_=sa.func.json_array(as_json))

    array = as_array(column)
    node = sa.func.json_each(array).table_valued("key", "type", "atom", "value")
    joined: sa.FromClause = node
    for key in keys:
        member = node.c.value.op("->", return_type=sa.String())(_param(f'$."{key}"'))
        array = as_array(sa.case((node.c.type == _constant("object"), member)))
        node = sa.func.json_each(array).table_valued("key", "type", "atom", "value")
        joined = joined.join(node, sa.true())
    # A number's or boolean's own JSON text: numbers keep their spelling (1e-05, 5.0), as in Python.
    element = sa.func.printf(_constant("$[%d]"), node.c.key)
    text = sa.case(
        (node.c.type == _constant("text"), node.c.atom),
        (
            node.c.type.in_([_constant(t) for t in ("integer", "real", "true", "false")]),
            array.op("->", return_type=sa.String())(element),
        ),
    )
    return sa.select(sa.literal_column("1")).select_from(joined).where(_test(condition, text, zone)).exists()


def _could_be_non_string(value: str) -> bool:
    """Whether a JSON number or boolean could have ``value`` as its text."""
    if value in ("true", "false"):
        return True
    try:
        float(value)
    except ValueError:
        return False
    return True


def _postgresql_json_any(
    column: sa.ColumnElement[Any],
    keys: tuple[str, ...],
    condition: Condition,
    zone: tzinfo,
    *,
    indexable: bool = True,
) -> sa.ColumnElement[bool]:
    """EXISTS a scalar at ``keys`` in a JSON column that satisfies ``condition`` (PostgreSQL).

    Each level unwraps one array, as memory does; ``json`` columns keep each
    number's spelling, ``jsonb`` ones hold numerics (docs/sql.md: the limits).
    """
    binary = isinstance(column.type.dialect_impl(_POSTGRESQL), postgresql.JSONB)
    prefix = "jsonb" if binary else "json"
    document = column if isinstance(column.type, sa.JSON) else sa.cast(column, sa.JSON())

    def call(name: str, *arguments: Any) -> sa.Function[Any]:
        return sa.Function(f"{prefix}_{name}", *arguments)

    def typeof(value: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        return call("typeof", value)

    def elements(value: sa.ColumnElement[Any]) -> sa.TableValuedAlias:
        as_array = sa.case((typeof(value) == _constant("array"), value), else_=call("build_array", value))
        return call("array_elements", as_array).table_valued("value")

    if indexable and binary and not keys and isinstance(condition, Equals) and "\x00" not in condition.value:
        # The GIN-indexable form; it sees string elements only, so numbers and
        # booleans spelled like the value still need the general test below.
        value = sa.func.to_jsonb(sa.cast(_param(condition.value), sa.Text()))
        # IS NOT NULL: a NULL column must make this false, not NULL, under NOT.
        contains = sa.and_(column.is_not(None), column.op("@>", return_type=sa.Boolean())(value))
        if not _could_be_non_string(condition.value):
            return contains
        return sa.or_(contains, _postgresql_json_any(column, keys, condition, zone, indexable=False))

    node = elements(document)
    joined: sa.FromClause = node
    for key in keys:
        member = call("extract_path", node.c.value, _param(key))
        # Only objects have members (json_extract_path would index an array with "0").
        child = sa.case((typeof(node.c.value) == _constant("object"), member))
        node = elements(child)
        joined = joined.join(node, sa.true())
    kind = typeof(node.c.value)
    spelled = node.c.value.op("#>>", return_type=sa.String())(sa.literal_column("'{}'"))
    number: sa.ColumnElement[str] = spelled
    if binary:
        # jsonb keeps 0.00001 for Python's 1e-05: respell small fractions as float8 does, like repr.
        numeric = sa.cast(spelled, sa.Numeric())
        small = sa.and_(
            _position(spelled, _constant(".")) > _ZERO,
            numeric != _ZERO,
            sa.func.abs(numeric) < sa.literal_column("0.0001"),
        )
        as_float = sa.cast(sa.cast(spelled, postgresql.DOUBLE_PRECISION()), sa.Text())
        number = sa.case((small, as_float), else_=spelled)
    text = sa.case(
        (kind.in_([_constant("string"), _constant("boolean")]), spelled),
        (kind == _constant("number"), number),
    )
    return sa.select(sa.literal_column("1")).select_from(joined).where(_test(condition, text, zone)).exists()


def _json_any(
    column: sa.ColumnElement[Any], keys: tuple[str, ...], condition: Condition, zone: tzinfo
) -> sa.ColumnElement[bool]:
    return _PerDialect(
        {
            "sqlite": _sqlite_json_any(column, keys, condition, zone),
            "postgresql": _postgresql_json_any(column, keys, condition, zone),
        }
    )


def _at(
    location: Location, keys: tuple[str, ...], condition: Condition, zone: tzinfo, *, two_valued: bool
) -> sa.ColumnElement[bool]:
    """``condition`` holds for some value at ``location``; never NULL when ``two_valued``."""
    match location:
        case Column(column):
            test = _test(condition, column, zone)
            # NOT (x = 'X') is NULL, not true, for a NULL x: an excluded group needs false.
            return sa.and_(column.is_not(None), test) if two_valued else test
        case Related(_, fk, value, references):
            test = _test(condition, value, zone)
            if two_valued:
                # Under NOT: EXISTS is never NULL, and PostgreSQL makes NOT EXISTS an anti join.
                return sa.select(sa.literal_column("1")).where(fk == references, test).exists()
            # Positive: an uncorrelated IN lets SQLite start the plan from the value's
            # index (it never starts from a correlated EXISTS); a NULL here is only false.
            key: sa.ColumnElement[Any] = references
            return key.in_(sa.select(fk).where(test))
        case JsonArray(column):
            return _json_any(column, (), condition, zone)
        case JsonObject(column):
            return _json_any(column, keys, condition, zone)
    raise TypeError(f"unknown location {location!r}")  # pragma: no cover


def _group(group: Group, mapping: SqlMapping, zone: tzinfo, source: str) -> sa.ColumnElement[bool]:
    target: Field = group.field
    locations = _locations(target, mapping)
    keys = tuple(target.qualifier.split(".")[1:]) if target.kind is Kind.META else ()
    if len(keys) > MAX_META_KEYS:
        term = group.terms[0]
        raise FilterLimitError(
            f"{target.qualifier.split('.', 1)[0]}.<path> has {len(keys)} keys, more than the limit of {MAX_META_KEYS}",
            text=source,
            position=term.position + (1 if term.excluded else 0),
        )
    alternatives = [
        sa.and_(
            *(
                sa.or_(*(_at(loc, keys, condition, zone, two_valued=group.excluded) for loc in locations))
                for condition in conditions
            )
        )
        for conditions in group.alternatives
    ]
    holds = sa.or_(*alternatives)
    return sa.not_(holds) if group.excluded else holds


def compile_clause(
    query: Filter | Plan | str,
    schema: Schema,
    mapping: SqlMapping,
    *,
    now: datetime | None = None,
    user: str | None = None,
    tz: tzinfo | None = None,
) -> sa.ColumnElement[bool]:
    """The boolean clause of a filter, for ``select(...).where(...)``.

    ``query`` is filter text, a parsed :class:`~qfilter.core.ast.Filter` or an
    already bound :class:`~qfilter.core.plan.Plan` (which keeps the ``now`` and
    ``user`` it was bound with). ``now``, ``user`` and ``tz`` mean what they
    mean for :func:`qfilter.compile_predicate`; ``tz`` (default: the
    schema's) is also the zone of naive ``DateTime`` columns. Raises a
    :class:`~qfilter.core.errors.FilterError` for a bad filter and a ``ValueError``
    when ``mapping`` has no usable location for a qualifier the filter uses.
    """
    if isinstance(query, Plan):
        plan = query
    else:
        parsed = parse(query, default_qualifier=schema.default_qualifier) if isinstance(query, str) else query
        plan = bind(parsed, schema, Context(now=now, user=user, tz=tz))
    zone = tz or schema.timezone
    source = plan.filter.source or str(plan.filter)
    groups = [_group(group, mapping, zone, source) for group in plan.groups]
    if not groups:
        return sa.true()
    return sa.and_(*groups)
