"""SQL mappings from SQLAlchemy ORM models: each qualifier is an attribute path, the SQL comes from the relationships.

::

    from qfilter.sql import orm_mapping, orm_schema

    DEVICES_SQL = orm_mapping(Device, {"name": "name", "tag": "tags.name", "owner": "owner.email",
                                       "created": "created_at", "meta": "meta"})
    DEVICES, DEVICES_SQL = orm_schema(Device, {...})  # the schema too, kinds read from the column types

A path is attribute names joined by dots: relationships (many-to-one,
one-to-many, many-to-many through a ``secondary`` table), then a column;
or the name of a computed attribute of the model itself (a
``hybrid_property`` with a SQL expression, a ``column_property``), which is
a :class:`~qfilter.sql.mappings.Derived`.
A path through relationships becomes a :class:`~qfilter.sql.mappings.Related`
whose subquery joins an alias of every table on the way, so it gets the same
``IN`` / ``NOT EXISTS`` forms, NULL-safety and exclusion rules. A path of
many-to-one relationships only (``owner.email``) gives one value: its field
sorts, by the value looked up through the foreign keys; a path through a
to-many relationship gives several, and its field is ``many`` (not
sortable): a schema that says otherwise is refused. What the
compiler could not make exact is refused here, with the qualifier named: a
relationship with a custom join condition or a composite key, a JSON column
behind a relationship, a path that ends at a relationship.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import HybridExtensionType
from sqlalchemy.orm import Mapper, RelationshipProperty
from sqlalchemy.orm.interfaces import MANYTOONE
from sqlalchemy.sql.elements import KeyedColumnElement

from qfilter.core.schema import Field, Kind, Schema

from .mappings import (
    Column,
    Derived,
    JsonArray,
    JsonObject,
    Location,
    Related,
    SqlMapping,
    as_column,
    check_mapping,
    enum_choices,
    value_class,
)
from .order_elements import missing_source
from .types import folded_source

__all__ = ["OrmPaths", "orm_mapping", "orm_schema"]

OrmPaths = Mapping[str, str | Sequence[str]]
"""Qualifier to attribute path(s) of the model: ``"tags.name"``; several paths mean "any of them"."""


class _PathError(ValueError):
    pass


def _mapper(model: Any) -> Mapper[Any]:
    try:
        found = sa.inspect(model)
    except sa.exc.NoInspectionAvailable:
        raise TypeError(f"{model!r} is not a mapped ORM class") from None
    if not isinstance(found, Mapper):
        raise TypeError(f"{model!r} is not a mapped ORM class")
    return found


def _single_pair(
    relationship: RelationshipProperty[Any], pairs: Sequence[tuple[sa.ColumnElement[Any], sa.ColumnElement[Any]]]
) -> tuple[sa.ColumnElement[Any], sa.ColumnElement[Any]]:
    if len(pairs) != 1:
        raise _PathError(f"relationship {relationship} joins on {len(pairs)} column pairs; only single-column keys")
    return pairs[0]


def _same_join(condition: sa.ColumnElement[Any] | None, left: Any, right: Any) -> bool:
    """Whether a relationship's join condition is exactly ``left = right`` (no extra criteria to lose)."""
    return condition is not None and condition.compare(left == right)


