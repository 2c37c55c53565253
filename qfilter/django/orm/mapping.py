"""Where each qualifier's values live in a Django model: paths in Django's notation, checked when built.

::

    from qfilter import Kind
    from qfilter.django import orm_schema

    DEVICES, DEVICES_Q = orm_schema(
        Device,
        {"name": "name", "tag": "tags__name", "owner": "owner__email", "room": "attributes__room",
         "meta": "attributes", "created": "created_at"},
        kinds={"owner": Kind.USER},
    )

A path is the one a ``filter()`` keyword takes: relations (forward and
reverse foreign keys, one-to-one, many-to-many), then a concrete field, then,
for a ``JSONField``, keys inside it. Each path is resolved once, here, into a
:class:`Place`; a path that does not exist, ends at a relation, goes through
something other than a relation, or names a field whose type cannot hold the
qualifier's kind is a ``ValueError`` naming the qualifier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any, Literal, TypeAlias, assert_never

from django.core.exceptions import FieldDoesNotExist
from django.db import models

from qfilter.core.kinds import Kind, Reading, traits
from qfilter.core.schema import Field, Schema
from qfilter.core.sorting import SORTABLE_KINDS

__all__ = ["DjangoMapping", "DjangoPaths", "Place", "ValueClass", "orm_mapping", "orm_schema", "value_class"]

DjangoPaths = Mapping[str, str | Sequence[str]]
"""Qualifier to Django path(s): ``"tags__name"``; several paths mean "any of them"."""

ValueClass: TypeAlias = Literal["text", "integer", "float", "decimal", "boolean", "time", "json"]
"""What a model field holds, as the compiler reads it."""


class _PathError(ValueError):
    pass


def value_class(field: Any) -> ValueClass | None:
    """How the compiler reads a concrete model field; ``None`` for one no filter can read exactly.

    Text (``CharField``, ``TextField`` and their subclasses), integers of every
    width, floats, decimals, booleans, ``DateTimeField`` and ``JSONField``.
    Dates, UUIDs, durations, binary and IP address fields are not among them:
    their values are not text or numbers that the database and Python compare alike.
    """
    if isinstance(field, models.JSONField):
        return "json"
    if isinstance(field, models.BooleanField):
        return "boolean"
    if isinstance(field, (models.CharField, models.TextField)):
        return "text"
    if isinstance(field, models.IntegerField):  # AutoField and every width of integer
        return "integer"
    if isinstance(field, models.FloatField):
        return "float"
    if isinstance(field, models.DecimalField):
        return "decimal"
    if isinstance(field, models.DateTimeField):  # before DateField, its parent
        return "time"
    return None


@dataclass(frozen=True, eq=False)
class Place:
    """One path's values: a field of the filtered model, or of a model reached through relations.

    A path through relations is a subquery: ``outer IN (SELECT inner FROM
    model WHERE <test on lookup>)``, or ``EXISTS (... WHERE inner = outer)``
    under a negation. ``outer`` is a field of the filtered model, ``inner``
    the subquery model's field that refers to it, and ``lookup`` the path
    from the subquery model (the filtered model itself, when local) to
    ``value``, the concrete field that holds the values. ``keys`` lead into
    a ``JSONField`` value. ``many``: an entity may have several values here.
    """

    path: str
    lookup: str
    value: Any
    value_class: ValueClass
    keys: tuple[str, ...] = ()
    model: Any = None
    outer: str | None = None
    inner: str | None = None
    many: bool = False

    @property
    def local(self) -> bool:
        """Whether the values are in the filtered model's own row (no subquery)."""
        return self.outer is None

    @property
    def json_lookup(self) -> str:
        """The lookup of the ``JSONField`` itself (without the keys into it)."""
        if not self.keys:
            return self.lookup
        return self.lookup.rsplit("__", len(self.keys))[0]


def _described(field: Any) -> str:
    model = getattr(field, "model", None)
    owner = f"{model.__name__}." if model is not None else ""
    return f"{owner}{getattr(field, 'name', field)} ({type(field).__name__})"


