"""The qfilter command: explain, filter, exit codes and messages."""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import DEMO_NOW_TEXT, examples

from qfilter.cli import jsonstream, main
from qfilter.core.schema import PRESETS
from qfilter.memory import compile_predicate
from qfilter.service.demo import demo_entities

ENTITIES: list[dict[str, Any]] = [
    {
        "name": "151CF-temperature",
        "meta": {"tags": ["demo", "label1"], "resource": "151CF"},
        "attrs": {"created": "2019-10-16T13:51:22+00:00", "created_by": "users/ann"},
    },
    {"name": "old one", "meta": {"tags": ["old", "label2"]}, "attrs": {"created": "2020-08-30T00:00:00Z"}},
    {"name": "Ünïcode", "meta": {}, "attrs": {"created_by": "users/bob"}},
]
ENTITIES_JSON = json.dumps(ENTITIES).encode()


@pytest.fixture
def items(tmp_path: Path) -> Path:
    path = tmp_path / "items.json"
    path.write_text(json.dumps(ENTITIES), encoding="utf-8")
    return path


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qfilter", *args], input=stdin, capture_output=True, text=True, timeout=60
    )


def filtered(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert main(["filter", "--now", DEMO_NOW_TEXT, *args]) == 0
    return [e["name"] for e in json.loads(capsys.readouterr().out)]


def test_filter_file_in_input_order(capsys: pytest.CaptureFixture[str], items: Path) -> None:
    assert filtered(capsys, "tag:label1 tag:label2", str(items)) == ["151CF-temperature", "old one"]
    assert filtered(capsys, "created:now-P1W/", str(items)) == ["old one"]
    assert filtered(capsys, "--user", "users/bob", "created_by:@me", str(items)) == ["Ünïcode"]
    assert filtered(capsys, "name:ü", str(items)) == ["Ünïcode"]


def test_exclusion_after_double_dash_and_stdin(items: Path) -> None:
    result = run("filter", "--now", DEMO_NOW_TEXT, "--", "-tag:old", str(items))
    assert result.returncode == 0, result.stderr
    assert [e["name"] for e in json.loads(result.stdout)] == ["151CF-temperature", "Ünïcode"]
    piped = run("filter", "tag:demo", stdin=items.read_text(encoding="utf-8"))
    assert piped.returncode == 0
    assert [e["name"] for e in json.loads(piped.stdout)] == ["151CF-temperature"]


def test_now_accepts_the_spec_timestamp_forms(capsys: pytest.CaptureFixture[str], items: Path) -> None:
    for now in ("2020-09-01", "1598961600000", "2020-09-01T14:00:00+02:00"):
        assert main(["filter", "--now", now, "created:now-P1W/", str(items)]) == 0
        assert [e["name"] for e in json.loads(capsys.readouterr().out)] == ["old one"]


def test_timeplus_schema(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "saved.json"
    path.write_text(
        json.dumps(
            [
                {"name": "iot", "sql": "select * from iot", "created_by": {"id": "u1"}},
                {"name": "x", "sql": "show streams"},
            ]
        )
    )
    assert filtered(capsys, "--schema", "timeplus", "sql:SELECT", str(path)) == ["iot"]
    assert filtered(capsys, "--schema", "timeplus", "--user", "u1", "created_by:@me", str(path)) == ["iot"]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("tag:", "empty matcher"),
        ("bogus:x", "unknown qualifier 'bogus'"),
        ('tag:"open', "unterminated quote"),
        ("created:now-P1D", "an interval needs '/'"),
        ("created:P1D/P1W", "two periods"),
        ("created:2020-02-30/", "impossible date"),
        ("created_by:@me", "@me needs a current user"),
        ("tag:" + "a" * 100_000, "more than the limit"),
    ],
)
def test_bad_filters_exit_2_with_a_positioned_message(items: Path, query: str, words: str) -> None:
    result = run("filter", query, str(items))
    assert result.returncode == 2
    assert result.stdout == ""
    assert words in result.stderr
    assert "^" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_million_character_filter_from_a_file_exits_2(tmp_path: Path, items: Path) -> None:
    query = tmp_path / "query.txt"
    query.write_text("tag:" + "a" * 1_000_000)
    result = run("filter", "--query-file", str(query), str(items))
    assert result.returncode == 2
    assert "1000004 characters long, more than the limit of 4096" in result.stderr
    assert len(result.stderr) < 500


def test_query_file_reads_the_filter(capsys: pytest.CaptureFixture[str], tmp_path: Path, items: Path) -> None:
    query = tmp_path / "query.txt"
    query.write_text("-tag:old\n")
    assert filtered(capsys, "--query-file", str(query), str(items)) == ["151CF-temperature", "Ünïcode"]


