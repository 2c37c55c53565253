"""The body of a listing page: its items, its count and its ``_links``, by offset or by cursor.

:func:`page_body` builds it from the page, the count and the request's
:class:`~qfilter.integrations.listing.ListingParams`; :func:`page_links` and
:func:`page_href` are its links by offset. Exported by
:mod:`qfilter.integrations.listing` too, the names to import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from qfilter.core.backend import Position
from qfilter.integrations.cursors import Cursor, PageStart, encode_cursor
from qfilter.integrations.cursors import cursor_key as signing_key
from qfilter.integrations.listing_counts import EXACT_COUNT, Counting
from qfilter.integrations.listing_params import ListingParams, entity_ordering

__all__ = ["page_href", "page_links", "page_body"]


def page_href(base_url: str, *, q: str, limit: int, offset: int, sort: str = "", cursor: str | None = None) -> str:
    """The URL of one page: ``q`` and ``sort`` (when not empty), ``limit``, and ``offset`` (when not 0) or ``cursor``.

    Parameters are encoded by :func:`urllib.parse.urlencode`, so ``q`` may
    hold any character (``name:a+b`` becomes ``q=name%3Aa%2Bb``).
    """
    return _at(_listing_url(base_url, q=q, limit=limit, sort=sort), offset, cursor)


def _listing_url(base_url: str, *, q: str, limit: int, sort: str) -> str:
    """The URL of a listing's pages up to where they differ: ``q``, ``sort`` and ``limit``, encoded once per page."""
    params: list[tuple[str, str]] = [("q", q)] if q else []
    if sort:
        params.append(("sort", sort))
    params.append(("limit", str(limit)))
    return f"{base_url}?{urlencode(params)}"


def _at(listing_url: str, offset: int, cursor: str | None) -> str:
    """The page of ``listing_url`` (:func:`_listing_url`) at ``cursor``, else at ``offset``."""
    if cursor is not None:
        return f"{listing_url}&{urlencode([('cursor', cursor)])}"
    return f"{listing_url}&offset={offset}" if offset else listing_url


def page_links(
    base_url: str, *, q: str, limit: int, offset: int, total: int | None, sort: str = ""
) -> dict[str, dict[str, str]]:
    """The ``_links`` of a page by offset: ``self`` always; ``first``, ``prev``, ``next`` and ``last`` where they apply.

    ``first`` (offset 0) and ``prev`` are there when the page does not start
    at offset 0; ``prev`` is the page of ``limit`` before this one, moved back
    to ``last`` when this one starts past the end, and never before offset 0.
    ``next`` is there when entities remain after this page; ``last`` (the
    offset of the last page, counting pages of ``limit`` from offset 0) when
    the matches do not fit in one page. With ``limit`` 0 there are no pages
    to step through, so only ``self`` is given. ``total`` ``None`` (not
    counted) gives no ``last``, and ``next`` on every page (a page after the
    end is empty). :func:`page_body` gives a cursor listing's links.
    """

    listing_url = _listing_url(base_url, q=q, limit=limit, sort=sort)

    def href(at: int) -> dict[str, str]:
        return {"href": _at(listing_url, at, None)}

    links = {"self": href(offset)}
    if limit <= 0:
        return links
    last = None if total is None else (total - 1) // limit * limit if total > 0 else 0
    if offset > 0:
        links["first"] = href(0)
        links["prev"] = href(max(0, offset - limit if last is None else min(offset - limit, last)))
    if total is None or offset + limit < total:
        links["next"] = href(offset + limit)
    if total is not None and last is not None and total > limit:
        links["last"] = href(last)
    return links


@dataclass(frozen=True, slots=True)
class _Page:
    """What the links of one page are made from."""

    base_url: str
    listing_url: str
    """The pages' URL up to their offset or cursor (:func:`_listing_url`)."""
    params: ListingParams
    key: bytes | None

    @classmethod
    def of(cls, base_url: str, params: ListingParams, key: bytes | None) -> _Page:
        listing_url = _listing_url(base_url, q=params.q, limit=params.limit, sort=params.sort_text)
        return cls(base_url, listing_url, params, key)

    def offset_link(self, at: int) -> dict[str, str]:
        return {"href": _at(self.listing_url, at, None)}

    def cursor_link(self, cursor: Cursor, fallback: int) -> dict[str, str]:
        """A link carrying ``cursor``; by offset ``fallback`` when it cannot be written (:func:`encode_cursor`)."""
        params = self.params
        assert self.key is not None
        text = encode_cursor(cursor, key=self.key, schema=params.plan.schema, q=params.q, keys=params.keys())
        if text is None:
            return self.offset_link(fallback)
        return {"href": _at(self.listing_url, 0, text)}


