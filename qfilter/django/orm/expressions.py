"""The few SQL pieces Django's own lookups do not give exactly, one per database vendor.

Django's ``contains`` is case-insensitive on SQLite, its ``lower()`` folds
ASCII only there, MariaDB's default collations are case- and
accent-insensitive and pad trailing spaces, and Django has no lookup that
walks JSON the way the language does (any element of an array, at any
level). These expressions supply the SQL for SQLite, PostgreSQL and MariaDB
(Django's ``mysql`` vendor) with the same meaning as ``qfilter.sql``'s
dialects; any other vendor is refused when the query is compiled. Every
user value is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import NotSupportedError
from django.db.backends.signals import connection_created
from django.db.models import CharField, Func, Lookup, TextField, Value

__all__ = [
    "MARIADB_BINARY",
    "MARIADB_CASE",
    "POSTGRESQL_COLLATION",
    "SQLITE_LOWER",
    "ByCodePoint",
    "Exactly",
    "FoldCase",
    "GlobLike",
    "HasFoldedText",
    "HasText",
    "ascii_fold_sql",
    "folds_as_ascii",
    "like_pattern",
    "register_sqlite_functions",
]

SQLITE_LOWER = "qfilter_lower"
"""The SQLite function, Python's ``str.lower``, registered on every SQLite connection Django opens."""
POSTGRESQL_COLLATION = "und-x-icu"
"""The ICU collation whose ``lower()`` folds case the way Python's ``str.lower`` does."""
MARIADB_BINARY = "utf8mb4_nopad_bin"
"""Code point comparison with trailing spaces significant."""
MARIADB_CASE = "utf8mb4_uca1400_ai_ci"
"""The collation whose ``LOWER`` is Python's one-to-one lower-case mapping on every code point (Unicode 14)."""
LIKE_ESCAPE = "/"

Compiled = tuple[str, tuple[Any, ...]]
"""SQL and its parameters, as Django's compilers hand them around."""


def _python_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


_REGISTERED_ON = "_qfilter_functions_on"  # the Django connection's attribute: the SQLite connection registered on


def register_sqlite_functions(connection: Any) -> None:
    """Register :data:`SQLITE_LOWER` on a Django SQLite connection (others are left alone), once per connection.

    Once: SQLite expires every prepared statement of a connection a function
    is created on, which would cost each query that folds case its
    statement cache. The Django connection remembers the SQLite connection it
    was registered on (the object, never its ``id``, which a later one may reuse).
    """
    raw = getattr(connection, "connection", None)
    if connection.vendor == "sqlite" and raw is not None and getattr(connection, _REGISTERED_ON, None) is not raw:
        raw.create_function(SQLITE_LOWER, 1, _python_lower, deterministic=True)
        setattr(connection, _REGISTERED_ON, raw)


def _on_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    register_sqlite_functions(connection)


connection_created.connect(_on_connection, dispatch_uid="qfilter.django.sqlite_functions")


def _refuse(node: Any, connection: Any) -> Compiled:
    raise NotSupportedError(
        f"qfilter.django has no {type(node).__name__} for {connection.vendor}: it supports SQLite, "
        "PostgreSQL and MariaDB"
    )


def _hex(text: str) -> str:
    """A utf8mb4 literal written in hex: the same whatever the connection's character set, and free of ``%``."""
    return f"_utf8mb4 X'{text.encode().hex().upper()}'"


# str.lower's final sigma, which MariaDB's LOWER lacks (the same rule as qfilter.sql.dialects.mysql).
_FINAL_SIGMA = r"(?-i)((?!\p{Case_Ignorable})\p{Cased}\p{Case_Ignorable}*+)Σ(?!\p{Case_Ignorable}*+\p{Cased})"
_FINAL_SIGMA_REPLACEMENT = r"\1ς"
_DOTTED_CAPITAL_I, _DOTTED_CAPITAL_I_LOWER = "İ", "i̇"


def fold_case_sql(vendor: str, text: str) -> str:
    """SQL that lower-cases the text SQL ``text`` exactly as ``str.lower`` does."""
    if vendor == "sqlite":
        return f"{SQLITE_LOWER}({text})"
    if vendor == "postgresql":
        return f'lower(({text}) COLLATE "{POSTGRESQL_COLLATION}")'
    if vendor == "mysql":
        sigma = f"REGEXP_REPLACE(CONVERT({text} USING utf8mb4), {_hex(_FINAL_SIGMA)}, {_hex(_FINAL_SIGMA_REPLACEMENT)})"
        dotted = f"REPLACE({sigma}, {_hex(_DOTTED_CAPITAL_I)}, {_hex(_DOTTED_CAPITAL_I_LOWER)})"
        return f"LOWER({dotted} COLLATE {MARIADB_CASE}) COLLATE {MARIADB_BINARY}"
    raise NotSupportedError(f"qfilter.django cannot fold case on {vendor}")


