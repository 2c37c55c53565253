"""The Django backend: ``orm_schema`` checks paths when built, and ``compile_q`` agrees with memory on three databases.

The differential property stores random entities (a many-to-many, a
one-to-many, two many-to-ones, a JSON field, times, integers, floats,
decimals, booleans) through Django's own backends for SQLite, PostgreSQL and
MariaDB, and checks that every random filter selects the ids memory keeps,
each once; the sort property does the same for ``sort=``. The filters come
from the SQL differential test's strategies, which aim at values the
entities hold.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections, models, transaction
from django_support import DEVICES, DEVICES_Q, PRICES, Device, database_alias, insert
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import NOW, examples
from test_sql_differential import FLOATS, cases, fragments, instants, jsonb_values, meta_objects, texts, users

from qfilter import Field, FilterError, Kind, compile_predicate, parse
from qfilter.core.backend import build_seek
from qfilter.core.sorting import SortKey, parse_sort
from qfilter.django import DjangoMapping, compile_q, order_by, orm_mapping, orm_schema
from qfilter.django.orm import DjangoBackend
from qfilter.django.orm.expressions import folds_as_ascii, register_sqlite_functions
from qfilter.memory import MemoryCompiler, position_of, sort_entities

ME = "users/alice"
EXAMPLES = examples(300)

# -- orm_schema: kinds from the fields, refusals when built -----------------------------------------


def test_kinds_are_read_from_the_fields() -> None:
    kinds = {f.qualifier: (f.kind, f.many) for f in DEVICES.fields}
    assert kinds == {
        "name": (Kind.TEXT, False),
        "status": (Kind.EXACT, False),  # choices: an exact code
        "tag": (Kind.EXACT, True),  # text through a to-many path
        "port": (Kind.EXACT, True),
        "owner": (Kind.USER, False),
        "owner_id": (Kind.USER, False),
        "user": (Kind.USER, False),
        "created": (Kind.TIME, False),
        "slots": (Kind.NUMBER, False),
        "weight": (Kind.NUMBER, False),
        "price": (Kind.NUMBER, False),
        "active": (Kind.BOOLEAN, False),
        "room": (Kind.EXACT, True),  # a key in JSON may hold a list
        "attributes": (Kind.META, True),
    }
    assert DEVICES.by_qualifier["tag"].paths == ("tags.name",)  # memory reads dicts of the models' shape
    assert DEVICES.id_path == "id"
    # Single values with one path of the model or through to-one relations: not tag, port, user, room, attributes.
    assert DEVICES.sortable == (
        "name",
        "status",
        "owner",
        "owner_id",
        "created",
        "slots",
        "weight",
        "price",
        "active",
    )


@pytest.mark.parametrize(
    ("paths", "kinds", "message"),
    [
        ({"x": "nmae"}, None, "Device has no field 'nmae' (on the path 'nmae'); it has: active, attributes"),
        ({"x": "tags__label"}, None, "Tag has no field 'label'"),
        ({"x": "tags"}, None, "'tags' ends at a relation: name a field of Tag"),
        ({"x": "owner"}, None, "ends at a relation: name a field of Person"),
        ({"x": "name__lower"}, None, "Device.name (CharField) is neither a relation nor a JSONField"),
        ({"x": "tags__"}, None, "is not a Django path"),
        ({"x": "created"}, {"x": Kind.NUMBER}, "'x' (number) cannot be matched against Device.created (DateTimeField)"),
        ({"x": "name"}, {"x": Kind.TIME}, "'x' (time) cannot be matched against Device.name (CharField)"),
        ({"x": "weight"}, {"x": Kind.EXACT}, "cannot be matched against Device.weight (FloatField)"),
        ({"x": "price"}, {"x": Kind.TEXT}, "Device.price (DecimalField)"),
        ({"x": "active"}, {"x": Kind.NUMBER}, "Device.active (BooleanField)"),
        ({"x": "attributes__when"}, {"x": Kind.TIME}, "it needs a DateTimeField"),
        ({"x": "name"}, {"y": Kind.TEXT}, "kinds given for qualifiers without a path: y"),
    ],
)
def test_orm_schema_refuses_what_it_cannot_map(
    paths: dict[str, str], kinds: dict[str, Kind] | None, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        orm_schema(Device, paths, kinds=kinds)
    assert message in str(caught.value)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ValueError) as caught:
        orm_mapping(Device, {"a": "nmae", "b": "tags", "c": "name"})
    assert "'a':" in str(caught.value) and "'b':" in str(caught.value) and "'c'" not in str(caught.value)


def test_orm_mapping_checks_a_schema_of_ones_own() -> None:
    mapping = orm_mapping(Device, {"name": "name"}, schema=DEVICES.with_fields(DEVICES.fields[:1]))
    assert isinstance(mapping, DjangoMapping)
    with pytest.raises(ValueError, match="'tag': no path in the mapping"):
        orm_mapping(Device, {"name": "name"}, schema=DEVICES)
    with pytest.raises(TypeError, match="is not a Django model class"):
        orm_mapping(object, {"name": "name"})


def test_a_field_no_filter_can_read_is_refused() -> None:
    class Gadget(models.Model):
        code: models.UUIDField[str, str] = models.UUIDField()
        day: models.DateField[str, str] = models.DateField()

        class Meta:
            app_label = "qfilter_tests"

    for path in ("code", "day"):
        with pytest.raises(ValueError, match=f"no filter can read Gadget.{path}"):
            orm_schema(Gadget, {"x": path})


def test_a_mapping_of_another_schema_is_refused_when_compiling() -> None:
    schema, mapping = orm_schema(Device, {"name": "name", "slots": "slots"}, kinds={"slots": Kind.NUMBER})
    wrong = schema.with_fields([schema.fields[0], Field("slots", Kind.TIME, "slots")])
    with pytest.raises(ValueError, match="'slots' \\(time\\) cannot be matched against Device.slots"):
        compile_q("slots:2020/", wrong, mapping)


def test_a_bad_filter_is_a_filter_error_with_its_position() -> None:
    with pytest.raises(FilterError) as caught:
        compile_q("tag:a nmae:x", DEVICES, DEVICES_Q)
    assert caught.value.position == 6 and "did you mean 'name'" in str(caught.value)
    with pytest.raises(FilterError, match="@me needs a current user"):
        compile_q("owner:@me", DEVICES, DEVICES_Q)


def test_an_empty_filter_is_an_empty_q() -> None:
    assert not compile_q("", DEVICES, DEVICES_Q)


def test_a_parsed_filter_is_taken_as_it_is() -> None:
    def sql(query: Any) -> str:
        return str(Device.objects.filter(compile_q(query, DEVICES, DEVICES_Q)).query)

    assert sql(parse("tag:a")) == sql("tag:a")


@pytest.mark.parametrize("module_name", ["qfilter.django", "qfilter.django.rest_framework", "qfilter.django.admin"])
def test_public_names_are_documented_and_typed(module_name: str) -> None:
    module = importlib.import_module(module_name)
    problems = []
    for name in module.__all__:
        value = getattr(module, name)
        if not (inspect.isfunction(value) or inspect.isclass(value)):
            continue
        if not inspect.getdoc(value):
            problems.append(f"{name}: no docstring")
        if inspect.isfunction(value):
            signature = inspect.signature(value)
            if signature.return_annotation is inspect.Signature.empty or any(
                p.annotation is inspect.Parameter.empty for p in signature.parameters.values()
            ):
                problems.append(f"{name}: not fully annotated")
    assert problems == []


# -- the databases -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aliases(request: pytest.FixtureRequest) -> list[str]:
    """SQLite, PostgreSQL and MariaDB, unless a server is unavailable outside CI (conftest decides)."""
    found = []
    for database in ("sqlite", "postgresql", "mysql"):
        try:
            found.append(database_alias(request, database))
        except pytest.skip.Exception:
            continue
    return found


@pytest.mark.parametrize("alias", ["postgresql", "mysql"])
def test_every_database_takes_part(aliases: list[str], alias: str) -> None:
    """Outside CI a missing server only narrows the comparison; say so rather than pass silently."""
    if alias not in aliases:
        pytest.skip(f"no {alias}: the Django tests compared memory with the other databases only")


@pytest.fixture
def stored(aliases: list[str]) -> Iterator[Any]:
    """A function storing entities in every database, each in a transaction rolled back afterwards."""
    opened: list[Any] = []

    def store(entities: list[dict[str, Any]]) -> None:
        for alias in aliases:
            atomic = transaction.atomic(using=alias)
            atomic.__enter__()
            opened.append((alias, atomic))
            insert(alias, entities)

    yield store
    for alias, atomic in reversed(opened):
        transaction.set_rollback(True, using=alias)
        atomic.__exit__(None, None, None)


def _ids(alias: str, text: Any, **context: Any) -> list[int]:
    found = list(
        Device.objects.using(alias).filter(compile_q(text, DEVICES, DEVICES_Q, **context)).values_list("id", flat=True)
    )
    assert len(found) == len(set(found)), f"{alias}: a row twice for {text!r}"
    return sorted(found)


ANN: dict[str, Any] = {"id": 101, "email": "ann@example.com"}
BOB: dict[str, Any] = {"id": 102, "email": "Bob@example.com"}
EXAMPLE: list[dict[str, Any]] = [
    {
        "id": 1,
        "name": "Sensor-Ü1",
        "status": "active",
        "owner": ANN,
        "tags": [{"name": "lab"}, {"name": "prio1"}],
        "ports": [{"name": "eth0"}],
        "attributes": {"room": ["A3", 5], "rack": {"slot": 1e-05}},
        "created": datetime(2024, 5, 1, tzinfo=UTC),
        "slots": 4,
        "weight": 2.5,
        "price": Decimal("2.50"),
        "active": True,
    },
    {
        "id": 2,
        "name": "sensor-2 ",
        "owner": BOB,
        "maintainer": ANN,
        "tags": [{"name": "lab"}],
        "attributes": {"room": "B1"},
    },
    {"id": 3, "name": "gateway", "status": "retired", "active": False, "slots": 2147483647},
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tag:lab -tag:prio1", [2]),
        ("tag:lab,prio1", [1]),  # two different tags
        ("-tag:lab", [3]),  # no tags at all: kept
        ("tag:LAB", []),  # exact
        ("name:SENSOR-", [1, 2]),  # a fragment, ignoring case
        ("name:sensor-ü1", [1]),  # str.lower: Ü is ü
        ('name:"sensor-2"', [2]),
        ("name:in(sensor-2)", []),  # exact: the trailing space counts, on MariaDB too
        ('name:in("sensor-2 ")', [2]),
        ("name:like(s*?)", [1, 2]),
        ("owner:@me", [1]),
        ("-owner:@me", [2, 3]),  # no owner: kept
        ("user:@me", [1, 2]),  # owner or maintainer
        ("owner_id:101", [1]),
        ("owner_id:0101", []),
        ("port:eth0", [1]),
        ("-port:eth0", [2, 3]),
        ("status:active", [1]),
        ("room:A3", [1]),  # any element of a list in JSON
        ("room:5", [1]),
        ("-room:B1", [1, 3]),
        ("attributes.rack.slot:1e-05", [1]),
        ("attributes.rack.slot:>0", [1]),
        ("created:2024-05", [1]),
        ("-created:2024", [2, 3]),
        ("slots:>=3.5", [1, 3]),
        ("slots:<4.5", [1]),
        ("slots:2147483647", [3]),
        ("slots:2147483648", []),  # beyond the column's range: nothing, never a database error
        ("slots:<99999999999", [1, 3]),  # ... and a range keeps its in-range rows (not the NULL)
        ("weight:2.5", [1]),
        ("price:2.5", [1]),
        ("price:>2.49", [1]),
        ("active:true", [1]),
        ("-active:true", [2, 3]),
        ("-active:exists()", [2]),
        ("tag:not(lab)", [1]),  # some tag is not lab
        ("(tag:prio1 OR name:gate) AND NOT slots:4", [3]),
    ],
)
def test_the_specs_examples_on_every_database(aliases: list[str], stored: Any, text: str, expected: list[int]) -> None:
    stored(EXAMPLE)
    assert sorted(e["id"] for e in compile_predicate(text, DEVICES, user=ANN["email"]).filter(EXAMPLE)) == expected
    for alias in aliases:
        assert _ids(alias, text, user=ANN["email"]) == expected, alias


def test_a_decimal_compares_the_number_as_written(aliases: list[str], stored: Any) -> None:
    """Spec section 10: ``price:9.99`` is the decimal 9.99 on a decimal column (not the double nearest to it).

    Memory compares the ``Decimal`` with the filter's number exactly too; a
    number off the column's grid (``0.001``) or beyond its precision
    (``1e30``) is no database error.
    """
    entities: list[dict[str, Any]] = [
        {"id": 1, "name": "a", "price": Decimal("9.99")},
        {"id": 2, "name": "b", "price": Decimal("10.00")},
    ]
    stored(entities)
    for text, expected in [
        ("price:9.99", [1]),
        ("price:>9.99", [2]),
        ("price:<=9.99", [1]),
        ("price:9.990", [1]),
        ("price:9.991", []),
        ("price:>9.985", [1, 2]),
        ("price:1e30", []),
        ("price:<1e30", [1, 2]),
        ("price:>-1e30", [1, 2]),
        ("price:0.001", []),
        ("price:>0.001", [1, 2]),
        ("price:in(9.99,1e-999)", [1]),
    ]:
        assert sorted(e["id"] for e in compile_predicate(text, DEVICES).filter(entities)) == expected, text
        for alias in aliases:
            assert _ids(alias, text) == expected, (alias, text)


LABELLED, LABELLED_Q = orm_schema(
    Device,
    {"name": "name", "tag": "tags__name", "owner": "owner__email"},
    kinds={"owner": Kind.USER},
    ignore_case={"tag", "owner"},
)


def test_a_case_insensitive_field_agrees_with_memory(aliases: list[str], stored: Any) -> None:
    """``Field.ignore_case`` (issue 22.3): ``str.lower`` on both sides, as ``inIgnoreCase`` does."""
    entities: list[dict[str, Any]] = [
        {"id": 1, "name": "a", "tags": [{"name": "Prod"}], "owner": {"id": 201, "email": "Ann@Example.com"}},
        {"id": 2, "name": "b", "tags": [{"name": "ΣΑΣ"}, {"name": "dev"}]},
        {"id": 3, "name": "c"},
    ]
    stored(entities)
    assert LABELLED.by_qualifier["tag"].ignore_case and not LABELLED.by_qualifier["name"].ignore_case
    with pytest.raises(ValueError, match="ignore_case is for TEXT, EXACT and USER fields"):
        orm_schema(Device, {"slots": "slots"}, ignore_case={"slots"})
    for text, expected in [
        ("tag:prod", [1]),
        ("tag:PROD", [1]),
        ("-tag:prod", [2, 3]),
        ("tag:σας", [2]),  # str.lower: the final sigma
        ("tag:in(x,DEV)", [2]),
        ("tag:contains(RO)", [1]),
        ("owner:ann@example.com", [1]),
        ("owner:@me", [1]),
    ]:
        found = compile_predicate(text, LABELLED, user="ANN@example.com").filter(entities)
        assert sorted(e["id"] for e in found) == expected, text
        for alias in aliases:
            q = compile_q(text, LABELLED, LABELLED_Q, user="ANN@example.com")
            assert sorted(Device.objects.using(alias).filter(q).values_list("id", flat=True)) == expected, alias


def test_only_the_kelvin_sign_and_the_dotted_capital_i_lower_case_to_ascii() -> None:
    """What ``folds_as_ascii`` rests on, checked on every code point of this Python's Unicode."""
    found = [n for n in range(0x80, 0x110000) if any(c.isascii() for c in chr(n).lower())]
    assert found == [0x130, 0x212A]
    assert folds_as_ascii("sensor-1") and folds_as_ascii("") and folds_as_ascii("%_/")
    assert not folds_as_ascii("kelvin") and not folds_as_ascii("Ist") and not folds_as_ascii("é")


