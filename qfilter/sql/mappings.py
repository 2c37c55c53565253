"""Where a qualifier's value lives in your tables: the locations a SQL mapping is made of.

A *SQL mapping* names, for each qualifier of a schema, one location or a
sequence of them ("any of them", as for ``user``). :func:`check_mapping`
checks a whole mapping against a schema; :func:`locations` the one field a
filter uses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import lru_cache
from typing import Any, Literal, NoReturn, TypeAlias, assert_never

import sqlalchemy as sa

from qfilter.core.kinds import traits
from qfilter.core.schema import Field, Kind, Schema
from qfilter.core.sorting import sortable_fields
from qfilter.core.values import as_text

from .elements import constant

__all__ = [
    "Column",
    "Derived",
    "Related",
    "JsonArray",
    "JsonObject",
    "kind_locations",
    "Location",
    "SqlMapping",
    "ValueClass",
    "as_column",
    "check_mapping",
    "datetime_type",
    "enum_choices",
    "enum_value",
    "filtered_table",
    "locations",
    "sort_location",
    "value_class",
    "value_text",
]


def _table_of(column: sa.ColumnElement[Any]) -> sa.FromClause | None:
    table = getattr(column, "table", None)
    return table if isinstance(table, sa.FromClause) else None


def _leaves(source: sa.FromClause) -> list[sa.FromClause]:
    """The tables (or aliases) a FROM is made of: a join's sides, each alias as itself."""
    if isinstance(source, sa.Join):
        return [*_leaves(source.left), *_leaves(source.right)]
    return [source]


def _described(table: sa.FromClause | None) -> str:
    return repr(getattr(table, "name", None) or getattr(table, "description", None) or str(table))


def as_column(value: Any, role: str) -> sa.ColumnElement[Any]:
    """A Core column expression, from a column or an ORM attribute (``Device.name``)."""
    element = value.__clause_element__() if hasattr(value, "__clause_element__") else value
    if not isinstance(element, sa.ColumnElement):
        raise TypeError(f"{role} must be a SQLAlchemy column or ORM attribute, not {type(value).__name__}")
    return element


@dataclass(frozen=True, eq=False)
class Column:
    """The value is in a column of the filtered table; NULL means "no value".

    For a time qualifier the column is a ``DateTime``: with ``timezone=True``
    (or :class:`UtcDateTime`) it holds instants, without it wall-clock times
    in the schema's time zone.

    ``folded`` is a column of the same table holding this one's text with its
    case folded (a generated column, ``sqlalchemy.Computed(folded_case("label"))``):
    case-insensitive tests (an ``ignore_case`` field, ``inIgnoreCase``,
    ``like``, ``name:``) compare it instead of folding each row, so its index
    serves them on every database (docs/sql.md: case-insensitive fields).

    ``missing`` is a boolean column of the same table that is true where this
    one is NULL (a generated column, ``sqlalchemy.Computed(missing_flag("created"))``):
    ``sort=`` orders by it first on SQLite and MariaDB, so that an index
    serves missing values last in both directions (docs/sql.md: sorting).
    """

    column: Any
    folded: Any = dataclass_field(default=None, kw_only=True)
    missing: Any = dataclass_field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column", as_column(self.column, f"{type(self).__name__}(column)"))
        if self.folded is not None:
            object.__setattr__(self, "folded", as_column(self.folded, "Column(folded=)"))
        if self.missing is not None:
            object.__setattr__(self, "missing", as_column(self.missing, "Column(missing=)"))