# The ASCII letters str.lower also makes of another character: U+212A KELVIN SIGN is "k", U+0130 İ is "i" + U+0307.
_FOLDED_FROM_OTHERS = frozenset("iIkK")


def folds_as_ascii(text: str) -> bool:
    """Whether lower-casing ASCII letters only finds ``text`` where ``str.lower`` does (see :class:`FoldCase`).

    True for ASCII text without ``i`` or ``k``: ``str.lower`` makes no ASCII
    character of any other character but K (U+212A) and İ (U+0130), so a
    stored text whose ``str.lower`` holds such a ``text`` holds it in ASCII
    characters, which both foldings lower alike.
    """
    return text.isascii() and _FOLDED_FROM_OTHERS.isdisjoint(text)


def ascii_fold_sql(vendor: str, text: str) -> str:
    """SQL that lower-cases the ASCII letters of the text SQL ``text`` and leaves every other character."""
    if vendor == "sqlite":
        return f"lower({text})"  # SQLite's own lower() folds ASCII only
    if vendor == "postgresql":
        return f'lower(({text}) COLLATE "C")'  # the C collation folds ASCII only
    raise NotSupportedError(f"qfilter.django has no ASCII lower-casing on {vendor}")


def exact_param(vendor: str) -> str:
    """A bound text compared code point by code point, trailing spaces included (MariaDB's binary collation)."""
    return f"%s COLLATE {MARIADB_BINARY}" if vendor == "mysql" else "%s"


def has_text_sql(vendor: str, haystack: str) -> str:
    """SQL true when ``haystack`` holds the bound text (one ``%s``, see :func:`has_text_param`)."""
    if vendor == "sqlite":
        return f"instr({haystack}, %s) > 0"
    if vendor == "postgresql":
        # LIKE '%text%' rather than strpos: the same answer, and a pg_trgm index serves it.
        return f"{haystack} LIKE %s ESCAPE '{LIKE_ESCAPE}'"
    if vendor == "mysql":
        return f"INSTR({haystack}, %s COLLATE {MARIADB_BINARY}) > 0"
    raise NotSupportedError(f"qfilter.django cannot search text on {vendor}")


def has_text_param(vendor: str, text: str) -> str:
    """The parameter of :func:`has_text_sql`: the text, or on PostgreSQL its ``LIKE`` pattern."""
    if vendor != "postgresql":
        return text
    escaped = "".join(LIKE_ESCAPE + char if char in ("%", "_", LIKE_ESCAPE) else char for char in text)
    return f"%{escaped}%"


def like_pattern(glob: str) -> str:
    """The ``LIKE`` pattern (escape ``/``) of a ``like()`` glob, lower-cased as memory does."""
    out = []
    for char in glob.lower():
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char in ("%", "_", LIKE_ESCAPE):
            out.append(LIKE_ESCAPE + char)
        else:
            out.append(char)
    return "".join(out)


class _PerVendor(Func):
    """A function whose SQL each supported vendor writes itself; other vendors are refused."""

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> Compiled:
        return _refuse(self, connection)

    def _vendor_sql(self, compiler: Any, connection: Any, write: Callable[[str], str]) -> Compiled:
        sql, params = compiler.compile(self.source_expressions[0])
        return write(sql), tuple(params)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Compiled:
        return self._vendor_sql(compiler, connection, lambda sql: self.write("sqlite", sql, connection))

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Compiled:
        return self._vendor_sql(compiler, connection, lambda sql: self.write("postgresql", sql, connection))

    def as_mysql(self, compiler: Any, connection: Any, **extra: Any) -> Compiled:
        if not connection.mysql_is_mariadb:
            raise NotSupportedError(
                "qfilter.django supports MariaDB, not MySQL: MySQL's JSON keeps numbers, not their spelling, "
                f"and it has no {MARIADB_BINARY} or {MARIADB_CASE} collation"
            )
        return self._vendor_sql(compiler, connection, lambda sql: self.write("mysql", sql, connection))

    def write(self, vendor: str, sql: str, connection: Any) -> str:
        raise NotImplementedError


class FoldCase(_PerVendor):
    """Text lower-cased exactly as Python's ``str.lower`` does (SQLite: through Python itself).

    ``ascii_only``: the folded text is only ever compared with texts for which
    :func:`folds_as_ascii` holds, so on SQLite and PostgreSQL the database's
    own ASCII lower-casing gives the same answer (:func:`ascii_fold_sql`),
    without a call into Python per row on SQLite or ICU's on PostgreSQL.
    """

    arity = 1
    output_field = TextField()

    def __init__(self, expression: Any, *, ascii_only: bool = False) -> None:
        super().__init__(expression)
        self.ascii_only = ascii_only

    def write(self, vendor: str, sql: str, connection: Any) -> str:
        if self.ascii_only and vendor in ("sqlite", "postgresql"):
            return ascii_fold_sql(vendor, sql)
        if vendor == "sqlite":
            register_sqlite_functions(connection)  # a connection opened before qfilter.django was imported
        return fold_case_sql(vendor, sql)


