"""SQL building blocks every dialect shares: bound parameters, qfilter's constants, and
the dialect-neutral elements (case folding, substring position, per-dialect choice)
whose SQL each module of :mod:`qfilter.sql.dialects` supplies.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from qfilter.core.numbers import json_operand

__all__ = [
    "ByIdentity",
    "LIKE_ESCAPE",
    "ZERO",
    "PerDialect",
    "constant",
    "contains",
    "exactly",
    "fold_case",
    "number_param",
    "param",
    "position",
    "unsupported",
]


T = TypeVar("T")


class ByIdentity(Generic[T]):
    """An object (a clause, a column) as a cache key by identity: ``==`` on a clause builds SQL rather than comparing.

    A cache that holds the key holds the object, so its ``id`` is not reused while it is a key.
    """

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ByIdentity) and other.value is self.value


LIKE_ESCAPE = "/"
ZERO: sa.ColumnElement[int] = sa.literal_column("0", sa.Integer())


def unsupported(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    """The compilation of an element on a dialect that has none: an error, never a guess."""
    raise sa.exc.CompileError(f"qfilter.sql has no {type(element).__name__} for {compiler.dialect.name}")


class exactly(sa.ColumnElement[str]):
    """A text compared code point by code point, trailing spaces included, wherever it is compared.

    SQLite and PostgreSQL compare text that way already; a dialect whose
    default collations do not (MariaDB) adds its binary one here.
    """

    __visit_name__ = "qfilter_exactly"
    inherit_cache = True
    type = sa.String()
    _traverse_internals = [("clause", InternalTraversal.dp_clauseelement)]

    def __init__(self, clause: sa.ColumnElement[str]) -> None:
        self.clause = clause


@compiles(exactly)
def _exactly(element: exactly, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clause, **kw)


class _Matcher(sa.TypeDecorator[str]):
    """The type of a bound matcher: :class:`exactly` wherever it is compared."""

    impl = sa.String()
    cache_ok = True

    def bind_expression(self, bindvalue: sa.BindParameter[str]) -> sa.ColumnElement[str]:
        return exactly(bindvalue)


_MATCHER = _Matcher()  # one instance: a type's cache key is worked out once per instance


def param(value: str) -> sa.BindParameter[str]:
    """A user's text (or a text made from it), bound, and compared exactly on every dialect."""
    return sa.bindparam(None, value, type_=_MATCHER)


def constant(text: str) -> sa.ColumnElement[str]:
    """One of qfilter's own SQL string constants (never user text), written inline for readability."""
    return sa.literal_column(f"'{text}'", sa.String())


class fold_case(FunctionElement[str]):
    """Lower-case text exactly as Python's ``str.lower`` does."""

    type = sa.String()
    inherit_cache = True
    name = "qfilter_fold_case"


class position(FunctionElement[int]):
    """1-based position of the second text in the first, 0 if absent (no pattern characters)."""

    type = sa.Integer()
    inherit_cache = True
    name = "qfilter_position"


compiles(fold_case)(unsupported)
compiles(position)(unsupported)


def like_fragment(text: str) -> str:
    """The ``LIKE`` pattern (escape :data:`LIKE_ESCAPE`) of the texts that contain ``text``."""
    escaped = "".join(LIKE_ESCAPE + char if char in ("%", "_", LIKE_ESCAPE) else char for char in text)
    return f"%{escaped}%"


class contains(FunctionElement[bool]):
    """The first text contains the second, a user's text: ``position(...) > 0`` unless a dialect says otherwise.

    It carries the text twice, as it is and as a ``LIKE`` pattern
    (:func:`like_fragment`), both bound: PostgreSQL compiles the ``LIKE``,
    which a trigram index serves; the others compare code points with
    :class:`position`.
    """

    type = sa.Boolean()
    inherit_cache = True
    name = "qfilter_contains"
    _is_implicitly_boolean = True  # a comparison already: no "= 1" where the database has no boolean type

    def __init__(self, haystack: sa.ColumnElement[str], text: str) -> None:
        super().__init__(haystack, param(text), param(like_fragment(text)))


@compiles(contains)
def _contains(element: contains, compiler: SQLCompiler, **kw: Any) -> str:
    haystack, text, _ = element.clauses.clauses
    return compiler.process(position(haystack, text) > ZERO, **kw)


class number_param(FunctionElement[Any]):
    """A filter's number (``gt(5)``, ``prio:1..5``), bound, to compare with a JSON number's value.

    It carries the number twice: as a Python ``int`` or ``float`` (what
    SQLite and MariaDB compare their JSON numbers with) and as text, which
    PostgreSQL reads as ``NUMERIC``, the type its JSON numbers are read in.
    Each dialect compiles the one it needs; by default the first. Both are
    :func:`~qfilter.core.numbers.json_operand`'s: an integer exactly, a
    fraction as the double nearest to it, as memory reads JSON.
    """

    type = sa.Numeric()
    inherit_cache = True
    name = "qfilter_number"

    def __init__(self, number: int | float | Decimal) -> None:
        bound, text = json_operand(number)
        as_type: sa.types.TypeEngine[Any] = sa.Integer() if isinstance(bound, int) else sa.Float()
        super().__init__(sa.bindparam(None, bound, type_=as_type), sa.bindparam(None, text, type_=sa.String()))


@compiles(number_param)
def _number_param(element: number_param, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses.clauses[0], **kw)


class PerDialect(sa.ColumnElement[bool]):
    """One boolean expression per dialect, chosen when the statement is compiled.

    Every variant is a child, so the statement cache key covers all their
    bound parameters, and each variant owns its parameters.
    """

    __visit_name__ = "qfilter_per_dialect"
    inherit_cache = True
    type = sa.Boolean()
    # Each variant is a condition: without this, dialects with no boolean type (SQLite, MariaDB)
    # would compare the element to 1, and the SQL would differ from the variant built alone.
    _is_implicitly_boolean = True
    _traverse_internals = [
        ("dialects", InternalTraversal.dp_string_list),
        ("variants", InternalTraversal.dp_clauseelement_tuple),
    ]

    def __init__(self, variants: Mapping[str, sa.ColumnElement[bool]]) -> None:
        self.dialects = tuple(variants)
        self.variants = tuple(variants.values())


@compiles(PerDialect)
def _per_dialect(element: PerDialect, compiler: SQLCompiler, **kw: Any) -> str:
    name = compiler.dialect.name
    if name not in element.dialects:
        raise sa.exc.CompileError(
            f"this qfilter clause was built for {' and '.join(element.dialects)} "
            f"(compile_clause(..., dialect=...)), not {name}"
        )
    # Parenthesised: the variant may be an AND, and the element may stand under a NOT.
    return f"({compiler.process(element.variants[element.dialects.index(name)], **kw)})"
