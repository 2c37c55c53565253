"""The index recipe of ``sort=`` (``qfilter.sql.sort_indexes``): the plans of page 1 and of a seek, on three databases.

Not timed: the benchmark (``benchmarks/listing_bench.py``) measures. Here
EXPLAIN shows that, on the reference tables with their declared indexes,
each sortable field in each direction is an index walk with no sort of the
rows (page 1), and that a seek past a row starts the walk at it where the
design says it does (docs/sql.md: sorting).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from qfilter import TIMEPLUS, WAYLAY, Field, Kind, Schema
from qfilter.core.backend import Position
from qfilter.core.sorting import SortKey, sortable_fields
from qfilter.memory import position_of
from qfilter.service import tables as reference
from qfilter.sql import (
    Column,
    Related,
    SqlCompiler,
    SqlMapping,
    create_sort_indexes,
    exact_string,
    missing_flag,
    sort_indexes,
)
from qfilter.sql.ordering import dialect_named

ROWS = 3000
T0 = datetime(2021, 1, 1, tzinfo=UTC)
USERS = ["users/a", "users/b", "users/c", "users/d"]


def _entities() -> list[dict[str, Any]]:
    """Waylay entities, a missing value in every field now and then, few users (long runs of ties)."""
    made = []
    for i in range(ROWS):
        attrs: dict[str, Any] = {}
        if i % 7:
            attrs["created"] = (T0 + timedelta(minutes=i * 37 % ROWS)).isoformat()
        if i % 5:
            attrs["created_by"] = USERS[i % 4]
        if i % 3:
            attrs["modified"] = (T0 + timedelta(hours=i % 500)).isoformat()
            attrs["modified_by"] = USERS[i % 3]
        made.append({"name": f"q{i * 7919 % 10007:05d}", "meta": {}, "attrs": attrs})
    return made


def _saved_queries() -> list[dict[str, Any]]:
    made = []
    for i in range(ROWS):
        item: dict[str, Any] = {"id": f"s{i * 31 % 9973:05d}", "name": f"n{i % 700:04d}", "tags": []}
        if i % 7:
            item["created_at"] = (T0 + timedelta(minutes=i)).isoformat()
            item["created_by"] = {"id": USERS[i % 4]}
        if i % 4:
            item["last_updated_at"] = (T0 + timedelta(hours=i % 300)).isoformat()
            item["last_updated_by"] = USERS[i % 3]
        made.append(item)
    return made


@pytest.fixture(scope="module")
def engine(database: sa.Engine) -> Iterator[sa.Engine]:
    with database.begin() as conn:
        reference.METADATA.create_all(conn)
        for table in reversed(reference.METADATA.sorted_tables):
            conn.execute(sa.delete(table))
        reference.insert_waylay_queries(conn, _entities())
        reference.insert_saved_queries(conn, _saved_queries())
    with database.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if database.dialect.name == "mysql":
            conn.exec_driver_sql("ANALYZE TABLE " + ", ".join(reference.METADATA.tables))
        else:
            conn.exec_driver_sql("ANALYZE")
    yield database
    with database.begin() as conn:  # the other modules of the session expect empty tables
        for table in reversed(reference.METADATA.sorted_tables):
            conn.execute(sa.delete(table))


@dataclass
class Plan:
    """What EXPLAIN says of a statement: the indexes it reads, whether it sorts rows, whether it seeks into an index."""

    text: str
    indexes: set[str]
    sorts: bool
    seeks: bool


def _explained(conn: sa.Connection, statement: sa.Select[Any], prefix: str) -> list[Any]:
    """The rows of ``prefix`` + the statement, its parameters bound as an execution binds them (UTC text on SQLite)."""

    def explaining(connection: Any, cursor: Any, sql: str, parameters: Any, context: Any, many: bool) -> Any:
        return prefix + sql, parameters

    sa.event.listen(conn, "before_cursor_execute", explaining, retval=True)
    try:
        result = conn.execute(statement)
        names = [column[0] for column in result.cursor.description]
        return [dict(zip(names, row, strict=True)) for row in result.cursor.fetchall()]
    finally:
        sa.event.remove(conn, "before_cursor_execute", explaining)


def explain(conn: sa.Connection, statement: sa.Select[Any]) -> Plan:
    match conn.dialect.name:
        case "postgresql":
            text = "\n".join(row["QUERY PLAN"] for row in _explained(conn, statement, "EXPLAIN (COSTS OFF) "))
            return Plan(text, set(re.findall(r" using (\S+)", text)), "Sort" in text, "Index Cond" in text)
        case "sqlite":
            text = "\n".join(row["detail"] for row in _explained(conn, statement, "EXPLAIN QUERY PLAN "))
            indexes = set(re.findall(r"USING (?:COVERING )?INDEX (\S+)", text))
            return Plan(text, indexes, "TEMP B-TREE" in text, text.startswith("SEARCH"))
        case _:
            rows = _explained(conn, statement, "EXPLAIN ")
            text = "\n".join(f"{row['table']} {row['type']} {row['key']} {row['Extra']}" for row in rows)
            sorts = any("filesort" in str(row["Extra"]) for row in rows)
            return Plan(
                text, {str(row["key"]) for row in rows}, sorts, any(row["type"] in ("range", "ref") for row in rows)
            )


@dataclass(frozen=True)
class Listing:
    """One reference table as a listing sorts it."""

    schema: Schema
    table: sa.Table
    id_column: sa.Column[Any]
    mapping: Any
    primary: set[str]

    def compiler(self) -> SqlCompiler:
        return SqlCompiler(self.mapping, id_column=self.id_column, schema=self.schema)

    def index(self, field: Field, descending: bool) -> set[str]:
        """The index names a sort by ``field`` may walk: its own, or the primary key's for the id column."""
        if self.mapping[field.qualifier].column is self.id_column:
            return self.primary
        return {f"ix_{self.table.name}_sort_{field.qualifier}_{'desc' if descending else 'asc'}"}


