"""The reference tables keep texts of at most 255 characters in their key columns, on every database.

MariaDB needs a length for a ``VARCHAR`` (``exact_string(255)``) and would
refuse a longer text with a raw ``DataError``; the helpers of
:mod:`qfilter.service.tables` refuse it first, with a ``ValueError`` naming
what is too long, and the same on SQLite and PostgreSQL, so that the tables
take the same entities wherever they are.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from qfilter import TIMEPLUS, WAYLAY
from qfilter.service.tables import (
    METADATA,
    TIMEPLUS_SQL,
    WAYLAY_SQL,
    count_saved_queries,
    count_waylay_queries,
    get_saved_query,
    get_waylay_query,
    insert_saved_queries,
    insert_waylay_queries,
    replace_saved_query,
    replace_waylay_query,
    select_saved_queries,
    select_waylay_queries,
)
from qfilter.sql import compile_clause

LONG = "t" * 256
# 255 characters of four UTF-8 bytes each: what a utf8mb4 VARCHAR(255) holds.
LONGEST = "😀" * 255


@pytest.fixture(scope="module")
def engine(database: sa.Engine) -> sa.Engine:
    with database.begin() as conn:
        METADATA.create_all(conn)
    return database


@pytest.mark.parametrize(
    ("entity", "what"),
    [
        ({"name": LONG}, "name"),
        ({"name": "q", "meta": {"tags": ["ok", LONG]}}, "tag"),
        ({"name": "q", "meta": {"resource": LONG}}, "resource"),
        ({"name": "q", "query": {"data": [{"resource": LONG}]}}, "resource"),
        ({"name": "q", "attrs": {"created_by": LONG}}, "attrs.created_by"),
        ({"name": "q", "attrs": {"modified_by": LONG}}, "attrs.modified_by"),
    ],
)
def test_a_waylay_text_over_255_characters_is_a_value_error(
    conn: sa.Connection, entity: dict[str, Any], what: str
) -> None:
    with pytest.raises(ValueError, match=f"{what} has 256 characters, more than the 255"):
        insert_waylay_queries(conn, [{"name": "fine", "meta": {"tags": ["ok"]}}, entity])
    assert count_waylay_queries(conn) == 0  # refused before anything was stored


def test_a_waylay_replacement_with_a_long_tag_leaves_the_entity_as_it_was(conn: sa.Connection) -> None:
    stored = {"name": "q", "meta": {"tags": ["ok"]}}
    insert_waylay_queries(conn, [stored])
    with pytest.raises(ValueError, match="tag has 256 characters"):
        replace_waylay_query(conn, {"name": "q", "meta": {"tags": [LONG]}})
    assert get_waylay_query(conn, "q") == stored
    assert [e["name"] for e in select_waylay_queries(conn, compile_clause("tag:ok", WAYLAY, WAYLAY_SQL))] == ["q"]


def test_255_characters_of_four_bytes_are_stored_and_found(conn: sa.Connection) -> None:
    entity = {"name": LONGEST, "meta": {"tags": [LONGEST], "resource": LONGEST}, "attrs": {"created_by": LONGEST}}
    insert_waylay_queries(conn, [entity])
    for query in (f"tag:{LONGEST}", f"resource:{LONGEST}", f"created_by:{LONGEST}", f"name:{LONGEST}"):
        assert select_waylay_queries(conn, compile_clause(query, WAYLAY, WAYLAY_SQL)) == [entity], query
    item = {"id": LONGEST, "name": LONGEST, "created_by": {"id": LONGEST}}
    insert_saved_queries(conn, [item])
    assert [q["id"] for q in select_saved_queries(conn, compile_clause("user:" + LONGEST, TIMEPLUS, TIMEPLUS_SQL))] == [
        LONGEST
    ]


@pytest.mark.parametrize(
    ("item", "what"),
    [
        ({"id": LONG, "name": "n"}, "id"),
        ({"id": "1", "name": LONG}, "name"),
        ({"id": "1", "name": "n", "created_by": {"id": LONG}}, "created_by"),
        ({"id": "1", "name": "n", "last_updated_by": LONG}, "last_updated_by"),
    ],
)
def test_a_saved_query_text_over_255_characters_is_a_value_error(
    conn: sa.Connection, item: dict[str, Any], what: str
) -> None:
    with pytest.raises(ValueError, match=f"{what}.* has 256 characters, more than the 255"):
        insert_saved_queries(conn, [item])
    assert count_saved_queries(conn) == 0
    insert_saved_queries(conn, [{"id": "1", "name": "n"}])
    with pytest.raises(ValueError, match="256 characters"):
        replace_saved_query(conn, {**item, "id": "1"} if what != "id" else item)
    saved = get_saved_query(conn, "1")
    assert saved is not None and saved["name"] == "n"
