"""Filtering entities in memory: the meaning of spec sections 2 to 6."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import DEMO_NOW, examples

from qfilter import (
    TIMEPLUS,
    WAYLAY,
    CurrentUserError,
    Field,
    Kind,
    MatcherError,
    Schema,
    Term,
    UnknownQualifierError,
    compile_predicate,
    parse,
)
from qfilter.core.ast import Filter
from qfilter.core.plan import to_plan
from qfilter.core.sorting import SortKey
from qfilter.integrations.strategies import filters
from qfilter.memory import compile_plan, sort_entities

ME = "users/0476f99d"


def query(name: str, *, tags: list[str] | None = None, resource: str | None = None, **attrs: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if tags is not None:
        meta["tags"] = tags
    if resource is not None:
        meta["resource"] = resource
    return {"name": name, "meta": meta, "attrs": attrs}


ENTITIES = [
    query(
        "151CF-temperature",
        tags=["imported", "label1"],
        resource="151CF",
        created="2019-10-16T13:51:22.991765+00:00",
        created_by=ME,
        modified="2020-08-25T11:53:21.406523+00:00",
        modified_by="users/bob",
    ),
    query("my-query test", tags=["label2"], created="2020-04-22T12:34:00+00:00", created_by="users/bob"),
    query("your-query test", tags=["label1", "label3"], resource="BB"),
    query("AA and BB", tags=[], resource="BB", created="2020-01-01T00:00:00Z"),
    query("AA with CC", resource="BB"),
    {"name": "no meta at all"},
    {"name": "Ünïcode ß", "query": {"data": [{"resource": "R1"}, {"resource": "R2"}]}},
    {
        "name": "top resource",
        "query": {"resource": "Q9"},
        "meta": {"description": "Room temperature, hourly", "level": 3, "on": True, "tags": ["x"]},
    },
]


def names(q: str, entities: list[Any] = ENTITIES, schema: Schema = WAYLAY, **options: Any) -> list[str]:
    options.setdefault("now", DEMO_NOW)
    return [e["name"] for e in compile_predicate(q, schema, **options).filter(entities)]


def test_seed_example_1() -> None:
    # (has label1 OR has label2) AND NOT has label3
    assert names("tag:label1 tag:label2 -tag:label3") == ["151CF-temperature", "my-query test"]


def test_seed_example_2() -> None:
    assert names("-tag:label2 name:my-query,test name:your-query,test") == ["your-query test"]


def test_seed_example_3() -> None:
    assert names("name:AA resource:BB -name:CC") == ["AA and BB"]


def test_same_qualifier_is_union() -> None:
    assert names("name:AA name:151") == ["151CF-temperature", "AA and BB", "AA with CC"]


def test_comma_is_intersection() -> None:
    assert names("name:AA,BB") == ["AA and BB"]
    assert names("tag:label1,label3") == ["your-query test"]


def test_excluded_terms_are_none_of() -> None:
    assert names("-tag:label1 -tag:label2") == [
        e["name"] for e in ENTITIES if e["name"] not in ("151CF-temperature", "my-query test", "your-query test")
    ]


def test_excluded_comma_term_is_not_both() -> None:
    assert "151CF-temperature" in names("-tag:label1,label3")
    assert "your-query test" not in names("-tag:label1,label3")


def test_empty_filter_matches_everything() -> None:
    assert names("  ") == [e["name"] for e in ENTITIES]


def test_name_is_a_fragment_ignoring_case() -> None:
    assert names("name:temperature") == ["151CF-temperature"]
    assert names("name:TEMPERATURE") == ["151CF-temperature"]
    assert names("name:ü") == ["Ünïcode ß"]
    assert names("name:ÜNÏ") == ["Ünïcode ß"]


def test_tag_and_resource_are_exact_and_case_sensitive() -> None:
    assert names("tag:label") == []
    assert names("tag:LABEL1") == []
    assert names("resource:151cf") == []
    assert names("resource:151CF") == ["151CF-temperature"]


def test_resource_lives_in_any_of_three_places() -> None:
    assert names("resource:R2") == ["Ünïcode ß"]
    assert names("resource:Q9") == ["top resource"]


def test_missing_values_never_satisfy_a_positive_matcher() -> None:
    without_resource = [
        e["name"]
        for e in ENTITIES
        if e["name"]
        not in ("151CF-temperature", "your-query test", "AA and BB", "AA with CC", "Ünïcode ß", "top resource")
    ]
    assert names("-resource:151CF") == [e["name"] for e in ENTITIES if e["name"] != "151CF-temperature"]
    assert set(without_resource) <= set(names("-resource:X"))
    assert "no meta at all" in names("-tag:x -created:2020/ -created_by:users/bob")
    assert "no meta at all" not in names("created:1900/")


def test_users_and_me() -> None:
    assert names("created_by:@me", user=ME) == ["151CF-temperature"]
    assert names("modified_by:users/bob") == ["151CF-temperature"]
    assert names("user:users/bob") == ["151CF-temperature", "my-query test"]
    assert names("created_by:@ME", user=ME) == []  # only @me is special


def test_me_without_a_user_is_an_error() -> None:
    with pytest.raises(CurrentUserError) as caught:
        names("tag:a created_by:@me")
    assert caught.value.position == len("tag:a created_by:")


def test_time_intervals_select_half_open_ranges() -> None:
    assert names("created:2020-04-22T12:34:00Z/") == ["my-query test"]
    assert names("created:/2020-04-22T12:34:00Z") == ["151CF-temperature", "AA and BB"]
    assert names("created:2020") == ["my-query test", "AA and BB"]
    assert names("created:2020-01-01T00:00:00Z/2020-01-01T00:00:00.000001Z") == ["AA and BB"]
    assert names("modified:P1M/now") == ["151CF-temperature"]
    assert names("created:now-P1Y/") == ["151CF-temperature", "my-query test", "AA and BB"]
    assert names("created:now-P6M/") == ["my-query test"]


def test_entity_times_without_offset_are_in_the_schema_zone_whatever_zone_the_filter_is_read_in() -> None:
    # spec section 5: a request's zone changes how the filter's own times read, never the stored ones
    entities = [
        {"name": "text", "attrs": {"created": "2020-07-01T00:30:00"}},
        {"name": "datetime", "attrs": {"created": datetime(2020, 7, 1, 0, 30)}},
    ]
    brussels = ZoneInfo("Europe/Brussels")  # UTC+2 in July
    both = ["text", "datetime"]
    for tz in (None, brussels):  # stored: 00:30 UTC, the Waylay schema's zone, either way
        assert names("created:2020-07-01T00:30:00Z/PT1S", entities, tz=tz) == both
        assert names("created:2020-06-30T22:30:00Z/PT1S", entities, tz=tz) == []
    # the filter's own times without offset are Brussels' now: 02:30 there is 00:30 UTC
    assert names("created:2020-07-01T02:30:00/PT1S", entities, tz=brussels) == both
    assert names("created:2020-07-01T00:30:00/PT1S", entities, tz=brussels) == []
    # Brussels' 1 July began at 22:00 UTC on 30 June and ends at 22:00 UTC: 00:30 UTC is inside
    assert names("created:2020-07-01", entities, tz=brussels) == both
    assert names("created:2020-06-30", entities, tz=brussels) == []
    # a schema in Brussels stores its naive times there, and a request in UTC does not change that
    in_brussels = dataclasses.replace(WAYLAY, timezone=brussels)
    for utc in (None, UTC):
        assert names("created:2020-06-30T22:30:00Z/PT1S", entities, in_brussels, tz=utc) == both
    assert names("created:2020-06-30T22:30:00/PT1S", entities, in_brussels, tz=UTC) == both
    assert names("created:2020-06-30", entities, in_brussels, tz=UTC) == both
    assert names("created:2020-07-01", entities, in_brussels, tz=UTC) == []


def test_entity_times_may_be_datetimes() -> None:
    entities = [{"name": "dt", "attrs": {"created": datetime(2020, 5, 1, 10)}}]
    assert names("created:2020-05/", entities) == ["dt"]
    assert names("created:2020-05-01T10:00:00Z/PT1S", entities) == ["dt"]


def test_unreadable_entity_times_count_as_missing() -> None:
    entities = [{"name": "bad", "attrs": {"created": "yesterday"}}, {"name": "num", "attrs": {"created": 5}}]
    assert names("created:1900/", entities) == []
    assert names("-created:1900/", entities) == ["bad", "num"]


def test_metadata_qualifier() -> None:
    assert names("meta.description:like(room*)") == ["top resource"]
    assert names("meta.description:like(*TEMP?RATURE*)") == ["top resource"]
    assert names("meta.description:like(room)") == []
    assert names("meta.description:contains(temperature)") == ["top resource"]
    assert names("meta.description:contains(Temperature)") == []
    assert names("meta.level:3 meta.on:true") == ["top resource"]
    assert names("meta.tags:label3") == ["your-query test"]
    assert names('meta.description:"Room temperature, hourly"') == ["top resource"]


def test_like_treats_only_star_and_question_mark_as_special() -> None:
    entities = [{"name": "a", "meta": {"k": "50%_[x]."}}, {"name": "b", "meta": {"k": "500_x"}}]
    assert names("meta.k:like(50%_[x].)", entities) == ["a"]
    assert names("meta.k:like(50?_*)", entities) == ["a", "b"]


def test_function_matchers_only_where_the_kind_takes_them() -> None:
    with pytest.raises(MatcherError) as caught:
        names("name:lt(x*)")
    assert 'name:"lt(x*)"' in (caught.value.hint or "")
    assert "TIME, META and NUMBER" in (caught.value.hint or "")
    assert caught.value.position == 5


def test_unknown_qualifiers_list_the_known_ones() -> None:
    with pytest.raises(UnknownQualifierError) as caught:
        names("tag:a tags:b")
    assert caught.value.position == 6
    assert "did you mean 'tag'" in (caught.value.hint or "")
    assert "created_by" in (caught.value.hint or "")
    with pytest.raises(UnknownQualifierError):
        names("meta:x")
    with pytest.raises(UnknownQualifierError):
        names("meta.x:y", schema=TIMEPLUS)


def test_timeplus_saved_queries() -> None:
    saved = [
        {
            "id": "1",
            "name": "streaming_iot",
            "description": "get the latest data from iot stream",
            "sql": "select * from iot",
            "tags": ["iot"],
            "created_at": "2023-02-01 23:22:59",
            "created_by": {"id": "u1", "name": "Ann"},
            "last_updated_at": "2023-02-05 11:12:13",
            "last_updated_by": "u2",
        },
        {"id": "2", "name": "other", "sql": "SELECT 1", "tags": [], "created_at": "2023-03-01 00:00:00"},
    ]
    assert names("sql:select", saved, TIMEPLUS) == ["streaming_iot", "other"]
    assert names("description:IOT tag:iot", saved, TIMEPLUS) == ["streaming_iot"]
    assert names("created:2023-02", saved, TIMEPLUS) == ["streaming_iot"]
    assert names("created:2023-02-01T23:22:59Z/PT1S", saved, TIMEPLUS) == ["streaming_iot"]
    assert names("created_by:@me", saved, TIMEPLUS, user="u1") == ["streaming_iot"]
    assert names("user:u2", saved, TIMEPLUS) == ["streaming_iot"]
    assert names("-modified_by:u2", saved, TIMEPLUS) == ["other"]


@dataclass
class Device:
    name: str
    labels: list[str] = field(default_factory=list)
    owner: Owner | None = None


@dataclass
class Owner:
    id: str


DEVICES = Schema(
    "devices",
    (
        Field("name", Kind.TEXT, "name"),
        Field("label", Kind.EXACT, "labels"),
        Field("owner", Kind.USER, "owner.id"),
    ),
    default_qualifier="name",
)


def test_custom_schema_over_plain_objects_with_a_default_qualifier() -> None:
    devices = [Device("Door sensor", ["door"], Owner("ann")), Device("Window", [], None)]
    predicate = compile_predicate("sensor -label:window owner:@me", DEVICES, user="ann")
    assert predicate.filter(devices) == devices[:1]
    assert compile_predicate("-owner:ann", DEVICES).filter(devices) == devices[1:]


def test_demo_dataset_selection_is_consistent() -> None:
    demo = json.loads(resources.files("qfilter.service").joinpath("data/demo_queries.json").read_text("utf-8"))
    tagged = names("tag:demo", demo)
    assert tagged and len(tagged) < len(demo)
    assert sorted(names("-tag:demo", demo) + tagged) == sorted(e["name"] for e in demo)


ATOMS = st.sampled_from(["demo", "label1", "BB", "151CF", "AA", "users/bob", "R2"])
SMALL_WAYLAY = filters(WAYLAY, values=ATOMS, meta_keys=st.sampled_from(["tags", "resource", "level"]), max_terms=3)


@settings(max_examples=examples(200))
@given(SMALL_WAYLAY.filter(lambda f: len(f.terms) == 1))
def test_excluding_a_single_term_is_its_complement(single: Filter) -> None:
    (term,) = single.terms
    flipped = Filter((Term(term.qualifier, term.matchers, not term.excluded),))
    plain = compile_predicate(single, WAYLAY, now=DEMO_NOW)
    negated = compile_predicate(flipped, WAYLAY, now=DEMO_NOW)
    for entity in ENTITIES:
        assert plain(entity) != negated(entity)


@settings(max_examples=examples(200))
@given(SMALL_WAYLAY, SMALL_WAYLAY)
def test_groups_of_different_qualifiers_are_intersected(left: Filter, right: Filter) -> None:
    keys = {(t.qualifier, t.excluded) for t in left.terms}
    if keys & {(t.qualifier, t.excluded) for t in right.terms}:
        return
    both = compile_predicate(Filter(left.terms + right.terms), WAYLAY, now=DEMO_NOW)
    first = compile_predicate(left, WAYLAY, now=DEMO_NOW)
    second = compile_predicate(right, WAYLAY, now=DEMO_NOW)
    for entity in ENTITIES:
        assert both(entity) == (first(entity) and second(entity))


@settings(max_examples=examples(200))
@given(SMALL_WAYLAY, SMALL_WAYLAY)
def test_filters_parse_and_run_identically_from_their_canonical_text(left: Filter, right: Filter) -> None:
    combined = Filter(left.terms + right.terms)
    from_ast = compile_predicate(combined, WAYLAY, now=DEMO_NOW)
    from_text = compile_predicate(str(combined), WAYLAY, now=DEMO_NOW)
    assert from_ast.filter(ENTITIES) == from_text.filter(ENTITIES)
    assert parse(str(combined)) == combined


SECRET = "s3cr3t"  # a module global a filter must not reach


class Sensor:
    """A plain object with public data, private data and the dunders every function has."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._token = "s3-private"
        self.meta = self  # meta.__init__.__globals__.SECRET would lead to SECRET


