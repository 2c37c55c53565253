"""``qfilter.core.optimise.one_lookup_per_field``: an OR of plain values of one field as one set, the same answers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from support import NOW, examples

from qfilter import WAYLAY, Filter
from qfilter.core.backend import build
from qfilter.core.binder import to_plan
from qfilter.core.ir import Equals, InSet, Like
from qfilter.core.optimise import one_lookup_per_field
from qfilter.integrations.strategies import filters
from qfilter.memory.closures import MemoryBackend
from qfilter.service.demo import demo_entities


def test_plain_values_of_one_exact_field_become_one_set_where_the_first_stood() -> None:
    plan = one_lookup_per_field(to_plan("tag:a tag:like(c*) tag:b tag:a", WAYLAY))
    (group,) = plan.groups
    assert group.alternatives == ((InSet(("a", "b"), ignore_case=False),), (Like("c*"),))


def test_a_logic_tree_is_rewritten_leaf_by_leaf_and_the_groups_stay_in_place() -> None:
    plan = to_plan("(tag:a OR tag:b) AND NOT (resource:x OR name:y)", WAYLAY)
    optimised = one_lookup_per_field(plan)
    assert [g.field for g in optimised.groups] == [g.field for g in plan.groups]
    assert optimised.groups[0].alternatives == ((InSet(("a", "b"), ignore_case=False),),)
    assert optimised.root is not None and optimised.root != plan.root


def test_other_kinds_and_single_values_are_left_as_they_are() -> None:
    for text in ("tag:a", "meta.k:a meta.k:b", "name:a name:b", "-tag:a,b"):
        plan = to_plan(text, WAYLAY)
        assert one_lookup_per_field(plan) is plan, text
    assert to_plan("meta.k:a meta.k:b", WAYLAY).groups[0].alternatives == ((Equals("a"),), (Equals("b"),))


DEMO = demo_entities()
TAGS = st.sampled_from(sorted({tag for entity in DEMO for tag in entity["meta"].get("tags", [])}) + ["none"])


@settings(max_examples=examples(300), deadline=None)
@given(parsed=filters(WAYLAY, values=TAGS, boolean=True, max_terms=5))
def test_the_rewritten_plan_keeps_every_answer_in_memory(parsed: Filter) -> None:
    plan = to_plan(parsed, WAYLAY, now=NOW, user="users/ann")
    as_bound = build(plan, MemoryBackend(WAYLAY.timezone))
    rewritten = build(one_lookup_per_field(plan), MemoryBackend(WAYLAY.timezone))
    assert [as_bound(entity) for entity in DEMO] == [rewritten(entity) for entity in DEMO]
