"""Filtering inside a ``JSONField``: some value at a key path satisfies a condition, as memory reads JSON.

Memory looks into a list met on the way at every level (``attributes.room``
holds for ``{"room": ["A3", "B1"]}`` as for ``{"room": "A3"}``), compares a
scalar by its text (a number by its JSON spelling, ``true``/``false``) and a
number numerically. Django's JSON lookups do neither, so :class:`JsonAny`
writes the walk per vendor (``json_each`` on SQLite, ``jsonb_array_elements``
on PostgreSQL, ``JSON_TABLE`` on MariaDB), as ``qfilter.sql``'s dialects do,
with every key and value bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, assert_never

from django.db.models import Lookup

from qfilter.core.kinds import Kind, traits
from qfilter.core.numbers import json_operand
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
    Within,
)

from .expressions import (
    LIKE_ESCAPE,
    MARIADB_BINARY,
    Compiled,
    _refuse,
    exact_param,
    fold_case_sql,
    has_text_param,
    has_text_sql,
    like_pattern,
    register_sqlite_functions,
)

__all__ = ["JsonAny", "has_not"]

_OPERATORS = {"eq": "=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_FALSE: Compiled = ("FALSE", ())


def _join(separator: str, parts: list[Compiled]) -> Compiled:
    return separator.join(f"({sql})" for sql, _ in parts), tuple(p for _, params in parts for p in params)


def _fill(template: str, *parts: Compiled) -> Compiled:
    """``template`` with each ``@@`` replaced by the next part's SQL, the parts' parameters in that order."""
    pieces = template.split("@@")
    assert len(pieces) == len(parts) + 1, template
    sql = pieces[0]
    params: list[Any] = []
    for part, piece in zip(parts, pieces[1:], strict=True):
        sql += part[0] + piece
        params.extend(part[1])
    return sql, tuple(params)


def has_not(condition: Condition) -> bool:
    """Whether a ``not()`` is in the condition: it then needs the value's presence (a missing value fails it)."""
    match condition:
        case Not():
            return True
        case AllOf(parts) | AnyOf(parts):
            return any(map(has_not, parts))
        case _:
            return False


@dataclass(frozen=True)
class _Element:
    """One JSON value the walk lists, as SQL: its text, its number, its boolean's text, whether it counts."""

    text: str
    number: str
    boolean: str
    present: str


def _number_param(vendor: str, number: Number) -> Compiled:
    bound, text = json_operand(number)  # as memory reads JSON: an integer exactly, a fraction as a double
    if vendor == "postgresql":
        # As NUMERIC, like the jsonb numbers it is compared with.
        return "CAST(%s AS NUMERIC)", (text,)
    return "%s", (bound,)


def _texts(values: tuple[str, ...]) -> list[str]:
    return [text for text in values if "\x00" not in text]


def element_test(condition: Condition, element: _Element, vendor: str) -> Compiled:
    """``condition`` on one listed JSON value."""
    match condition:
        case Exists():
            return element.present, ()
        case Contains(needle, ignore_case):
            if "\x00" in needle:
                return _FALSE
            haystack = fold_case_sql(vendor, element.text) if ignore_case else element.text
            return has_text_sql(vendor, haystack), (has_text_param(vendor, needle),)
        case Equals(value):
            if "\x00" in value:
                return _FALSE
            return f"{element.text} = {exact_param(vendor)}", (value,)
        case Like(glob):
            if "\x00" in glob:
                return _FALSE
            sql = f"{fold_case_sql(vendor, element.text)} LIKE {exact_param(vendor)} ESCAPE '{LIKE_ESCAPE}'"
            return sql, (like_pattern(glob),)
        case InSet(values, ignore_case):
            texts = _texts(values)
            if not texts:
                return _FALSE
            left = fold_case_sql(vendor, element.text) if ignore_case else element.text
            return f"{left} IN ({', '.join([exact_param(vendor)] * len(texts))})", tuple(texts)
        case Compare(op, number):
            return _fill(f"{element.number} {_OPERATORS[op]} @@", _number_param(vendor, number))
        case InNumbers(numbers):
            parts = [_number_param(vendor, number) for number in numbers]
            return _fill(f"{element.number} IN ({', '.join(['@@'] * len(parts))})", *parts)
        case IsBoolean(value):
            return f"{element.boolean} = '{'true' if value else 'false'}'", ()
        case Not(inner):
            # Two-valued: NOT of a NULL (an object's text compared) must be true, as in memory.
            return _fill("NOT COALESCE((@@), FALSE)", element_test(inner, element, vendor))
        case AllOf(parts):
            return _join(" AND ", [element_test(part, element, vendor) for part in parts])
        case AnyOf(parts):
            return _join(" OR ", [element_test(part, element, vendor) for part in parts])
        case Within():
            return _FALSE  # no JSON value is an instant (orm_schema refuses TIME for JSON)
        case Call(function):  # DjangoBackend refuses it before any SQL is written
            raise ValueError(f"{function.name}(): an application's function has no meaning inside a JSONField")
        case _:
            assert_never(condition)