def _position(last: Any, params: ListingParams) -> Position:
    """Where ``last`` (an entity, or a :class:`Position`) stands in the listing's order."""
    position = last if isinstance(last, Position) else entity_ordering(params.plan.schema).position(last, params.keys())
    if position.id is None:
        raise ValueError(
            f"the page's last item has no id at {params.plan.schema.id_path!r}; give page_body the last row's "
            "entity or Position as last="
        )
    return position


def page_body(
    items: Sequence[Any],
    *,
    total: int | None,
    params: ListingParams,
    base_url: str,
    items_key: str = "items",
    messages: Sequence[Any] | None = None,
    counting: Counting = EXACT_COUNT,
    cursor_key: bytes | str | None = None,
    last: Any = None,
) -> dict[str, Any]:
    """The body of a listing response (the Waylay search API's shape).

    ``items`` is the page (already filtered, ordered and windowed), ``total``
    the number of matches counted as ``counting`` says (all of them, at most
    its cap + 1, or ``None`` for none), ``base_url`` the listing's URL
    without its query string, ``items_key`` the name of the list (``items``;
    the Waylay search API's is ``queries``). ``messages``, when given, is
    the body's ``messages`` list (the Waylay API has one, usually empty);
    without it the body has none. An exact total is given twice, as ``total``
    and as ``total_count`` (the name Waylay's queries SDK
    reads); past a capped count's cap, neither, but ``total_at_least``, the
    most the listing knows there are; without a count, none of them.

    With ``cursor_key``, the links are a cursor listing's: ``items`` is what
    was fetched, :attr:`ListingParams.fetch` rows at most (the page is the
    first ``limit``; one more means more remain), and ``next`` carries the
    cursor of the page's last row, read from ``last`` (an entity or a
    :class:`~qfilter.core.backend.Position`) or else from the page's last
    item (an entity of the schema). ``self`` is this page's start, ``prev``
    the page before (by cursor when the page came from ``next``, else by
    offset), ``first`` offset 0, and ``last`` the last page by offset when
    the total is known exactly (``self`` when this is it).
    """
    key = None if cursor_key is None else signing_key(cursor_key)
    limit, start = params.limit, params.start
    exact = counting.exact_total(total)
    lower = None if exact is not None or not counting.counts or total is None else (counting.cap or 0) + 1
    page = list(items[:limit]) if key is not None else list(items)
    if key is not None:
        more = len(items) > limit
    elif exact is not None:
        more = start + limit < exact
    else:
        more = (lower is not None and start + limit < lower) or (limit > 0 and len(page) >= limit)
    links = _links(_Page.of(base_url, params, key), page, more=more, exact=exact, last=last)
    body: dict[str, Any] = {} if messages is None else {"messages": list(messages)}
    body |= {items_key: page, "_links": links, "count": len(page), "offset": start, "limit": limit}
    if exact is not None:
        body["total"] = body["total_count"] = exact
    elif lower is not None:
        body["total_at_least"] = max(lower, start + len(page) + more)
    return body


def _links(made: _Page, page: list[Any], *, more: bool, exact: int | None, last: Any) -> dict[str, dict[str, str]]:
    params = made.params
    if made.key is None:  # a listing by offset
        if params.cursor is not None:
            raise ValueError("these parameters hold a cursor: give page_body the cursor_key they were read with")
        links = page_links(
            made.base_url, q=params.q, limit=params.limit, offset=params.offset, total=exact, sort=params.sort_text
        )
        if exact is None and not more:
            links.pop("next", None)
        return links
    limit, start, cursor = params.limit, params.start, params.cursor
    links = {"self": made.offset_link(start) if cursor is None else made.cursor_link(cursor.without_back(), start)}
    if limit <= 0:
        return links
    last_offset = None if exact is None else (exact - 1) // limit * limit if exact > 0 else 0
    if start > 0:
        links["first"] = made.offset_link(0)
        back = None if cursor is None else cursor.back
        if back is not None and back.position is not None:
            links["prev"] = made.cursor_link(Cursor(back.position, back.offset, params.now), back.offset)
        elif back is not None:
            links["prev"] = made.offset_link(back.offset)
        else:
            before = start - limit if last_offset is None else min(start - limit, last_offset)
            links["prev"] = made.offset_link(max(0, before))
    if more and page:
        position = _position(page[-1] if last is None else last, params)
        start_here = PageStart(start, None if cursor is None else cursor.position)
        following = Cursor(position, start + len(page), params.now, start_here)
        links["next"] = made.cursor_link(following, start + limit)
    if exact is not None and last_offset is not None and exact > limit:
        links["last"] = links["self"] if start == last_offset else made.offset_link(last_offset)
    return links
