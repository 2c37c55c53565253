"""The schema a command works with: a preset, one's own by module path, or a schema file (TOML or JSON).

``--schema waylay`` names a preset; ``--schema mypkg.schemas:DEVICES`` the
:class:`~qfilter.core.schema.Schema` ``DEVICES`` of the module
``mypkg.schemas``, imported with the current directory first on the path
(as ``uvicorn app:app`` does); ``--schema-file devices.toml`` reads the file
format docs/cli.md defines. Every problem is a :class:`UsageError` (exit
status 2) naming the option, and for a file its key and, in TOML, its line;
a file that cannot be read is an :class:`InputError` (exit status 1).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import tomllib
from collections.abc import Mapping
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qfilter.core.schema import PRESETS, Field, Kind, Schema

from .errors import UsageError, read_text, shown, shown_path

__all__ = ["FIELD_KEYS", "SCHEMA_KEYS", "load_object", "preset_or_module", "read_schema_file", "schema_from_data"]

SCHEMA_KEYS = ("name", "default_qualifier", "timezone", "id_path", "sortable", "fields")
"""The top-level keys of a schema file."""
FIELD_KEYS = ("qualifier", "kind", "paths", "label", "many")
"""The keys of each entry of ``fields``."""

_QUALIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # what the grammar reads before a colon
_KINDS = ", ".join(kind.value for kind in Kind)


# -- by module path -------------------------------------------------------------------------------


def load_object(option: str, text: str) -> Any:
    """The object ``MODULE:NAME`` names (``NAME`` may be dotted), the module imported as ``uvicorn`` does."""
    module_name, colon, attribute = text.partition(":")
    if not colon or not _dotted(module_name) or not _dotted(attribute):
        raise UsageError(f"{option}: expected MODULE:NAME (e.g. mypkg.schemas:DEVICES), got {shown(text)}")
    # The console script's path starts at its own directory: put the current one first, as uvicorn does.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        found: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and (module_name == error.name or module_name.startswith(error.name + ".")):
            raise UsageError(
                f"{option}: no module named {error.name!r} (looked in the current directory too)"
            ) from None
        raise UsageError(f"{option}: importing {module_name} failed: {_first_line(error)}") from None
    except (Exception, SystemExit) as error:  # the module's own code failed: say how, never a traceback
        raise UsageError(f"{option}: importing {module_name} failed: {_first_line(error)}") from None
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise UsageError(f"{option}: {shown(text)}: {module_name} has no {attribute!r}") from None
        except Exception as error:  # a property or module __getattr__ that raises
            raise UsageError(f"{option}: {shown(text)}: reading {attribute!r} failed: {_first_line(error)}") from None
    return found


def _dotted(name: str) -> bool:
    return bool(name) and all(part.isidentifier() for part in name.split("."))


def _first_line(error: BaseException) -> str:
    text = str(error).strip().split("\n", 1)[0]
    text = text if len(text) <= 200 else text[:200] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def preset_or_module(text: str) -> Schema:
    """The schema ``--schema`` names: a preset (``waylay``, ``timeplus``) or ``MODULE:NAME``."""
    if ":" not in text:
        if text in PRESETS:
            return PRESETS[text]
        presets = ", ".join(sorted(PRESETS))
        raise UsageError(f"--schema: unknown schema {shown(text)}; a preset ({presets}) or MODULE:NAME")
    found = load_object("--schema", text)
    if not isinstance(found, Schema):
        raise UsageError(f"--schema: {shown(text)} is {_a(found)}, not a qfilter Schema")
    return found


def _a(value: object) -> str:
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


# -- schema files ---------------------------------------------------------------------------------


def read_schema_file(path: str) -> Schema:
    """The schema a TOML or JSON file defines (docs/cli.md, "Schema files")."""
    name = shown_path(path)
    suffix = Path(path).suffix.lower()
    if suffix not in (".toml", ".json"):
        raise UsageError(f"--schema-file: {name}: expected a .toml or .json file")
    text = read_text(path)
    data: Any
    if suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise UsageError(f"--schema-file: {name}: not valid TOML ({error})") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            where = f"line {error.lineno} column {error.colno}"
            raise UsageError(f"--schema-file: {name}: not valid JSON ({error.msg} at {where})") from None
        except (ValueError, RecursionError) as error:  # a huge integer, or nesting deeper than Python goes
            raise UsageError(f"--schema-file: {name}: not valid JSON ({_first_line(error)})") from None
    lines = _TomlLines(text) if suffix == ".toml" else None
    try:
        return schema_from_data(data, default_name=Path(path).stem)
    except _BadKey as error:
        line = lines.find(error.index, error.key) if lines is not None else None
        where = f"line {line}: " if line is not None else ""
        raise UsageError(f"--schema-file: {name}: {where}{error}") from None


class _BadKey(ValueError):
    """A key of the file with a value the format does not take; ``index`` is its field's, if in ``fields``."""

    def __init__(self, message: str, key: str | None = None, index: int | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.index = index


def schema_from_data(data: object, *, default_name: str = "schema") -> Schema:
    """The :class:`Schema` a decoded schema file defines; a ``ValueError`` naming the key that is wrong."""
    if not isinstance(data, Mapping):
        raise _BadKey(f"expected a table of {', '.join(SCHEMA_KEYS)}, got {_json_kind(data)}")
    _known_keys(data, SCHEMA_KEYS, "", None)
    entries = data.get("fields")
    if not isinstance(entries, list) or not entries:
        raise _BadKey("fields: expected a non-empty list of fields ([[fields]] in TOML)", "fields")
    fields = [_field(entry, index) for index, entry in enumerate(entries, 1)]
    qualifiers = [f.qualifier for f in fields]
    for index, qualifier in enumerate(qualifiers, 1):
        if qualifier in qualifiers[: index - 1]:
            raise _BadKey(f"fields[{index}]: qualifier {qualifier!r} is declared twice", "qualifier", index)
    name = _text(data, "name", default_name)
    default = data.get("default_qualifier")
    if default is not None and (not isinstance(default, str) or default not in qualifiers):
        raise _BadKey(
            f"default_qualifier: expected one of the fields' qualifiers, got {_shown(default)}", "default_qualifier"
        )
    sortable = data.get("sortable")
    if sortable is not None:
        if not isinstance(sortable, list) or not all(isinstance(item, str) for item in sortable):
            raise _BadKey(f"sortable: expected a list of qualifiers, got {_json_kind(sortable)}", "sortable")
        for item in sortable:
            if item not in qualifiers:
                raise _BadKey(f"sortable: {item!r} is not one of the fields' qualifiers", "sortable")
    return Schema(
        name,
        tuple(fields),
        default_qualifier=default,
        timezone=_zone(data),
        id_path=_text(data, "id_path", "id"),
        sortable=None if sortable is None else tuple(sortable),
    )


def _field(entry: object, index: int) -> Field:
    where = f"fields[{index}]"
    if not isinstance(entry, Mapping):
        raise _BadKey(f"{where}: expected a table of {', '.join(FIELD_KEYS)}, got {_json_kind(entry)}", None, index)
    _known_keys(entry, FIELD_KEYS, f"{where}: ", index)
    qualifier = entry.get("qualifier")
    if not isinstance(qualifier, str) or _QUALIFIER.fullmatch(qualifier) is None:
        raise _BadKey(
            f"{where}: qualifier: expected a name of letters, digits and _ (not starting with a digit), "
            f"got {_shown(qualifier)}",
            "qualifier" if "qualifier" in entry else None,
            index,
        )
    where = f"{where} ({qualifier})"
    kind = entry.get("kind")
    if kind not in {k.value for k in Kind}:
        raise _BadKey(f"{where}: kind: expected one of {_KINDS}, got {_shown(kind)}", "kind", index)
    paths = entry.get("paths", qualifier)
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p for p in paths):
        raise _BadKey(
            f"{where}: paths: expected a path or a non-empty list of paths, got {_shown(paths)}", "paths", index
        )
    label = entry.get("label", "")
    if not isinstance(label, str):
        raise _BadKey(f"{where}: label: expected a text, got {_json_kind(label)}", "label", index)
    many = entry.get("many", False)
    if not isinstance(many, bool):
        raise _BadKey(f"{where}: many: expected true or false, got {_shown(many)}", "many", index)
    return Field(qualifier, Kind(kind), tuple(paths), label=label, many=many)