def test_bad_input_exits_1(tmp_path: Path) -> None:
    not_array = tmp_path / "object.json"
    not_array.write_text('{"name": "x"}')
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    for path, words in (
        (not_array, "expected a JSON array"),
        (broken, "not valid JSON"),
        (tmp_path / "missing.json", "cannot read"),
    ):
        result = run("filter", "tag:x", str(path))
        assert result.returncode == 1
        assert words in result.stderr
        assert "Traceback" not in result.stderr


def test_bad_arguments_exit_2() -> None:
    assert run("filter", "--tz", "Mars/Olympus", "tag:x").returncode == 2
    bad_now = run("filter", "--now", "yesterday", "tag:x")
    assert bad_now.returncode == 2
    assert "invalid timestamp" in bad_now.stderr


def test_explain_prints_canonical_text_logic_and_words(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "tag:label1  tag:'label2' -tag:label3"]) == 0
    out = capsys.readouterr().out
    assert "canonical: tag:label1 tag:label2 -tag:label3" in out
    assert "NOT OR [tag]" in out
    assert "must have tag label1 or have tag label2, and not have tag label3" in out


def test_explain_rejects_unknown_qualifiers_of_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--schema", "timeplus", "resource:x"]) == 2
    assert "known qualifiers" in capsys.readouterr().err


def test_demo_dataset_is_bundled(capsys: pytest.CaptureFixture[str]) -> None:
    demo = demo_entities()
    assert main(["filter", "--demo", "tag:demo"]) == 0
    selected = json.loads(capsys.readouterr().out)
    assert selected and all("demo" in e["meta"]["tags"] for e in selected)
    assert len(selected) == sum("demo" in e["meta"]["tags"] for e in demo)


# --- filter over big input: streamed, formats, unreadable input --------------------------

NUMBERS = ["1e-05", "5.0", "5", "-0", "-0.0", "0.1", "1E400", "-1e400", "2.5e-324", "NaN", "Infinity", "1E2"]
NUMBERS += ["12345678901234567890123", "9" * 4300, "1" * 5000 + ".5", "1.0000000000000001", "3.141592653589793238"]


def number_entities() -> str:
    """A JSON array whose entities hold numbers (as the resource and in a list) spelt in every tricky way."""
    rows = [
        f'{{"name": "n{i}", "meta": {{"resource": {n}, "tags": [{n}, "t{i}"]}}, '
        f'"query": {{"data": [{{"resource": {n}}}]}}}}'
        for i, n in enumerate(NUMBERS)
    ]
    return "[\n" + ",\n".join(rows) + "\n]"


def expected(query: str, path: Path) -> list[Any]:
    """What filtering json.load's entities gives: the answers of the command before it streamed."""
    entities = json.loads(path.read_text(encoding="utf-8"))
    return compile_predicate(query, PRESETS["waylay"], now=datetime.fromisoformat(DEMO_NOW_TEXT)).filter(entities)


def same_json(out: str, entities: list[Any]) -> None:
    # NaN != NaN: compare the JSON text, which says NaN for both.
    assert json.dumps(json.loads(out)) == json.dumps(entities)


