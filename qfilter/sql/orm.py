"""SQL mappings from SQLAlchemy ORM models: each qualifier is an attribute path, the SQL comes from the relationships.

::

    from qfilter.sql import orm_mapping, orm_schema

    DEVICES_SQL = orm_mapping(Device, {"name": "name", "tag": "tags.name", "owner": "owner.email",
                                       "created": "created_at", "meta": "meta"})
    DEVICES, DEVICES_SQL = orm_schema(Device, {...})  # the schema too, kinds read from the column types

A path is attribute names joined by dots: relationships (many-to-one,
one-to-many, many-to-many through a ``secondary`` table), then a column.
A path through relationships becomes a :class:`~qfilter.sql.mappings.Related`
whose subquery joins an alias of every table on the way, so it gets the same
``IN`` / ``NOT EXISTS`` forms, NULL-safety and exclusion rules. What the
compiler could not make exact is refused here, with the qualifier named: a
relationship with a custom join condition or a composite key, a JSON column
behind a relationship, a path that ends at a relationship.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapper, RelationshipProperty
from sqlalchemy.orm.interfaces import MANYTOONE

from qfilter.core.schema import Field, Kind, Schema

from .mappings import Column, JsonArray, JsonObject, Location, Related, SqlMapping, check_mapping, value_class

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
        found = alias.corresponding_column(column)  # type: ignore[arg-type]
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
    attribute = current.column_attrs.get(last)
    if attribute is None or len(attribute.columns) != 1 or not isinstance(attribute.columns[0], sa.Column):
        raise _PathError(f"{current.class_.__name__} has no column attribute {last!r} (on the path {path!r})")
    column = attribute.columns[0]
    if column.table is not current.local_table:
        raise _PathError(f"{path!r}: {column} is not in {current.class_.__name__}'s own table")
    return hops, column


def _location(mapper: Mapper[Any], path: str, kind: Kind | None) -> Location:
    hops, column = _resolve(mapper, path)
    is_json = value_class(column.type) == "json"
    if not hops:
        if is_json:
            return JsonObject(column) if kind in (None, Kind.META) else JsonArray(column)
        return Column(column)
    if is_json:
        raise _PathError(f"{path!r}: a JSON column behind a relationship is not supported; map its own table")
    source: sa.FromClause | None = None
    previous: sa.FromClause | None = None
    for hop in hops:
        source = hop.joined(source, previous)
        previous = hop.target
    assert source is not None and previous is not None
    value = _Hop._on(previous, column)
    return Related(source, hops[0].remote, value, references=hops[0].local)


def _paths(found: str | Sequence[str]) -> tuple[str, ...]:
    return (found,) if isinstance(found, str) else tuple(found)


def orm_mapping(model: Any, paths: OrmPaths, *, schema: Schema | None = None) -> SqlMapping:
    """The SQL mapping of qualifiers given as attribute paths of an ORM ``model``: ``{"tag": "tags.name"}``.

    A column of the model itself is a :class:`~qfilter.sql.mappings.Column`
    (a JSON column a :class:`~qfilter.sql.mappings.JsonObject`, or with
    ``schema`` a :class:`~qfilter.sql.mappings.JsonArray` for a qualifier
    that is not ``Kind.META``); a path through relationships a
    :class:`~qfilter.sql.mappings.Related`. A path that cannot be mapped
    exactly raises a ``ValueError`` naming its qualifier; with ``schema``,
    the whole mapping is checked against it too (:func:`check_mapping`).
    """
    mapper = _mapper(model)
    mapping: dict[str, Location | tuple[Location, ...]] = {}
    problems: list[str] = []
    for qualifier, found in paths.items():
        target = schema.by_qualifier.get(qualifier) if schema is not None else None
        try:
            places = tuple(_location(mapper, path, target.kind if target else None) for path in _paths(found))
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
        case "text" | "enum":
            return Kind.EXACT if any(hop.multi_valued for hop in hops) else Kind.TEXT
        case "integer":
            return Kind.NUMBER
        case "boolean":
            return Kind.BOOLEAN
        case None:
            raise _PathError(f"{path!r}: no filter can read a {column.type} column ({column}) exactly")


def orm_schema(
    model: Any,
    paths: OrmPaths,
    *,
    kinds: Mapping[str, Kind] | None = None,
    name: str | None = None,
    default_qualifier: str | None = None,
    timezone: tzinfo = UTC,
) -> tuple[Schema, SqlMapping]:
    """A schema and its SQL mapping from one declaration: qualifiers as attribute paths of an ORM ``model``.

    Each field's memory paths are its attribute paths, so the schema also
    filters the model's objects (or dicts of the same shape) in memory. Its
    kind is ``kinds[qualifier]`` when given, else read from the column type:
    ``DateTime`` a time, ``JSON`` the ``meta.<path>`` object, integers and
    booleans exact values, text a fragment search (``TEXT``) when the entity
    has one value and an exact match (``EXACT``, like a tag) when a path
    through a to-many relationship gives it several (and such a field is
    ``many``). The schema is named
    after the model's table unless ``name`` is given. Raises a
    ``ValueError`` naming the qualifier for a path that cannot be mapped.
    """
    mapper = _mapper(model)
    chosen = dict(kinds or {})
    fields = []
    problems = []
    for qualifier, found in paths.items():
        try:
            kind = chosen.get(qualifier) or _inferred_kind(mapper, _paths(found)[0])
        except _PathError as error:
            problems.append(f"{qualifier!r}: {error}")
            continue
        many = any(hop.multi_valued for path in _paths(found) for hop in _resolve(mapper, path)[0])
        fields.append(Field(qualifier, kind, _paths(found), many=many))
    if problems:
        raise ValueError("orm_schema: " + "; ".join(problems))
    unknown = sorted(set(chosen) - set(paths))
    if unknown:
        raise ValueError(f"orm_schema: kinds given for qualifiers without a path: {', '.join(unknown)}")
    schema = Schema(
        name or str(getattr(mapper.local_table, "name", "entities")),
        tuple(fields),
        default_qualifier=default_qualifier,
        timezone=timezone,
    )
    return schema, orm_mapping(model, paths, schema=schema)
