"""One's own schema on the command line: ``--schema MODULE:NAME`` and ``--schema-file`` (TOML or JSON)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from datetime import UTC
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import examples

from qfilter import Field, Kind, Schema, compile_predicate
from qfilter.cli import main
from qfilter.cli.schemas import read_schema_file

DEVICES = Schema(
    "devices",
    (
        Field("name", Kind.TEXT, "name"),
        Field("label", Kind.EXACT, "labels", many=True),
        Field("owner", Kind.USER, ("owner.id", "owner"), label="owner"),
        Field("created", Kind.TIME, "created_at", label="creation time"),
        Field("meta", Kind.META, "meta", label="metadata"),
        Field("watts", Kind.NUMBER, "power.watts"),
        Field("online", Kind.BOOLEAN, "online"),
    ),
    default_qualifier="name",
    timezone=ZoneInfo("Europe/Brussels"),
    id_path="serial",
    sortable=("name", "created"),
)
DEVICES_TOML = """\
# The devices of docs/cli.md
name = "devices"
default_qualifier = "name"
timezone = "Europe/Brussels"
id_path = "serial"
sortable = ["name", "created"]

[[fields]]
qualifier = "name"
kind = "text"

[[fields]]
qualifier = "label"
kind = "exact"
paths = "labels"
many = true

[[fields]]
qualifier = "owner"
kind = "user"
paths = ["owner.id", "owner"]
label = "owner"

[[fields]]
qualifier = "created"
kind = "time"
paths = "created_at"
label = "creation time"

[[fields]]
qualifier = "meta"
kind = "meta"
label = "metadata"

[[fields]]
qualifier = "watts"
kind = "number"
paths = "power.watts"

[[fields]]
qualifier = "online"
kind = "boolean"
"""
ENTITIES: list[dict[str, Any]] = [
    {"serial": "a1", "name": "Desk lamp", "labels": ["office"], "owner": {"id": "ann"}, "power": {"watts": 40}},
    {"serial": "b2", "name": "Heater", "labels": ["office", "winter"], "owner": "bob", "online": True},
    {"serial": "c3", "name": "Lamp post", "created_at": "2020-06-01T12:00:00", "meta": {"floor": 2}},
]
QUERIES = [
    "lamp",
    "label:office -label:winter",
    "owner:@me",
    "created:2020-06-01T12:00/",
    "meta.floor:2",
    "online:true",
]
QUERIES += ["watts:>=40", "(lamp OR heater) NOT label:winter"]
MODULE = """\
from zoneinfo import ZoneInfo

from qfilter import Field, Kind, Schema

DEVICES = Schema(
    "devices",
    (
        Field("name", Kind.TEXT, "name"),
        Field("label", Kind.EXACT, "labels", many=True),
        Field("owner", Kind.USER, ("owner.id", "owner"), label="owner"),
        Field("created", Kind.TIME, "created_at", label="creation time"),
        Field("meta", Kind.META, "meta", label="metadata"),
        Field("watts", Kind.NUMBER, "power.watts"),
        Field("online", Kind.BOOLEAN, "online"),
    ),
    default_qualifier="name",
    timezone=ZoneInfo("Europe/Brussels"),
    id_path="serial",
    sortable=("name", "created"),
)


class Holder:
    devices = DEVICES


