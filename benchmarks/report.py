"""docs/performance.md and docs/performance.png from one run's results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .timing import Timing

if TYPE_CHECKING:
    from .bench import Config, Row


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _t(timing: Timing | None) -> str:
    return "—" if timing is None else fmt_time(timing.median)


def _ratio(row: Row) -> str:
    return row.ratio_text


def _budget(row: Row) -> float | None:
    """How much of its target a row uses: ≤ 1 is met."""
    if row.subject_time is None or row.baseline_time is None:
        return None
    if row.limit is not None and row.ratio is not None:
        return row.ratio / row.limit
    if row.absolute_limit is not None:
        return row.subject_time.median / row.absolute_limit
    if row.extra.get("limit_above") is not None:
        above: float = row.extra["above"]
        limit_above: float = row.extra["limit_above"]
        return max(above, 0.0) / limit_above
    return None


def _chart(rows: list[Row], parse_tables: dict[str, dict[str, Timing]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    targeted = [(row, budget) for row in rows if row.target and (budget := _budget(row)) is not None]
    panels = (1 if parse_tables else 0) + (1 if targeted else 0)
    if not panels:
        return False
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 4.8), squeeze=False)
    axes = list(axes[0])
    if parse_tables:
        ax = axes.pop(0)
        names = list(parse_tables)
        parsers = [p for p in next(iter(parse_tables.values()))]
        height = 0.8 / len(parsers)
        colours = plt.get_cmap("tab10")
        for index, parser_name in enumerate(parsers):
            values = [parse_tables[n][parser_name].median * 1e6 for n in names]
            positions = [i + index * height for i in range(len(names))]
            ax.barh(positions, values, height=height, label=parser_name, color=colours(index))
        ax.set_yticks([i + 0.4 - height / 2 for i in range(len(names))], names)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel("median time per parse, µs (log scale)")
        ax.set_title("Text to syntax tree")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=4)
        ax.grid(axis="x", which="both", alpha=0.3)
    if targeted:
        ax = axes.pop(0)
        labels = [f"{row.measure}: {row.case}\n{row.target}" for row, _ in targeted]
        values = [budget for _, budget in targeted]
        colours = ["tab:green" if row.verdict == "met" else "tab:red" for row, _ in targeted]
        ax.barh(range(len(values)), values, color=colours)
        ax.axvline(1.0, color="black", linestyle="--", linewidth=1)
        ax.set_yticks(range(len(values)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("share of the target used (≤ 1 is met)")
        ax.set_title("Targets of issue #6")
        for i, value in enumerate(values):
            ax.text(value, i, f" {value:.2f}", va="center", fontsize=7)
        ax.set_xlim(0, max(1.2, max(values) * 1.15))
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return True


_INTRO = """\
# Performance

How fast qfilter is, measured against its peers, against hand-written code and
against the cheapest conceivable work, all in **one run on one machine**.
Absolute times drift on a shared machine, so every verdict is the ratio of two
medians measured in the same run, interleaved round by round (see
`benchmarks/timing.py`); the absolute medians are shown too.

This page is written by the benchmarks: do not edit it by hand. To run them
from a fresh clone (needs PyPI the first time, and a PostgreSQL server for
the SQL and service measures, a MariaDB server for MariaDB's; the first run
also builds the SQL databases, 1,000,000 rows each, in about 4 minutes each on
a 2-core machine, and later runs reuse them; this run took {elapsed}):

```sh
bash benchmarks/run                 # everything; rewrites docs/performance.md and .png
bash benchmarks/run --only parse    # some measures (parse, memory, glob, compile, sql, service, import)
bash benchmarks/run --help          # sizes, PostgreSQL and MariaDB URLs, output folder
```