@dataclass(frozen=True, eq=False)
class Derived(Column):
    """A computed field: its value is a SQL expression over the filtered row (NULL: no value).

    ``expression`` is any column expression (``func.lower(User.email)``, a
    correlated ``select(func.count())...scalar_subquery()``, a hybrid
    property's expression); ``python`` is the function of an entity that
    computes the same value in memory, which the schema's field must compute
    with (``Field(..., compute=python)``, or :meth:`field`): when both are
    given and differ, the mapping is refused. Without ``python`` memory reads
    the field as its schema says (the attribute of an ORM object, say).
    Filtering and sorting treat it as a column.
    """

    python: Callable[[Any], Any] | None = dataclass_field(default=None, kw_only=True)

    @property
    def expression(self) -> sa.ColumnElement[Any]:
        """The SQL expression (the ``column`` of a :class:`Column`)."""
        expression: sa.ColumnElement[Any] = self.column
        return expression

    def field(self, qualifier: str, kind: Kind, **options: Any) -> Field:
        """The schema's field of this computed value: memory computes it with ``python``."""
        if self.python is None:
            raise ValueError(f"Derived for {qualifier!r} has no python function to compute it in memory")
        return Field(qualifier, kind, (), compute=self.python, **options)


@dataclass(frozen=True, eq=False)
class Related:
    """A multi-valued field in other tables: ``key IN (SELECT fk ...)``, ``NOT EXISTS`` when excluded.

    ``table`` is the association table (or a join of tables), ``fk`` its
    column that refers to the filtered table, ``value`` the column holding
    one value per row. ``references`` is the filtered table's column ``fk``
    points at; by default the target of ``fk``'s (only) ``ForeignKey``.

    When ``value`` lives in a second table reached through the association
    table (``tags.name`` through ``device_tags``), the join is built from the
    foreign keys between them; pass ``table=sa.join(...)`` to choose it. A
    ``value`` or ``fk`` outside those tables is a ``ValueError`` here.

    ``to_one`` says that a filtered row has at most one such row (``fk`` is
    the key of ``table`` that a many-to-one foreign key of the filtered table
    points at, as :func:`~qfilter.sql.orm_mapping` makes for ``owner.email``):
    the field then has one value, and can be sorted by.
    """

    table: sa.FromClause
    fk: Any
    value: Any
    references: Any = None
    to_one: bool = dataclass_field(default=False, kw_only=True)
    source: sa.FromClause = dataclass_field(init=False, repr=False)
    """The FROM of the subquery: ``table``, joined to ``value``'s table where that is another."""

    def __post_init__(self) -> None:
        fk = as_column(self.fk, "Related(fk)")
        value = as_column(self.value, "Related(value)")
        object.__setattr__(self, "fk", fk)
        object.__setattr__(self, "value", value)
        table = self.table.__table__ if hasattr(self.table, "__table__") else self.table  # an ORM class
        if not isinstance(table, sa.FromClause):
            raise TypeError(f"Related(table) must be a table, a join or an ORM class, not {type(table).__name__}")
        object.__setattr__(self, "table", table)
        tables = _leaves(table)
        if _table_of(fk) not in tables:
            raise ValueError(f"Related: fk {fk} is not a column of {_described(table)}")
        source = table
        value_table = _table_of(value)
        if value_table is not None and value_table not in tables:
            try:
                source = sa.join(table, value_table)
            except sa.exc.ArgumentError as error:
                raise ValueError(
                    f"Related: value {value} is in {_described(value_table)}, which no single foreign key "
                    f"connects to {_described(table)}; pass table=sqlalchemy.join(...) with the join ({error})"
                ) from None
        object.__setattr__(self, "source", source)
        if self.references is None:
            targets = list(getattr(fk, "foreign_keys", ()))
            if len(targets) != 1:
                raise ValueError(f"Related: {fk} has {len(targets)} foreign keys; pass references=")
            object.__setattr__(self, "references", targets[0].column)
        else:
            object.__setattr__(self, "references", as_column(self.references, "Related(references)"))
        if _table_of(self.references) in _leaves(source):
            raise ValueError(
                f"Related: the filtered table {_described(_table_of(self.references))} is also in the subquery's "
                "tables; join an alias of it (sqlalchemy.orm.aliased or Table.alias())"
            )


