"""The qfilter command: explain, filter, exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from qfilter.cli import main
from qfilter.service.demo import demo_entities

NOW = "2020-09-01T12:00:00Z"
ENTITIES: list[dict[str, Any]] = [
    {
        "name": "151CF-temperature",
        "meta": {"tags": ["demo", "label1"], "resource": "151CF"},
        "attrs": {"created": "2019-10-16T13:51:22+00:00", "created_by": "users/ann"},
    },
    {"name": "old one", "meta": {"tags": ["old", "label2"]}, "attrs": {"created": "2020-08-30T00:00:00Z"}},
    {"name": "Ünïcode", "meta": {}, "attrs": {"created_by": "users/bob"}},
]


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
    assert main(["filter", "--now", NOW, *args]) == 0
    return [e["name"] for e in json.loads(capsys.readouterr().out)]


def test_filter_file_in_input_order(capsys: pytest.CaptureFixture[str], items: Path) -> None:
    assert filtered(capsys, "tag:label1 tag:label2", str(items)) == ["151CF-temperature", "old one"]
    assert filtered(capsys, "created:now-P1W/", str(items)) == ["old one"]
    assert filtered(capsys, "--user", "users/bob", "created_by:@me", str(items)) == ["Ünïcode"]
    assert filtered(capsys, "name:ü", str(items)) == ["Ünïcode"]


def test_exclusion_after_double_dash_and_stdin(items: Path) -> None:
    result = run("filter", "--now", NOW, "--", "-tag:old", str(items))
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