NOT_A_SCHEMA = 42
"""


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a package of one's own (mypkg.schemas), the TOML file and entities."""
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "schemas.py").write_text(MODULE)
    (tmp_path / "mypkg" / "broken.py").write_text("1 / 0\n")
    (tmp_path / "devices.toml").write_text(DEVICES_TOML)
    (tmp_path / "devices.json").write_text(json.dumps(ENTITIES))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in ("mypkg", "mypkg.schemas", "mypkg.broken"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return tmp_path


def names(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert main(["filter", "--user", "ann", *args, "devices.json"]) == 0, capsys.readouterr().err
    return [entity["name"] for entity in json.loads(capsys.readouterr().out)]


def test_the_toml_file_makes_the_schema_python_makes(place: Path) -> None:
    assert read_schema_file("devices.toml") == DEVICES
    json_file = place / "schema.json"
    json_file.write_text(json.dumps(tomllib.loads(DEVICES_TOML)))
    assert read_schema_file(str(json_file)) == DEVICES


@pytest.mark.parametrize("query", QUERIES)
def test_filter_with_a_module_schema_and_a_schema_file_as_memory(
    capsys: pytest.CaptureFixture[str], place: Path, query: str
) -> None:
    expected = [e["name"] for e in compile_predicate(query, DEVICES, user="ann").filter(ENTITIES)]
    assert expected, "each query selects some entity, so that the comparison can fail"
    assert names(capsys, "--schema", "mypkg.schemas:DEVICES", "--", query) == expected
    assert names(capsys, "--schema", "mypkg.schemas:Holder.devices", "--", query) == expected
    assert names(capsys, "--schema-file", "devices.toml", "--", query) == expected


def test_the_installed_command_finds_the_module_in_the_current_directory(place: Path) -> None:
    # A console script's sys.path starts at its own bin directory, not here: the command adds this one.
    command = Path(sys.executable).parent / "qfilter"
    result = subprocess.run(
        [str(command), "explain", "--schema", "mypkg.schemas:DEVICES", "lamp watts:>=40"],
        cwd=place,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "canonical: name:lamp watts:>=40" in result.stdout


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("mypkg.nowhere:DEVICES", "--schema: no module named 'mypkg.nowhere' (looked in the current directory too)"),
        ("mypkg.schemas:MISSING", "--schema: 'mypkg.schemas:MISSING': mypkg.schemas has no 'MISSING'"),
        ("mypkg.schemas:NOT_A_SCHEMA", "--schema: 'mypkg.schemas:NOT_A_SCHEMA' is an int, not a qfilter Schema"),
        ("mypkg.broken:X", "--schema: importing mypkg.broken failed: ZeroDivisionError: division by zero"),
        ("mypkg.schemas:", "--schema: expected MODULE:NAME (e.g. mypkg.schemas:DEVICES), got 'mypkg.schemas:'"),
        ("my pkg:X", "--schema: expected MODULE:NAME (e.g. mypkg.schemas:DEVICES), got 'my pkg:X'"),
        ("devices", "--schema: unknown schema 'devices'; a preset (timeplus, waylay) or MODULE:NAME"),
    ],
)
def test_a_module_path_that_names_no_schema_is_one_line(
    capsys: pytest.CaptureFixture[str], place: Path, value: str, words: str
) -> None:
    assert main(["explain", "--schema", value, "lamp"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"qfilter: {words}\n"


def test_schema_and_schema_file_exclude_each_other(capsys: pytest.CaptureFixture[str], place: Path) -> None:
    assert main(["explain", "--schema", "waylay", "--schema-file", "devices.toml", "lamp"]) == 2
    assert "argument --schema-file: not allowed with argument --schema" in capsys.readouterr().err


def toml_with(old: str, new: str) -> str:
    assert old in DEVICES_TOML
    return DEVICES_TOML.replace(old, new, 1)


BAD_FILES = [
    ("unknown top key", toml_with("id_path", "id_paht"), "line 5: unknown key 'id_paht'; the keys are name, "),
    ("unknown field key", toml_with('paths = "labels"', 'path = "labels"'), "line 15: fields[2]: unknown key 'path'"),
    ("kind", toml_with('kind = "user"', 'kind = "usr"'), "line 20: fields[3] (owner): kind: expected one of text, "),
    ("no kind", toml_with('kind = "user"\n', ""), "line 18: fields[3] (owner): kind: expected one of text,"),
    ("qualifier", toml_with('qualifier = "watts"', 'qualifier = "2watts"'), "line 36: fields[6]: qualifier: expected"),
    ("no qualifier", toml_with('qualifier = "watts"\n', ""), "line 35: fields[6]: qualifier: expected a name of"),
    ("twice", toml_with('qualifier = "watts"', 'qualifier = "name"'), "line 36: fields[6]: qualifier 'name' is"),
    ("default", toml_with('default_qualifier = "name"', 'default_qualifier = "nmae"'), "line 3: default_qualifier: "),
    ("sortable", toml_with('["name", "created"]', '["name", "size"]'), "line 6: sortable: 'size' is not one of the"),
    ("zone", toml_with("Europe/Brussels", "Mars/Olympus"), "line 4: timezone: unknown time zone 'Mars/Olympus'"),
    ("no paths", toml_with('paths = "power.watts"', "paths = []"), "line 38: fields[6] (watts): paths: expected a"),
    ("many", toml_with("many = true", 'many = "yes"'), "line 16: fields[2] (label): many: expected true or false"),
    ("label", toml_with('label = "owner"', "label = 3"), "line 22: fields[3] (owner): label: expected a text, got"),
    ("no fields", DEVICES_TOML.split("[[fields]]")[0], "fields: expected a non-empty list of fields ([[fields]] in"),
    ("syntax", toml_with("many = true", "many = tru"), "not valid TOML (Invalid value (at line 16, column 8))"),
    ("inline fields", 'fields = [{qualifier = "x", kind = "txt"}]', "fields[1] (x): kind: expected one of"),
]


@pytest.mark.parametrize(("text", "words"), [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES])
def test_a_bad_schema_file_names_its_line_and_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, words: str
) -> None:
    path = tmp_path / "devices.toml"
    path.write_text(text)
    assert main(["explain", "--schema-file", str(path), "lamp"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"qfilter: --schema-file: {path}: ") and words in err, err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b'{"fields": [}', "not valid JSON (Expecting value at line 1 column 13)"),
        (b'{\n  "fields": [\n    {"qualifier": "x", "kind": "txt"}\n  ]\n}', "fields[1] (x): kind: expected one of"),
        (b"[]", "expected a table of name, default_qualifier, timezone, id_path, sortable, fields, got a list"),
        (b'{"fields": [{"qualifier": "x", "kind": "text"}], "sortable": "x"}', "sortable: expected a list of"),
        (b'{"fields": [{"qualifier": "x", "kind": "text"}], "name": ""}', "name: expected a non-empty text"),
        (b'{"fields": ["x"]}', "fields[1]: expected a table of qualifier, kind, paths, label, many, got a text"),
        ('{"fields": [], "name": "Zürich"}'.encode("latin-1"), "not UTF-8 text (byte 0xfc at offset 25)"),
        (b'{"fields": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "not valid JSON (RecursionError"),
    ],
)
def test_a_bad_json_schema_file_names_its_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data: bytes, words: str
) -> None:
    path = tmp_path / "devices.json"
    path.write_bytes(data)
    code = main(["explain", "--schema-file", str(path), "x"])
    err = capsys.readouterr().err
    assert code == (1 if "UTF-8" in words else 2)
    assert err.startswith("qfilter: ") and words in err and err.count("\n") == 1, err