@pytest.mark.parametrize(
    "query",
    [
        "resource:1e-05",
        "resource:5.0 resource:5",
        "resource:0 resource:-0.0",
        "resource:12345678901234567890123",
        "resource:inf resource:-inf resource:nan",
        "resource:5e-324 resource:100.0 resource:1.0 resource:3.141592653589793",
        "tag:0.1 tag:1e-05",
        "-resource:5.0",
        "name:n1",
    ],
)
def test_numbers_compare_as_json_load_reads_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    path = tmp_path / "numbers.json"
    path.write_text(number_entities(), encoding="utf-8")
    want = expected(query, path)
    assert main(["filter", "--now", DEMO_NOW_TEXT, "--", query, str(path)]) == 0
    same_json(capsys.readouterr().out, want)
    monkeypatch.setattr(jsonstream, "_CHUNK", 7)  # every number cut across reads, the same answers
    assert main(["filter", "--now", DEMO_NOW_TEXT, "--", query, str(path)]) == 0
    same_json(capsys.readouterr().out, want)


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 64, 1 << 16])
def test_any_chunk_size_reads_the_same_entities(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    entities = [
        {"name": "emoji 😀 and \ud83d\ude00", "meta": {"tags": ["Zürich", 'a\\"b', "x" * 70_000]}},
        {"name": "\u2028 line separator, \x00 NUL, \t tab", "meta": {"n": [1, 2.5, True, None, {}, []]}},
        {"name": "Ünïcode " * 1000, "attrs": {"created": "2020-08-30T00:00:00Z"}, "a": 1, "a ": {"a": 2}},
    ]
    path = tmp_path / "items.json"
    path.write_text(
        " \r\n\t[" + " ,\n".join(json.dumps(e, ensure_ascii=i % 2 == 0) for i, e in enumerate(entities)) + "]\n"
    )
    monkeypatch.setattr(jsonstream, "_CHUNK", chunk)
    assert main(["filter", "--now", DEMO_NOW_TEXT, "--format", "jsonl", "", str(path)]) == 0
    # Only "\n" ends a line: U+2028 stays as it is in a JSON string.
    assert [json.loads(line) for line in capsys.readouterr().out.split("\n")[:-1]] == json.loads(path.read_text())


def test_formats(capsys: pytest.CaptureFixture[str], items: Path) -> None:
    want = [e for e in ENTITIES if "old" not in e["meta"].get("tags", [])]
    assert main(["filter", "--now", DEMO_NOW_TEXT, "--", "-tag:old", str(items)]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == want
    lines = out.splitlines()  # compact: one entity a line inside the array
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == len(want) + 2
    assert lines[1] == json.dumps(want[0], ensure_ascii=False, separators=(",", ":")) + ","
    assert main(["filter", "--format", "jsonl", "--now", DEMO_NOW_TEXT, "--", "-tag:old", str(items)]) == 0
    assert capsys.readouterr().out == "".join(
        json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n" for e in want
    )
    assert main(["filter", "--format", "pretty", "--now", DEMO_NOW_TEXT, "--", "-tag:old", str(items)]) == 0
    assert (
        capsys.readouterr().out == json.dumps(want, ensure_ascii=False, indent=2) + "\n"
    )  # the output before --format


@pytest.mark.parametrize(("form", "out"), [("json", "[]\n"), ("jsonl", ""), ("pretty", "[]\n")])
def test_no_match_and_empty_array(capsys: pytest.CaptureFixture[str], tmp_path: Path, form: str, out: str) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text(" [ ] ")
    for path in (empty, tmp_path / "items.json"):
        path.write_text(json.dumps(ENTITIES)) if path.name == "items.json" else None
        assert main(["filter", "--format", form, "tag:nothing", str(path)]) == 0
        assert capsys.readouterr() == (out, "")


def test_demo_in_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["filter", "--format", "jsonl", "--demo", "tag:demo"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == sum("demo" in e["meta"]["tags"] for e in demo_entities())
    assert all("demo" in json.loads(line)["meta"]["tags"] for line in lines)


def test_lone_surrogates_are_written_as_escapes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_text('[{"name": "a\\ud800b Ü"}, {"name": "Ü"}]')
    assert main(["filter", "name:b", str(path)]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == [{"name": "a\ud800b Ü"}]
    assert "\\ud800" in out


def test_output_to_a_stdout_that_is_not_utf8_is_escaped(items: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "qfilter", "filter", "--now", DEMO_NOW_TEXT, "name:ü", str(items)],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [ENTITIES[2]]
    assert result.stdout.isascii()


def stdin_bytes(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


@pytest.mark.parametrize("where", [[], ["-"]])
def test_stdin_is_read_as_utf8_bytes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, where: list[str]
) -> None:
    stdin_bytes(monkeypatch, json.dumps(ENTITIES, ensure_ascii=False).encode("utf-8"))
    assert main(["filter", "--now", DEMO_NOW_TEXT, "name:ü", *where]) == 0
    assert json.loads(capsys.readouterr().out) == [ENTITIES[2]]


def test_a_text_stdin_without_bytes_is_read_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(ENTITIES, ensure_ascii=False)))
    assert main(["filter", "--now", DEMO_NOW_TEXT, "name:ü"]) == 0
    assert json.loads(capsys.readouterr().out) == [ENTITIES[2]]


def test_matches_are_written_before_the_input_is_read_to_its_end(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = ",".join(json.dumps({"name": f"e{i}", "meta": {"tags": ["x"] if i % 10 == 0 else []}}) for i in range(3000))
    stdin_bytes(monkeypatch, f"[{good}, 42]".encode())
    at = len(f"[{good}, ")
    assert main(["filter", "--format", "jsonl", "tag:x"]) == 1
    out, err = capsys.readouterr()
    # Streamed: the matches of the batches before the bad element are out already.
    assert [json.loads(line)["name"] for line in out.splitlines()] == [f"e{i}" for i in range(0, 2560, 10)]
    assert (
        err
        == f"qfilter: stdin: element 3,001 (at line 1 column {at + 1} (char {at})) is a number, not an entity object\n"
    )


DEEP = 100_000
UNREADABLE: list[tuple[str, bytes, str]] = [
    ("empty", b"", "empty, expected a JSON array of entities"),
    ("blank", b" \n\t ", "empty, expected a JSON array of entities"),
    ("invalid JSON", b'[{"name": x}]', "not valid JSON (Expecting value at line 1 column 11 (char 10))"),
    ("cut short", b'[{"name": "x"', "not valid JSON (Expecting ',' delimiter at line 1 column 14 (char 13))"),
    ("open array", b'[{"name": "x"}', "not valid JSON (the array is not closed: the input ends at line 1 column 15"),
    ("missing comma", b'[{"a": 1} {"b": 2}]', "not valid JSON (Expecting ',' delimiter at line 1 column 11"),
    ("trailing comma", b'[{"a": 1},\n]', "not valid JSON (Expecting value at line 2 column 1 (char 11))"),
    ("extra data", b'[{"a": 1}]\n\n [2]', "not valid JSON (Extra data at line 3 column 2 (char 13))"),
    ("an object", b'{"name": "x"}', "expected a JSON array of entities, got an object"),
    ("a number", b"42", "expected a JSON array of entities, got a number"),
    ("null", b"null", "expected a JSON array of entities, got null"),
    (
        "a string element",
        b'[{"a": 1}, "x"]',
        "element 2 (at line 1 column 12 (char 11)) is a string, not an entity object",
    ),
    ("a null element", b"[null]", "element 1 (at line 1 column 2 (char 1)) is null, not an entity object"),
    ("an array element", b"[" * DEEP + b"]" * DEEP, "element 1 (at line 1 column 2 (char 1)) is an array, not an"),
    ("5,000 digits", b'[{"n": ' + b"7" * 5000 + b"}]", "has an integer of more than 4300 digits"),
    ("deep arrays", b'[{"a": ' + b"[" * DEEP + b"]" * DEEP + b"}]", "nests deeper than Python's recursion limit"),
    ("deep objects", b"[" + b'{"a":' * DEEP + b"1" + b"}" * DEEP + b"]", "nests deeper than Python's recursion"),
    ("latin-1", '[{"name": "Zürich"}]'.encode("latin-1"), "not UTF-8 text (byte 0xfc at offset 12)"),
    ("cut UTF-8", '[{"name": "Zürich"}]'.encode()[:13], "not UTF-8 text (byte 0xc3 at offset 12)"),
    ("byte order mark", b'\xef\xbb\xbf[{"name": "x"}]', "not valid JSON (it starts with a byte order mark)"),
    ("UTF-16", '[{"name": "x"}]'.encode("utf-16"), "not UTF-8 text (byte 0xff at offset 0)"),
]


@pytest.mark.parametrize(("data", "words"), [case[1:] for case in UNREADABLE], ids=[case[0] for case in UNREADABLE])
def test_unreadable_input_exits_1_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data: bytes, words: str
) -> None:
    path = tmp_path / "input.json"
    path.write_bytes(data)
    for form in ("json", "jsonl"):
        assert main(["filter", "--format", form, "--", "-tag:x", str(path)]) == 1
        out, err = capsys.readouterr()
        assert out == ""
        assert err.startswith(f"qfilter: {path}: ") and words in err
        assert err.endswith("\n") and err.count("\n") == 1 and len(err) < 300


@pytest.mark.parametrize(
    "case", ["5,000 digits", "deep arrays", "deep objects", "latin-1", "empty", "an array element"]
)
def test_unreadable_input_through_the_command(tmp_path: Path, case: str) -> None:
    data, words = next((data, words) for name, data, words in UNREADABLE if name == case)
    path = tmp_path / "input.json"
    path.write_bytes(data)
    from_file = subprocess.run(
        [sys.executable, "-m", "qfilter", "filter", "tag:x", str(path)], capture_output=True, text=True, timeout=60
    )
    from_stdin = subprocess.run(
        [sys.executable, "-m", "qfilter", "filter", "tag:x"], input=data, capture_output=True, timeout=60
    )
    assert (from_file.returncode, from_file.stdout) == (1, "")
    assert from_file.stderr.startswith(f"qfilter: {path}: ") and words in from_file.stderr
    assert from_file.stderr.count("\n") == 1
    assert (from_stdin.returncode, from_stdin.stdout) == (1, b"")
    assert from_stdin.stderr.decode().startswith("qfilter: stdin: ") and words in from_stdin.stderr.decode()
    assert b"Traceback" not in from_stdin.stderr


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "items.json"
    path.write_text(json.dumps(ENTITIES * 2000))
    size = path.stat().st_size
    monkeypatch.setattr(jsonstream, "_PROGRESS_EVERY", 0.0)
    assert main(["filter", "--format", "jsonl", "tag:demo", str(path)]) == 0
    assert capsys.readouterr().err == ""  # not a terminal: not a byte
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["filter", "--format", "jsonl", "tag:demo", str(path)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2000
    shown = terminal.getvalue()
    assert f"qfilter: 65.5 kB of {size / 1e6:.1f} MB (" in shown
    assert f"qfilter: {size / 1e6:.1f} MB of {size / 1e6:.1f} MB (100%), " in shown
    assert shown.endswith("\r\x1b[K")  # the line erased at the end


# --- no option value prints a traceback ------------------------------------------------------


def test_a_time_zone_too_long_for_a_file_name_is_an_unknown_zone() -> None:
    result = run("filter", "--tz", "<" + "x" * 5000 + ">", "--demo", "tag:x")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "argument --tz: unknown time zone '<xxx" in result.stderr and len(result.stderr) < 1000


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["filter", "--query-file", "a\x00b", "--demo"], 1, "'a\\x00b': cannot read (embedded null byte)"),
        (["filter", "tag:x", "a\x00b"], 1, "cannot read (embedded null byte)"),
        (["explain", "--query-file", "\x00"], 1, "cannot read"),
        (["sql", "--now", "yesterday", "tag:x"], 2, "qfilter: --now: invalid timestamp 'yesterday'"),
        (["serve", "--port", "65536"], 2, "--port: expected a whole number from 0 to 65535, got '65536'"),
        (["serve", "--port", "-1"], 2, "--port: expected a whole number from 0 to 65535"),
        (["serve", "--workers", "9" * 5000], 2, "--workers: expected a whole number from 1 to 64"),
        (["serve", "--workers", "²"], 2, "--workers: expected a whole number from 1 to 64"),
        (["serve", "--host", "x" * 5000], 2, "--host: cannot listen on 'xxx"),
        (["serve", "--host", "\x00"], 2, "--host: cannot listen on '\\x00'"),
        (["serve", "--load", "\x00"], 1, "cannot read (embedded null byte)"),
        (["serve", "--db", "oracle://scott@127.0.0.1:1/x"], 1, "serve: a module the database needs is missing"),
        (["filter", "--schema", "x" * 5000, "tag:x"], 2, "qfilter: --schema: unknown schema 'xxxx"),
        (["filter", "--schema", "a:b:c", "tag:x"], 2, "--schema: expected MODULE:NAME"),
        (["filter", "--schema-file", "\x00.toml", "tag:x"], 1, "cannot read (embedded null byte)"),
        (["filter", "--schema-file", "schema.yaml", "tag:x"], 2, "expected a .toml or .json file"),
        (["sql", "--mapping", "x" * 5000, "tag:x"], 2, "--mapping: expected MODULE:NAME"),
        (["sql", "--tz", "Mars/Olympus", "tag:x"], 2, "argument --tz: unknown time zone 'Mars/Olympus'"),
        (["completion", "fish"], 2, "argument SHELL: invalid choice: 'fish'"),
        (["nonsense"], 2, "invalid choice: 'nonsense'"),
    ],
)
def test_bad_option_values_are_one_clear_message(
    capsys: pytest.CaptureFixture[str], args: list[str], code: int, words: str
) -> None:
    assert main(args) == code  # returned, never raised: argparse's SystemExit included
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_help_returns_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--help"]) == 0
    assert "0 to 65535" in capsys.readouterr().out