WAYLAY_LISTING = Listing(
    WAYLAY,
    reference.WAYLAY_TABLE,
    reference.WAYLAY_TABLE.c.name,
    reference.WAYLAY_SQL,
    {"waylay_queries_pkey", "sqlite_autoindex_waylay_queries_1", "PRIMARY"},
)
TIMEPLUS_LISTING = Listing(
    TIMEPLUS,
    reference.TIMEPLUS_TABLE,
    reference.TIMEPLUS_TABLE.c.id,
    reference.TIMEPLUS_SQL,
    {"timeplus_saved_queries_pkey", "sqlite_autoindex_timeplus_saved_queries_1", "PRIMARY"},
)
SORTS = [
    pytest.param(listing, field, descending, id=f"{listing.table.name}:{'-' if descending else ''}{field.qualifier}")
    for listing in (WAYLAY_LISTING, TIMEPLUS_LISTING)
    for field in sortable_fields(listing.schema)
    for descending in (False, True)
]


@pytest.mark.parametrize(("listing", "field", "descending"), SORTS)
def test_page_one_of_every_sort_walks_its_index_and_sorts_no_row(
    engine: sa.Engine, listing: Listing, field: Field, descending: bool
) -> None:
    keys = [SortKey(field, descending)]
    statement = sa.select(listing.id_column).order_by(*listing.compiler().order(keys)).limit(10)
    with engine.connect() as conn:
        plan = explain(conn, statement)
    assert plan.indexes & listing.index(field, descending), plan.text
    assert not plan.sorts, plan.text