def test_only_public_data_is_reachable() -> None:
    schema = Schema("sensors", (Field("name", Kind.TEXT, "name"), Field("meta", Kind.META, "meta")))
    sensors = [Sensor("a"), {"name": "b", "meta": Sensor("c")}]
    assert compile_predicate("meta.name:c", schema).filter(sensors) == sensors[1:]  # public attributes are read
    for text in ("meta.__init__.__globals__.SECRET:like(s3*)", "meta._token:like(s3*)", "meta.__class__:like(*)"):
        for specialise in (False, True):  # the closures, and the generated code (which hands objects to them)
            predicate = compile_plan(to_plan(text, schema), specialise=specialise)
            assert predicate.filter(sensors * 300) == [], (text, specialise)
    # Through a dict the walk is the same: keys are data, so a "_" key of a mapping is still found.
    assert compile_predicate("meta._k:x", schema).filter([{"meta": {"_k": "x"}}]) == [{"meta": {"_k": "x"}}]


class Broken(Exception):
    """What an entity's own code raises."""


class Stop(BaseException):
    """Not an Exception: a filter lets it through, as it does KeyboardInterrupt."""


class Appliance:
    """A plain object whose ``name`` and ``meta`` are properties that may raise."""

    def __init__(self, label: str, *, raising: type[BaseException] | None = None) -> None:
        self.label = label
        self.raising = raising

    @property
    def name(self) -> str:
        if self.raising is not None:
            raise self.raising("cannot read the name")
        return self.label

    @property
    def meta(self) -> dict[str, Any]:
        if self.raising is not None:
            raise self.raising("cannot read the metadata")
        return {"room": self.label}