HOSTILE = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        ["", " ", "\x00", "a\x00b", "x" * 5000, "9" * 5000, "<" + "x" * 5000 + ">", "Ünïcode", "\udcff", "\u202e"]
        + ["-1", "0", "1", "65536", "99999999999999999999", "1e3", "²", "٥", "-", "--", "/", ".", "..", "~"]
        + ["UTC", "Europe/Brussels", "Mars/Olympus", "../../etc/passwd", "/etc/passwd", "Etc/GMT+99", "utc"]
        + ["now", "now-P10000Y", "now+P1D", "9999-12-31T23:59:59-05:00", "2020-02-30", "1" * 30, "0001-01-01"]
        + ["@me", "users/ann", "tag:demo", "-tag:x", "created:9999", "meta.k:>10", "name:like(*a*a*b)"]
        + ["localhost", "::1", "0.0.0.0", "256.1.1.1", "sqlite://", "sqlite:///x.db", "sqlite:///:memory:"]
        + ["sqlite:////nonexistent/dir/x.db", "postgresql+psycopg://u@127.0.0.1:1/x?connect_timeout=1"]
        + ["mysql+pymysql://u@127.0.0.1:1/x", "mysql://u@127.0.0.1:1/x", "nope://x", "items.json", "bad.json"]
    ),
)
"""Option values of every kind a user, a script or a fuzzer may pass: huge, empty, NUL, non-ASCII, near-valid."""