def _get_field(options: Any, name: str, path: str) -> Any:
    if name == "pk":
        return options.pk
    try:
        return options.get_field(name)
    except FieldDoesNotExist:
        names = sorted(f.name for f in options.get_fields())
        raise _PathError(
            f"{options.object_name} has no field {name!r} (on the path {path!r}); it has: {', '.join(names)}"
        ) from None


def _is_to_many(field: Any) -> bool:
    return bool(field.one_to_many or field.many_to_many)


def _first_hop(field: Any, path: str) -> tuple[Any, str, str, str]:
    """For the first relation of a path: the subquery model, ``outer``, ``inner``, and the lookup prefix.

    The prefix leads from the subquery model to the related model (empty when
    the subquery model is the related model; the through model's foreign key
    for a many-to-many).
    """
    through: Any
    if isinstance(field, (models.ManyToManyField, models.ManyToManyRel)):
        if isinstance(field, models.ManyToManyField):
            through = field.remote_field.through
            source, target = field.m2m_field_name(), field.m2m_reverse_field_name()
        else:  # the reverse side of another model's ManyToManyField
            through = field.through
            source, target = field.field.m2m_reverse_field_name(), field.field.m2m_field_name()
        key: Any = through._meta.get_field(source)
        outer = key.target_field.attname
        return through, outer, source, target
    if isinstance(field, models.ForeignKey):  # OneToOneField too: the key is in this row
        return field.related_model, field.attname, field.target_field.attname, ""
    if isinstance(field, models.ManyToOneRel) and isinstance(field.field, models.ForeignKey):
        remote = field.field  # a reverse foreign key or one-to-one: the related rows point here
        return field.related_model, remote.target_field.attname, remote.attname, ""
    raise _PathError(f"{path!r} goes through {_described(field)}, which is not a relation qfilter can follow")


def resolve(model: Any, path: str) -> Place:
    """The :class:`Place` a Django path names in ``model`` (a ``ValueError`` when it names none)."""
    names = path.split("__")
    if not all(names):
        raise _PathError(f"{path!r} is not a Django path (names joined by '__')")
    options = model._meta
    first = _get_field(options, names[0], path)
    subquery_model: Any = None
    outer = inner = None
    many = False
    lookup: list[str] = []
    index = 0
    if first.is_relation:
        if len(names) == 1:
            raise _PathError(f"{path!r} ends at a relation: name a field of {first.related_model.__name__}")
        subquery_model, outer, inner, prefix = _first_hop(first, path)
        many = _is_to_many(first)
        lookup = [prefix] if prefix else []
        options = first.related_model._meta
        index = 1
    value: Any = None
    keys: tuple[str, ...] = ()
    while index < len(names):
        name = names[index]
        field = _get_field(options, name, path)
        last = index == len(names) - 1
        if field.is_relation:
            if last:
                raise _PathError(f"{path!r} ends at a relation: name a field of {field.related_model.__name__}")
            if getattr(field, "related_model", None) is None:
                raise _PathError(f"{path!r} goes through {_described(field)}, which is not a relation qfilter follows")
            many = many or _is_to_many(field)
            lookup.append(name)
            options = field.related_model._meta
            index += 1
            continue
        lookup.append(name)
        value = field
        if isinstance(field, models.JSONField):
            keys = tuple(names[index + 1 :])
            lookup.extend(keys)
        elif not last:
            raise _PathError(f"{path!r}: {_described(field)} is neither a relation nor a JSONField")
        break
    found = value_class(value)
    if found is None:
        raise _PathError(f"{path!r}: no filter can read {_described(value)} exactly")
    return Place(
        path,
        "__".join(lookup),
        value,
        found,
        keys=keys,
        model=subquery_model,
        outer=outer,
        inner=inner,
        many=many or found == "json",
    )


