"""One page of a reference table and its count, as a listing request asks: by offset or by cursor, counted or not.

Both resources page the same way (:func:`read_page`): the rows where the
filter and the cursor's seek hold, in the order of the request's ``sort``
(else the listing's own order), the page and one row more (which says
whether more remain), and the matches counted as the service counts them
(:func:`count_matches`: all, at most a cap and one, or none), all in one
read transaction, so that the page and its count agree.
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from qfilter.integrations.fastapi import RequestListing
from qfilter.integrations.listing import Counting
from qfilter.service.database import run_read
from qfilter.sql import count_matches as sql_count_matches

__all__ = ["count_matches", "read_page"]

SelectPage = Callable[..., list[dict[str, Any]]]
"""A table's select function: ``(conn, where, *, offset, limit, order) -> rows``."""


def count_matches(
    conn: sa.Connection, table: sa.Table, where: sa.ColumnElement[bool], counting: Counting
) -> int | None:
    """How many rows of ``table`` satisfy ``where``, counted as ``counting`` says (``None``: not counted).

    A capped count reads at most ``cap`` + 1 rows; a filter that is one
    lookup in an association table is counted there
    (:func:`qfilter.sql.count_matches` says how and why).
    """
    if not counting.counts:
        return None
    return sql_count_matches(conn, table, where, at_most=counting.at_most)


def read_page(
    engine: sa.Engine,
    search: RequestListing,
    *,
    table: sa.Table,
    id_column: sa.ColumnElement[Any],
    select: SelectPage,
) -> tuple[list[dict[str, Any]], int | None]:
    """The rows :meth:`RequestListing.page` takes for this request (the page and one more), and the count."""
    order: Sequence[sa.ColumnElement[Any]] = search.order_by(id_column)
    # The filter's clause, compiled once by the dependency, serves the page and the count; a first page
    # (no cursor) seeks nothing, so it adds nothing (not an empty filter's clause, compiled each time).
    where = search.where if search.cursor is None else sa.and_(search.where, search.seek(id_column))

    def read(conn: sa.Connection) -> tuple[list[dict[str, Any]], int | None]:
        rows = select(conn, where, offset=search.offset, limit=search.fetch, order=order)
        return rows, count_matches(conn, table, search.where, search.counting)

    return run_read(engine, read)
