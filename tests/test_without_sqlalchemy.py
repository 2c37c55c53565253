"""``pip install qfilter-lang`` without SQLAlchemy: the in-memory API, the command and a memory-only FastAPI app work.

A fresh virtualenv gets the checkout and, beside it, only FastAPI, httpx and
Hypothesis from the package index: no SQLAlchemy (checked with ``pip list``).
Everything runs in that venv's own Python, from a directory outside the
checkout, so nothing of this environment (which has every extra) is seen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "qfilter" / "service" / "data" / "demo_queries.json"


@dataclass(frozen=True)
class Venv:
    """A virtualenv with qfilter and no SQLAlchemy, and a working directory outside the checkout."""

    bin: Path
    cwd: Path

    def run(self, program: str, *arguments: str) -> subprocess.CompletedProcess[str]:
        """Run one of the venv's programs (``python``, ``qfilter``, ``pip``) with PATH and PYTHONPATH of its own."""
        env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        return subprocess.run(
            [str(self.bin / program), *arguments], cwd=self.cwd, env=env, capture_output=True, text=True, timeout=120
        )

    def python(self, program: str) -> Any:
        """Run ``program`` in the venv's Python; it prints one JSON value, returned decoded."""
        result = self.run("python", "-c", program)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    home = tmp_path_factory.mktemp("without-sqlalchemy")
    subprocess.run([sys.executable, "-m", "venv", str(home / "venv")], check=True, timeout=120)
    made = Venv(home / "venv" / "bin", home / "elsewhere")
    made.cwd.mkdir()
    installed = made.run(
        "python",
        *("-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
        *(str(ROOT), "fastapi", "httpx", "hypothesis"),
    )
    assert installed.returncode == 0, installed.stderr
    return made


def test_the_venv_has_no_sqlalchemy(venv: Venv) -> None:
    listed = venv.run("python", "-m", "pip", "list", "--format=json", "--disable-pip-version-check")
    names = {package["name"].lower() for package in json.loads(listed.stdout)}
    assert {"qfilter-lang", "fastapi", "httpx", "hypothesis"} <= names
    assert "sqlalchemy" not in names
    assert venv.python("import importlib.util, json; print(json.dumps(importlib.util.find_spec('sqlalchemy')))") is None


def test_the_in_memory_api_filters_and_the_strategies_draw(venv: Venv) -> None:
    program = """
import json, sys
from datetime import datetime, timezone
from hypothesis import HealthCheck, given, settings
import qfilter
from qfilter.integrations import listing
from qfilter.integrations.strategies import filter_texts

entities = [
    {"name": "151CF-temperature", "meta": {"tags": ["demo"]}, "attrs": {"created_by": "users/ann"}},
    {"name": "old query", "meta": {"tags": ["demo", "old"]}, "attrs": {"created_by": "users/ann"}},
    {"name": "bob's", "meta": {"tags": ["demo"]}, "attrs": {"created_by": "users/bob"}},
]
now = datetime(2020, 1, 1, tzinfo=timezone.utc)
predicate = qfilter.compile_predicate("tag:demo -tag:old created_by:@me", qfilter.WAYLAY, user="users/ann", now=now)
kept = [entity["name"] for entity in predicate.filter(entities)]
try:
    qfilter.parse('tag:"unclosed')
    error = None
except qfilter.FilterError as problem:
    error = problem.render().splitlines()[0]
params = listing.read_params(q="tag:demo", limit="1", offset="1", schema=qfilter.WAYLAY, now=now)
body = listing.page_body(["x"], total=3, params=params, base_url="http://localhost/q")
drawn = []

# As tests/conftest.py's profiles: the first draw builds the grammar, which is slow on a loaded machine.
@settings(max_examples=25, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(filter_texts(qfilter.WAYLAY))
def compiles(text):
    qfilter.compile_predicate(text, qfilter.WAYLAY, user="users/ann", now=now)(entities[0])
    drawn.append(text)

compiles()
print(json.dumps({"kept": kept, "error": error, "body": [body["count"], body["offset"], body["total"]],
                  "drawn": len(drawn), "sqlalchemy": "sqlalchemy" in sys.modules}))
"""
    answer = venv.python(program)
    assert answer["kept"] == ["151CF-temperature"]
    assert answer["error"].startswith("syntax error: unterminated quote at position 4")
    assert answer["body"] == [1, 1, 3]
    assert answer["drawn"] >= 25
    assert answer["sqlalchemy"] is False


def test_the_command_explains_and_filters_the_demo_data(venv: Venv) -> None:
    explained = venv.run("qfilter", "explain", "tag:demo -tag:old")
    assert explained.returncode == 0, explained.stderr
    assert "tag:demo -tag:old" in explained.stdout and "meaning:" in explained.stdout
    filtered = venv.run("qfilter", "filter", "--demo", "tag:demo -tag:old")
    assert filtered.returncode == 0, filtered.stderr
    demo = json.loads(DEMO.read_text(encoding="utf-8"))
    expected = [e["name"] for e in demo if "demo" in e["meta"].get("tags", []) and "old" not in e["meta"]["tags"]]
    assert expected  # the demo data has such entities, or this would prove little
    assert [entity["name"] for entity in json.loads(filtered.stdout)] == expected


@pytest.mark.parametrize(
    ("command", "extra"),
    [(["sql", "tag:demo"], "sql"), (["serve", "--port", "0"], "server")],
)
def test_sql_and_serve_name_the_extra_to_install(venv: Venv, command: list[str], extra: str) -> None:
    result = venv.run("qfilter", *command)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert f"pip install 'qfilter-lang[{extra}]'" in line, line


def test_importing_qfilter_sql_says_which_extra_to_install(venv: Venv) -> None:
    program = """
import json
try:
    import qfilter.sql
except ModuleNotFoundError as error:
    print(json.dumps([error.name, str(error)]))
"""
    name, message = venv.python(program)
    assert name == "sqlalchemy"
    assert "pip install 'qfilter-lang[sql]'" in message


def test_a_memory_only_fastapi_app_lists_filters_sorts_and_pages(venv: Venv) -> None:
    """The route is a SQL app's (tests/test_sorting.py) with the memory compiler: where, order_by, a page, a seek."""
    program = """
import json, sys
from typing import Annotated, Any
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from qfilter import Field, Kind, Schema
from qfilter.core.backend import Position
from qfilter.integrations.fastapi import QFilter, RequestListing, install_error_handlers
from qfilter.memory import EntityOrder, MemoryCompiler, Predicate, position_of

DEVICES = Schema(
    "devices",
    (Field("name", Kind.TEXT, "name"), Field("tag", Kind.EXACT, "tags"), Field("ports", Kind.NUMBER, "ports")),
    default_qualifier="name",
)
ROWS = [
    {"id": "d1", "name": "Boiler", "tags": ["lab"], "ports": 4},
    {"id": "d2", "name": "Fridge", "tags": ["kitchen"], "ports": 1},
    {"id": "d3", "name": "Old boiler", "tags": ["lab", "old"]},
    {"id": "d4", "name": "Lab switch", "tags": ["lab"], "ports": 24},
]
app = FastAPI()
install_error_handlers(app)
devices = QFilter(DEVICES, compiler=MemoryCompiler(DEVICES))  # what a SQL app gives as SqlCompiler(...)
Listing = RequestListing[Predicate, EntityOrder]

@app.get("/devices")
def list_devices(listing: Annotated[Listing, Depends(devices.listing)], after: str | None = None) -> dict[str, Any]:
    matches = listing.where.filter(ROWS)  # select ... where(listing.where)
    ordered = listing.order_by(default="name")(matches)  # ... order_by(*listing.order_by(default="name"))
    if after is not None:  # a keyset page: ... where(listing.after(position)), no offset
        last = next(row for row in ROWS if row["id"] == after)
        keys = listing.params.keys("name")
        ordered = listing.after(position_of(last, keys, DEVICES), default="name").filter(ordered)
    page = listing.window(ordered)  # ... offset(listing.offset).limit(listing.limit)
    return listing.page([row["id"] for row in page], total=len(matches), items_key="devices")

def ask(**params):
    response = client.get("/devices", params=params)
    body = response.json()
    return [response.status_code, body.get("devices"), body.get("total"), body.get("message")]

with TestClient(app) as client:
    answers = {
        "all": ask(),
        "lab, most ports first": ask(q="tag:lab", sort="-ports", limit=2),
        "lab, second page": ask(q="tag:lab", sort="-ports", limit=2, offset=2),
        "lab, after d1": ask(q="tag:lab", sort="-ports", limit=2, after="d1"),
        "boiler": ask(q="boiler -tag:old"),
        "bad filter": ask(q='tag:"x'),
        "bad sort": ask(sort="tag,nope"),
        "openapi": client.get("/openapi.json").status_code,
    }
answers["where"] = type(devices.compiler).__name__
answers["sqlalchemy"] = "sqlalchemy" in sys.modules
print(json.dumps(answers))
"""
    answers = venv.python(program)
    assert answers["all"] == [200, ["d1", "d2", "d4", "d3"], 4, None]  # by name: Boiler, Fridge, Lab switch, Old
    # Missing values last in both directions: d3 has no ports.
    assert answers["lab, most ports first"] == [200, ["d4", "d1"], 3, None]
    assert answers["lab, second page"] == [200, ["d3"], 3, None]
    assert answers["lab, after d1"] == [200, ["d3"], 3, None]  # the seek gives the offset's page
    assert answers["boiler"] == [200, ["d1"], 1, None]
    status, devices, _, message = answers["bad filter"]
    assert status == 400 and devices is None and "unterminated quote" in message
    assert answers["bad sort"][0] == 400
    assert answers["openapi"] == 200
    assert answers["where"] == "MemoryCompiler"
    assert answers["sqlalchemy"] is False