def _readings(place: Place) -> frozenset[Reading]:
    """What a place's values can be read as (:data:`~qfilter.core.kinds.Reading`): the kinds they can serve."""
    match place.value_class:
        case "text":
            return frozenset({"text"})
        case "integer":
            return frozenset({"number", "text"})  # text kinds: its decimal text
        case "float" | "decimal":
            return frozenset({"number"})  # their text differs between Python and the databases
        case "boolean":
            return frozenset({"boolean"})
        case "time":
            return frozenset({"instant"})
        case "json":  # times in JSON are text the database cannot read as instants
            return frozenset({"text", "number", "boolean", "json"})
        case _:
            assert_never(place.value_class)


def _wanted(reads: Reading) -> str:
    match reads:
        case "text":
            return "a CharField, TextField, integer field or JSONField"
        case "instant":
            return "a DateTimeField"
        case "json":
            return "a JSONField"
        case "number":
            return "an integer, float or decimal field, or a JSONField"
        case "boolean":
            return "a BooleanField or a JSONField"
        case _:
            assert_never(reads)


def kind_problem(qualifier: str, kind: Kind, place: Place) -> str | None:
    """Why a place cannot hold a qualifier of ``kind`` (naming both), or ``None`` when it can."""
    reads = traits(kind).reads
    if reads in _readings(place):
        return None
    wanted = _wanted(reads)
    return (
        f"{qualifier!r} ({kind.value}) cannot be matched against {_described(place.value)} "
        f"on the path {place.path!r}: it needs {wanted}"
    )


def _inferred_kind(place: Place) -> Kind:
    match place.value_class:
        case "json":
            return Kind.EXACT if place.keys else Kind.META
        case "text":
            return Kind.EXACT if place.many or place.value.choices else Kind.TEXT
        case "integer" | "float" | "decimal":
            return Kind.NUMBER
        case "boolean":
            return Kind.BOOLEAN
        case "time":
            return Kind.TIME
        case _:
            assert_never(place.value_class)


@dataclass(frozen=True, eq=False)
class DjangoMapping:
    """Each qualifier's places in ``model`` (several: any of them), as :func:`orm_mapping` resolved them."""

    model: Any
    places: Mapping[str, tuple[Place, ...]]

    def __post_init__(self) -> None:
        if not self.places:
            raise ValueError("a Django mapping needs at least one qualifier")

    def places_of(self, target: Field) -> tuple[Place, ...]:
        """The places of a schema field (a ``meta.<key>`` field's are its metadata field's), checked for its kind."""
        head = target.qualifier.split(".", 1)[0] if target.kind is Kind.META else target.qualifier
        found = self.places.get(head)
        if found is None:
            raise ValueError(f"the Django mapping of {self.model.__name__} has no path for {head!r}")
        for place in found:
            problem = kind_problem(head, target.kind, place)
            if problem:
                raise ValueError(f"Django mapping: {problem}")
        return found


def _paths(found: str | Sequence[str]) -> tuple[str, ...]:
    return (found,) if isinstance(found, str) else tuple(found)


def _model(model: Any) -> Any:
    if not (isinstance(model, type) and issubclass(model, models.Model)):
        raise TypeError(f"{model!r} is not a Django model class")
    return model


def orm_mapping(model: Any, paths: DjangoPaths, *, schema: Schema | None = None) -> DjangoMapping:
    """The :class:`DjangoMapping` of qualifiers given as Django paths of ``model``: ``{"tag": "tags__name"}``.

    Every path is resolved now; a path that names nothing, ends at a relation
    or names a field no filter can read raises a ``ValueError`` naming its
    qualifier (all of them at once). With ``schema``, each field's kind is
    checked against its places too, and a qualifier of ``schema`` without a
    path, or a path for a qualifier it does not have, is an error.
    """
    _model(model)
    places: dict[str, tuple[Place, ...]] = {}
    problems: list[str] = []
    for qualifier, found in paths.items():
        try:
            places[qualifier] = tuple(resolve(model, path) for path in _paths(found))
        except _PathError as error:
            problems.append(f"{qualifier!r}: {error}")
            continue
        if not places[qualifier]:
            problems.append(f"{qualifier!r}: no path")
    if schema is not None:
        for target in schema.fields:
            for place in places.get(target.qualifier, ()):
                problem = kind_problem(target.qualifier, target.kind, place)
                if problem:
                    problems.append(problem)
            if target.qualifier not in paths:
                problems.append(f"{target.qualifier!r}: no path in the mapping")
        unknown = sorted(set(paths) - set(schema.by_qualifier))
        if unknown:
            problems.append(f"paths for qualifiers {schema.name!r} does not have: {', '.join(unknown)}")
    if problems:
        raise ValueError("orm_mapping: " + "; ".join(problems))
    return DjangoMapping(model, places)


