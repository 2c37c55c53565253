"""Computed fields (issue 22.2): a value a SQL expression gives, and a Python function gives the same in memory.

In memory a field's ``compute`` function of the entity gives its values; in
SQL a :class:`~qfilter.sql.Derived` expression. ``orm_schema`` takes a
``hybrid_property`` (its SQL expression; in memory its Python side on the
object) and a ``column_property`` (a correlated count, a folded code) with
its ``python`` counterpart. What cannot agree is refused when the schema or
the mapping is built. Filtering and sorting work on them, in memory and on
SQLite, PostgreSQL and MariaDB alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from gadgets import GADGETS, GADGETS_SQL, Gadget, GadgetBase, gadget, insert_gadgets, listed, served_gadgets
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column, relationship

from qfilter import Field, Kind, Schema, compile_predicate
from qfilter.core.sorting import parse_sort
from qfilter.memory import SPECIALISE_AFTER, sort_entities
from qfilter.sql import (
    Derived,
    check_mapping,
    compile_clause,
    install_sqlite_functions,
    order_by,
    orm_mapping,
    orm_schema,
)

# -- in memory: Field(compute=...) ------------------------------------------------------------------------


def _initials(person: dict[str, Any]) -> str:
    return "".join(part[0] for part in person["full"].split())


def _nicknames(person: dict[str, Any]) -> list[str | None]:
    return [name.lower() for name in person["aliases"]] + [None]


PEOPLE = Schema(
    "people",
    (
        Field("name", Kind.TEXT, "name"),
        Field("initials", Kind.EXACT, (), compute=_initials),
        Field("nick", Kind.EXACT, (), compute=_nicknames),
        Field("length", Kind.NUMBER, (), compute=lambda person: len(person["full"])),
    ),
    id_path="name",
)
PERSONS: list[dict[str, Any]] = [
    {"name": "ada", "full": "Ada Lovelace", "aliases": ["Countess"]},
    {"name": "alan", "full": "Alan Turing", "aliases": []},
    {"name": "nobody"},  # no "full", no "aliases": each compute raises a KeyError, which is no value
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("initials:AL", ["ada"]),
        ("initials:AT initials:AL", ["ada", "alan"]),
        ("-initials:exists()", ["nobody"]),
        ("nick:countess", ["ada"]),  # a list of values; None among them is no value
        ("-nick:exists()", ["alan", "nobody"]),
        ("length:>=11", ["ada", "alan"]),
        ("length:12 OR initials:AT", ["ada", "alan"]),
    ],
)
def test_a_computed_field_has_the_values_its_function_gives(text: str, expected: list[str]) -> None:
    assert [p["name"] for p in compile_predicate(text, PEOPLE).filter(PERSONS)] == expected


def test_what_a_compute_function_raises_is_no_value() -> None:
    broken = Schema("b", (Field("x", Kind.EXACT, (), compute=lambda entity: entity["missing"]),))
    assert compile_predicate("-x:exists()", broken).filter([{"a": 1}]) == [{"a": 1}]
    with pytest.raises(ValueError, match="needs at least one path"):
        Field("x", Kind.EXACT, ())
    with pytest.raises(ValueError, match="compute must be a function"):
        Field("x", Kind.EXACT, (), compute="not callable")  # type: ignore[arg-type]


def test_the_generated_code_leaves_a_computed_field_to_its_function() -> None:
    """After SPECIALISE_AFTER entities a predicate writes itself out as Python: a computed field has no path."""
    fulls = ["Ada Lovelace", "Bob Ross", "Al"]  # initials AL, BR, A
    many = [{"name": f"ada l{index}", "full": fulls[index % 3]} for index in range(SPECIALISE_AFTER * 2)]
    predicate = compile_predicate("initials:AL name:l1", PEOPLE)
    expected = [p for p in many if "l1" in p["name"] and p["full"] == "Ada Lovelace"]
    assert predicate.filter(many) == expected
    assert [p for p in many if predicate(p)] == expected


def test_sorting_reads_a_computed_field() -> None:
    ordered = sort_entities(PERSONS, parse_sort("-length", PEOPLE), PEOPLE)
    assert [p["name"] for p in ordered] == ["ada", "alan", "nobody"]  # missing last


# -- the explicit SQL mapping: Derived(expression, python=...) -----------------------------------------------

METADATA = sa.MetaData()
USERS = sa.Table(
    "qfilter_test_computed_users",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(100)),
)


def _domain(user: dict[str, Any]) -> str | None:
    email = user.get("email")
    return None if email is None or "@" not in email else email.split("@", 1)[1]


DOMAIN = Derived(
    sa.case(
        (
            USERS.c.email.contains("@"),
            sa.func.substr(USERS.c.email, sa.func.instr(USERS.c.email, "@") + 1, type_=sa.String()),
        )
    ),
    python=_domain,
)


def test_a_derived_location_and_its_field_compute_the_same_value() -> None:
    schema = Schema("users", (DOMAIN.field("domain", Kind.EXACT),))
    check_mapping(schema, {"domain": DOMAIN}, table=USERS)
    other = Schema("users", (Field("domain", Kind.EXACT, (), compute=lambda user: "example.com"),))
    with pytest.raises(ValueError, match="'domain' is computed in SQL by .* with a python function its field"):
        check_mapping(other, {"domain": DOMAIN})
    with pytest.raises(ValueError, match="no python function"):
        Derived(sa.func.lower(USERS.c.email)).field("x", Kind.EXACT)


def test_a_derived_location_filters_on_sqlite() -> None:
    engine = sa.create_engine("sqlite://")
    install_sqlite_functions(engine)
    METADATA.create_all(engine)
    schema = Schema("users", (DOMAIN.field("domain", Kind.EXACT),))
    users: list[dict[str, Any]] = [
        {"id": 1, "email": "ann@example.com"},
        {"id": 2, "email": "bob@other.org"},
        {"id": 3, "email": "x"},
    ]
    with engine.begin() as conn:
        conn.execute(sa.insert(USERS), users)
        for text in ("domain:example.com", "-domain:example.com", "domain:exists()", "domain:like(*.org)"):
            expected = [user["id"] for user in compile_predicate(text, schema).filter(users)]
            where = compile_clause(text, schema, {"domain": DOMAIN})
            assert list(conn.execute(sa.select(USERS.c.id).where(where).order_by(USERS.c.id)).scalars()) == expected


# -- orm_schema: hybrid_property and column_property --------------------------------------------------------


class _Base(DeclarativeBase):
    pass


class Account(_Base):
    __tablename__ = "qfilter_test_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column()
    email_lower: Mapped[str] = column_property(sa.func.lower(email, type_=sa.String()))
    email_upper: Mapped[str] = column_property(sa.func.upper(email))  # no type: SQLAlchemy knows no upper()

    @hybrid_property
    def domain_length(self) -> int:
        """No SQL meaning: ``str.partition`` does not run on a column."""
        return len(self.email.partition("@")[2])


def test_a_hybrid_without_a_sql_expression_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="'n': Account.domain_length is a hybrid_property without a SQL expression"):
        orm_mapping(Account, {"n": "domain_length"})


def test_a_column_property_needs_its_python_counterpart_where_memory_needs_a_meaning() -> None:
    with pytest.raises(ValueError, match=r"'email': 'email_lower' is a column_property.*give python=\{'email'"):
        orm_schema(Account, {"email": "email_lower"})
    mapping = orm_mapping(Account, {"email": "email_lower"})  # the SQL alone needs none
    assert isinstance(mapping["email"], Derived) and mapping["email"].python is None
    schema, _ = orm_schema(Account, {"email": "email_lower"}, python={"email": lambda a: a.email.lower()})
    assert schema.by_qualifier["email"].compute is not None
    with pytest.raises(ValueError, match="python given for qualifiers without a path: other"):
        orm_schema(Account, {"email": "email_lower"}, python={"email": str.lower, "other": str.lower})
    with pytest.raises(ValueError, match=r"'up':.* has no SQL type to read its values by; give it one"):
        orm_schema(Account, {"up": "email_upper"}, python={"up": lambda a: a.email.upper()})


class Login(_Base):
    __tablename__ = "qfilter_test_logins"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("qfilter_test_accounts.id"))
    account: Mapped[Account] = relationship()


def test_a_computed_attribute_behind_a_relationship_is_refused() -> None:
    with pytest.raises(ValueError, match="'who': 'account.email_lower': a column_property behind a relationship"):
        orm_mapping(Login, {"who": "account.email_lower"})


def test_orm_schema_reads_computed_attributes() -> None:
    fields = {field.qualifier: field for field in GADGETS.fields}
    assert fields["title"].kind is Kind.TEXT and fields["title"].compute is None  # the object's hybrid
    assert fields["parts"].kind is Kind.NUMBER and fields["parts"].compute is not None
    assert {q: type(GADGETS_SQL[q]).__name__ for q in ("title", "parts", "code", "name")} == {
        "title": "Derived",
        "parts": "Derived",
        "code": "Derived",
        "name": "Column",
    }
    check_mapping(GADGETS, GADGETS_SQL, table=Gadget)


# -- on each database ----------------------------------------------------------------------------------------

STORED = [
    gadget("lamp", vendor="Acme", code="ÄB-1", serials=["s1", "s2"]),
    gadget("desk", vendor="Zed", code="x", serials=["s3"]),
    gadget("chair", code="ÄB-2"),
    gadget("stool", vendor="acme", price=Decimal("1.00")),
]


@pytest.fixture(scope="module")
def engine(database: sa.Engine) -> Iterator[sa.Engine]:
    GadgetBase.metadata.create_all(database)
    yield database


@pytest.mark.parametrize(
    "text",
    [
        "title:acme",
        'title:"lamp by"',
        "-title:exists()",
        'title:like("*by z*")',
        "parts:2",
        "parts:>=1",
        "parts:0",
        "-parts:0",
        "code:äb-1",
        "code:like(äb*)",
        "code:in(x,äb-2)",
        "(title:acme OR parts:1) AND NOT code:x",
    ],
)
def test_computed_fields_filter_as_in_memory(engine: sa.Engine, text: str) -> None:
    expected = sorted(g.name for g in compile_predicate(text, GADGETS).filter(STORED))
    with engine.connect() as conn, conn.begin() as transaction:
        insert_gadgets(conn, STORED)
        where = compile_clause(text, GADGETS, GADGETS_SQL)
        assert sorted(conn.execute(sa.select(Gadget.name).where(where)).scalars()) == expected, text
        transaction.rollback()


@pytest.mark.parametrize("sort", ["title", "-title", "parts", "-parts,name", "code", "-code"])
def test_computed_fields_sort_as_in_memory(engine: sa.Engine, sort: str) -> None:
    keys = parse_sort(sort, GADGETS)
    expected = [g.name for g in sort_entities(STORED, keys, GADGETS)]
    with engine.connect() as conn, conn.begin() as transaction:
        insert_gadgets(conn, STORED)
        statement = sa.select(Gadget.name).order_by(*order_by(keys, GADGETS, GADGETS_SQL, id_column=Gadget.name))
        assert list(conn.execute(statement).scalars()) == expected, sort
        transaction.rollback()


# -- through the FastAPI dependency, on PostgreSQL --------------------------------------------------------------


@pytest.fixture(scope="module")
def gadgets_on_postgresql(postgres_url: str) -> Iterator[httpx.Client]:
    with served_gadgets(postgres_url, STORED) as client:
        yield client


def test_computed_fields_through_the_fastapi_dependency_on_postgresql(gadgets_on_postgresql: httpx.Client) -> None:
    client = gadgets_on_postgresql
    assert listed(client, q="title:acme") == ["lamp", "stool"]
    assert listed(client, q="parts:>=1") == ["desk", "lamp"]
    assert listed(client, q="-parts:0 code:like(äb*)") == ["lamp"]
    assert listed(client, q="", sort="-parts,name") == ["lamp", "desk", "chair", "stool"]
    assert listed(client, q="", sort="title") == ["desk", "lamp", "stool", "chair"]  # missing last
