"""The paging measure (issue 20): a deep page by cursor costs what page 1 does, a capped count little more.

On the listing databases (:func:`benchmarks.listing_bench.listing_engines`: 10^6 Waylay
entities in the reference tables on SQLite and PostgreSQL, 3·10^5 on
MariaDB), each case runs what a request to the reference service's
``/config/query`` runs behind FastAPI: the parameters read and the filter
compiled (:mod:`qfilter.integrations.listing`), the page (and one row more)
and the count in one read transaction (:func:`qfilter.service.paging.read_page`),
and the body with its links and the next page's cursor. What FastAPI and
HTTP add to a request is the same for every page, and is the service
measure's subject.

- **depth**: following ``_links.next``, the page at depth 10^5 against page 1,
  for the default order (by name) and two ``sort=`` orders, ``limit=10``,
  counting nothing, so that each is the page alone. The deep link is the
  ``next`` of one request at ``offset`` 10^5 - 10, so it carries the cursor
  a walk would have reached there. Target ≤ 2x. Beside it, without a
  target, the same depth by ``offset``, which reads every row before it.
- **capped count**: page 1 of a filter matching every row with a count
  capped at 10,000 against the page alone. Target ≤ 1.5x. Beside it,
  without a target, the exact count.

Timings are :func:`benchmarks.timing.measure`'s interleaved medians. Run it
alone with ``python -m benchmarks --only paging --output DIR`` (``DIR``
other than ``docs/`` leaves ``docs/performance.md`` as it is).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from .data import NOW
from .listing_bench import listing_engines
from .timing import measure

if TYPE_CHECKING:
    import sqlalchemy as sa

    from qfilter.integrations.listing import Counting

    from .bench import Config, Row

__all__ = ["DEPTH", "CAP", "SORTS", "run"]

DEPTH = 100_000
"""How deep the deep page is (rows before it)."""
CAP = 10_000
"""The cap of the capped count."""
LIMIT = 10
SORTS = ("", "-created", "created_by")
"""The orders walked: the listing's own (by name), a time descending, a user (many ties, broken by name)."""
KEY = b"the paging benchmark's cursor key"
BASE_URL = "http://127.0.0.1:8000/config/query"


def _select_entities(
    conn: sa.Connection,
    where: sa.ColumnElement[bool] | None = None,
    *,
    offset: int = 0,
    limit: int | None = None,
    order: Sequence[sa.ColumnElement[Any]],
) -> list[dict[str, Any]]:
    """The service's select, with the columns' times and users back in each body's ``attrs``.

    The generated rows keep those in columns only (their bodies hold the name),
    where the service's rows have them in the body as well: the cursor of a
    page's last entity is read from the entity, as the service reads it.
    """
    import sqlalchemy as sa

    from qfilter.service import tables as reference
    from qfilter.service.tables.common import paged

    table = reference.WAYLAY_TABLE
    columns = ("created", "modified", "created_by", "modified_by")
    statement = sa.select(table.c.body, *(table.c[name] for name in columns)).order_by(*order)
    if where is not None:
        statement = statement.where(where)
    found = []
    for body, *values in conn.execute(paged(statement, offset, limit)):
        attrs = {
            name: value.isoformat() if hasattr(value, "isoformat") else value
            for name, value in zip(columns, values, strict=True)
            if value is not None
        }
        found.append({**body, "attrs": attrs})
    return found


def _request(engine: sa.Engine, counting: Counting) -> Callable[[str], dict[str, Any]]:
    """What the service does for a listing request with this query string, short of FastAPI and HTTP."""
    from qfilter import WAYLAY
    from qfilter.integrations import listing
    from qfilter.integrations.fastapi import RequestListing
    from qfilter.service import tables as reference
    from qfilter.service.paging import read_page
    from qfilter.sql import SqlCompiler

    compiler = SqlCompiler(reference.WAYLAY_SQL, dialect=engine.dialect, schema=WAYLAY)

    def request(query_string: str) -> dict[str, Any]:
        params = listing.read_query_string(query_string, WAYLAY, now=NOW, cursor_key=KEY)
        search = RequestListing(params, None, WAYLAY, BASE_URL, params.where(compiler), compiler, counting, KEY)
        page, total = read_page(
            engine,
            search,
            table=reference.WAYLAY_TABLE,
            id_column=reference.WAYLAY_TABLE.c.name,
            select=_select_entities,
        )
        return search.page(page, total=total, items_key="queries", messages=())  # the service's body

    return request


def _query(**params: object) -> str:
    return urlencode({name: value for name, value in params.items() if value not in ("", None)})


def _depth_rows(config: Config, label: str, engine: sa.Engine, rows: int) -> list[Row]:
    from qfilter.integrations.listing import Counting

    from .bench import Row

    request = _request(engine, Counting("none"))
    depth = min(DEPTH, rows // 2)
    found = []
    for sort in SORTS:
        first = _query(sort=sort, limit=LIMIT)
        before = request(_query(sort=sort, limit=LIMIT, offset=depth - LIMIT))
        deep = urlsplit(before["_links"]["next"]["href"]).query
        assert "cursor" in parse_qs(deep), deep
        by_offset = _query(sort=sort, limit=LIMIT, offset=depth)
        assert request(deep)["queries"] == request(by_offset)["queries"], f"{label} {sort}: cursor and offset differ"
        timings = measure(
            {
                "page 1": partial(request, first),
                "cursor": partial(request, deep),
                "offset": partial(request, by_offset),
            },
            rounds=config.sql_rounds,
            sample_time=config.sample_time,
        )
        order = f"sort={sort}" if sort else "by name"
        case = f"{order}, depth {depth:,}, {label}, {rows:,} rows"
        found.append(
            Row(
                "paging",
                case,
                "next page by cursor",
                timings["cursor"],
                "page 1",
                timings["page 1"],
                target="≤ 2x",
                limit=2.0,
            )
        )
        found.append(Row("paging", case, "the same page by offset", timings["offset"], "page 1", timings["page 1"]))
    return found


def _count_rows(config: Config, label: str, engine: sa.Engine, rows: int) -> list[Row]:
    from qfilter.integrations.listing import Counting

    from .bench import Row

    cap = min(CAP, rows // 2)
    first = _query(limit=LIMIT)
    alone, capped, exact = (
        _request(engine, counting) for counting in (Counting("none"), Counting.capped(cap), Counting("exact"))
    )
    body = capped(first)
    assert body["total_at_least"] == cap + 1 and "total" not in body, body.keys()
    timings = measure(
        {"page alone": lambda: alone(first), "capped": lambda: capped(first), "exact": lambda: exact(first)},
        rounds=config.sql_rounds,
        sample_time=config.sample_time,
    )
    case = f"page 1 of every row, {label}, {rows:,} rows"
    return [
        Row(
            "paging",
            case,
            f"with a count capped at {cap:,}",
            timings["capped"],
            "the page alone",
            timings["page alone"],
            target="≤ 1.5x",
            limit=1.5,
        ),
        Row("paging", case, "with the exact count", timings["exact"], "the page alone", timings["page alone"]),
    ]


def run(config: Config, log: Any = print) -> list[Row]:
    """The paging rows on every database the run has."""
    found: list[Row] = []
    for label, (engine, rows) in listing_engines(config, log).items():
        log(f"  paging on {label} ({rows:,} rows) ...")
        found += _depth_rows(config, label, engine, rows)
        found += _count_rows(config, label, engine, rows)
        engine.dispose()
    return found