def _default_timezone() -> tzinfo:
    """UTC where Django keeps instants (``USE_TZ``), else the zone of its naive times (``TIME_ZONE``)."""
    from django.conf import settings
    from django.utils import timezone

    return UTC if settings.USE_TZ else timezone.get_default_timezone()


def orm_schema(
    model: Any,
    paths: DjangoPaths,
    *,
    kinds: Mapping[str, Kind] | None = None,
    ignore_case: Iterable[str] = (),
    name: str | None = None,
    default_qualifier: str | None = None,
    timezone: tzinfo | None = None,
) -> tuple[Schema, DjangoMapping]:
    """A schema and its Django mapping from one declaration: qualifiers as Django paths of ``model``.

    Each kind is ``kinds[qualifier]`` when given, else read from the field:
    ``DateTimeField`` a time, a whole ``JSONField`` the ``meta.<path>``
    object, a key inside one (``attributes__room``) an exact value,
    integer, float and decimal fields numbers, ``BooleanField`` a boolean,
    text a fragment search (``TEXT``) where the entity has one value and an
    exact match (``EXACT``) where it has several (a to-many path) or the
    field has ``choices``. A field is ``many`` when a path goes through a
    to-many relation or into JSON; its memory path is the Django path with
    dots (``tags.name``), so the schema filters dicts shaped like the models
    (nested serializer output) in memory too. Only single-valued fields
    with one path of the model itself or through to-one relations are
    sortable. ``timezone`` (default: UTC under ``USE_TZ``, else Django's
    ``TIME_ZONE``) is the zone of times written without an offset, and of
    naive stored times. The qualifiers in ``ignore_case`` compare their text
    ignoring case (``Field.ignore_case``: ``label:prod`` matches ``Prod``).
    The schema is named after the model's table unless
    ``name`` is given, and its ``id_path`` is the primary key's name.
    Raises a ``ValueError`` naming every qualifier that cannot be mapped.
    """
    mapping = orm_mapping(model, paths)
    chosen = dict(kinds or {})
    folding = set(ignore_case)
    for option, given in (("kinds", chosen), ("ignore_case", folding)):
        unknown = sorted(set(given) - set(paths))
        if unknown:
            raise ValueError(f"orm_schema: {option} given for qualifiers without a path: {', '.join(unknown)}")
    fields = []
    sortable = []
    problems = []
    for qualifier, places in mapping.places.items():
        kind = chosen.get(qualifier) or _inferred_kind(places[0])
        for place in places:
            problem = kind_problem(qualifier, kind, place)
            if problem:
                problems.append(problem)
        many = any(place.many for place in places)
        memory_paths = tuple(place.path.replace("__", ".") for place in places)
        try:
            fields.append(Field(qualifier, kind, memory_paths, many=many, ignore_case=qualifier in folding))
        except ValueError as error:  # ignore_case on a kind without text
            problems.append(str(error))
            continue
        if kind in SORTABLE_KINDS and len(places) == 1 and not many:
            sortable.append(qualifier)
    if problems:
        raise ValueError("orm_schema: " + "; ".join(problems))
    options = model._meta
    schema = Schema(
        name or str(options.db_table),
        tuple(fields),
        default_qualifier=default_qualifier,
        timezone=timezone or _default_timezone(),
        id_path=options.pk.name,
        sortable=tuple(sortable),
    )
    return schema, mapping