def _seek_plan(engine: sa.Engine, listing: Listing, field: Field, descending: bool, *, missing: bool) -> Plan:
    """The plan of the page after a row in the middle of the order: one with a value, or one without."""
    keys = [SortKey(field, descending)]
    compiler = listing.compiler()
    ordered = sa.select(listing.table).order_by(*compiler.order(keys))
    column = listing.mapping[field.qualifier].column
    with engine.connect() as conn:
        rows = conn.execute(ordered.where(column.is_(None) if missing else column.is_not(None))).mappings().all()
        if not rows:
            pytest.skip(f"no row without {field.qualifier}")
        row = dict(rows[len(rows) // 2])
        value = row[column.name]
        position = Position(
            (value.astimezone(UTC) if isinstance(value, datetime) else value,), row[listing.id_column.name]
        )
        statement = ordered.with_only_columns(listing.id_column).where(compiler.after(keys, position)).limit(10)
        if conn.dialect.name == "postgresql":
            # A few hundred rows after the position: sorting them may cost the planner less than the index
            # walk (and does, in the small group of rows without a value). Asked not to sort, it must find
            # an index that gives the order from the position on: that one is the point here.
            conn.exec_driver_sql("SET enable_sort = off")
            conn.exec_driver_sql("SET enable_incremental_sort = off")
        return explain(conn, statement)


def _seeks_by_index(dialect: str, listing: Listing, field: Field, descending: bool) -> bool:
    """Where the design starts a seek's walk at the position (docs/sql.md: sorting, seeks)."""
    if dialect != "sqlite" or listing.mapping[field.qualifier].column is listing.id_column:
        return True  # PostgreSQL: a row comparison; MariaDB: the OR as ranges; any: the id column's range
    return not descending  # SQLite ranges over a row of columns in one direction only: missing column, value, id


@pytest.mark.parametrize(("listing", "field", "descending"), SORTS)
@pytest.mark.parametrize("missing", [False, True], ids=["after a value", "after a missing value"])
def test_a_seek_walks_the_sort_index_from_the_position(
    engine: sa.Engine, listing: Listing, field: Field, descending: bool, missing: bool
) -> None:
    if missing and not listing.mapping[field.qualifier].column.nullable:
        pytest.skip("never missing")
    plan = _seek_plan(engine, listing, field, descending, missing=missing)
    # Among the rows without a value, either direction's index has them in the order of the id.
    indexes = listing.index(field, descending) | (listing.index(field, not descending) if missing else set())
    assert plan.indexes & indexes, plan.text
    assert not plan.sorts, plan.text
    if _seeks_by_index(engine.dialect.name, listing, field, descending):
        assert plan.seeks, plan.text


def test_a_page_after_a_position_is_the_rest_of_the_order(engine: sa.Engine) -> None:
    """What the plans above read is the right page: the rows after the position, in order (every sort, both ways)."""
    with engine.connect() as conn:
        for listing in (WAYLAY_LISTING, TIMEPLUS_LISTING):
            compiler = listing.compiler()
            for field in sortable_fields(listing.schema):
                for descending in (False, True):
                    keys = [SortKey(field, descending)]
                    ordered = sa.select(listing.table).order_by(*compiler.order(keys))
                    rows = [dict(row) for row in conn.execute(ordered).mappings()]
                    column = listing.mapping[field.qualifier].column.name
                    for at in (len(rows) // 3, len(rows) - 5):
                        value = rows[at][column]
                        value = value.astimezone(UTC) if isinstance(value, datetime) else value
                        position = Position((value,), rows[at][listing.id_column.name])
                        page = conn.execute(ordered.where(compiler.after(keys, position)).limit(10)).mappings()
                        assert [dict(row) for row in page] == rows[at + 1 : at + 11], (field.qualifier, descending)


# -- the recipe itself -----------------------------------------------------------------------------------

ITEMS = sa.Table(
    "qfilter_test_sort_items",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", exact_string(64), nullable=False),
    sa.Column("seen", sa.DateTime),
    sa.Column("seen_missing", sa.Boolean, missing_flag("seen")),
    sa.Column("owner", sa.String(64)),
)
ITEMS_SCHEMA = Schema(
    "items",
    (Field("name", Kind.TEXT, "name"), Field("seen", Kind.TIME, "seen"), Field("owner", Kind.USER, "owner")),
)
ITEMS_SQL: SqlMapping = {
    "name": Column(ITEMS.c.name),
    "seen": Column(ITEMS.c.seen, missing=ITEMS.c.seen_missing),
    "owner": Column(ITEMS.c.owner),
}


def _ddl(dialect: str, fields: tuple[str, ...]) -> list[str]:
    indexes = sort_indexes(ITEMS_SCHEMA, ITEMS_SQL, dialect, id_column=ITEMS.c.id, fields=fields)
    return [str(sa.schema.CreateIndex(index).compile(dialect=dialect_named(dialect))) for index in indexes]


def test_the_recipe_holds_the_order_by_items_per_dialect() -> None:
    fields = ("name", "seen")
    on_postgresql = _ddl("postgresql", fields)
    assert on_postgresql == [
        'CREATE INDEX ix_qfilter_test_sort_items_sort_name_asc ON qfilter_test_sort_items (name COLLATE "C", id)',
        'CREATE INDEX ix_qfilter_test_sort_items_sort_name_desc ON qfilter_test_sort_items (name COLLATE "C" DESC, id)',
        "CREATE INDEX ix_qfilter_test_sort_items_sort_seen_asc ON qfilter_test_sort_items "
        "((CAST(seen IS NULL AS INTEGER)), seen, id)",
        "CREATE INDEX ix_qfilter_test_sort_items_sort_seen_desc ON qfilter_test_sort_items "
        "((CAST(seen IS NOT NULL AS INTEGER)) DESC, seen DESC, id)",
    ]
    on_sqlite = _ddl("sqlite", fields)
    assert on_sqlite[2:] == [
        "CREATE INDEX ix_qfilter_test_sort_items_sort_seen_asc ON qfilter_test_sort_items (seen_missing, seen, id)",
        # Descending, the missing values fold into the value: one range of it starts a deep seek.
        "CREATE INDEX ix_qfilter_test_sort_items_sort_seen_desc ON qfilter_test_sort_items "
        "((ifnull(seen, 0)) DESC, seen DESC, id)",
    ]
    on_mariadb = _ddl("mariadb", fields)
    assert on_mariadb[:2] == [
        "CREATE INDEX ix_qfilter_test_sort_items_sort_name_asc ON qfilter_test_sort_items (name, id)",
        "CREATE INDEX ix_qfilter_test_sort_items_sort_name_desc ON qfilter_test_sort_items (name DESC, id)",
    ]
    assert ITEMS.indexes == set()  # not declared: create_all makes none of them


def test_what_no_index_can_serve_is_refused_with_its_reason() -> None:
    with pytest.raises(ValueError, match="'owner' can be missing and MariaDB has no NULLS LAST.*owner_missing"):
        sort_indexes(ITEMS_SCHEMA, ITEMS_SQL, "mariadb", id_column=ITEMS.c.id)
    assert len(sort_indexes(ITEMS_SCHEMA, ITEMS_SQL, "postgresql", id_column=ITEMS.c.id)) == 6
    with pytest.raises(ValueError, match="not sortable fields of 'items': tag"):
        sort_indexes(ITEMS_SCHEMA, ITEMS_SQL, "sqlite", id_column=ITEMS.c.id, fields=["tag"])
    owners = sa.Table("qfilter_test_sort_owners", ITEMS.metadata, sa.Column("id", sa.String(64), primary_key=True))
    through: SqlMapping = {
        **ITEMS_SQL,
        "owner": Related(owners, owners.c.id, owners.c.id, references=ITEMS.c.owner, to_one=True),
    }
    with pytest.raises(ValueError, match="'owner' is sorted through a relationship"):
        sort_indexes(ITEMS_SCHEMA, through, "postgresql", id_column=ITEMS.c.id)


def test_the_id_columns_own_index_serves_a_sort_by_it() -> None:
    by_name = Schema("names", (Field("name", Kind.TEXT, "name"),), id_path="name")
    mapping = {"name": Column(reference.WAYLAY_TABLE.c.name)}
    for dialect in ("sqlite", "postgresql", "mariadb"):
        assert sort_indexes(by_name, mapping, dialect, id_column=reference.WAYLAY_TABLE.c.name) == []


def _index_names(database: sa.Engine) -> set[str | None]:
    """The table's indexes by name: on SQLite from its catalogue, as SQLAlchemy reflects no expression index there."""
    if database.dialect.name != "sqlite":
        return {index["name"] for index in sa.inspect(database).get_indexes(ITEMS.name)}
    with database.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (ITEMS.name,)
        )
        return {name for (name,) in found}


def test_create_sort_indexes_makes_them_once(database: sa.Engine) -> None:
    fields = ["name", "seen"]
    ITEMS.metadata.create_all(database, tables=[ITEMS])
    try:
        made = create_sort_indexes(database, ITEMS_SCHEMA, ITEMS_SQL, id_column=ITEMS.c.id, fields=fields)
        with database.begin() as conn:  # again, in the caller's transaction: nothing to make
            again = create_sort_indexes(conn, ITEMS_SCHEMA, ITEMS_SQL, id_column=ITEMS.c.id, fields=fields)
        names = _index_names(database)
        assert {index.name for index in made} == {index.name for index in again} == names - {None}
        assert len(made) == 4
        if database.dialect.name != "mysql":
            create_sort_indexes(database, ITEMS_SCHEMA, ITEMS_SQL, id_column=ITEMS.c.id)  # owner's too, once
            create_sort_indexes(database, ITEMS_SCHEMA, ITEMS_SQL, id_column=ITEMS.c.id)
    finally:
        ITEMS.metadata.drop_all(database, tables=[ITEMS])


def test_a_position_read_in_memory_seeks_the_same_rows(engine: sa.Engine) -> None:
    """A cursor holds memory's position of an entity (position_of): SQL seeks past the same row with it."""
    keys = [SortKey(WAYLAY.by_qualifier["created"], True)]
    entities = sorted(_entities(), key=lambda entity: entity["name"])
    compiler = WAYLAY_LISTING.compiler()
    ordered = sa.select(reference.WAYLAY_TABLE.c.name).order_by(*compiler.order(keys))
    with engine.connect() as conn:
        names = list(conn.scalars(ordered))
        at = next(entity for entity in entities if entity["name"] == names[100])
        after = list(conn.scalars(ordered.where(compiler.after(keys, position_of(at, keys, WAYLAY))).limit(5)))
    assert after == names[101:106]