def test_a_schema_file_that_cannot_be_read_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["explain", "--schema-file", str(tmp_path / "missing.toml"), "x"]) == 1
    assert "missing.toml: cannot read (No such file or directory)" in capsys.readouterr().err


# --- any schema Python can build, written as a JSON file, reads back the same -------------------------

qualifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
paths = st.from_regex(r"[a-z_]{1,6}(\.[a-z_]{1,6}){0,2}", fullmatch=True)


@st.composite
def schemas(draw: st.DrawFn) -> Schema:
    names = draw(st.lists(qualifiers, min_size=1, max_size=6, unique=True))
    fields = tuple(
        Field(
            name,
            draw(st.sampled_from(list(Kind))),
            tuple(draw(st.lists(paths, min_size=1, max_size=3))),
            label=draw(st.text(max_size=10)),
            many=draw(st.booleans()),
        )
        for name in names
    )
    return Schema(
        draw(st.text(min_size=1, max_size=10)),
        fields,
        default_qualifier=draw(st.none() | st.sampled_from(names)),
        timezone=draw(st.sampled_from([UTC, ZoneInfo("Asia/Kolkata"), ZoneInfo("America/St_Johns")])),
        id_path=draw(paths),
        sortable=draw(st.none() | st.lists(st.sampled_from(names), unique=True).map(tuple)),
    )


def as_data(schema: Schema) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": schema.name,
        "id_path": schema.id_path,
        "fields": [
            {"qualifier": f.qualifier, "kind": f.kind.value, "paths": list(f.paths), "label": f.label, "many": f.many}
            for f in schema.fields
        ],
    }
    if schema.timezone is not UTC:
        data["timezone"] = str(schema.timezone)
    if schema.default_qualifier is not None:
        data["default_qualifier"] = schema.default_qualifier
    if schema.sortable is not None:
        data["sortable"] = list(schema.sortable)
    return data


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schemas())
def test_any_schema_written_as_a_file_reads_back_the_same(tmp_path: Path, schema: Schema) -> None:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(as_data(schema)))
    assert read_schema_file(str(path)) == schema


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.sampled_from(["text", "x", "name", "UTC"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["qualifier", "kind", "paths", "label", "many", "fields", "x"]), children)
    ),
    max_leaves=12,
)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    schemas().map(as_data),
    st.sampled_from(["name", "fields", "timezone", "sortable", "default_qualifier"]),
    JSON_VALUES,
)
def test_any_wrong_value_in_a_schema_file_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data: dict[str, Any], key: str, value: Any
) -> None:
    data[key] = value
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(data))
    code = main(["explain", "--schema-file", str(path), ""])  # the empty filter: any schema takes it
    out, err = capsys.readouterr()
    assert code in (0, 2), err
    assert code == 0 or (err.startswith(f"qfilter: --schema-file: {path}: ") and err.count("\n") == 1), err
    assert "Traceback" not in err