@dataclass(frozen=True, eq=False)
class JsonArray:
    """A JSON array of scalars in one column (``["demo", "prio1"]``): any element may match.

    Use a ``JSON`` column (SQLite: ``json_each``), or ``JSONB`` on PostgreSQL,
    where an exact match is a GIN-indexable ``@>``.
    """

    column: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "column", as_column(self.column, "JsonArray(column)"))


@dataclass(frozen=True, eq=False)
class JsonObject:
    """The JSON object the ``meta.<path>`` keys are looked up in (the ``Kind.META`` qualifier).

    As in memory, a list met on the path is looked into, element by element.
    """

    column: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "column", as_column(self.column, "JsonObject(column)"))


Location: TypeAlias = Column | Related | JsonArray | JsonObject
SqlMapping: TypeAlias = Mapping[str, Location | Sequence[Location]]
"""Qualifier to location(s). Several locations mean "any of them" (``user``)."""

ValueClass: TypeAlias = Literal["text", "enum", "integer", "float", "decimal", "boolean", "time", "json"]
"""How the compiler reads a column's values: what its SQLAlchemy type makes them, as memory sees them."""


def _impl(type_: sa.types.TypeEngine[Any]) -> sa.types.TypeEngine[Any]:
    return type_.impl_instance if isinstance(type_, sa.TypeDecorator) else type_


def datetime_type(type_: sa.types.TypeEngine[Any]) -> sa.DateTime | None:
    impl = _impl(type_)
    return impl if isinstance(impl, sa.DateTime) else None


def value_class(type_: sa.types.TypeEngine[Any]) -> ValueClass | None:
    """What a column of this type holds, for the compiler; ``None`` for a type no filter can read exactly.

    Memory compares a value by its text (``as_text``): strings as they are,
    integers in decimal, booleans as ``true``/``false``, an enum member as
    its value. Those are the columns whose values SQL can compare the same
    way. Floats and decimals are numbers only (NUMBER fields): their text is
    not the same in Python and in SQL.
    """
    impl = _impl(type_)
    if isinstance(impl, sa.Enum):  # before String, which it extends
        return "enum"
    if isinstance(impl, sa.String):
        return "text"
    if isinstance(impl, sa.Boolean):
        return "boolean"
    if isinstance(impl, sa.Integer):
        return "integer"
    if isinstance(impl, sa.Float):  # before Numeric, which it extends
        return "float"
    if isinstance(impl, sa.Numeric):
        return "decimal"
    if isinstance(impl, sa.DateTime):
        return "time"
    if isinstance(impl, sa.JSON):
        return "json"
    return None


@lru_cache(maxsize=256)  # per column type (hashed by identity), several times per request
def _stored_members(type_: sa.types.TypeEngine[Any]) -> dict[str, Any]:
    """An ``Enum`` column's stored strings, each with what it stands for: a Python enum's member, or itself."""
    impl = _impl(type_)
    stored: list[str] = list(getattr(impl, "enums", ()))
    if getattr(impl, "enum_class", None) is None:
        return {text: text for text in stored}
    # SQLAlchemy's own table from stored string (a name, or values_callable's) to member.
    objects: dict[str, Any] = getattr(impl, "_object_lookup", {})
    return {text: objects[text] for text in stored if text in objects}


@lru_cache(maxsize=256)
def _enum_members(type_: sa.types.TypeEngine[Any]) -> dict[str, Any]:
    """What to bind for each text memory reads in an ``Enum`` column: a member's value's text, or the string."""
    members: dict[str, Any] = {}
    for member in _stored_members(type_).values():
        text = as_text(member)
        if text is not None:
            members.setdefault(text, member)
    return members


def enum_choices(type_: sa.types.TypeEngine[Any]) -> tuple[str, ...]:
    """The texts the values of an ``Enum`` column read as in memory: a Python enum's values, or the strings."""
    return tuple(_enum_members(type_))


def enum_value(type_: sa.types.TypeEngine[Any], text: str) -> Any:
    """What to bind, in an ``Enum`` column's own type, for the value memory reads as ``text``; ``None``: none."""
    return _enum_members(type_).get(text)