FILTER_OPTIONS = ["--schema", "--schema-file", "--query", "--query-file"]
CONTEXT_OPTIONS = ["--now", "--user", "--tz"]
OPTIONS = {
    "explain": FILTER_OPTIONS,
    "filter": [*FILTER_OPTIONS, *CONTEXT_OPTIONS, "--format", "--demo"],
    "sql": [*FILTER_OPTIONS, *CONTEXT_OPTIONS, "--mapping", "--dialect"],
    "serve": ["--db", "--load", "--host", "--port", "--workers"],
    "completion": [],
}
FLAGS = {"--demo"}
# Values each option takes, so that one hostile value meets the others working (and the command gets far).
USABLE = {
    "--schema": ["waylay", "timeplus", "devices_schema:DEVICES", "devices_schema:NOT_A_SCHEMA", "broken_schema:X"],
    "--schema-file": ["devices.toml", "devices.json", "bad.toml", "bad.json", "items.json"],
    "--mapping": ["devices_schema:DEVICES_SQL", "devices_schema:DEVICES"],
    "--dialect": ["sqlite", "postgresql", "mariadb"],
    "--format": ["json", "jsonl", "pretty"],
    "--now": [DEMO_NOW_TEXT, "now-P1D", "2020"],
    "--tz": ["UTC", "Europe/Brussels", "Asia/Kolkata"],
    "--user": ["users/ann"],
    "--query-file": ["query.txt", "-"],
    "--db": ["sqlite:///service.sqlite3", "sqlite://"],
    "--load": ["items.json"],
    "--host": ["127.0.0.1", "localhost"],
    "--port": ["0", "8000"],
    "--workers": ["1", "2"],
    "QUERY": ["tag:demo", "created:9999 -tag:x", "meta.prio:>10", "created_by:@me", 'created:"now P1D/"', "x"],
    "--query": ["tag:demo", "-tag:x", "created_by:@me"],
    "FILE": ["items.json", "-", "bad.json"],
    "SHELL": ["bash", "zsh", "tcsh"],
}
DEVICES_MODULE = """
import sqlalchemy as sa
from qfilter import Field, Kind, Schema
from qfilter.sql import Column, JsonObject, Related

DEVICES = Schema("devices", (
    Field("name", Kind.TEXT, "name"),
    Field("tag", Kind.EXACT, "labels", many=True),
    Field("created", Kind.TIME, "created_at"),
    Field("created_by", Kind.USER, "owner"),
    Field("meta", Kind.META, "meta"),
), default_qualifier="name")
NOT_A_SCHEMA = ["a list"]
_tables = sa.MetaData()
devices = sa.Table("devices", _tables, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True)), sa.Column("owner", sa.Text), sa.Column("meta", sa.JSON))
labels = sa.Table("labels", _tables, sa.Column("device_id", sa.ForeignKey(devices.c.id)), sa.Column("label", sa.Text))
DEVICES_SQL = {"name": Column(devices.c.name), "tag": Related(labels, labels.c.device_id, labels.c.label),
    "created": Column(devices.c.created_at), "created_by": Column(devices.c.owner), "meta": JsonObject(devices.c.meta)}
"""
DEVICES_TOML = """
default_qualifier = "name"
[[fields]]
qualifier = "name"
kind = "text"
[[fields]]
qualifier = "tag"
kind = "exact"
paths = "labels"
many = true
[[fields]]
qualifier = "created"
kind = "time"
paths = ["created_at"]
"""