def test_the_kelvin_sign_and_the_dotted_capital_i_fold_as_str_lower_does(aliases: list[str], stored: Any) -> None:
    """U+212A lower-cases to ``k`` and U+0130 to ``i`` + U+0307: a fragment with ``i`` or ``k`` folds by ``str.lower``.

    Any other ASCII fragment folds by the database's own ASCII ``lower()``
    (``folds_as_ascii``), which finds the same rows: the SQL of each is checked.
    """
    kelvin, dotted = "\u212a", "\u0130"
    names = [f"{kelvin}elvin", "Kelvin", f"{dotted}stanbul", "Istanbul", "\u0131stanbul", "SENSOR-1", "s\u00e9nsor-1"]
    entities: list[dict[str, Any]] = [{"id": n + 1, "name": name} for n, name in enumerate(names)]
    stored(entities)
    for text, expected in [
        ("name:kelvin", [1, 2]),
        ("name:elvin", [1, 2]),  # ASCII without i or k
        ("name:k", [1, 2]),
        ("name:istanbul", [4]),  # str.lower(İ) is i + U+0307, and ı is no i
        ("name:i", [1, 2, 3, 4]),
        ("name:stanbul", [3, 4, 5]),
        ("name:i\u0307stanbul", [3]),
        ("name:sensor-1", [6]),
        ("name:nsor-1", [6, 7]),
        ("name:SENSOR", [6]),  # the fragment is lower-cased too
        ("name:in(kelvin,sensor-1)", []),  # in() on a TEXT field is exact ...
    ]:
        found = compile_predicate(text, DEVICES).filter(entities)
        assert sorted(e["id"] for e in found) == expected, text
        for alias in aliases:
            assert _ids(alias, text) == expected, (alias, text)
    folded, folded_q = orm_schema(Device, {"name": "name"}, kinds={"name": Kind.EXACT}, ignore_case={"name"})
    for text, expected in [  # ... and ignores case on a field that says so
        ("name:kelvin", [1, 2]),
        ("name:in(sensor-1,istanbul)", [4, 6]),
        ("name:in(sensor-1,kelvin)", [1, 2, 6]),
        ("name:i\u0307stanbul", [3]),
    ]:
        found = compile_predicate(text, folded).filter(entities)
        assert sorted(e["id"] for e in found) == expected, text
        for alias in aliases:
            ids = Device.objects.using(alias).filter(compile_q(text, folded, folded_q)).values_list("id", flat=True)
            assert sorted(ids) == expected, (alias, text)
    sqlite = next(alias for alias in aliases if connections[alias].vendor == "sqlite")
    with connections[sqlite].cursor() as cursor:  # SQLite's LIKE no longer folds case: the compiler sees it
        cursor.execute("PRAGMA case_sensitive_like = ON")
        try:
            assert _ids(sqlite, "name:nsor-1") == [6, 7] and _ids(sqlite, "name:%nsor-1") == []
        finally:
            cursor.execute("PRAGMA case_sensitive_like = OFF")
    ascii_sql = str(Device.objects.filter(compile_q("name:sensor-1", DEVICES, DEVICES_Q)).query)
    assert " LIKE " in ascii_sql and "lower(" not in ascii_sql
    assert "qfilter_lower" in str(Device.objects.filter(compile_q("name:kelvin", DEVICES, DEVICES_Q)).query)


