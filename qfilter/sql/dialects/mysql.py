"""MariaDB (SQLAlchemy's ``mysql`` and ``mariadb`` dialects): binary no-pad comparisons, Unicode 14
case folding, JSON with ``JSON_TABLE``.

Exactness: every matcher is bound as ``:text COLLATE utf8mb4_nopad_bin``
(:func:`~qfilter.sql.elements.param`), so ``=``, ``LIKE`` and ``INSTR``
compare code point by code point with trailing spaces significant, whatever
the column's collation; MariaDB still walks an index of the column for
``=``. Case folding is ``LOWER`` under a UCA 14.0 collation (Python 3.11's
Unicode), after the two context rules of ``str.lower`` that ``LOWER`` lacks.
MySQL servers are refused (:func:`refusal`): their JSON is binary and holds
numbers, not their spelling, and they have neither collation.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from qfilter.core.plan import Condition

from ..elements import constant, exactly, fold_case, param, position
from .base import PATH_KEY, ValueTest

__all__ = ["MARIADB_BINARY", "MARIADB_CASE", "MARIADB_DIALECTS", "json_any", "refusal"]

MARIADB_DIALECTS = ("mysql", "mariadb")
"""SQLAlchemy's names for a MariaDB connection: ``mysql+pymysql://`` and ``mariadb+pymysql://`` URLs."""
MARIADB_BINARY = "utf8mb4_nopad_bin"
"""Code point comparison, trailing spaces significant (``utf8mb4_bin`` is PAD SPACE: ``'a' = 'a '``)."""
MARIADB_CASE = "utf8mb4_uca1400_ai_ci"
"""The collation whose ``LOWER`` is Python's one-to-one lower-case mapping on every code point (Unicode 14)."""

# str.lower's final sigma (Unicode's Final_Sigma condition): a capital sigma preceded by a cased
# letter and not followed by one, case-ignorable characters skipped both ways, becomes ς. PCRE has
# no variable-length look-behind, so the preceding letter is matched and put back (\1); the
# possessive *+ skips every case-ignorable character, as Python does, before looking at the next.
_FINAL_SIGMA = r"(?-i)((?!\p{Case_Ignorable})\p{Cased}\p{Case_Ignorable}*+)Σ(?!\p{Case_Ignorable}*+\p{Cased})"
_FINAL_SIGMA_REPLACEMENT = r"\1ς"
# The one unconditional mapping of SpecialCasing.txt that changes length: İ lowers to i + U+0307.
_DOTTED_CAPITAL_I = "İ"
_DOTTED_CAPITAL_I_LOWER = "i̇"


def _hex(text: str) -> str:
    """A utf8mb4 string literal written in hex: the same whatever the connection's character set
    and whatever ``NO_BACKSLASH_ESCAPES`` says (the patterns hold backslashes)."""
    return f"_utf8mb4 X'{text.encode().hex().upper()}'"


def _mariadb(compiler: SQLCompiler, **kw: Any) -> None:
    """Refuse a MySQL server here too, should an element be compiled outside a :class:`Supported` clause."""
    problem = refusal(compiler.dialect)
    if problem:
        raise sa.exc.CompileError(problem)


def refusal(dialect: sa.Dialect) -> str | None:
    """Why qfilter does not compile for this mysql-family dialect's server, or ``None`` when it does.

    A dialect not connected yet (``statement.compile(dialect=mysql.dialect())``)
    is taken to be MariaDB.
    """
    if dialect.server_version_info is not None and not getattr(dialect, "is_mariadb", False):
        return (
            "qfilter.sql compiles for MariaDB, not MySQL: MySQL's JSON keeps numbers, not their spelling, and it "
            f"has no {MARIADB_BINARY} or {MARIADB_CASE} collation, so its answers would differ from memory's"
        )
    return None


def _is_utf8mb4(value: Any, dialect: sa.Dialect) -> bool:
    """Whether a text's SQLAlchemy type says it is utf8mb4 already (exact_string, JSON_TABLE's text)."""
    type_ = getattr(value, "type", None)
    if type_ is None:
        return False
    impl = type_.dialect_impl(dialect)
    charset = getattr(impl, "charset", None) or ""
    collation = getattr(impl, "collation", None) or ""
    return charset == "utf8mb4" or collation.startswith("utf8mb4_")


def _fold_case_mariadb(element: fold_case, compiler: SQLCompiler, **kw: Any) -> str:
    _mariadb(compiler)
    (value,) = element.clauses.clauses
    text = compiler.process(value, **kw)
    if not _is_utf8mb4(value, compiler.dialect):
        # Another character set (or one not known here) could not hold Σ, ς and İ: convert first.
        text = f"CONVERT({text} USING utf8mb4)"
    sigma = f"REGEXP_REPLACE({text}, {_hex(_FINAL_SIGMA)}, {_hex(_FINAL_SIGMA_REPLACEMENT)})"
    dotted = f"REPLACE({sigma}, {_hex(_DOTTED_CAPITAL_I)}, {_hex(_DOTTED_CAPITAL_I_LOWER)})"
    return f"LOWER({dotted} COLLATE {MARIADB_CASE}) COLLATE {MARIADB_BINARY}"


def _position_mariadb(element: position, compiler: SQLCompiler, **kw: Any) -> str:
    # The needle is a param(), bound with the binary collation, which wins over the haystack's.
    return f"INSTR({compiler.process(element.clauses, **kw)})"


def _exactly_mariadb(element: exactly, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.clause, **kw)} COLLATE {MARIADB_BINARY}"


