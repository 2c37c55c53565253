"""Enum fields (issue 22.4): a closed set of values, part of the schema, checked when a filter is bound.

An EXACT field's ``choices`` (from a Python ``enum.Enum`` with ``choices_of``,
or read by ``orm_schema`` from an ``Enum`` column) are the values a filter may
name: another is an error with its position and the closest value;
``explain`` and the OpenAPI description of ``q`` say them. A Python enum's
member reads as its value in memory; SQL binds the member in the column's
own type (which stores its name) and reads a stored name as the value, so
memory and each database agree.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import Depends, FastAPI
from gadgets import Status, gadget, listed, served_gadgets
from hypothesis import given, settings
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from support import examples

from qfilter import Field, Kind, MatcherError, Schema, compile_predicate, parse
from qfilter.core.binder import bind
from qfilter.core.explain import describe
from qfilter.core.schema import choices_of
from qfilter.core.sorting import parse_sort
from qfilter.integrations.fastapi import QFilter, RequestListing
from qfilter.integrations.openapi_text import q_description, q_examples
from qfilter.integrations.strategies import filters
from qfilter.memory import sort_entities
from qfilter.sql import compile_clause, order_by, orm_schema


class Colour(enum.Enum):
    RED = "red"
    DARK_GREEN = "dark green"


JOBS = Schema(
    "jobs",
    (
        Field("name", Kind.TEXT, "name"),
        Field("status", Kind.EXACT, "status", choices=choices_of(Status)),
        Field("colour", Kind.EXACT, "colour", choices=choices_of(Colour), ignore_case=True),
    ),
    id_path="name",
)


def _error(text: str, schema: Schema = JOBS) -> MatcherError:
    with pytest.raises(MatcherError) as raised:
        compile_predicate(text, schema)
    return raised.value


# -- declaring and checking -----------------------------------------------------------------------------


def test_choices_come_from_an_enum_or_any_values() -> None:
    assert choices_of(Status) == ("running", "stopped", "in progress")  # the values, not the names
    assert choices_of([1, "b", 1, True]) == ("1", "b", "true")  # as memory reads each
    with pytest.raises(ValueError, match="choices are for EXACT fields"):
        Field("n", Kind.NUMBER, "n", choices=("1",))
    with pytest.raises(ValueError, match="at least one"):
        Field("s", Kind.EXACT, "s", choices=())
    with pytest.raises(ValueError, match="a choice must be a text"):
        choices_of([None])


@pytest.mark.parametrize(
    ("text", "position", "hint"),
    [
        ("status:runing", 7, 'did you mean running? status is one of: running, stopped, "in progress"'),
        ("name:x status:in(running,stoped)", 25, "did you mean stopped?"),
        ("-status:not(runnning)", 12, "did you mean running?"),
        ('status:"in progres"', 8, 'did you mean "in progress"?'),  # the text inside the quotes
        ("status:RUNNING", 7, "did you mean running?"),  # case-sensitive unless the field ignores case
        ("status:all(running,xyz)", 19, "status is one of"),  # nothing close: the values only
        ("colour:blue", 7, 'colour is one of: red, "dark green"'),
    ],
)
def test_a_value_the_enum_does_not_hold_is_an_error_at_its_position(text: str, position: int, hint: str) -> None:
    error = _error(text)
    assert error.position == position
    assert hint in (error.hint or "")
    assert "has no value" in str(error)


def test_the_values_an_enum_holds_are_accepted_in_every_form() -> None:
    entities: list[dict[str, Any]] = [
        {"name": "a", "status": Status.RUNNING, "colour": "red"},
        {"name": "b", "status": "in progress", "colour": Colour.DARK_GREEN},
        {"name": "c"},
    ]
    for text, expected in [
        ("status:running", ["a"]),  # a member reads as its value
        ('status:"in progress"', ["b"]),
        ("-status:running", ["b", "c"]),
        ("status:in(running,stopped)", ["a"]),
        ("status:inIgnoreCase(RUNNING)", ["a"]),  # ignoring case, as the function says
        ("status:like(run*)", ["a"]),  # a pattern: not checked against the values
        ("status:contains(progress)", ["b"]),
        ("colour:RED", ["a"]),  # an enum that ignores case
        ('colour:"Dark Green"', ["b"]),
    ]:
        assert [e["name"] for e in compile_predicate(text, JOBS).filter(entities)] == expected, text


def test_explain_names_the_values_of_an_enum() -> None:
    words = describe(bind(parse("-status:running name:x"), JOBS))
    assert 'not have status running (status is one of running, stopped, "in progress")' in words
    assert "one of" not in describe(bind(parse("name:x"), JOBS))


def test_the_openapi_description_of_q_lists_the_values_and_its_examples_are_valid() -> None:
    description = q_description(JOBS, "X-User-Id")
    assert '`status` (one of `running`, `stopped`, `"in progress"`)' in description
    assert '`colour` (one of `red`, `"dark green"`; ignoring case)' in description
    for example in q_examples(JOBS).values():
        compile_predicate(example, JOBS)  # raises for a value the enum does not hold
    app_document = _openapi_of(QFilter(JOBS))
    assert "`status` (one of `running`" in app_document


def _openapi_of(dependency: QFilter[Any, Any]) -> str:
    app = FastAPI()

    @app.get("/jobs")
    def jobs(listing: RequestListing = Depends(dependency.listing)) -> list[str]:  # noqa: B008  (FastAPI's form)
        return []

    parameters = app.openapi()["paths"]["/jobs"]["get"]["parameters"]
    return str(next(p for p in parameters if p["name"] == "q")["description"])


@settings(max_examples=examples(200), deadline=None)
@given(filters(JOBS, max_terms=4, boolean=True))
def test_the_strategies_draw_only_values_an_enum_holds(parsed: Any) -> None:
    compile_predicate(parsed, JOBS)  # never an error: the strategies promise filters that bind


# -- Enum columns on each database ----------------------------------------------------------------------


class _Base(DeclarativeBase):
    pass


class Job(_Base):
    __tablename__ = "qfilter_test_jobs"
    name: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    # A Python enum: stored under the members' names.
    status: Mapped[Status | None] = mapped_column(sa.Enum(Status, name="qfilter_test_job_status"))
    colour: Mapped[Colour | None] = mapped_column(  # stored as the values
        sa.Enum(Colour, name="qfilter_test_colour", values_callable=lambda members: [m.value for m in members])
    )
    size: Mapped[str | None] = mapped_column(sa.Enum("small", "large", name="qfilter_test_size"))  # strings


JOB_SCHEMA, JOB_SQL = orm_schema(Job, {"name": "name", "status": "status", "colour": "colour", "size": "size"})


def test_orm_schema_reads_the_values_of_enum_columns() -> None:
    fields = {field.qualifier: field for field in JOB_SCHEMA.fields}
    assert fields["status"].kind is Kind.EXACT and fields["status"].choices == ("running", "stopped", "in progress")
    assert fields["colour"].choices == ("red", "dark green")
    assert fields["size"].choices == ("small", "large")
    assert fields["name"].choices is None and fields["name"].kind is Kind.TEXT


@pytest.fixture(scope="module")
def engine(database: sa.Engine) -> Iterator[sa.Engine]:
    _Base.metadata.create_all(database)
    yield database
    _Base.metadata.drop_all(database)


JOBS_STORED = [
    Job(name="a", status=Status.RUNNING, colour=Colour.RED, size="small"),
    Job(name="b", status=Status.IN_PROGRESS, colour=Colour.DARK_GREEN, size="large"),
    Job(name="c", status=Status.STOPPED),
    Job(name="d"),
]


@pytest.mark.parametrize(
    "text",
    [
        "status:running",
        "-status:running",
        'status:"in progress"',
        "status:in(stopped,running)",
        "status:inIgnoreCase(STOPPED)",
        "status:like(*n*)",  # the values' text: 'running', 'in progress' (never 'RUNNING', as stored)
        "status:contains(progress)",
        "status:not(stopped)",
        "colour:red",
        'colour:"dark green"',
        "colour:like(dark*)",
        "size:large -size:small",
        "status:exists() -colour:exists()",
    ],
)
def test_enum_columns_agree_with_memory(engine: sa.Engine, text: str) -> None:
    expected = [job.name for job in compile_predicate(text, JOB_SCHEMA).filter(JOBS_STORED)]
    with Session(engine) as session:
        session.add_all([Job(name=j.name, status=j.status, colour=j.colour, size=j.size) for j in JOBS_STORED])
        session.flush()
        where = compile_clause(text, JOB_SCHEMA, JOB_SQL)
        assert list(session.scalars(sa.select(Job.name).where(where).order_by(Job.name))) == expected, text
        session.rollback()


@pytest.mark.parametrize("sort", ["status", "-status", "colour", "size,-name"])
def test_enum_columns_sort_by_the_values_text_as_memory_does(engine: sa.Engine, sort: str) -> None:
    keys = parse_sort(sort, JOB_SCHEMA)
    expected = [job.name for job in sort_entities(JOBS_STORED, keys, JOB_SCHEMA)]
    with Session(engine) as session:
        session.add_all([Job(name=j.name, status=j.status, colour=j.colour, size=j.size) for j in JOBS_STORED])
        session.flush()
        statement = sa.select(Job.name).order_by(*order_by(keys, JOB_SCHEMA, JOB_SQL, id_column=Job.name))
        assert list(session.scalars(statement)) == expected, sort
        session.rollback()


# -- through the FastAPI dependency, on PostgreSQL -------------------------------------------------------------


@pytest.fixture(scope="module")
def gadgets_on_postgresql(postgres_url: str) -> Iterator[httpx.Client]:
    stored = [gadget("a", status=Status.RUNNING), gadget("b", status=Status.IN_PROGRESS), gadget("c")]
    with served_gadgets(postgres_url, stored) as client:
        yield client


def test_enum_values_through_the_fastapi_dependency_on_postgresql(gadgets_on_postgresql: httpx.Client) -> None:
    client = gadgets_on_postgresql
    assert listed(client, q="status:running") == ["a"]
    assert listed(client, q="-status:running") == ["b", "c"]
    assert listed(client, q='status:"in progress"') == ["b"]
    assert listed(client, q="", sort="status") == ["b", "a", "c"]  # "in progress" before "running"; missing last
    refused = client.get("/gadgets", params={"q": "status:runing"})
    assert refused.status_code == 400
    body = refused.json()
    assert body["position"] == len("status:") and "did you mean running?" in body["hint"]
    described = client.get("/openapi.json").json()["paths"]["/gadgets"]["get"]["parameters"]
    q = next(p for p in described if p["name"] == "q")
    assert '`status` (one of `running`, `stopped`, `"in progress"`)' in q["description"]