`benchmarks/run` makes its own environment in `benchmarks/.venv` with qfilter
and the peers (`odata-query`, `scim2-filter-parser`, `luqum`), `matplotlib`,
`psycopg`, `pymysql`, `fastapi` and `uvicorn`; none of them is a dependency of
qfilter's core.
"""


def write_report(
    config: Config,
    rows: list[Row],
    parse_tables: dict[str, dict[str, Timing]],
    texts: dict[str, dict[str, str]],
    elapsed: float,
    environment: dict[str, str],
) -> None:
    out: list[str] = [_INTRO.format(elapsed=f"{elapsed / 60:.1f} minutes")]
    chart = config.output / "performance.png"
    if _chart(rows, parse_tables, chart):
        out.append("![Parse times and targets](performance.png)\n")
    out.append("## Results against the targets of issues #6, #12, #13 and #14\n")
    out.append("| measure | case | qfilter | baseline | qfilter median | baseline median | ratio | target | verdict |")
    out.append("| --- | --- | --- | --- | ---: | ---: | ---: | --- | --- |")
    for row in rows:
        if not row.target:
            continue
        out.append(
            f"| {row.measure} | {row.case} | {row.subject} | {row.baseline} | {_t(row.subject_time)} "
            f"| {_t(row.baseline_time)} | {_ratio(row)} | {row.target} | **{row.verdict}** |"
        )
    out.append("")
    notes = [row.note for row in rows if row.note]
    for note in dict.fromkeys(notes):
        out.append(f"- {note}")
    if notes:
        out.append("")

    if parse_tables:
        out.append("## Parse: text to syntax tree\n")
        out.append(
            "Each parser reads a filter of the same meaning in its own language (the `q` combination "
            "logic written out with and/or/not), including its lexer. *qfilter* is `qfilter.parse(text, "
            "cache=False)`; *cached* is `qfilter.parse(text)` seeing the same text again; *Lark only* is "
            "qfilter's grammar run by Lark's LALR parser without the fast path (for reference); the "
            "*floor* is one compiled regular expression that only cuts the `q` text into tokens "
            "(`FLOOR.findall(text)` in `benchmarks/filters.py`).\n"
        )
        for name, timings in parse_tables.items():
            floor = timings.get("regex tokenise (floor)")
            base = timings.get("qfilter")
            out.append(f"### {name}\n")
            out.append("| parser | median | middle half | × qfilter | × floor |")
            out.append("| --- | ---: | ---: | ---: | ---: |")
            for parser_name, timing in sorted(timings.items(), key=lambda item: item[1].median):
                vs_q = f"{timing.median / base.median:.3g}" if base else "—"
                vs_floor = f"{timing.median / floor.median:.3g}" if floor else "—"
                out.append(
                    f"| {parser_name} | {fmt_time(timing.median)} | {fmt_time(timing.low)} – "
                    f"{fmt_time(timing.high)} | {vs_q} | {vs_floor} |"
                )
            out.append("")
            out.append("<details><summary>the texts parsed</summary>\n")
            for who, text in texts.get(name, {}).items():
                out.append(f"- {who}: `{text}`")
            out.append("\n</details>\n")
        measured = next(iter(parse_tables.values()))
        missing = [p for p in ("odata-query", "scim2-filter-parser", "luqum") if p not in measured]
        if missing:
            out.append(f"Peers not installed in this run, so not compared: {', '.join(missing)}.\n")
        out.append(
            "Where a peer's language has no exact equivalent, the closest construct is used: OData and "
            "SCIM have no glob (`contains`/`co` instead of `like(*hourly*)`), SCIM has no relative time "
            '(`"now-P1W"` is read as a string), Lucene ranges stand for intervals.\n'
        )

    other = [row for row in rows if row.measure != "parse" and row.measure != "cached parse"]
    if other:
        out.append("## In memory, SQL and import\n")
        out.append("| measure | case | qfilter | baseline | qfilter median | baseline median | ratio |")
        out.append("| --- | --- | --- | --- | ---: | ---: | ---: |")
        for row in other:
            out.append(
                f"| {row.measure} | {row.case} | {row.subject} | {row.baseline} | {_t(row.subject_time)} "
                f"| {_t(row.baseline_time)} | {_ratio(row)} |"
            )
        out.append("")
        variants = [row for row in other if row.extra.get("variants")]
        if variants:
            out.append("Every hand-written form of each SQL case, against qfilter's statement:\n")
            out.append("| case | hand-written form | median | qfilter ÷ this | plan |")
            out.append("| --- | --- | ---: | ---: | --- |")
            for row in variants:
                for who, (timing, same) in row.extra["variants"].items():
                    ratio = row.subject_time.median / timing.median if row.subject_time else None
                    out.append(
                        f"| {row.case} | {who} | {fmt_time(timing.median)} | "
                        f"{'—' if ratio is None else f'{ratio:.3g}x'} | {'same as qfilter' if same else 'other'} |"
                    )
            out.append("")
        plans = [(row, row.extra["plans"]) for row in other if row.extra.get("plans")]
        for row, plans_of_row in plans:
            out.append(f"<details><summary>EXPLAIN, {row.case}</summary>\n")
            for who, plan in plans_of_row.items():
                out.append(f"{who}:\n\n```text\n{plan}\n```\n")
            out.append("</details>\n")
        sql_text = [(row, row.extra["sql"]) for row in other if row.extra.get("sql")]
        for row, statements in sql_text:
            out.append(f"<details><summary>SQL, {row.case}</summary>\n")
            for who, statement in statements.items():
                out.append(f"{who}:\n\n```sql\n{statement}\n```\n")
            out.append("</details>\n")

    out.append("## How it is measured\n")
    out.append(
        f"- Parse and cached parse: {config.rounds} rounds of samples of about "
        f"{config.sample_time * 1e3:.0f} ms each per case (`timeit`, garbage collector off), "
        "median per call.\n"
        f"- In memory: {config.entities:,} Waylay-shaped dicts (`benchmarks/data.py`), "
        f"{config.rounds} rounds; the hand-written functions are in `benchmarks/handwritten.py` and "
        "must return exactly the entities qfilter returns, or the run fails.\n"
        f"- SQL: {config.rows:,} rows, the same data in SQLite, PostgreSQL and MariaDB with their indexes "
        "(`benchmarks/sql_bench.py`); each query is the compiled clause against hand-written SQL of the "
        "same meaning, both returning the same rows; the plans come from EXPLAIN. On PostgreSQL, "
        "psycopg's automatic server-side prepared statements are off (`prepare_threshold=None`): with them "
        "the switch from custom to generic plans made the timings of equal statements bimodal. Each sample "
        "lasts about 1 s (as many calls as fit; a statement slower than that, one call), "
        f"15 rounds for statements under 2 s, {config.sql_rounds} up to 5 s, 3 beyond.\n"
        "- SQL count, issue 20: the count of an OR of 2 and of 10 tags as `qfilter.sql.count_matches` runs "
        "it (the tag table alone, `count(*)` of its `DISTINCT query_name`, valid through its foreign key; "
        "SQLite's engine enforces foreign keys, as the service's does) against `count(*)` of the entities "
        "`IN` the same lookup; both must give the same number.\n"
        "- Reject: `qfilter.parse(text, cache=False)` of invalid inputs as long as a valid filter of 64 terms "
        "(about 4 KB, within the default limits: too many terms or matchers, an unclosed quote, deep "
        "parentheses, punctuation, and errors at the end of a long valid prefix), against parsing that "
        "valid filter; the verdict is the slowest input's.\n"
        "- Boolean: issue 12's deepest filter under the default depth limit, 16 levels (15 parentheses "
        "and a NOT) with 64 operators between 64 terms (`deep_filter()` in `benchmarks/bench.py`), against "
        "the same terms side by side; each from its text (parsed uncached) and bound, then the in-memory "
        "predicate over 1,000 entities, the SQL statement compiled for PostgreSQL, and the statement run "
        "on SQLite over the same 1,000 entities (both backends must give the same names). The limit error "
        "is the same filter in one more pair of parentheses.\n"
        "- In memory, 200 entities: a predicate compiled for a filter whose shape was compiled before "
        "(as a service's requests are), `predicate.filter` of the first 200 entities against the "
        "hand-written function.\n"
        "- Compile: from the seed's text to what an execution of its statement needs on PostgreSQL "
        "(parse, cached; bind; build the clause for the dialect; SQLAlchemy's cache key, its cached SQL "
        "and the parameters), against building the same statement with SQLAlchemy by hand and the same "
        "compiled-cache step; no database.\n"
        "- SQL, issue 13: an OR of 2 and of 10 tags on every database; on PostgreSQL `name:` with a "
        "selective fragment without and then with the `pg_trgm` index of docs/sql.md (built for the case, "
        "dropped after it; the verdict also needs the plan to use it), and `tag:` over a `jsonb` tags "
        "column with a GIN index (a table made from the tag table) against a hand-written `@>`.\n"
        f"- Service, issue 20: {config.service_rows:,} entities in the reference tables of SQLite, PostgreSQL "
        "and MariaDB (`benchmarks/service_bench.py`); the reference service and a minimal hand-written FastAPI "
        "endpoint (the filter's values as plain parameters, the hand-written SQL of the page and the count, for "
        "one tag the count of the tag table alone as the service's, in one connection, the page as a dict), "
        "each in its own uvicorn process with the service's settings; "
        "4 clients at once, each sending a batch of sequential requests on its own keep-alive connection, "
        f"alternating between the two servers ({config.rounds} rounds); both must answer the same page and "
        "total.\n"
        "- Glob, issue 18: `name:like(...)` with adversarial globs of 6 to 12 wildcards (`benchmarks/glob_bench.py`: "
        "the backtracking cases and the matcher's own hardest, near misses everywhere) on one entity whose name is "
        "10,000 characters of `a` and `b`, four such values, against `like(*a*)` on the same entity; the compiled "
        "predicate called once per sample call, in the closures and in the generated code; each row is a value's "
        "slowest glob, the notes give every glob's ratio.\n"
        "- Listing, issue 20: page 1 (`LIMIT 10`) of every sortable field of both reference tables, both "
        "directions, on rows the databases generate (10^6 of each table on SQLite and PostgreSQL, 3·10^5 on "
        "MariaDB; `benchmarks/listing_bench.py`): the SQL of qfilter's `ORDER BY` against each hand-written "
        "`ORDER BY` of the same order (missing values last, ties by id), each over the index made for it, the "
        "fastest the baseline, both run as text by the driver; same rows, and EXPLAIN must show both walking "
        f"an index without sorting the rows; {config.sql_rounds} rounds of samples of about 0.2 s.\n"
        "- Paging, issue 20: on the listing tables, what a request to the reference service runs behind "
        "FastAPI (parameters read and the filter compiled, the page and one row more and the count in one "
        "read transaction, the body with its links; `benchmarks/paging_bench.py`): the page at depth 10^5 "
        "reached by the `next` link's cursor against page 1 (counting nothing), and page 1 of a filter "
        "matching every row with a count capped at 10,000 against the page alone; the same depth by "
        "`offset` and the exact count beside them, without a target.\n"
        f"- Import: {config.import_runs} runs of each fresh interpreter, interleaved, wall time.\n"
    )
    out.append("## This run\n")
    for key, value in environment.items():
        out.append(f"- {key}: {value}")
    out.append(f"- duration: {elapsed:.0f} s{' (smoke sizes)' if config.smoke else ''}")
    out.append("")
    (config.output / "performance.md").write_text("\n".join(out), encoding="utf-8")
    _splice_listing_figures(config, rows)


FIGURES_START = "<!-- figures: written by benchmarks/run from its listing, paging, count and service measures -->"
FIGURES_END = "<!-- end of figures -->"


def listing_figures(rows: list[Row]) -> str:
    """The listing page's figures: per database the worst page-1 sort, then every paging, count and service row."""
    out = ["| measure | case | qfilter | baseline | qfilter median | baseline median | ratio | target | verdict |"]
    out.append("| --- | --- | --- | --- | ---: | ---: | ---: | --- | --- |")
    listing = [row for row in rows if row.measure == "listing" and row.ratio is not None]
    databases = dict.fromkeys(row.case.split(", ")[-2] for row in listing if row.case.count(", ") >= 2)
    chosen: list[Row] = []
    for database in databases:
        of_database = [row for row in listing if row.case.split(", ")[-2] == database]
        chosen.append(max(of_database, key=lambda row: row.ratio or 0.0))
    chosen += [row for row in rows if row.measure in ("paging", "SQL count", "service")]
    for row in chosen:
        out.append(
            f"| {row.measure} | {row.case} | {row.subject} | {row.baseline} | {_t(row.subject_time)} "
            f"| {_t(row.baseline_time)} | {_ratio(row)} | {row.target or '—'} | "
            f"{f'**{row.verdict}**' if row.target else '—'} |"
        )
    if listing:
        met = sum(row.verdict == "met" for row in listing)
        out.append("")
        out.append(
            f"The listing rows are each database's slowest page-1 sort against its hand-written `ORDER BY`; "
            f"{met} of the {len(listing)} sorts measured met their target "
            "([Performance](performance.md) lists them all)."
        )
    return "\n".join(out)


def _splice_listing_figures(config: Config, rows: list[Row]) -> None:
    """Put :func:`listing_figures` between the markers of ``listings.md`` in the output folder, if it is there."""
    page = config.output / "listings.md"
    if config.smoke or not page.exists() or not any(row.measure in ("listing", "paging") for row in rows):
        return
    text = page.read_text(encoding="utf-8")
    if FIGURES_START not in text or FIGURES_END not in text:
        return
    before, rest = text.split(FIGURES_START, 1)
    _, after = rest.split(FIGURES_END, 1)
    page.write_text(f"{before}{FIGURES_START}\n\n{listing_figures(rows)}\n\n{FIGURES_END}{after}", encoding="utf-8")