def value_for(option: str) -> st.SearchStrategy[str]:
    return st.one_of(HOSTILE, st.sampled_from(USABLE[option]))


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    if draw(st.integers(0, 20)) == 0:
        return [draw(st.sampled_from(["--version", "--help", "-h", "--nonsense", "-tag:x"]))]
    command = draw(st.sampled_from(sorted(OPTIONS)))
    args = [command]
    options = draw(st.lists(st.sampled_from(OPTIONS[command]), unique=True, max_size=4)) if OPTIONS[command] else []
    for option in options:
        args += [option] if option in FLAGS else [option, draw(value_for(option))]
    if command == "completion":
        args.append(draw(value_for("SHELL")))
    elif command != "serve" and draw(st.integers(0, 9)) > 0:  # now and then no filter: a usage error
        args.append(draw(value_for("QUERY")))
    if command == "filter" and draw(st.booleans()):
        args.append(draw(value_for("FILE")))
    return args


@settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(command_lines(), st.sampled_from([b"[]", ENTITIES_JSON, b"[{", b"\xff\xfe", b""]))
def test_no_option_value_makes_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], stdin: bytes
) -> None:
    import uvicorn

    monkeypatch.chdir(tmp_path)  # relative paths (a SQLite --db) land here
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # serve's default database
    monkeypatch.setenv("QFILTER_DATABASE_URL", "")  # serve --workers sets it
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)  # everything before listening runs
    (tmp_path / "items.json").write_bytes(ENTITIES_JSON)
    (tmp_path / "query.txt").write_text("tag:demo created:9999\n")
    (tmp_path / "bad.json").write_bytes(b'[{"name": 1e999999999}, ' + b"[" * 100_000)
    (tmp_path / "devices_schema.py").write_text(DEVICES_MODULE)
    (tmp_path / "broken_schema.py").write_text("raise RuntimeError('a module that fails')\n")
    (tmp_path / "devices.toml").write_text(DEVICES_TOML)
    (tmp_path / "devices.json").write_text(json.dumps(tomllib.loads(DEVICES_TOML)))
    (tmp_path / "bad.toml").write_text('[[fields]]\nqualifier = "x"\nkind = "txt"\n')
    monkeypatch.setattr(sys, "path", list(sys.path))  # --schema MODULE:NAME puts the directory first
    monkeypatch.delitem(sys.modules, "devices_schema", raising=False)
    out, err = io.BytesIO(), io.BytesIO()
    # What a real process has: a strict UTF-8 stdout (a pipe), a stderr that escapes what it cannot encode.
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out, encoding="utf-8", errors="strict"))
    monkeypatch.setattr(sys, "stderr", io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace"))
    code = main(args)  # an exception escaping main would be the traceback
    sys.stdout.flush()
    sys.stderr.flush()
    message = err.getvalue().decode("utf-8")
    assert code in (0, 1, 2), code
    assert "Traceback" not in message
    assert (code == 0) or message.strip(), "a failure says why"


# --- the conventions of a command: version, usage errors, exit statuses, completion ------------------


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"qfilter {importlib.metadata.version('qfilter-lang')}\n"


@pytest.mark.parametrize("command", [["explain"], ["filter", "--demo"], ["sql"]])
@pytest.mark.parametrize("term", ["-tag:old", "-name:x", "-created:2020/"])
def test_a_filter_taken_for_an_option_gets_the_hint_that_works(
    capsys: pytest.CaptureFixture[str], command: list[str], term: str
) -> None:
    assert main([*command, term]) == 2
    err = capsys.readouterr().err
    hint = f"qfilter {command[0]} -- {term} (or --query={term})"
    assert hint in err and "Traceback" not in err
    # Both spellings the hint gives work, and mean the same.
    assert main([*command, "--", term]) == 0
    after_dashes = capsys.readouterr().out
    assert main([*command, f"--query={term}"]) == 0
    assert capsys.readouterr().out == after_dashes


def test_a_filter_that_starts_like_help_gets_the_hint(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "-hidden:x"]) == 2  # argparse reads -h with the value 'idden:x'
    assert "qfilter explain -- -hidden:x (or --query=-hidden:x)" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["explain", "--shema", "waylay", "tag:x"], ["explain", "--", "-tag:x", "more"]])