for _name in MARIADB_DIALECTS:
    compiles(fold_case, _name)(_fold_case_mariadb)
    compiles(position, _name)(_position_mariadb)
    compiles(exactly, _name)(_exactly_mariadb)


class _json_elements(sa.sql.functions.FunctionElement[Any]):
    """``JSON_TABLE`` over the elements of a JSON array: each element's JSON (``j``) and scalar text (``t``)."""

    inherit_cache = True
    name = "qfilter_json_elements"


@compiles(_json_elements)
def _json_elements_unsupported(element: _json_elements, compiler: SQLCompiler, **kw: Any) -> str:
    raise sa.exc.CompileError(f"qfilter.sql has no JSON_TABLE for {compiler.dialect.name}")


def _json_elements_mariadb(element: _json_elements, compiler: SQLCompiler, **kw: Any) -> str:
    _mariadb(compiler)
    # t is NULL for null, objects and arrays; strings unquoted, numbers and booleans as their JSON text.
    columns = f"j JSON PATH '$', t LONGTEXT CHARACTER SET utf8mb4 COLLATE {MARIADB_BINARY} PATH '$'"
    return f"JSON_TABLE({compiler.process(element.clauses, **kw)}, '$[*]' COLUMNS ({columns}))"


for _name in MARIADB_DIALECTS:
    compiles(_json_elements, _name)(_json_elements_mariadb)


class _json_keys(sa.sql.functions.FunctionElement[Any]):
    """``JSON_TABLE`` over the keys of a JSON object: each key's JSON string as written (``j``) and decoded (``t``)."""

    inherit_cache = True
    name = "qfilter_json_keys"


@compiles(_json_keys)
def _json_keys_unsupported(element: _json_keys, compiler: SQLCompiler, **kw: Any) -> str:
    raise sa.exc.CompileError(f"qfilter.sql has no JSON_TABLE for {compiler.dialect.name}")


def _json_keys_mariadb(element: _json_keys, compiler: SQLCompiler, **kw: Any) -> str:
    _mariadb(compiler)
    columns = f"j JSON PATH '$', t LONGTEXT CHARACTER SET utf8mb4 COLLATE {MARIADB_BINARY} PATH '$'"
    return f"JSON_TABLE(JSON_KEYS({compiler.process(element.clauses, **kw)}), '$[*]' COLUMNS ({columns}))"


for _name in MARIADB_DIALECTS:
    compiles(_json_keys, _name)(_json_keys_mariadb)

_ELEMENT_TEXT = mysql.LONGTEXT(charset="utf8mb4", collation=MARIADB_BINARY)


def json_any(
    column: sa.ColumnElement[Any], keys: tuple[str, ...], condition: Condition, test: ValueTest
) -> sa.ColumnElement[bool]:
    """EXISTS a scalar at ``keys`` in a JSON column that satisfies ``condition`` (MariaDB).

    Each level wraps its value in an array unless it is one (as text:
    MariaDB's JSON is ``LONGTEXT``), so that ``JSON_TABLE`` lists exactly the
    values memory sees, and looks the next key up in objects only. A number's
    text is its JSON text, which MariaDB keeps as it was written.
    """

    def as_array(value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        wrapped = sa.func.concat(constant("["), value, constant("]"))
        return sa.case((sa.func.json_type(value) == constant("ARRAY"), value), else_=wrapped)

    def elements(value: sa.ColumnElement[Any]) -> sa.TableValuedAlias:
        return _json_elements(as_array(value)).table_valued(sa.column("j", sa.Text()), sa.column("t", _ELEMENT_TEXT))

    def found(node: sa.TableValuedAlias, keys: tuple[str, ...]) -> sa.ColumnElement[bool]:
        # One EXISTS per level, each over one JSON_TABLE of the level above (a JOIN chain of
        # them would do too, but SQLAlchemy's MySQL compiler then sees a cartesian product).
        if not keys:
            kind = sa.func.json_type(node.c.j)
            # MariaDB's JSON_TYPE says INTEGER or DOUBLE by the value (1e-05 is an INTEGER to it):
            # either way a number, read as a DOUBLE (+ 0e0, only for numbers: no conversion warnings).
            as_double = sa.type_coerce(node.c.t, sa.Float()) + sa.literal_column("0e0", sa.Float())
            number = sa.case((kind.in_([constant("INTEGER"), constant("DOUBLE")]), as_double))
            inner = test(node.c.t, number=number, present=kind != constant("NULL"))
        elif PATH_KEY.fullmatch(keys[0]):
            member = sa.func.json_extract(node.c.j, param(f'$."{keys[0]}"'), type_=sa.Text())
            inner = found(elements(sa.case((sa.func.json_type(node.c.j) == constant("OBJECT"), member))), keys[1:])
        else:
            # Among the object's decoded keys (t); then its value by the key as the document spells it (j).
            names = _json_keys(sa.case((sa.func.json_type(node.c.j) == constant("OBJECT"), node.c.j)))
            entry = names.table_valued(sa.column("j", sa.Text()), sa.column("t", _ELEMENT_TEXT))
            member = sa.func.json_extract(node.c.j, sa.func.concat(constant("$."), entry.c.j), type_=sa.Text())
            named = sa.and_(entry.c.t == param(keys[0]), found(elements(member), keys[1:]))
            inner = sa.select(sa.literal_column("1")).select_from(entry).where(named).exists()
        return sa.select(sa.literal_column("1")).select_from(node).where(inner).exists()

    return found(elements(column), keys)
