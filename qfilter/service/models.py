"""The request bodies of the reference service, and the checks every stored value passes.

Pydantic models for what clients send (:class:`WaylayQueryCreate`,
:class:`WaylayQueryIn`, :class:`SavedQueryIn`), with the rules that keep
every value storable in SQLite and PostgreSQL alike: no NUL characters nor
lone surrogates in text, finite numbers, bounded nesting and lengths.
:func:`addressable` says whether a name or id from a URL could name a stored
entity at all, so that a route answers 404 without asking the database.
"""

import math
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    field_validator,
    model_validator,
)

__all__ = [
    "MAX_NAME",
    "MAX_LABEL",
    "MAX_DEPTH",
    "Label",
    "WaylayMeta",
    "WaylayDataItem",
    "WaylayQueryDefinition",
    "WaylayQueryIn",
    "WaylayQueryCreate",
    "SavedQueryIn",
    "check_json",
    "check_name",
    "addressable",
    "loaded_entity",
]

MAX_NAME = 255
"""Characters of a name or id: keeps the unique index on names within every database's key size."""
MAX_LABEL = 255
"""Characters of a tag, resource or user id: they are indexed, and index entries are bounded."""
MAX_DEPTH = 32
"""Nesting of JSON bodies: deeper is no query entity, only a way to exhaust the stack."""


def _storable_text(text: str) -> None:
    if "\x00" in text:
        raise ValueError("text must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in JSON): no database stores it
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None


def check_json(value: Any, depth: int = 0) -> None:
    """Reject what a JSON column cannot store: NUL characters, lone surrogates, NaN and infinities, deep nesting."""
    if depth > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        _storable_text(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_json(key, depth + 1)
            check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json(item, depth + 1)


def check_name(name: str) -> str:
    """``name`` if it can be part of an entity's URL; raises ``ValueError`` saying why not."""
    if any(ch == "/" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise ValueError("a name must not contain '/' or control characters (it is part of the entity's URL)")
    if name.strip(".") == "" or name != name.strip():
        raise ValueError("a name must not be only dots, nor start or end with white space")
    return name


def addressable(key: str) -> bool:
    """Whether ``key`` (a name or id taken from a URL) could name a stored entity.

    Everything stored passed :func:`check_name` and :data:`MAX_NAME`; a key
    that does not (a NUL, a control character, 256 characters, ``..``) is
    answered 404 without a query, which PostgreSQL would refuse for a NUL.
    """
    if not 0 < len(key) <= MAX_NAME:
        return False
    try:
        _storable_text(key)
        check_name(key)
    except ValueError:
        return False
    return True


Label = Annotated[str, Field(max_length=MAX_LABEL)]
"""A tag or resource id: text of at most 255 characters."""


class _JsonChecked(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def storable(cls, data: Any) -> Any:
        check_json(data)
        return data


class WaylayMeta(_JsonChecked):
    """The ``meta`` object of a query entity: free-form, with ``tags`` and ``resource`` typed."""

    model_config = ConfigDict(extra="allow")
    tags: list[Label] | None = None
    resource: Label | None = None


class WaylayDataItem(_JsonChecked):
    """One series of a query's ``data`` list."""

    model_config = ConfigDict(extra="allow")
    resource: Label | None = None


class WaylayQueryDefinition(_JsonChecked):
    """The ``query`` object of a query entity: free-form, with the resource references typed."""

    model_config = ConfigDict(extra="allow")
    resource: Label | None = None
    data: list[WaylayDataItem] | None = None


class WaylayQueryIn(_JsonChecked):
    """A query entity as a client sends it; ``attrs`` and ``_links`` are the server's, so ignored."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "name": "151CF-temperature",
                    "meta": {"name": "temperature", "tags": ["imported"], "resource": "151CF"},
                    "query": {"resource": "151CF", "metric": "temperature", "freq": "PT1H"},
                }
            ]
        },
    )
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    meta: WaylayMeta | None = None
    query: WaylayQueryDefinition | None = None

    @field_validator("name")
    @classmethod
    def addressable(cls, name: str | None) -> str | None:
        return None if name is None else check_name(name)

    _sent: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def keep_as_sent(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        # The model checks the shape; the entity is stored as the client wrote it (key order, nulls).
        model = handler(data)
        if isinstance(data, Mapping):
            model._sent = dict(data)
        return model

    def entity(self) -> dict[str, Any]:
        """The entity to store: as sent, without the server-managed ``attrs`` and ``_links``."""
        return {key: value for key, value in self._sent.items() if key not in ("attrs", "_links")}


class WaylayQueryCreate(WaylayQueryIn):
    """A new query entity: like a replacement, but the name is required."""

    name: str = Field(min_length=1, max_length=MAX_NAME)

    @field_validator("name")
    @classmethod
    def addressable(cls, name: str | None) -> str | None:
        return None if name is None else check_name(name)


class SavedQueryIn(_JsonChecked):
    """A Timeplus saved query as a client creates or updates it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "streaming_iot",
                    "description": "get the latest data from iot stream",
                    "sql": "select * from iot",
                    "tags": ["iot"],
                }
            ]
        }
    )
    name: str = Field(min_length=1, max_length=MAX_NAME)
    sql: str
    description: str = ""
    tags: list[Label] = Field(default_factory=list)


def loaded_entity(entity: Any, index: int) -> dict[str, Any]:
    """An entity of a loaded file (``qfilter serve --load``): the checks of a POST, but ``attrs`` are kept."""
    if not isinstance(entity, Mapping):
        raise ValueError(f"entity {index}: expected a JSON object")
    try:
        checked = WaylayQueryIn.model_validate(entity).entity()
    except ValueError as error:
        raise ValueError(f"entity {index}: {error}") from None
    if checked.get("name") is None:
        raise ValueError(f"entity {index}: has no name")
    if isinstance(entity.get("attrs"), Mapping):
        check_json(entity["attrs"])
        checked["attrs"] = dict(entity["attrs"])
    return checked