class Exactly(Value):
    """A user's text, bound, compared code point by code point wherever it is compared (MariaDB: its binary collation).

    A ``Value`` rather than a function of one: on SQLite and PostgreSQL it is
    the plain parameter, at no cost per request.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text, output_field=CharField())

    def as_mysql(self, compiler: Any, connection: Any, **extra: Any) -> Compiled:
        sql, params = super().as_sql(compiler, connection)
        return f"{sql} COLLATE {MARIADB_BINARY}", tuple(params)


class ByCodePoint(_PerVendor):
    """A text that sorts by code point, whatever its column's collation."""

    arity = 1
    output_field = TextField()

    def write(self, vendor: str, sql: str, connection: Any) -> str:
        collation = {"sqlite": "BINARY", "postgresql": '"C"', "mysql": MARIADB_BINARY}[vendor]
        return f"{sql} COLLATE {collation}"


class _VendorLookup(Lookup):
    """A boolean test of a text (the left side) against a user's text (the right side, always bound)."""

    prepare_rhs = False
    can_use_none_as_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> Compiled:
        vendor = connection.vendor
        if vendor not in ("sqlite", "postgresql", "mysql") or (vendor == "mysql" and not connection.mysql_is_mariadb):
            return _refuse(self, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        sql, param = self.test(vendor, lhs)
        return sql, (*lhs_params, param)

    def test(self, vendor: str, lhs: str) -> tuple[str, Any]:
        raise NotImplementedError


class HasText(_VendorLookup):
    """The left side contains the right side's text, case-sensitive, code point by code point."""

    lookup_name = "qfilter_has_text"

    def test(self, vendor: str, lhs: str) -> tuple[str, Any]:
        return has_text_sql(vendor, lhs), has_text_param(vendor, self.rhs)


# SQLite's LIKE folds ASCII letters only unless PRAGMA case_sensitive_like is on or an extension (ICU) replaced
# like(), which would fold ſ (U+017F) to s: asked of the connection when the statement is compiled.
_SQLITE_LIKE_FOLDS_ASCII = "SELECT 'a' LIKE 'A' AND '\u017f' NOT LIKE 's'"


def _sqlite_like_folds_ascii(connection: Any) -> bool:
    """Whether the connection's ``LIKE`` is SQLite's own, folding ASCII letters only (opening the connection)."""
    connection.ensure_connection()
    answer = connection.connection.execute(_SQLITE_LIKE_FOLDS_ASCII).fetchone()
    return bool(answer[0])


_SQLITE_MAX_PATTERN = 10_000  # SQLite refuses a LIKE pattern of more than 50,000 bytes


class HasFoldedText(_VendorLookup):
    """The left side, lower-cased as ``str.lower`` does, contains the right side's text (lower-cased already).

    For a text :func:`folds_as_ascii` accepts, the database's ASCII folding
    gives the same answer: on PostgreSQL ``lower(... COLLATE "C")``, on
    SQLite the built-in ``LIKE`` itself (no function call per row), or
    ``instr(lower(...))`` where the connection, asked when the statement is
    compiled, finds that its ``LIKE`` does not fold ASCII only. Any other
    text goes through :func:`fold_case_sql`.
    """

    lookup_name = "qfilter_has_folded_text"

    def as_sql(self, compiler: Any, connection: Any) -> Compiled:
        vendor = connection.vendor
        text: str = self.rhs
        if not folds_as_ascii(text) or vendor not in ("sqlite", "postgresql"):
            if vendor == "sqlite":
                register_sqlite_functions(connection)  # a connection opened before qfilter.django was imported
            return super().as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        pattern = has_text_param("postgresql", text)  # the LIKE pattern, escaped with LIKE_ESCAPE
        if vendor == "postgresql":
            return has_text_sql(vendor, ascii_fold_sql(vendor, lhs)), (*lhs_params, pattern)
        if len(pattern) > _SQLITE_MAX_PATTERN or not _sqlite_like_folds_ascii(connection):
            return has_text_sql(vendor, ascii_fold_sql(vendor, lhs)), (*lhs_params, text)
        return f"{lhs} LIKE %s ESCAPE '{LIKE_ESCAPE}'", (*lhs_params, pattern)

    def test(self, vendor: str, lhs: str) -> tuple[str, Any]:
        return has_text_sql(vendor, fold_case_sql(vendor, lhs)), has_text_param(vendor, self.rhs)


class GlobLike(_VendorLookup):
    """The left side (lower-cased already) matches the right side, a :func:`like_pattern`."""

    lookup_name = "qfilter_like"

    def test(self, vendor: str, lhs: str) -> tuple[str, Any]:
        return f"{lhs} LIKE {exact_param(vendor)} ESCAPE '{LIKE_ESCAPE}'", self.rhs