class _Hop:
    """One relationship on a path, joined from the previous table (or the filtered one) to an alias of its target."""

    def __init__(self, relationship: RelationshipProperty[Any]) -> None:
        self.relationship = relationship
        self.target = relationship.mapper.local_table.alias()
        self.secondary: sa.FromClause | None = None
        if relationship.secondary is not None:
            if not isinstance(relationship.secondary, sa.Table):
                raise _PathError(f"relationship {relationship}: its secondary is not a table")
            parent, association = _single_pair(relationship, relationship.synchronize_pairs)
            target, back = _single_pair(relationship, relationship.secondary_synchronize_pairs or [])
            if not _same_join(relationship.primaryjoin, parent, association) or not _same_join(
                relationship.secondaryjoin, target, back
            ):
                raise _PathError(f"relationship {relationship} has a join condition of its own; map it with Related")
            self.secondary = relationship.secondary.alias()
            self.local = parent  # a column of the parent's table
            self.remote = self._on(self.secondary, association)
            self.inner = sa.and_(self._on(self.target, target) == self._on(self.secondary, back))
        else:
            local, remote = _single_pair(relationship, relationship.local_remote_pairs or [])
            if not _same_join(relationship.primaryjoin, local, remote):
                raise _PathError(f"relationship {relationship} has a join condition of its own; map it with Related")
            self.local = local
            self.remote = self._on(self.target, remote)

    @staticmethod
    def _on(alias: sa.FromClause, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        # A join's columns are table columns (keyed); anything else has no counterpart in an alias.
        found = alias.corresponding_column(column) if isinstance(column, KeyedColumnElement) else None
        if found is None:
            raise _PathError(f"{column} is not a column of {alias}")
        return found

    @property
    def multi_valued(self) -> bool:
        return self.secondary is not None or self.relationship.direction is not MANYTOONE

    def joined(self, source: sa.FromClause | None, previous: sa.FromClause | None) -> sa.FromClause:
        """The FROM after this hop; ``previous`` is the last alias joined (``None``: the filtered table)."""
        first = self.secondary if self.secondary is not None else self.target
        if source is None:
            out: sa.FromClause = first
        else:
            assert previous is not None
            local = self._on(previous, self.local)
            out = source.join(first, self.remote == local)
        if self.secondary is not None:
            out = out.join(self.target, self.inner)
        return out


def _computed(mapper: Mapper[Any], name: str) -> tuple[str, sa.ColumnElement[Any]] | None:
    """A computed attribute's sort (``hybrid_property``, ``column_property``) and its SQL; ``None`` for another."""
    descriptor = mapper.all_orm_descriptors.get(name)
    if getattr(descriptor, "extension_type", None) is HybridExtensionType.HYBRID_PROPERTY:
        owner = mapper.class_.__name__
        try:
            expression = as_column(getattr(mapper.class_, name), name)
        except Exception as error:  # its Python code does not run on columns: it has no SQL meaning
            raise _PathError(
                f"{owner}.{name} is a hybrid_property without a SQL expression ({type(error).__name__}: {error}); "
                f"give it one with @{name}.inplace.expression"
            ) from None
        return "hybrid_property", expression
    attribute = mapper.column_attrs.get(name)
    if attribute is not None and not (len(attribute.columns) == 1 and isinstance(attribute.columns[0], sa.Column)):
        return "column_property", as_column(getattr(mapper.class_, name), name)
    return None


def _resolve(mapper: Mapper[Any], path: str) -> tuple[list[_Hop], sa.ColumnElement[Any]]:
    """The relationships a path goes through and the column it ends at (a column of the last mapper's table)."""
    names = path.split(".")
    if not all(names):
        raise _PathError(f"{path!r} is not a dotted attribute path")
    hops: list[_Hop] = []
    current = mapper
    for name in names[:-1]:
        relationship = current.relationships.get(name)
        if relationship is None:
            raise _PathError(f"{current.class_.__name__} has no relationship {name!r} (on the path {path!r})")
        hops.append(_Hop(relationship))
        current = relationship.mapper
    last = names[-1]
    if last in current.relationships:
        raise _PathError(
            f"{path!r} ends at a relationship: name a column of {current.relationships[last].mapper.class_.__name__}"
        )
    computed = _computed(current, last)
    if computed is not None:
        if hops:
            raise _PathError(f"{path!r}: a {computed[0]} behind a relationship is not supported; map its own model")
        return hops, computed[1]
    attribute = current.column_attrs.get(last)
    if attribute is None or len(attribute.columns) != 1 or not isinstance(attribute.columns[0], sa.Column):
        raise _PathError(f"{current.class_.__name__} has no column attribute {last!r} (on the path {path!r})")
    column = attribute.columns[0]
    if column.table is not current.local_table:
        raise _PathError(f"{path!r}: {column} is not in {current.class_.__name__}'s own table")
    return hops, column


def _folded_column(column: sa.ColumnElement[Any]) -> sa.Column[Any] | None:
    """A generated column of the same table holding ``column``'s folded case (:func:`~qfilter.sql.folded_case`)."""
    table = getattr(column, "table", None)
    if not isinstance(table, sa.Table):
        return None
    found: list[sa.Column[Any]] = [
        other
        for other in table.columns
        if other.computed is not None and folded_source(other.computed.sqltext) == column.name
    ]
    return found[0] if found else None


def _missing_column(column: sa.ColumnElement[Any]) -> sa.Column[Any] | None:
    """A generated column of the same table, true where ``column`` is NULL (:func:`~qfilter.sql.missing_flag`)."""
    table = getattr(column, "table", None)
    if not isinstance(table, sa.Table):
        return None
    found = [
        other
        for other in table.columns
        if other.computed is not None and missing_source(other.computed.sqltext) == column.name
    ]
    return found[0] if found else None


def _location(mapper: Mapper[Any], path: str, target: Field | None) -> Location:
    kind = target.kind if target else None
    hops, column = _resolve(mapper, path)
    if not isinstance(column, sa.Column):  # a computed attribute of the model itself
        return Derived(column, python=target.compute if target else None)
    is_json = value_class(column.type) == "json"
    if not hops:
        if is_json:
            return JsonObject(column) if kind in (None, Kind.META) else JsonArray(column)
        return Column(column, folded=_folded_column(column), missing=_missing_column(column))
    if is_json:
        raise _PathError(f"{path!r}: a JSON column behind a relationship is not supported; map its own table")
    source: sa.FromClause | None = None
    previous: sa.FromClause | None = None
    for hop in hops:
        source = hop.joined(source, previous)
        previous = hop.target
    assert source is not None and previous is not None
    value = _Hop._on(previous, column)
    # Many-to-one all the way: one row at most, so the field has one value and sorts (through the foreign keys).
    to_one = not any(hop.multi_valued for hop in hops)
    return Related(source, hops[0].remote, value, references=hops[0].local, to_one=to_one)


def _paths(found: str | Sequence[str]) -> tuple[str, ...]:
    return (found,) if isinstance(found, str) else tuple(found)


def orm_mapping(model: Any, paths: OrmPaths, *, schema: Schema | None = None) -> SqlMapping:
    """The SQL mapping of qualifiers given as attribute paths of an ORM ``model``: ``{"tag": "tags.name"}``.

    A column of the model itself is a :class:`~qfilter.sql.mappings.Column`
    (a JSON column a :class:`~qfilter.sql.mappings.JsonObject`, or with
    ``schema`` a :class:`~qfilter.sql.mappings.JsonArray` for a qualifier
    that is not ``Kind.META``), with its ``folded`` generated column when
    the table has one (:func:`~qfilter.sql.folded_case`); a computed
    attribute a :class:`~qfilter.sql.mappings.Derived` (computed in memory
    with ``schema``'s ``compute`` of the field, when it has one); a path
    through relationships a :class:`~qfilter.sql.mappings.Related`. A path that cannot be mapped
    exactly raises a ``ValueError`` naming its qualifier; with ``schema``,
    the whole mapping is checked against it too (:func:`check_mapping`).
    """
    mapper = _mapper(model)
    mapping: dict[str, Location | tuple[Location, ...]] = {}
    problems: list[str] = []
    for qualifier, found in paths.items():
        target = schema.by_qualifier.get(qualifier) if schema is not None else None
        try:
            places = tuple(_location(mapper, path, target) for path in _paths(found))
        except _PathError as error:
            problems.append(f"{qualifier!r}: {error}")
            continue
        mapping[qualifier] = places[0] if len(places) == 1 else places
    if problems:
        raise ValueError("orm_mapping: " + "; ".join(problems))
    if schema is not None:
        check_mapping(schema, mapping, table=mapper.local_table)
    return mapping


def _inferred_kind(mapper: Mapper[Any], path: str) -> Kind:
    hops, column = _resolve(mapper, path)
    match value_class(column.type):
        case "time":
            return Kind.TIME
        case "json":
            return Kind.META
        case "enum":
            return Kind.EXACT
        case "text":
            return Kind.EXACT if any(hop.multi_valued for hop in hops) else Kind.TEXT
        case "integer" | "float" | "decimal":
            return Kind.NUMBER
        case "boolean":
            return Kind.BOOLEAN
        case None if isinstance(column.type, sa.types.NullType):
            raise _PathError(
                f"{path!r}: {column} has no SQL type to read its values by; give it one "
                "(type_= of the function, or sqlalchemy.type_coerce(expression, String()))"
            )
        case None:
            raise _PathError(f"{path!r}: no filter can read a {column.type} column ({column}) exactly")


def _choices(mapper: Mapper[Any], paths: tuple[str, ...]) -> tuple[str, ...] | None:
    """The values an enum field can hold: those of its ``Enum`` columns, when every path ends at one."""
    columns = [_resolve(mapper, path)[1] for path in paths]
    if not all(value_class(column.type) == "enum" for column in columns):
        return None
    return tuple(dict.fromkeys(choice for column in columns for choice in enum_choices(column.type))) or None


def orm_schema(
    model: Any,
    paths: OrmPaths,
    *,
    kinds: Mapping[str, Kind] | None = None,
    ignore_case: Iterable[str] = (),
    python: Mapping[str, Callable[[Any], Any]] | None = None,
    name: str | None = None,
    default_qualifier: str | None = None,
    timezone: tzinfo = UTC,
) -> tuple[Schema, SqlMapping]:
    """A schema and its SQL mapping from one declaration: qualifiers as attribute paths of an ORM ``model``.

    Each field's memory paths are its attribute paths, so the schema also
    filters the model's objects (or dicts of the same shape) in memory. Its
    kind is ``kinds[qualifier]`` when given, else read from the column type:
    ``DateTime`` a time, ``JSON`` the ``meta.<path>`` object, integers,
    floats and decimals numbers, booleans ``BOOLEAN``, an ``Enum`` (of
    strings, or of a Python ``enum.Enum``) an exact match whose values are
    the field's ``choices``, text a fragment search (``TEXT``) when the
    entity has one value and an exact match (``EXACT``, like a tag) when a
    path through a to-many relationship gives it several (and such a field
    is ``many``). The qualifiers in ``ignore_case`` ignore case
    (``Field.ignore_case``).

    A computed attribute (docs/extending.md) is filtered in SQL by its
    expression; in memory a ``hybrid_property`` is read from the object (its
    Python side), and a ``column_property``, which has no Python side, needs
    ``python[qualifier]``, a function of the entity computing the same value
    (``Field.compute``); ``python`` may replace a hybrid's Python side too.
    The schema is named after the model's table unless ``name`` is given.
    Raises a ``ValueError`` naming the qualifier for a path that cannot be
    mapped.
    """
    mapper = _mapper(model)
    chosen = dict(kinds or {})
    folding = set(ignore_case)
    computing = dict(python or {})
    fields = []
    problems = []
    for qualifier, found in paths.items():
        places = _paths(found)
        try:
            sorts = [computed[0] for path in places if (computed := _computed(mapper, path)) is not None]
            if "column_property" in sorts and qualifier not in computing:
                raise _PathError(
                    f"{places[0]!r} is a column_property, which has no Python side for memory to read: "
                    f"give python={{{qualifier!r}: <a function of the entity>}}"
                )
            kind = chosen.get(qualifier) or _inferred_kind(mapper, places[0])
            many = any(hop.multi_valued for path in places for hop in _resolve(mapper, path)[0])
            field = Field(
                qualifier,
                kind,
                places,
                many=many,
                ignore_case=qualifier in folding,
                choices=_choices(mapper, places) if kind is Kind.EXACT else None,
                compute=computing.get(qualifier),
            )
        except (_PathError, ValueError) as error:
            problems.append(f"{qualifier!r}: {error}")
            continue
        fields.append(field)
    if problems:
        raise ValueError("orm_schema: " + "; ".join(problems))
    for option, given in (("kinds", chosen), ("ignore_case", folding), ("python", computing)):
        unknown = sorted(set(given) - set(paths))
        if unknown:
            raise ValueError(f"orm_schema: {option} given for qualifiers without a path: {', '.join(unknown)}")
    schema = Schema(
        name or str(getattr(mapper.local_table, "name", "entities")),
        tuple(fields),
        default_qualifier=default_qualifier,
        timezone=timezone,
    )
    return schema, orm_mapping(model, paths, schema=schema)