def value_text(value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """A value's text as memory spells it (``as_text``): integers in decimal, ``true``/``false``, text as it is.

    A Python enum's member is stored under its name (unless the column's
    ``values_callable`` says otherwise), and memory reads its value: the
    stored text is mapped to the value's where the two differ.
    """
    match value_class(value.type):
        case "enum":
            members = _stored_members(value.type).items()
            texts = {stored: text for stored, member in members if (text := as_text(member)) is not None}
            if all(stored == text for stored, text in texts.items()):
                return sa.cast(value, sa.String())
            # The stored strings bound in the column's type (a PostgreSQL ENUM's own), the texts as strings.
            return sa.case(
                *(
                    (value == sa.bindparam(None, stored, type_=value.type), sa.literal(text, sa.String()))
                    for stored, text in texts.items()
                )
            )
        case "integer":
            return sa.cast(value, sa.String())
        case "boolean":
            return sa.case((value.is_(True), constant("true")), (value.is_(False), constant("false")))
        case _:
            return value


def kind_locations(kind: Kind) -> tuple[tuple[type, ...], tuple[ValueClass, ...]]:
    """Where a field of ``kind`` may live (as its reading says): the sorts of location, the classes of its column."""
    reads = traits(kind).reads
    match reads:
        case "text":  # integers and booleans by their text, as memory reads them; equality binds their type
            return (Column, Related, JsonArray), ("text", "enum", "integer", "boolean")
        case "instant":
            return (Column, Related), ("time",)
        case "json":
            return (JsonObject,), ("json",)
        case "number":  # compared as numbers, each in the column's own type
            return (Column, Related), ("integer", "float", "decimal")
        case "boolean":
            return (Column, Related), ("boolean",)
        case _:
            assert_never(reads)


def _type_problem(target: Field, column: sa.ColumnElement[Any], readable: tuple[ValueClass, ...]) -> str | None:
    found = value_class(column.type)
    if found in readable:
        return None
    if isinstance(column.type, sa.types.NullType):
        return (
            f"{target.qualifier!r}: the expression {column} has no SQL type to read its values by; give it one "
            "(type_= of the function, or sqlalchemy.type_coerce(expression, String()))"
        )
    if target.kind is Kind.TIME:
        return f"{target.qualifier!r} is a time: its column {column} must be a DateTime, not {column.type}"
    wanted = {"text": "String", "enum": "Enum", "integer": "Integer", "boolean": "Boolean", "time": "DateTime"}
    wanted.update(json="JSON", float="Float", decimal="Numeric")
    names = " or ".join(dict.fromkeys(wanted[name] for name in readable))
    return (
        f"{target.qualifier!r} ({target.kind.value}) cannot be matched against {column} of type {column.type}: "
        f"it needs a {names} column"
    )


@lru_cache(maxsize=1024)  # per request, per field: locations are immutable and hashed by identity
def _location_problem(target: Field, location: Location) -> str | None:
    allowed, readable = kind_locations(target.kind)
    if not isinstance(location, allowed):
        names = " or ".join(kind.__name__ for kind in allowed)
        return f"{target.qualifier!r} ({target.kind.value}) needs {names}, not {type(location).__name__}"
    match location:
        case Derived(expression) if location.python is not None and target.compute is not location.python:
            return (
                f"{target.qualifier!r} is computed in SQL by {expression} with a python function its field does "
                "not compute with: give the field compute= that function (Derived.field makes it)"
            )
        case Column(column) if location.folded is not None and value_class(location.folded.type) != "text":
            folded = location.folded
            return f"{target.qualifier!r}: its folded column {folded} must be a String, not {folded.type}"
        case Column(column) if location.missing is not None and value_class(location.missing.type) != "boolean":
            missing = location.missing
            return f"{target.qualifier!r}: its missing column {missing} must be a Boolean, not {missing.type}"
        case Column(column):
            return _type_problem(target, column, readable)
        case Related(_, _, value):
            return _type_problem(target, value, readable)
        case JsonArray(column) | JsonObject(column):
            return _type_problem(target, column, ("json",))
        case _:
            assert_never(location)


def filtered_table(location: Location) -> sa.FromClause | None:
    """The table whose rows a location's test is about: the one in the statement's FROM.

    ``None`` for a :class:`Derived` expression that names no table of its own
    (a correlated subquery): the statement it stands in decides.
    """
    match location:
        case Derived(expression):
            tables = [table for table in expression._from_objects if isinstance(table, sa.FromClause)]
            return tables[0] if len(set(tables)) == 1 else None
        case Column(column) | JsonArray(column) | JsonObject(column):
            return _table_of(column)
        case Related(_, _, _, references):
            return _table_of(references)
        case _:
            assert_never(location)


def locations(target: Field, mapping: SqlMapping) -> tuple[Location, ...]:
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


def sort_location(target: Field, mapping: SqlMapping) -> Column | Related:
    """Where a sortable field's one value is: a :class:`Column` (a :class:`Derived`), or a ``to_one`` :class:`Related`.

    Anything else holds several values per row (an association table, a JSON
    array, several columns) and has no one order: a ``ValueError`` naming
    the field and what to do.
    """
    found = locations(target, mapping)
    if len(found) == 1 and (isinstance(found[0], Column) or (isinstance(found[0], Related) and found[0].to_one)):
        return found[0]
    where = " and ".join(type(location).__name__ for location in found)
    _unsortable(target, f"mapped to {where}, which holds several values per row")


def _unsortable(target: Field, why: str) -> NoReturn:
    raise ValueError(
        f"SQL mapping: {target.qualifier!r} is sortable (a single-valued {target.kind.value} field) but {why}: "
        "give the field many=True, or leave it out of Schema.sortable"
    )


def check_mapping(schema: Schema, mapping: SqlMapping, *, table: Any = None) -> None:
    """Raise a ``ValueError`` naming every qualifier of ``schema`` the mapping misses or maps wrongly.

    Wrongly means: a location of the wrong sort for the qualifier's kind, a
    column whose type cannot hold what the kind compares (the qualifier and
    both types are named), a location about another table than the
    filtered one (``table``, a table or an ORM class, when given, else the
    table most locations are about), or a field ``sort=`` takes
    (:func:`~qfilter.core.sorting.sortable_fields`) mapped where a row has
    several values (:func:`sort_location`). :func:`compile_clause` checks the
    qualifiers a filter uses; call this at start-up (:class:`~qfilter.integrations.fastapi.QFilter`
    does) to learn about a bad mapping before a user does.
    """
    problems = []
    found: dict[str, tuple[Location, ...]] = {}
    for target in schema.fields:
        try:
            found[target.qualifier] = locations(target, mapping)
        except ValueError as error:
            problems.append(str(error))
    for target in sortable_fields(schema):
        if target.qualifier in found:
            try:
                sort_location(target, mapping)
            except ValueError as error:
                problems.append(str(error))
    if table is not None:
        expected = table.__table__ if hasattr(table, "__table__") else table
    else:
        counts = Counter(
            table for places in found.values() for location in places if (table := filtered_table(location)) is not None
        )
        expected = counts.most_common(1)[0][0] if counts else None
    for qualifier, places in found.items():
        for location in places:
            actual = filtered_table(location)
            if expected is not None and actual is not None and actual is not expected:
                problems.append(
                    f"SQL mapping: {qualifier!r} is about table {_described(actual)}, not the filtered table "
                    f"{_described(expected)}: nothing connects it to the rows being filtered"
                )
    unknown = sorted(set(mapping) - set(schema.by_qualifier))
    if unknown:
        problems.append(f"the SQL mapping names qualifiers {schema.name!r} does not have: {', '.join(unknown)}")
    if problems:
        raise ValueError("; ".join(problems))