class Lookups(Mapping[str, Any]):
    """A mapping whose lookups raise something else than KeyError."""

    def __getitem__(self, key: str) -> Any:
        raise Broken(key)

    def __iter__(self) -> Iterator[str]:
        return iter(["name"])

    def __len__(self) -> int:
        return 1

    def __repr__(self) -> str:
        return "Lookups()"


def test_a_value_that_cannot_be_read_is_no_value() -> None:
    # docs/language.md: a property (or a mapping's lookup) that raises counts as a missing value
    schema = Schema("devices", (Field("name", Kind.TEXT, "name"), Field("meta", Kind.META, "meta")))
    fine, broken, weird = Appliance("pump"), Appliance("pump", raising=Broken), Appliance("pump", raising=ValueError)
    lookups = Lookups()
    entities: list[Any] = [fine, broken, weird, lookups, {"meta": lookups}, {"name": "pump", "meta": Appliance("x")}]
    expected = {
        "name:pump": [fine, entities[5]],
        "-name:pump": [broken, weird, lookups, entities[4]],
        "name:exists()": [fine, entities[5]],
        "-name:exists()": [broken, weird, lookups, entities[4]],
        "meta.room:pump": [fine],
        "-meta.room:exists()": entities[1:],
        "meta.room:x OR name:like(p*)": [fine, entities[5]],
        "NOT meta.name:exists()": entities[:5],  # the last one's meta is an object with a name
    }
    for text, kept in expected.items():
        for specialise in (False, True):  # the closures; the generated code hands objects to them
            predicate = compile_plan(to_plan(text, schema), specialise=specialise)
            assert predicate.filter(entities) == kept, (text, specialise)
            assert [e for e in entities if predicate(e)] == kept, (text, specialise)
    sort = [SortKey(schema.field_for("name"), descending=False)]
    named = [Appliance("b"), Appliance("a", raising=Broken), Appliance("a")]
    assert [e.label for e in sort_entities(named, sort, Schema("d", schema.fields, id_path="label"))] == ["a", "b", "a"]


def test_an_entity_cannot_swallow_what_is_not_an_exception() -> None:
    schema = Schema("devices", (Field("name", Kind.TEXT, "name"),))
    with pytest.raises(Stop):
        compile_predicate("name:pump", schema).filter([Appliance("pump", raising=Stop)])
