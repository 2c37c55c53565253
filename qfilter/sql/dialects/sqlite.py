"""SQLite: case folding through Python's ``str.lower``, substring search with ``instr``, JSON with ``json_each``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from qfilter.core.plan import Condition

from ..elements import constant, fold_case, param, position
from .base import PATH_KEY, ValueTest

if TYPE_CHECKING:  # importing sqlalchemy.ext.asyncio needs greenlet, which only the async extra installs
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["SQLITE_LOWER", "install_sqlite_functions", "json_any"]

SQLITE_LOWER = "qfilter_lower"
"""The SQLite function :func:`install_sqlite_functions` registers: Python's ``str.lower``."""


@compiles(fold_case, "sqlite")
def _fold_case_sqlite(element: fold_case, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_LOWER}({compiler.process(element.clauses, **kw)})"


@compiles(position, "sqlite")
def _position_sqlite(element: position, compiler: SQLCompiler, **kw: Any) -> str:
    return f"instr({compiler.process(element.clauses, **kw)})"


def install_sqlite_functions(engine: sa.Engine | AsyncEngine) -> None:
    """Register, on every new SQLite connection of ``engine``, the functions compiled clauses call.

    That is :data:`SQLITE_LOWER`, Python's ``str.lower`` (SQLite's own
    ``lower()`` folds ASCII only). Call it before the engine's first
    connection; engines of other databases are left alone. An
    :class:`~sqlalchemy.ext.asyncio.AsyncEngine` (``sqlite+aiosqlite://``)
    works too: the functions are registered on its ``sync_engine``.
    """
    sync_engine = engine if isinstance(engine, sa.Engine) else engine.sync_engine
    if sync_engine.dialect.name != "sqlite":
        return

    def register(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.create_function(SQLITE_LOWER, 1, _python_lower, deterministic=True)

    sa.event.listen(sync_engine, "connect", register)


def _python_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _member_json(parent: sa.ColumnElement[Any], entry: sa.TableValuedAlias, key: str) -> sa.ColumnElement[str]:
    """The JSON text of the member of ``parent`` that ``entry`` (a ``json_each`` row of it) lists.

    ``fullkey`` is the path SQLite spells for the member, ``$."..."`` with
    the key as the document writes it, so ``->`` finds it and a number keeps
    its spelling. A quoted key ends at the first ``"``, though: for a key
    with one, the path is the unquoted ``$.<key as written>``, which ends at
    a ``.`` or ``[`` only. A key with both ``"`` and ``[`` has no path at
    all; its member is written from its value, which spells a fractional
    number SQLite's way (docs/sql.md: JSON keys).
    """
    if "[" not in key or '"' not in key:
        path: sa.ColumnElement[str] = entry.c.fullkey
        if '"' in key:
            path = constant("$.").concat(sa.func.substr(path, 4, sa.func.length(path) - 4))  # inside $."..."
        # Made on the member's own row only: other keys' paths are none of its business (an unquoted
        # $.z cut as above is no path at all, an error).
        return parent.op("->", return_type=sa.String())(sa.case((entry.c.key == param(key), path)))
    return sa.case(
        (entry.c.type == constant("text"), sa.func.json_quote(entry.c.value)),
        (entry.c.type.in_([constant("true"), constant("false")]), entry.c.type),
        else_=entry.c.value,
    )


def json_any(
    column: sa.ColumnElement[Any], keys: tuple[str, ...], condition: Condition, test: ValueTest
) -> sa.ColumnElement[bool]:
    """EXISTS a scalar at ``keys`` in a JSON column that satisfies ``condition`` (SQLite).

    Each level wraps its value in an array unless it is one, so that
    ``json_each`` lists exactly the values memory sees (an array unwrapped
    once, anything else as itself), and looks the next key up in objects only.
    """

    def as_array(value: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        # value -> '$' is the value as JSON (not as a string) for json_array().
        as_json = value.op("->", return_type=sa.String())(constant("$"))
        return sa.case((sa.func.json_type(value) == constant("array"), value), else_=sa.func.json_array(as_json))

    array = as_array(column)
    node = sa.func.json_each(array).table_valued("key", "type", "atom", "value")
    joined: sa.FromClause = node
    for key in keys:
        member: sa.ColumnElement[str]
        if PATH_KEY.fullmatch(key):
            member = node.c.value.op("->", return_type=sa.String())(param(f'$."{key}"'))
        else:
            # Among the object's decoded keys; then its value by the path SQLite spells for it.
            members = sa.func.json_each(sa.case((node.c.type == constant("object"), node.c.value)))
            entry = members.table_valued("key", "type", "value", "fullkey")
            joined = joined.join(entry, entry.c.key == param(key))
            member = _member_json(node.c.value, entry, key)
        array = as_array(sa.case((node.c.type == constant("object"), member)))
        node = sa.func.json_each(array).table_valued("key", "type", "atom", "value")
        joined = joined.join(node, sa.true())
    # A number's or boolean's own JSON text: numbers keep their spelling (1e-05, 5.0), as in Python.
    element = sa.func.printf(constant("$[%d]"), node.c.key)
    text = sa.case(
        (node.c.type == constant("text"), node.c.atom),
        (
            node.c.type.in_([constant(t) for t in ("integer", "real", "true", "false")]),
            array.op("->", return_type=sa.String())(element),
        ),
    )
    # The atom of a number is an INTEGER or REAL, which SQLite compares with a bound int or float exactly.
    number = sa.case((node.c.type.in_([constant("integer"), constant("real")]), node.c.atom))
    present = node.c.type != constant("null")
    found = test(text, number=number, present=present)
    return sa.select(sa.literal_column("1")).select_from(joined).where(found).exists()