def test_other_usage_errors_get_no_dash_hint(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "usage: qfilter" in err and "goes after '--'" not in err


@pytest.mark.parametrize("command", [["explain"], ["filter", "--demo"], ["sql", "--dialect", "postgresql"]])
def test_a_missing_filter_is_a_usage_error(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    assert main(command) == 2
    err = capsys.readouterr().err
    assert f"usage: qfilter {command[0]}" in err
    assert "error: give a filter: QUERY, --query TEXT or --query-file PATH" in err


def test_a_filter_given_twice_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    query = tmp_path / "query.txt"
    query.write_text("tag:x")
    for args in (
        ["--query", "tag:a", "tag:b"],
        ["--query-file", str(query), "tag:b"],
        ["--query", "a", "--query-file", "-"],
    ):
        assert main(["explain", *args]) == 2
        assert "give the filter once" in capsys.readouterr().err


def test_with_query_the_positional_argument_of_filter_is_its_file(
    capsys: pytest.CaptureFixture[str], items: Path
) -> None:
    assert filtered(capsys, "--query=-tag:old", str(items)) == ["151CF-temperature", "Ünïcode"]


def test_help_lists_the_exit_statuses_the_command_gives(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, items: Path
) -> None:
    assert main(["--help"]) == 0
    listed = dict(re.findall(r"^  (\d)  (\S.*)$", capsys.readouterr().out, re.MULTILINE))
    assert set(listed) == {"0", "1", "2"}
    assert listed["0"] == "success"
    assert listed["1"].startswith("input that cannot be read")
    assert listed["2"].startswith("a usage error: a bad filter")
    # Each status as listed: success, unreadable input, a bad filter, a missing filter, an unknown option.
    assert main(["filter", "tag:x", str(items)]) == 0
    assert main(["filter", "tag:x", str(tmp_path / "missing.json")]) == 1
    assert main(["filter", "tag:", str(items)]) == 2
    assert main(["filter"]) == 2
    assert main(["filter", "--nonsense", "tag:x"]) == 2


def test_a_query_file_that_is_not_utf8_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stdin_bytes(monkeypatch, b"tag:\xff")
    assert main(["sql", "--query-file", "-"]) == 1
    assert capsys.readouterr().err == "qfilter: stdin: not UTF-8 text (byte 0xff at offset 4)\n"
    path = tmp_path / "query.txt"
    path.write_bytes("tag:Zürich".encode("latin-1"))
    assert main(["explain", "--query-file", str(path)]) == 1
    assert capsys.readouterr().err == f"qfilter: {path}: not UTF-8 text (byte 0xfc at offset 5)\n"


def sql_parameters(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert main(["sql", *args]) == 0
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("-- :")]


def test_sql_tz_reads_the_filter_and_now_in_that_zone(capsys: pytest.CaptureFixture[str]) -> None:
    # Waylay's zone is UTC; Tokyo is 9 hours ahead: its midnight is 15:00 the day before in UTC.
    assert sql_parameters(capsys, "--now", "2020-01-02T00:00", "created:2020-01-01/now") == [
        "-- :created_1 = 2020-01-01T00:00:00+00:00",
        "-- :created_2 = 2020-01-02T00:00:00+00:00",
    ]
    assert sql_parameters(capsys, "--tz", "Asia/Tokyo", "--now", "2020-01-02T00:00", "created:2020-01-01/now") == [
        "-- :created_1 = 2019-12-31T15:00:00+00:00",
        "-- :created_2 = 2020-01-01T15:00:00+00:00",
    ]


def test_sql_over_ones_own_mapping(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "devices_schema.py").write_text(DEVICES_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "devices_schema", raising=False)
    own = ["--schema", "devices_schema:DEVICES", "--mapping", "devices_schema:DEVICES_SQL"]
    assert main(["sql", *own, "--dialect", "postgresql", "lamp -tag:old"]) == 0
    out = capsys.readouterr().out
    # The filtered table's key, and the labels subquery correlated with it (not a cross join of its own).
    assert out.startswith("SELECT devices.id \nFROM devices \nWHERE ")
    assert "EXISTS (SELECT * \nFROM labels \nWHERE labels.device_id = devices.id" in out
    assert out.endswith("-- :param_1 = '%lamp%'\n-- :param_2 = 'old'\n")
    for args, words in [
        (["--schema", "devices_schema:DEVICES"], "--mapping: a schema of your own needs its SQL mapping"),
        (["--schema", "devices_schema:DEVICES", "--mapping", "devices_schema:DEVICES"], "not a SQL mapping"),
        (["--mapping", "devices_schema:DEVICES_SQL"], "--mapping: the SQL mapping has no location for 'resource'"),
    ]:
        assert main(["sql", *args, "resource:x"]) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1


def test_completion_scripts_for_each_shell(capsys: pytest.CaptureFixture[str]) -> None:
    for shell, mark in [("bash", "complete -o bashdefault -F _shtab_qfilter qfilter"), ("zsh", "#compdef qfilter")]:
        assert main(["completion", shell]) == 0
        assert mark in capsys.readouterr().out
    assert main(["completion", "tcsh"]) == 0
    assert "complete qfilter" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_commands_options_choices_and_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["completion", "bash"]) == 0
    (tmp_path / "qfilter.bash").write_text(capsys.readouterr().out)
    (tmp_path / "devices.toml").write_text("")

    def completed(*words: str) -> list[str]:
        script = f"source qfilter.bash; COMP_WORDS=(qfilter {shlex.join(words)}); COMP_CWORD={len(words)}; "
        script += '_shtab_qfilter; printf "%s\\n" "${COMPREPLY[@]}"'
        result = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return sorted(filter(None, result.stdout.split("\n")))

    assert completed("ex") == ["explain"]
    assert completed("filter", "--sch") == ["--schema", "--schema-file"]
    assert completed("filter", "--format", "") == ["json", "jsonl", "pretty"]
    assert completed("sql", "--schema-file", "dev") == ["devices.toml"]
    assert completed("completion", "") == ["bash", "tcsh", "zsh"]


def test_completion_without_shtab_names_the_extra(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "shtab", None)  # as if not installed
    assert main(["completion", "bash"]) == 1
    assert capsys.readouterr() == ("", "qfilter: completion needs shtab: pip install 'qfilter-lang[completion]'\n")
