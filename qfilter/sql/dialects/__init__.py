"""The SQL dialects qfilter compiles for, each a module of its own.

A dialect module registers the SQL of the shared elements
(:func:`~qfilter.sql.elements.fold_case`, :func:`~qfilter.sql.elements.position`)
with ``@compiles`` and provides ``json_any``; :data:`JSON_ANY` lists them.
Adding a dialect is a module here and its line in :data:`JSON_ANY`
(``docs/backends.md``). A clause compiled for any other dialect is refused
by :class:`Supported`, whatever its qualifiers.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import Grouping

from qfilter.core.plan import Condition

from ..elements import PerDialect
from . import mysql, postgresql, sqlite
from .base import JsonAny, ValueTest

__all__ = ["JSON_ANY", "SUPPORTED_DIALECTS", "Supported", "json_any"]

JSON_ANY: dict[str, JsonAny] = {
    "sqlite": sqlite.json_any,
    "postgresql": postgresql.json_any,
    # MariaDB, under either of SQLAlchemy's names for it (mysql.refusal turns MySQL servers away).
    **dict.fromkeys(mysql.MARIADB_DIALECTS, mysql.json_any),
}
"""Each supported dialect's JSON search, by SQLAlchemy dialect name."""
SUPPORTED_DIALECTS: tuple[str, ...] = tuple(JSON_ANY)


def json_any(
    column: sa.ColumnElement[Any], keys: tuple[str, ...], condition: Condition, test: ValueTest
) -> sa.ColumnElement[bool]:
    """The JSON search of every supported dialect, the one of the connection chosen when compiled."""
    return PerDialect({name: build(column, keys, condition, test) for name, build in JSON_ANY.items()})


class Supported(sa.ColumnElement[bool]):
    """A whole compiled filter: compiles only for a supported dialect, refused with a clear error elsewhere."""

    __visit_name__ = "qfilter_supported"
    inherit_cache = True
    type = sa.Boolean()
    _traverse_internals = [("clause", sa.sql.visitors.InternalTraversal.dp_clauseelement)]

    def __init__(self, clause: sa.ColumnElement[bool]) -> None:
        self.clause = clause

    def self_group(self, against: Any = None) -> sa.ColumnElement[Any]:
        """Parenthesised inside another expression (``NOT``, ``AND``): the clause may be an ``OR``."""
        return Grouping(self) if against is not None else self


def _listed(names: tuple[str, ...]) -> str:
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


@compiles(Supported)
def _supported(element: Supported, compiler: SQLCompiler, **kw: Any) -> str:
    name = compiler.dialect.name
    if name not in SUPPORTED_DIALECTS:
        raise sa.exc.CompileError(
            f"qfilter.sql compiles for {_listed(SUPPORTED_DIALECTS)}, not {name}: "
            "its answers there would differ from memory's"
        )
    problem = mysql.refusal(compiler.dialect) if name in mysql.MARIADB_DIALECTS else None
    if problem:
        raise sa.exc.CompileError(problem)
    return compiler.process(element.clause, **kw)
