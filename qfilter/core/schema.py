"""Schemas: which qualifiers exist, what matcher each takes, where its value lives.

A schema is plain data handed to the compilers. The two presets,
:data:`WAYLAY` and :data:`TIMEPLUS`, are built the same way an application
builds its own::

    from qfilter import Field, Kind, Schema

    DEVICES = Schema("devices", (
        Field("name", Kind.TEXT, "name"),
        Field("tag", Kind.EXACT, "labels"),
        Field("created", Kind.TIME, "created_at"),
    ))
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from datetime import UTC, tzinfo
from typing import Any

from .errors import UnknownQualifierError
from .functions import BUILTIN_FUNCTIONS, FunctionMatcher, FunctionTable
from .kinds import Kind, traits

__all__ = ["Kind", "Field", "Schema", "WAYLAY", "TIMEPLUS", "PRESETS", "choices_of", "get_schema"]


def _segments(path: str) -> tuple[str, ...]:
    return tuple(part.removesuffix("[*]") for part in path.split("."))


def choices_of(values: type[enum.Enum] | Iterable[object]) -> tuple[str, ...]:
    """The texts of an enum's members' values (``Status`` gives ``("running", "stopped")``), for ``choices=``.

    Any other iterable gives the texts of its items (numbers in decimal, as
    memory reads them), each once.
    """
    from .values import as_text  # values imports this module

    items: Iterable[object] = [member.value for member in values] if isinstance(values, type) else values
    found = []
    for item in items:
        text = as_text(item)
        if text is None:
            raise ValueError(f"a choice must be a text, a number or a boolean, not {item!r}")
        found.append(text)
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class Field:
    """One qualifier of a schema.

    ``paths`` are dotted paths into the entity (``attrs.created``); a list met
    on the way is traversed (``query.data[*].resource``, the ``[*]`` is only a
    reminder). An entity matches when any value found on any path does. For
    :attr:`Kind.META` the qualifier is the prefix (``meta``) and the path the
    object the ``meta.<key>`` keys are looked up in.

    The options after ``many`` (``ignore_case``, ``choices``, ``compute``)
    are an application's own vocabulary (docs/extending.md).
    """

    qualifier: str
    kind: Kind
    paths: tuple[str, ...] | str
    label: str = ""
    """The noun used when explaining a filter in words ("tag", "creator")."""
    many: bool = False
    """Whether the field holds several values (tags; creator and modifier); a ``[*]`` path says so too.

    Several paths alone do not: they may be alternative places of one value
    (a user given as ``{"id": ...}`` or as its id)."""
    ignore_case: bool = False
    """Every comparison of the field's text ignores case (``str.lower`` on both sides, as ``inIgnoreCase``
    does): ``label:prod`` holds for ``Prod``. TEXT, EXACT and USER fields."""
    choices: tuple[str, ...] | None = None
    """The values an EXACT field can hold (an enum): a filter naming another value is an error that
    suggests the closest (``status:runing``: did you mean running?). See :func:`choices_of`."""
    compute: Callable[[Any], Any] | None = None
    """A function of the entity giving the field's value (or a list of values) in memory, read instead
    of ``paths`` (which may then be empty): a computed field. What it raises is no value."""
    segments: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        paths = (self.paths,) if isinstance(self.paths, str) else tuple(self.paths)
        if not paths and self.compute is None:
            raise ValueError(f"field {self.qualifier!r} needs at least one path")
        object.__setattr__(self, "paths", paths)
        object.__setattr__(self, "segments", tuple(_segments(path) for path in paths))
        if any("[*]" in path for path in paths):
            object.__setattr__(self, "many", True)
        if not self.label:
            object.__setattr__(self, "label", self.qualifier.replace("_", " "))
        self._check_options()
        object.__setattr__(self, "_hash", hash(self._options()))

    def _check_options(self) -> None:
        if self.ignore_case and not traits(self.kind).textual:
            raise ValueError(f"field {self.qualifier!r}: ignore_case is for TEXT, EXACT and USER fields")
        if self.choices is not None:
            if self.kind is not Kind.EXACT:
                raise ValueError(f"field {self.qualifier!r}: choices are for EXACT fields")
            choices = tuple(self.choices)
            if not choices or not all(isinstance(choice, str) for choice in choices):
                raise ValueError(f"field {self.qualifier!r}: choices must be texts, at least one (see choices_of)")
            object.__setattr__(self, "choices", choices)
        if self.compute is not None and not callable(self.compute):
            raise ValueError(f"field {self.qualifier!r}: compute must be a function of the entity")

    def _options(self) -> tuple[Any, ...]:
        """Every argument the field was made with, in order: what it is equal by, hashes and pickles by."""
        return tuple(getattr(self, option.name) for option in dataclass_fields(self) if option.init)

    def __hash__(self) -> int:
        # Fields key the compilers' dictionaries, several lookups per term and request: hash once.
        return self._hash

    def __reduce__(self) -> tuple[type[Field], tuple[Any, ...]]:
        # Made again, not restored: string hashes differ between processes.
        return (Field, self._options())

    def metadata_key(self, qualifier: str) -> Field:
        """The field for ``meta.<key>`` under this metadata field."""
        key = qualifier.split(".", 1)[1]
        base = self.paths[0]
        return Field(qualifier, Kind.META, f"{base}.{key}", label=f"metadata {key}")


@dataclass(frozen=True)
class Schema:
    """The qualifiers a filter may use and how each is matched.

    ``default_qualifier`` lets a bare word mean ``default_qualifier:word``.
    ``timezone`` is the zone of times written without an offset, in filters
    and in entities. ``id_path`` is where an entity's identity lives (it
    breaks ties when sorting); ``sortable`` restricts the qualifiers ``sort=``
    takes (``None``: every single-valued field of a sortable kind).
    ``functions`` are the application's own function matchers
    (:class:`~qfilter.core.functions.FunctionMatcher`), which its filters may
    use beside the built-in functions (docs/extending.md); a name
    the built-ins or another of them have, in any letter case, is a ``ValueError``.
    """

    name: str
    fields: tuple[Field, ...]
    default_qualifier: str | None = None
    timezone: tzinfo = UTC
    id_path: str = "id"
    sortable: tuple[str, ...] | None = None
    functions: tuple[FunctionMatcher, ...] = ()
    by_qualifier: dict[str, Field] = field(init=False, repr=False, compare=False)
    function_table: FunctionTable = field(init=False, repr=False, compare=False)
    """Every function its filters may use: the built-ins, then :attr:`functions`."""

    def __post_init__(self) -> None:
        index: dict[str, Field] = {}
        for item in self.fields:
            if item.qualifier in index:
                raise ValueError(f"schema {self.name!r} declares {item.qualifier!r} twice")
            index[item.qualifier] = item
        object.__setattr__(self, "by_qualifier", index)
        if self.default_qualifier is not None and self.default_qualifier not in index:
            raise ValueError(f"default qualifier {self.default_qualifier!r} is not a field")
        functions = tuple(self.functions)
        object.__setattr__(self, "functions", functions)
        try:
            table = BUILTIN_FUNCTIONS.with_functions(functions)
        except ValueError as error:
            raise ValueError(f"schema {self.name!r}: {error}") from None
        object.__setattr__(self, "function_table", table)

    @property
    def qualifiers(self) -> list[str]:
        """The qualifiers, as a user would write them (``meta.<key>`` for metadata)."""
        return [f"{f.qualifier}.<key>" if f.kind is Kind.META else f.qualifier for f in self.fields]

    def field_for(self, qualifier: str, *, text: str = "", position: int | None = None) -> Field:
        """The field a qualifier names; an :class:`UnknownQualifierError` if none."""
        found = self.by_qualifier.get(qualifier)
        if found is not None and found.kind is not Kind.META:
            return found
        head = qualifier.split(".", 1)[0]
        meta = self.by_qualifier.get(head)
        if meta is not None and meta.kind is Kind.META and "." in qualifier:
            return meta.metadata_key(qualifier)
        if meta is not None and meta.kind is Kind.META:
            raise UnknownQualifierError(
                f"{qualifier!r} needs a key",
                text=text,
                position=position,
                hint=f"write {qualifier}.<key>, e.g. {qualifier}.description",
            )
        names = [f.qualifier for f in self.fields]
        import difflib  # for a suggestion in an error message only: not worth importing at start-up

        close = difflib.get_close_matches(qualifier, names, n=1, cutoff=0.5)
        suggestion = f"did you mean {close[0]!r}? " if close else ""
        raise UnknownQualifierError(
            f"unknown qualifier {qualifier!r}",
            text=text,
            position=position,
            hint=f"{suggestion}known qualifiers: {', '.join(self.qualifiers)}",
        )

    def with_fields(self, fields: Iterable[Field], **changes: Any) -> Schema:
        """A copy with other fields (and other settings given by keyword; an unknown one is a TypeError)."""
        return replace(self, fields=tuple(fields), **changes)

    def with_functions(self, *functions: FunctionMatcher) -> Schema:
        """A copy whose filters may also use ``functions`` (:class:`~qfilter.core.functions.FunctionMatcher`)."""
        return self.with_fields(self.fields, functions=(*self.functions, *functions))


WAYLAY = Schema(
    "waylay",
    (
        Field("name", Kind.TEXT, "name"),
        Field("resource", Kind.EXACT, ("meta.resource", "query.resource", "query.data[*].resource"), many=True),
        Field("tag", Kind.EXACT, "meta.tags", many=True),
        Field("created_by", Kind.USER, "attrs.created_by", label="creator"),
        Field("modified_by", Kind.USER, "attrs.modified_by", label="last modifier"),
        Field(
            "user", Kind.USER, ("attrs.created_by", "attrs.modified_by"), label="creator or last modifier", many=True
        ),
        Field("created", Kind.TIME, "attrs.created", label="creation time"),
        Field("modified", Kind.TIME, "attrs.modified", label="last modification time"),
        Field("meta", Kind.META, "meta", label="metadata"),
    ),
    id_path="name",
)
"""Waylay time series query entities (the Waylay search API)."""

TIMEPLUS = Schema(
    "timeplus",
    (
        Field("name", Kind.TEXT, "name"),
        Field("tag", Kind.EXACT, "tags", many=True),
        Field("description", Kind.TEXT, "description"),
        Field("sql", Kind.TEXT, "sql", label="SQL"),
        Field("created_by", Kind.USER, ("created_by.id", "created_by"), label="creator"),
        Field("modified_by", Kind.USER, ("last_updated_by.id", "last_updated_by"), label="last modifier"),
        Field(
            "user",
            Kind.USER,
            ("created_by.id", "created_by", "last_updated_by.id", "last_updated_by"),
            label="creator or last modifier",
            many=True,
        ),
        Field("created", Kind.TIME, "created_at", label="creation time"),
        Field("modified", Kind.TIME, "last_updated_at", label="last modification time"),
    ),
    # Not description or sql: texts of any length, which no index holds (docs/sql.md: sorting).
    sortable=("name", "created_by", "modified_by", "created", "modified"),
)
"""Timeplus saved queries (the "Saved queries" resource of Timeplus' REST API)."""

PRESETS: dict[str, Schema] = {"waylay": WAYLAY, "timeplus": TIMEPLUS}


def get_schema(name: str) -> Schema:
    """A preset schema by name (``waylay`` or ``timeplus``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown schema {name!r}; presets: {', '.join(PRESETS)}") from None