def test_the_sqlite_function_is_registered_once_per_connection(aliases: list[str]) -> None:
    """Creating a function expires a SQLite connection's prepared statements: qfilter does it once per connection."""
    connection = connections[next(alias for alias in aliases if connections[alias].vendor == "sqlite")]
    connection.ensure_connection()
    register_sqlite_functions(connection)
    assert vars(connection)["_qfilter_functions_on"] is connection.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT qfilter_lower(%s)", ["ΣΑΣ \u212a"])
        assert cursor.fetchone() == ("σας k",)


def test_to_many_paths_are_subqueries_not_joins() -> None:
    sql = str(Device.objects.filter(compile_q("tag:a -port:b", DEVICES, DEVICES_Q)).query)
    assert '"qfilter_tests_device"."id" IN (SELECT' in sql and "NOT (EXISTS(" in sql
    assert "JOIN" not in sql.split("WHERE")[0]


def test_user_input_reaches_sql_as_parameters_only() -> None:
    hostile = "x'); DROP TABLE qfilter_tests_device; --"
    for text in (f'name:"{hostile}"', f'tag:"{hostile}"', f'attributes.a:"{hostile}"', f'room:like("{hostile}*")'):
        sql, params = Device.objects.filter(compile_q(text, DEVICES, DEVICES_Q)).query.sql_with_params()
        assert "drop table" not in sql.lower() and any("drop table" in str(p).lower() for p in params), text


