"""An application's own vocabulary (issue 22): an ORM model with every kind of field an application declares.

``Gadget`` has a ``hybrid_property`` (``title``, with a SQL expression), two
``column_property`` attributes (a correlated count of its parts, and its
code folded as filters fold case), a case-insensitive label with its
indexed generated column of folded text, a Python ``enum.Enum`` column
(stored under the members' names, filtered by their values), a float and a
decimal column. ``GADGETS`` and ``GADGETS_SQL`` come from one
``orm_schema`` declaration. Memory filters the model's own objects (made,
not loaded: a hybrid runs its Python side on them, a column property its
``python`` counterpart).

The differential property (``tests/test_sql_differential.py``) and the
FastAPI tests on PostgreSQL of each feature use it.
"""

# No "from __future__ import annotations": SQLAlchemy reads the Mapped[...] annotations, FastAPI the routes'.
import enum
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated, Any

import httpx
import sqlalchemy as sa
from fastapi import Depends, FastAPI
from hypothesis import strategies as st
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column, relationship

from qfilter import Kind
from qfilter.integrations.fastapi import QFilter, RequestListing, install_error_handlers
from qfilter.service.server import serve_in_thread
from qfilter.sql import exact_string, folded_case, install_sqlite_functions, orm_schema
from qfilter.sql.elements import fold_case


class GadgetBase(DeclarativeBase):
    pass


class Status(enum.Enum):
    """Stored under the members' names (SQLAlchemy's default); filters name the values."""

    RUNNING = "running"
    STOPPED = "stopped"
    IN_PROGRESS = "in progress"  # quoted in a filter


class Part(GadgetBase):
    __tablename__ = "qfilter_test_gadget_parts"
    id: Mapped[int] = mapped_column(primary_key=True)
    gadget_name: Mapped[str] = mapped_column(sa.ForeignKey("qfilter_test_gadgets.name"), index=True)
    serial: Mapped[str] = mapped_column(exact_string())


class Gadget(GadgetBase):
    __tablename__ = "qfilter_test_gadgets"
    name: Mapped[str] = mapped_column(exact_string(), primary_key=True)
    vendor: Mapped[str | None] = mapped_column(exact_string())
    code: Mapped[str | None] = mapped_column(exact_string())
    label: Mapped[str | None] = mapped_column(exact_string())
    label_folded: Mapped[str | None] = mapped_column(
        exact_string(), sa.Computed(folded_case("label"), persisted=True), index=True
    )
    status: Mapped[Status | None] = mapped_column(sa.Enum(Status, name="qfilter_test_gadget_status"))
    weight: Mapped[float | None] = mapped_column(sa.Double)
    price: Mapped[Decimal | None] = mapped_column(sa.Numeric(10, 2))
    parts: Mapped[list[Part]] = relationship(order_by=Part.id)
    part_count: Mapped[int] = column_property(
        sa.select(sa.func.count(Part.id)).where(Part.gadget_name == name).correlate_except(Part).scalar_subquery()
    )
    code_folded: Mapped[str | None] = column_property(fold_case(code))

    @hybrid_property
    def title(self) -> str:
        """The name and the vendor; none without a vendor (SQL's NULL, Python's TypeError)."""
        return self.name + " by " + self.vendor  # type: ignore[operator]


def count_parts(gadget: Gadget) -> int:
    """``part_count`` in memory."""
    return len(gadget.parts)


def fold_code(gadget: Gadget) -> str | None:
    """``code_folded`` in memory: ``str.lower``, which ``fold_case`` is in SQL."""
    return None if gadget.code is None else gadget.code.lower()


GADGET_PATHS = {
    "name": "name",
    "title": "title",
    "parts": "part_count",
    "code": "code_folded",
    "label": "label",
    "status": "status",
    "weight": "weight",
    "price": "price",
}
GADGETS, GADGETS_SQL = orm_schema(
    Gadget,
    GADGET_PATHS,
    kinds={"label": Kind.EXACT, "code": Kind.EXACT},
    ignore_case={"label"},
    python={"parts": count_parts, "code": fold_code},
    default_qualifier="name",
)


