"""What a dependency of :mod:`qfilter.integrations.fastapi` hands a route: its checked filter, order and page.

The request's checked filter, compiled by the :class:`~qfilter.integrations.fastapi.QFilter`'s
compiler, its order and, for a listing, its page and how to count it. Both
are importable from :mod:`qfilter.integrations.fastapi`, as routes annotate them.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from qfilter.core.backend import Compiler, Position
from qfilter.core.schema import Schema
from qfilter.core.sorting import SortKey
from qfilter.integrations import listing
from qfilter.integrations.cursors import Cursor
from qfilter.memory import Predicate, compile_plan, sort_entities

__all__ = ["RequestFilter", "RequestListing", "Where", "OrderBy"]

T = TypeVar("T")
if TYPE_CHECKING:  # a bare RequestListing (as routes annotate it) is RequestListing[Any, Any]; no runtime need
    from typing_extensions import TypeVar as DefaultedTypeVar

    Where = DefaultedTypeVar("Where", default=Any)
    OrderBy = DefaultedTypeVar("OrderBy", default=Any)
else:
    Where = TypeVar("Where")
    OrderBy = TypeVar("OrderBy")


def _with_id_column(compiler: Compiler[Where, OrderBy], id_column: object) -> Compiler[Where, OrderBy]:
    with_id = getattr(compiler, "with_id_column", None)
    if with_id is None:
        raise TypeError(f"order_by(id_column) is for a SQL compiler; a {type(compiler).__name__} knows its id")
    return cast(Compiler[Where, OrderBy], with_id(id_column))


@dataclass(frozen=True, slots=True)
class RequestFilter(Generic[Where, OrderBy]):
    """What a filter dependency hands a route: the request's checked filter, compiled, and its ``sort``.

    ``where`` is the filter in the :class:`QFilter`'s compiler's terms (a
    SQLAlchemy clause for :class:`~qfilter.sql.SqlCompiler`, a
    :class:`~qfilter.memory.Predicate` for :class:`~qfilter.memory.MemoryCompiler`);
    :meth:`order_by` is the order asked for in the same terms.
    """

    params: listing.FilterParams
    user: str | None
    schema: Schema
    base_url: str
    where: Where
    compiler: Compiler[Where, OrderBy]

    @property
    def q(self) -> str:
        """The filter text as given (``""`` when absent)."""
        return self.params.q

    @property
    def now(self) -> datetime:
        """The instant ``now`` stood for when the filter was compiled."""
        return self.params.now

    @property
    def sort(self) -> tuple[SortKey, ...]:
        """The sort keys asked for; empty when the request gives no ``sort``."""
        return self.params.sort

    def predicate(self) -> Predicate:
        """The filter as an in-memory predicate over entities (``where`` itself, with a memory compiler)."""
        if isinstance(self.where, Predicate):
            return self.where
        return compile_plan(self.params.plan)

    def order_by(self, id_column: object = None, *, default: str | None = None) -> OrderBy:
        """The order asked for (``sort``, else ``default``), ties by id, in the compiler's terms.

        ``default`` is the listing's own order in ``sort=`` syntax (``"name"``;
        ``None``: the ``QFilter``'s ``default_sort``).
        With SQL: the ``ORDER BY`` clauses, for ``.order_by(*clauses)``;
        ``id_column`` names the id for a compiler made without one (the
        ``sql_mapping=`` shorthand). In memory: an order to call on entities.
        """
        return self.params.order_by(self._compiler(id_column), default=default)

    def _compiler(self, id_column: object) -> Compiler[Where, OrderBy]:
        return self.compiler if id_column is None else _with_id_column(self.compiler, id_column)

    def after(self, position: Position, *, default: str | None = None) -> Where:
        """The rows strictly after ``position`` in the order of :meth:`order_by` (a keyset page's ``where``)."""
        return self.params.after(self.compiler, position, default=default)

    def sorted(self, entities: Iterable[T], *, default: str | None = None) -> list[T]:
        """``entities`` in the order asked for (``sort``, else ``default``), ties by id, in memory."""
        return sort_entities(entities, self.params.keys(default), self.schema)


@dataclass(frozen=True, slots=True)
class RequestListing(RequestFilter[Where, OrderBy]):
    """A :class:`RequestFilter` with the page asked for (``limit``, and ``offset`` or ``cursor``) and how to count.

    A route selects the rows where :attr:`where` (the filter) and
    :meth:`seek` (after the cursor's row, every row without one) hold, in
    the order of :meth:`order_by`, from :attr:`offset` on: :attr:`limit` of
    them, or :attr:`fetch` (one more) when the ``QFilter`` pages by cursor;
    it counts them as :attr:`counting` says; and :meth:`page` makes the body.
    """

    params: listing.ListingParams
    counting: listing.Counting = listing.EXACT_COUNT
    """How the listing counts its matches (the ``QFilter``'s ``count``)."""
    cursor_key: bytes | None = None
    """The key the listing's cursors are signed with; ``None``: it pages by offset."""

    @property
    def limit(self) -> int:
        """Entities in the page asked for (0..the maximum)."""
        return self.params.limit

    @property
    def offset(self) -> int:
        """Matches skipped before the page (0 with a cursor)."""
        return self.params.offset

    @property
    def cursor(self) -> Cursor | None:
        """Where the page starts, when the request gives a cursor."""
        return self.params.cursor

    @property
    def start(self) -> int:
        """The matches before the page: ``offset``, or those the cursor's walk has passed."""
        return self.params.start

    @property
    def fetch(self) -> int:
        """The rows to read when paging by cursor: the page and one more (0 for ``limit`` 0)."""
        return self.params.fetch

    def seek(self, id_column: object = None) -> Where:
        """The rows after the cursor's row in the order of :meth:`order_by` (every row without a cursor).

        In the compiler's terms, like :attr:`where`; ``id_column`` as for :meth:`order_by`.
        """
        return self.params.seek(self._compiler(id_column))

    def window(self, items: Sequence[T]) -> Sequence[T]:
        """The page of an already filtered and ordered sequence of entities (after the cursor, with one)."""
        return self.params.window(items)

    def fetch_from(self, items: Sequence[T]) -> Sequence[T]:
        """:meth:`window` and the entity after it, if any (what :meth:`page` takes when paging by cursor)."""
        return self.params.fetch_from(items)

    def page(
        self,
        items: Sequence[Any],
        *,
        total: int | None = None,
        items_key: str = "items",
        messages: Sequence[Any] | None = None,
        last: Any = None,
    ) -> dict[str, Any]:
        """The response body (:func:`qfilter.integrations.listing.page_body`) for this page.

        The items are under ``items_key``; ``messages``, when given, is the
        body's ``messages`` list (the Waylay search API's shape). Its OpenAPI
        description is :func:`~qfilter.integrations.fastapi_pages.page_model`'s.

        ``total`` is the count :attr:`counting` asks for (``None`` when it
        counts nothing). Paging by cursor, ``items`` is what was fetched
        (:attr:`fetch` rows at most), and the ``next`` link's cursor is read
        from ``last`` (the page's last entity, or its
        :class:`~qfilter.core.backend.Position`), else from the page's last item.
        """
        return listing.page_body(
            items,
            total=total,
            params=self.params,
            base_url=self.base_url,
            items_key=items_key,
            messages=messages,
            counting=self.counting,
            cursor_key=self.cursor_key,
            last=last,
        )
