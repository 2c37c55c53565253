"""The SQL dialects qfilter compiles for, each a module of its own.

A dialect module registers the SQL of the shared elements
(:func:`~qfilter.sql.elements.fold_case`, :func:`~qfilter.sql.elements.position`)
with ``@compiles`` and provides ``json_any``; :data:`JSON_ANY` lists them.
Adding a dialect is a module here and its line in :data:`JSON_ANY`
(``docs/backends.md``). A clause compiled for any other dialect is refused
by :class:`Supported`, whatever its qualifiers; SQLAlchemy's string
compiler (``str(clause)``, ``print(statement)``) is shown the SQL of the
dialect the clause was built for, PostgreSQL's when it was built for all.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine.default import StrCompileDialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import Grouping

from qfilter.core.plan import Condition

from ..elements import PerDialect
from . import mysql, postgresql, sqlite
from .base import JsonAny, ValueTest

__all__ = ["JSON_ANY", "SHOWN_DIALECT", "SUPPORTED_DIALECTS", "Supported", "dialect_name", "json_any"]

JSON_ANY: dict[str, JsonAny] = {
    "sqlite": sqlite.json_any,
    "postgresql": postgresql.json_any,
    # MariaDB, under either of SQLAlchemy's names for it (mysql.refusal turns MySQL servers away).
    **dict.fromkeys(mysql.MARIADB_DIALECTS, mysql.json_any),
}
"""Each supported dialect's JSON search, by SQLAlchemy dialect name."""
SUPPORTED_DIALECTS: tuple[str, ...] = tuple(JSON_ANY)


def dialect_name(dialect: sa.Dialect | str | None) -> str | None:
    """The SQLAlchemy name of a dialect given as one or by its name; ``None`` stays ``None`` (every dialect).

    A ``ValueError`` for a dialect qfilter does not compile for.
    """
    name = dialect if dialect is None or isinstance(dialect, str) else dialect.name
    if name is not None and name not in SUPPORTED_DIALECTS:
        raise ValueError(f"qfilter.sql compiles for {_listed(SUPPORTED_DIALECTS)}, not {name}")
    return name


def json_any(
    column: sa.ColumnElement[Any],
    keys: tuple[str, ...],
    condition: Condition,
    test: ValueTest,
    dialect: str | None = None,
) -> sa.ColumnElement[bool]:
    """The JSON search of ``dialect``, or of every supported dialect, the connection's chosen when compiled.

    Built for one dialect, the clause is refused (a ``CompileError``) when
    compiled for another one; MariaDB's search is built under both of its names.
    """
    if dialect is None:
        return PerDialect({name: build(column, keys, condition, test) for name, build in JSON_ANY.items()})
    chosen = JSON_ANY[dialect]
    variant = chosen(column, keys, condition, test)
    return PerDialect({name: variant for name, build in JSON_ANY.items() if build is chosen})


SHOWN_DIALECT = "postgresql"
"""The dialect whose SQL ``str()`` shows for a clause built for every dialect."""


class Supported(sa.ColumnElement[bool]):
    """A whole compiled filter: compiles only for a supported dialect, refused with a clear error elsewhere.

    ``str()`` of it (or of a statement holding it) shows the SQL of
    ``dialect``, the one it was built for (:data:`SHOWN_DIALECT` when
    ``None``), with SQLAlchemy's ``:name`` placeholders.
    """

    __visit_name__ = "qfilter_supported"
    inherit_cache = True
    type = sa.Boolean()
    _traverse_internals = [
        ("clause", sa.sql.visitors.InternalTraversal.dp_clauseelement),
        ("shown_as", sa.sql.visitors.InternalTraversal.dp_string),
    ]

    def __init__(self, clause: sa.ColumnElement[bool], dialect: str | None = None) -> None:
        self.clause = clause
        self.shown_as = dialect or SHOWN_DIALECT

    def self_group(self, against: Any = None) -> sa.ColumnElement[Any]:
        """Parenthesised inside another expression (``NOT``, ``AND``): the clause may be an ``OR``."""
        return Grouping(self) if against is not None else self


def _string_dialect(name: str) -> StrCompileDialect:
    """SQLAlchemy's string dialect under a supported dialect's name, so that each element's SQL is that one's."""
    shown: type[StrCompileDialect] = type(f"Shown{name.title()}Dialect", (StrCompileDialect,), {"name": name})
    return shown()


# One each: a dialect caches the types it has adapted.
_STRING_DIALECTS = {name: _string_dialect(name) for name in SUPPORTED_DIALECTS}


def _listed(names: tuple[str, ...]) -> str:
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


@compiles(Supported)
def _supported(element: Supported, compiler: SQLCompiler, **kw: Any) -> str:
    name = compiler.dialect.name
    if name not in SUPPORTED_DIALECTS and isinstance(compiler.dialect, StrCompileDialect):
        # str(clause) or print(statement): a reader's view, never executed; the placeholders stay shared.
        string_dialect = compiler.dialect
        compiler.dialect = _STRING_DIALECTS[element.shown_as]
        try:
            return compiler.process(element.clause, **kw)
        finally:
            compiler.dialect = string_dialect
    if name not in SUPPORTED_DIALECTS:
        raise sa.exc.CompileError(
            f"qfilter.sql compiles for {_listed(SUPPORTED_DIALECTS)}, not {name}: "
            "its answers there would differ from memory's"
        )
    problem = mysql.refusal(compiler.dialect) if name in mysql.MARIADB_DIALECTS else None
    if problem:
        raise sa.exc.CompileError(problem)
    return compiler.process(element.clause, **kw)
