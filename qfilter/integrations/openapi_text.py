"""The words and examples a listing's parameters carry in an OpenAPI document.

:mod:`qfilter.integrations.fastapi` puts them on ``q``, ``sort``, ``limit``,
``offset``, ``cursor`` and the user header; they depend on the schema only (no web
framework here), so another integration may show the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qfilter.core.ast import Value
from qfilter.core.kinds import Kind, traits
from qfilter.core.schema import Field, Schema
from qfilter.core.sorting import sortable_fields

__all__ = [
    "q_examples",
    "q_description",
    "functions_description",
    "sort_description",
    "limit_description",
    "OFFSET_DESCRIPTION",
    "CURSOR_DESCRIPTION",
    "USER_HEADER_DESCRIPTION",
    "integer_schema",
    "string_schema",
]

_SEED_EXAMPLES: dict[str, dict[str, str]] = {
    "waylay": {
        "search": "name:demo tag:demo -tag:not-demo resource:151CF",
        "combined": "resource:APL4995 name:office tag:prio1,demo -tag:preview",
        "quoted": "created:\"2020-04-22T12:34:00+00:00/\" tag:demo,'ab c'",
        "relative time": 'created:"2020-04-22T12:34:00+00:00/now-P1W"',
        "mine": "created_by:@me modified:now-P1W/",
        "metadata": "meta.description:contains(hourly)",
        "functions": 'tag:all(like("prj:*"),not(like("*:Done"))) -resource:exists()',
        "any of": "tag:in(demo,prio1) created_by:in(@me,users/bob)",
        "ranges": "created:>=2020-04 modified:2021..* meta.prio:gt(5)",
        "boolean": '(tag:abc OR tag:"My Demo") AND tag:like("prj:*") NOT name:test',
    },
    "timeplus": {
        "tags": "tag:demo -tag:old",
        "sql": "sql:iot name:streaming",
        "mine": "created_by:@me modified:now-P1W/",
        "year": "created:2023",
        "functions": "tag:inIgnoreCase(demo,iot) name:not(test)",
        "ranges": "created:2023-01..2023-03",
        "boolean": "(tag:demo OR sql:iot) AND NOT name:test",
    },
}

OFFSET_DESCRIPTION = "How many matches to skip (default 0)."
CURSOR_DESCRIPTION = (
    "Where the page starts, as the `next` (or `prev`, `self`) link of a page of this listing gives it: an opaque "
    "text, valid with that link's `q` and `sort` only. Give it or `offset`, not both. An altered, foreign or "
    "outdated cursor is a 400; start again from the first page."
)
USER_HEADER_DESCRIPTION = (
    "The current user's id, which `@me` in a filter stands for. Nothing checks it: put it behind something that "
    "authenticates."
)


def q_examples(schema: Schema) -> dict[str, str]:
    """Example filters for ``schema``, shown in the OpenAPI description of ``q``.

    The presets get the examples of Waylay's and Timeplus' documentation; another schema gets one per
    qualifier kind it has (the kinds' :attr:`~qfilter.core.kinds.KindTraits.examples`), and one per
    function of its own that gives an example.
    """
    if schema.name in _SEED_EXAMPLES and not schema.functions:
        return dict(_SEED_EXAMPLES[schema.name])
    if schema.name in _SEED_EXAMPLES:
        return {**_SEED_EXAMPLES[schema.name], **_function_examples(schema)}
    examples = {"everything": ""}
    for field in schema.fields:
        sample, newer = traits(field.kind).examples
        if field.choices is not None:  # an enum takes its own values only
            sample = str(Value(field.choices[0]))
            newer = f"in({','.join(str(Value(choice)) for choice in field.choices[:2])})"
        qualifier = f"{field.qualifier}.key" if field.kind is Kind.META else field.qualifier
        examples.setdefault(field.kind.value, f"{qualifier}:{sample}")
        examples.setdefault(f"{field.kind.value}, newer forms", f"{qualifier}:{newer}")
    plain = [value for key, value in examples.items() if value and "," not in key]
    if len(plain) >= 3:
        examples["boolean"] = f"({plain[0]} OR {plain[1]}) AND NOT {plain[2]}"
    elif plain:
        examples["boolean"] = f"{plain[0]} OR NOT {plain[1]}" if len(plain) == 2 else f"NOT {plain[0]}"
    return {**examples, **_function_examples(schema)}


def _function_examples(schema: Schema) -> dict[str, str]:
    """An example of each of the schema's own functions that declares one, on the first field that takes it."""
    examples = {}
    for function in schema.functions:
        target = next((field for field in schema.fields if field.kind in function.kinds), None)
        if function.example and target is not None:
            qualifier = f"{target.qualifier}.key" if target.kind is Kind.META else target.qualifier
            examples[f"{function.name}()"] = f"{qualifier}:{function.example}"
    return examples


def functions_description(schema: Schema) -> str:
    """The functions a filter under ``schema`` may use, in words: the built-ins by name, its own with what they test."""
    builtin = [function for function in schema.function_table if function.builtin]
    own = [function for function in schema.function_table if not function.builtin]
    words = f"Functions: {', '.join(f'`{function.name}()`' for function in builtin)}"
    if own:
        described = (
            f"`{function.name}()`" + (f" ({function.description})" if function.description else "") for function in own
        )
        words += f"; this API's own: {', '.join(described)}"
    return words


def q_description(schema: Schema, user_header: str | None, signed_in: bool = False) -> str:
    """The description of ``q``: the language in brief, who ``@me`` is, and ``schema``'s qualifiers."""
    me = f"`@me` is the user named by the `{user_header}` header. " if user_header else ""
    if signed_in:
        me = "`@me` is the signed-in user. "
    return (
        "A search filter: space-separated terms `[-]qualifier:matcher[,matcher...]`. "
        "Terms with the same qualifier are OR-ed, different qualifiers AND-ed, a leading `-` excludes, "
        "and the matchers of one term are AND-ed. "
        "Quote a matcher that holds spaces, commas, quotes or parentheses; a colon may stand bare (`tag:a:b`). "
        f"{functions_description(schema)} (`tag:in(a,b)`, `tag:not(like(x*))`, "
        "`-tag:exists()`); times also take ranges (`created:>=2020-04`, `created:2020..2021`). "
        "Combine with `AND`, `OR`, `NOT` (upper case) and parentheses: `(tag:a OR name:x) AND NOT tag:old`; "
        "`NOT` binds tighter than `AND`, `AND` tighter than `OR`; terms side by side keep the rules above, "
        'and each parenthesised or `NOT` item is one more AND-ed part. To search for the word, quote it (`"OR"`). '
        f"{me}Qualifiers: {', '.join(map(_qualifier_words, schema.fields))}. "
        "An empty filter matches everything; a bad one is a 400 that says what is wrong and where."
    )


def _qualifier_words(field: Field) -> str:
    """A qualifier as ``q``'s description lists it: an enum with its values, a case-insensitive one said so."""
    name = f"`{field.qualifier}.<key>`" if field.kind is Kind.META else f"`{field.qualifier}`"
    notes = []
    if field.choices is not None:
        notes.append("one of " + ", ".join(f"`{Value(choice)}`" for choice in field.choices))
    if field.ignore_case:
        notes.append("ignoring case")
    return f"{name} ({'; '.join(notes)})" if notes else name


def sort_description(schema: Schema) -> str:
    """The description of ``sort``: its syntax, the order, and ``schema``'s sortable fields."""
    sortable = ", ".join(f.qualifier for f in sortable_fields(schema)) or "none"
    return (
        "Comma-separated fields to order by, each optionally prefixed by '-' for descending "
        f"(e.g. -{sortable.split(', ')[0]}); missing values last, ties by id. Sortable: {sortable}."
    )


def limit_description(max_limit: int, default_limit: int) -> str:
    """The description of ``limit``."""
    return f"The most entities in the page, 0 to {max_limit} (default {default_limit})."


def integer_schema(minimum: int, maximum: int, default: int) -> Callable[[dict[str, Any]], None]:
    """Document a parameter as an integer although the route receives its raw text.

    The text is checked by :mod:`qfilter.integrations.listing`, so a bad value gets the same
    400 body in every framework instead of FastAPI's 422.
    """

    def rewrite(json_schema: dict[str, Any]) -> None:
        json_schema.pop("anyOf", None)
        json_schema.update(type="integer", minimum=minimum, maximum=maximum, default=default)

    return rewrite


def string_schema(json_schema: dict[str, Any]) -> None:
    """Document a parameter as a string: an absent parameter is not a JSON null."""
    json_schema.pop("anyOf", None)
    json_schema["type"] = "string"