# -- the differential properties ----------------------------------------------------------------------

people = st.one_of(st.none(), st.fixed_dictionaries({"email": st.one_of(st.none(), users, fragments)}))
device_parts = st.fixed_dictionaries(
    {
        "name": texts,
        "status": st.one_of(st.none(), st.sampled_from(["active", "retired"]), fragments),
        "owner": people,
        "maintainer": people,
        "tags": st.lists(st.fixed_dictionaries({"name": st.one_of(fragments, st.none())}), max_size=3),
        "ports": st.lists(st.fixed_dictionaries({"name": fragments}), max_size=2),
        # Values jsonb keeps as memory reads them (docs/sql.md: jsonb's numbers).
        "attributes": meta_objects(jsonb_values, room=jsonb_values),
        "created": st.one_of(st.none(), instants),
        "slots": st.one_of(st.none(), st.integers(-3, 10), st.integers(-(2**31), 2**31 - 1)),
        "weight": st.one_of(st.none(), st.sampled_from(FLOATS), st.floats(-1e15, 1e15)),
        "price": st.one_of(st.none(), st.sampled_from(PRICES)),
        "active": st.one_of(st.none(), st.booleans()),
    }
)


@st.composite
def devices(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Up to 8 devices with ids 1 to 8 (one digit: memory's ties by id text are numeric order too)."""
    found = []
    for index in range(1, draw(st.integers(1, 8)) + 1):
        parts = draw(device_parts)
        for offset, role in enumerate(("owner", "maintainer")):
            if parts[role] is not None:
                parts[role] = {"id": 100 + 2 * index + offset, **parts[role]}
        found.append({"id": index, **parts})
    return found


SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)


def _rolled_back(aliases: list[str], entities: list[dict[str, Any]], check: Any) -> None:
    for alias in aliases:
        with transaction.atomic(using=alias):
            insert(alias, entities)
            try:
                check(alias)
            finally:
                transaction.set_rollback(True, using=alias)


@SETTINGS
@given(case=cases(devices(), DEVICES))
def test_django_agrees_with_memory(aliases: list[str], case: Any) -> None:
    entities, filters = case
    expected = [
        sorted(e["id"] for e in compile_predicate(f, DEVICES, now=NOW, user=ME).filter(entities)) for f in filters
    ]

    def check(alias: str) -> None:
        for parsed, want in zip(filters, expected, strict=True):
            assert _ids(alias, parsed, now=NOW, user=ME) == want, f"{alias} disagrees with memory on {str(parsed)!r}"

    _rolled_back(aliases, entities, check)


SORTABLE = [DEVICES.by_qualifier[q] for q in DEVICES.sortable or ()]
sort_keys = st.lists(st.sampled_from(SORTABLE), min_size=1, max_size=3, unique=True).flatmap(
    lambda fields: st.tuples(*(st.builds(SortKey, st.just(f), st.booleans()) for f in fields))
)


@SETTINGS
@given(entities=devices(), keys=sort_keys)
def test_django_sorts_as_memory_does(
    aliases: list[str], entities: list[dict[str, Any]], keys: tuple[SortKey, ...]
) -> None:
    expected = [e["id"] for e in sort_entities(entities, keys, DEVICES)]

    def check(alias: str) -> None:
        ordered = Device.objects.using(alias).order_by(*order_by(keys, DEVICES, DEVICES_Q))
        got = list(ordered.values_list("id", flat=True))
        assert got == expected, f"{alias} orders {','.join(map(str, keys))} otherwise"

    _rolled_back(aliases, entities, check)


@SETTINGS
@given(entities=devices(), keys=sort_keys, pick=st.integers(0, 7))
def test_django_seeks_past_a_row_as_memory_does(
    aliases: list[str], entities: list[dict[str, Any]], keys: tuple[SortKey, ...], pick: int
) -> None:
    """build_seek over DjangoBackend's Ordering: the rows after a position in the order, as memory has them."""
    ordered = sort_entities(entities, keys, DEVICES)
    position = position_of(entities[pick % len(entities)], keys, DEVICES)
    expected = [e["id"] for e in MemoryCompiler(DEVICES).after(keys, position).filter(ordered)]
    after = build_seek(keys, position, DjangoBackend(DEVICES_Q, DEVICES.timezone))

    def check(alias: str) -> None:
        found = Device.objects.using(alias).filter(after).order_by(*order_by(keys, DEVICES, DEVICES_Q))
        assert list(found.values_list("id", flat=True)) == expected, f"{alias} seeks past {position} otherwise"

    _rolled_back(aliases, entities, check)


def test_sorting_by_a_field_with_several_values_is_refused() -> None:
    schema = DEVICES.with_fields(DEVICES.fields, sortable=None)  # as if every field were offered
    with pytest.raises(ValueError, match="sorting by 'user' needs one place of a single value"):
        order_by(parse_sort("user", schema), schema, DEVICES_Q)