def _present(kind: Kind, element: _Element) -> str:
    """Whether a listed value is one the kind reads: text kinds scalars, NUMBER numbers, META anything but null."""
    reads = traits(kind).reads
    match reads:
        case "json":
            return element.present
        case "number":
            return f"{element.number} IS NOT NULL"
        case "boolean":
            return f"{element.boolean} IS NOT NULL"
        case "text" | "instant":
            return f"{element.text} IS NOT NULL"
        case _:
            assert_never(reads)


def _guarded(condition: Condition, element: _Element, kind: Kind, vendor: str) -> Compiled:
    counted = _Element(element.text, element.number, element.boolean, _present(kind, element))
    test = element_test(condition, counted, vendor)
    if has_not(condition):
        return _fill(f"({counted.present}) AND (@@)", test)
    return test


def _json_path_key(key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'$."{escaped}"'


def _sqlite(column: Compiled, keys: tuple[str, ...], condition: Condition, kind: Kind) -> Compiled:
    def as_array(value: Compiled) -> Compiled:
        # value -> '$' is the value as JSON (not as a string) for json_array().
        return _fill("CASE WHEN json_type(@@) = 'array' THEN @@ ELSE json_array(@@ -> '$') END", value, value, value)

    tables = [_fill("json_each(@@) AS qj0", as_array(column))]
    for level, key in enumerate(keys, start=1):
        above = f"qj{level - 1}"
        member = (f"{above}.value -> %s", (_json_path_key(key),))
        child = _fill(f"CASE WHEN {above}.type = 'object' THEN @@ END", member)
        tables.append(_fill(f"json_each(@@) AS qj{level}", as_array(child)))
    node = f"qj{len(keys)}"
    element = _Element(
        # A number's or boolean's own JSON text (the hidden column json is the array listed): its spelling.
        text=(
            f"CASE WHEN {node}.type = 'text' THEN {node}.atom WHEN {node}.type IN ('integer', 'real', 'true', "
            f"'false') THEN {node}.json -> printf('$[%%d]', {node}.key) END"
        ),
        number=f"CASE WHEN {node}.type IN ('integer', 'real') THEN {node}.atom END",
        boolean=f"CASE WHEN {node}.type IN ('true', 'false') THEN {node}.type END",
        present=f"{node}.type <> 'null'",
    )
    source = tables[0]
    for table in tables[1:]:
        source = _fill("@@ JOIN @@ ON 1", source, table)
    return _fill("EXISTS (SELECT 1 FROM @@ WHERE @@)", source, _guarded(condition, element, kind, "sqlite"))


def _postgresql(column: Compiled, keys: tuple[str, ...], condition: Condition, kind: Kind) -> Compiled:
    def elements(value: Compiled, alias: str) -> Compiled:
        return _fill(
            "jsonb_array_elements(CASE WHEN jsonb_typeof(@@) = 'array' THEN @@ ELSE jsonb_build_array(@@) END) "
            f"AS {alias}",
            value,
            value,
            value,
        )

    source = elements(column, "qj0")
    for level, key in enumerate(keys, start=1):
        above = f"qj{level - 1}"
        # Only objects have members (jsonb_extract_path would index an array with "0").
        child = (
            f"CASE WHEN jsonb_typeof({above}.value) = 'object' THEN jsonb_extract_path({above}.value, %s) END",
            (key,),
        )
        source = _fill("@@ JOIN @@ ON TRUE", source, elements(child, f"qj{level}"))
    node = f"qj{len(keys)}"
    kind_sql = f"jsonb_typeof({node}.value)"
    spelled = f"({node}.value #>> '{{}}')"
    # jsonb keeps 0.00001 for Python's 1e-05: respell small fractions as float8 does, like repr.
    numeric = f"CAST({spelled} AS NUMERIC)"
    small = f"strpos({spelled}, '.') > 0 AND {numeric} <> 0 AND abs({numeric}) < 0.0001"
    number_text = f"CASE WHEN {small} THEN CAST(CAST({spelled} AS DOUBLE PRECISION) AS TEXT) ELSE {spelled} END"
    element = _Element(
        text=(
            f"CASE WHEN {kind_sql} IN ('string', 'boolean') THEN {spelled} "
            f"WHEN {kind_sql} = 'number' THEN {number_text} END"
        ),
        number=f"CASE WHEN {kind_sql} = 'number' THEN {numeric} END",
        boolean=f"CASE WHEN {kind_sql} = 'boolean' THEN {spelled} END",
        present=f"{kind_sql} <> 'null'",
    )
    return _fill("EXISTS (SELECT 1 FROM @@ WHERE @@)", source, _guarded(condition, element, kind, "postgresql"))


_MARIADB_COLUMNS = f"j JSON PATH '$', t LONGTEXT CHARACTER SET utf8mb4 COLLATE {MARIADB_BINARY} PATH '$'"


def _mariadb(column: Compiled, keys: tuple[str, ...], condition: Condition, kind: Kind) -> Compiled:
    def table(value: Compiled, alias: str) -> Compiled:
        # MariaDB's JSON is text: a value that is not an array is wrapped in one, as text.
        as_array = _fill("CASE WHEN JSON_TYPE(@@) = 'ARRAY' THEN @@ ELSE CONCAT('[', @@, ']') END", value, value, value)
        return _fill(f"JSON_TABLE(@@, '$[*]' COLUMNS ({_MARIADB_COLUMNS})) AS {alias}", as_array)

    def found(level: int) -> Compiled:
        node = f"qj{level}"
        if level == len(keys):
            json_type = f"JSON_TYPE({node}.j)"
            element = _Element(
                text=f"{node}.t",
                # JSON_TYPE says INTEGER or DOUBLE by the value; either way a number, read as a DOUBLE.
                number=f"CASE WHEN {json_type} IN ('INTEGER', 'DOUBLE') THEN {node}.t + 0e0 END",
                boolean=f"CASE WHEN {json_type} = 'BOOLEAN' THEN {node}.t END",
                present=f"{json_type} <> 'NULL'",
            )
            return _guarded(condition, element, kind, "mysql")
        member = (f"JSON_EXTRACT({node}.j, %s)", (_json_path_key(keys[level]),))
        child = _fill(f"CASE WHEN JSON_TYPE({node}.j) = 'OBJECT' THEN @@ END", member)
        # One EXISTS per level, each over the JSON_TABLE of the level above.
        return _fill("EXISTS (SELECT 1 FROM @@ WHERE @@)", table(child, f"qj{level + 1}"), found(level + 1))

    return _fill("EXISTS (SELECT 1 FROM @@ WHERE @@)", table(column, "qj0"), found(0))


class JsonAny(Lookup):
    """Some value at ``keys`` in the ``JSONField`` on the left (arrays looked into) satisfies ``condition``.

    ``kind`` is the qualifier's: text kinds read scalars, ``NUMBER`` numbers,
    ``BOOLEAN`` booleans, ``META`` anything but null. An ``EXISTS``, so
    never NULL: it can stand under a NOT as it is.
    """

    lookup_name = "qfilter_json_any"
    prepare_rhs = False

    def __init__(self, column: Any, keys: tuple[str, ...], condition: Condition, kind: Kind) -> None:
        super().__init__(column, (keys, condition, kind))

    def as_sql(self, compiler: Any, connection: Any) -> Compiled:
        keys, condition, kind = self.rhs
        column = compiler.compile(self.lhs)
        vendor = connection.vendor
        if vendor == "sqlite":
            register_sqlite_functions(connection)
            return _sqlite(column, keys, condition, kind)
        if vendor == "postgresql":
            return _postgresql(column, keys, condition, kind)
        if vendor == "mysql" and connection.mysql_is_mariadb:
            return _mariadb(column, keys, condition, kind)
        return _refuse(self, connection)