def gadget(
    name: str,
    *,
    vendor: str | None = None,
    code: str | None = None,
    label: str | None = None,
    status: Status | None = None,
    weight: float | None = None,
    price: Decimal | None = None,
    serials: Sequence[str] = (),
) -> Gadget:
    """A gadget as memory sees it: an object of the model, not in any session."""
    return Gadget(
        name=name,
        vendor=vendor,
        code=code,
        label=label,
        status=status,
        weight=weight,
        price=price,
        parts=[Part(serial=serial) for serial in serials],
    )


def insert_gadgets(conn: sa.Connection, gadgets: Sequence[Gadget]) -> None:
    """The gadgets as rows (the generated and computed columns are the database's own)."""
    columns = ("name", "vendor", "code", "label", "status", "weight", "price")
    if gadgets:
        conn.execute(sa.insert(Gadget), [{column: getattr(g, column) for column in columns} for g in gadgets])
    parts = [{"gadget_name": g.name, "serial": part.serial} for g in gadgets for part in g.parts]
    if parts:
        conn.execute(sa.insert(Part), parts)


def gadget_entities(texts: st.SearchStrategy[str], floats: st.SearchStrategy[float]) -> st.SearchStrategy[list[Gadget]]:
    """Up to 6 gadgets with unique names, their values drawn from ``texts`` and ``floats`` (and decimals)."""
    maybe = st.one_of(st.none(), texts)
    prices = st.one_of(
        st.none(),
        st.sampled_from([Decimal(t) for t in ("9.99", "10.00", "0.01", "-0.10", "99999999.99", "0.00")]),
        st.decimals(min_value=-99999999, max_value=99999999, places=2, allow_nan=False, allow_infinity=False),
    )
    parts = st.fixed_dictionaries(
        {
            "vendor": maybe,
            "code": maybe,
            "label": st.one_of(maybe, texts.map(str.upper)),
            "status": st.one_of(st.none(), st.sampled_from(list(Status))),
            "weight": st.one_of(st.none(), floats),
            "price": prices,
            "serials": st.lists(texts, max_size=3),
        }
    )

    @st.composite
    def build(draw: st.DrawFn) -> list[Gadget]:
        names = draw(st.lists(texts, min_size=1, max_size=6, unique=True))
        drawn: list[dict[str, Any]] = [draw(parts) for _ in names]
        return [gadget(name, **values) for name, values in zip(names, drawn, strict=True)]

    return build()


def gadget_app(engine: sa.Engine) -> FastAPI:
    """A FastAPI app listing the gadgets of ``engine``'s database through the QFilter dependency."""
    app = FastAPI()
    install_error_handlers(app)
    gadgets = QFilter(GADGETS, sql_mapping=GADGETS_SQL, dialect=engine.dialect)

    @app.get("/gadgets")
    def list_gadgets(listing: Annotated[RequestListing, Depends(gadgets.listing)]) -> dict[str, Any]:
        with engine.connect() as conn:
            order = listing.order_by(Gadget.name, default="name")
            page = sa.select(Gadget.name).where(listing.where).order_by(*order)
            names = conn.execute(page.offset(listing.offset).limit(listing.limit)).scalars().all()
            total = conn.execute(sa.select(sa.func.count()).select_from(Gadget).where(listing.where)).scalar_one()
        return listing.page(names, total=total, items_key="gadgets")

    return app


@contextmanager
def served_gadgets(url: str, gadgets: Sequence[Gadget]) -> Iterator[httpx.Client]:
    """A client of :func:`gadget_app` served over HTTP, on ``url``'s database holding ``gadgets`` (deleted after).

    The tables are made if missing and left for other tests of the session (the differential property's).
    """
    engine = sa.create_engine(url)
    install_sqlite_functions(engine)
    GadgetBase.metadata.create_all(engine)
    try:
        with engine.begin() as conn:
            insert_gadgets(conn, gadgets)
        with serve_in_thread(gadget_app(engine)) as base_url, httpx.Client(base_url=base_url) as client:
            yield client
    finally:
        with engine.begin() as conn:
            conn.execute(sa.delete(Part))
            conn.execute(sa.delete(Gadget))
        engine.dispose()


def listed(client: httpx.Client, **params: str) -> list[str]:
    """The names ``GET /gadgets`` lists with ``params`` (``q``, ``sort``), which must be a 200."""
    response = client.get("/gadgets", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["gadgets"])