def _known_keys(table: Mapping[Any, Any], known: tuple[str, ...], where: str, index: int | None) -> None:
    for key in table:
        if key not in known:
            raise _BadKey(f"{where}unknown key {_shown(key)}; the keys are {', '.join(known)}", str(key), index)


def _text(data: Mapping[str, Any], key: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value:
        raise _BadKey(f"{key}: expected a non-empty text, got {_shown(value)}", key)
    return value


def _zone(data: Mapping[str, Any]) -> tzinfo:
    if "timezone" not in data:
        return UTC  # the Schema's own default: a file without one makes the same Schema as Python without one
    name = data.get("timezone")
    if not isinstance(name, str):
        raise _BadKey(f"timezone: expected a time zone name such as Europe/Brussels, got {_shown(name)}", "timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
        raise _BadKey(f"timezone: unknown time zone {shown(name)}", "timezone") from None


def _shown(value: object) -> str:
    return shown(value) if isinstance(value, str) else _json_kind(value) if value is None else repr(value)[:60]


def _json_kind(value: object) -> str:
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a text", list: "a list", dict: "a table"}
    return next((word for kind, word in kinds.items() if isinstance(value, kind)), "nothing")


class _TomlLines:
    """Where a key of a TOML schema file is: its line, found by reading the file's table headers."""

    _HEADER = re.compile(r"\s*\[\[?\s*([^\]]*?)\s*\]\]?")
    _KEY = re.compile(r"""\s*["']?([A-Za-z0-9_-]+)["']?\s*=""")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def find(self, index: int | None, key: str | None) -> int | None:
        """The line of ``key`` at the top (``index`` None) or in the ``index``-th ``[[fields]]``, or its header's."""
        table, seen, header_line = None, 0, None
        for number, line in enumerate(self.lines, 1):
            header = self._HEADER.match(line)
            if header is not None and not line.lstrip().startswith("#"):
                table = header.group(1)
                if table == "fields" and line.lstrip().startswith("[["):
                    seen += 1
                    if seen == index:
                        header_line = number
                continue
            in_place = (index is None and table is None) or (table == "fields" and seen == index)
            found = self._KEY.match(line)
            if in_place and found is not None and key is not None and found.group(1) == key:
                return number
        return header_line
