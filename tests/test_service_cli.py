"""``qfilter serve`` as a user runs it: a real process, a real port, real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_support import BACKENDS, private_database, qfilter_serve

import qfilter
from qfilter.service.demo import demo_entities


def _names(base_url: str, q: str) -> list[str]:
    response = httpx.get(f"{base_url}/config/query", params={"q": q, "limit": 100})
    assert response.status_code == 200, response.text
    return [entity["name"] for entity in response.json()["queries"]]


def _in_memory(entities: list[dict[str, Any]], q: str) -> list[str]:
    return sorted(entity["name"] for entity in qfilter.compile_predicate(q, qfilter.WAYLAY).filter(entities))


def test_serve_without_arguments_serves_the_demo_dataset() -> None:
    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory)
        with qfilter_serve([], home) as base_url:
            assert _names(base_url, "tag:demo") == _in_memory(demo_entities(), "tag:demo")
            created = httpx.post(f"{base_url}/config/query", json={"name": "kept"})
            assert created.status_code == 201
        assert (home / "cache" / "qfilter" / "qfilter-demo.sqlite3").is_file()
        # The second start finds its database: the demo set is not loaded again, the new entity is kept.
        with qfilter_serve([], home) as base_url:
            body = httpx.get(f"{base_url}/config/query", params={"limit": 0}).json()
            assert body["total"] == len(demo_entities()) + 1
            assert _names(base_url, "name:kept") == ["kept"]


README_QUERY = "tag:demo -tag:old"  # the README's curl


@pytest.mark.parametrize("backend", BACKENDS)
def test_serve_on_an_empty_database_answers_the_readme_curl_as_memory_does(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """``qfilter serve --db URL`` fills an empty database with the demo set, on every database alike."""
    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory)
        with private_database(backend, request, home) as url:
            with qfilter_serve(["--db", url], home) as base_url:
                assert _names(base_url, README_QUERY) == _in_memory(demo_entities(), README_QUERY)


@pytest.mark.parametrize("backend", BACKENDS)
def test_serve_loads_a_file(backend: str, request: pytest.FixtureRequest) -> None:
    entities = [entity for entity in demo_entities() if "demo" in entity["meta"]["tags"]]
    entities.append({"name": "Ünïcode only here", "meta": {"tags": ["loaded"]}})
    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory)
        path = home / "entities.json"
        path.write_text(json.dumps(entities, ensure_ascii=False), encoding="utf-8")
        with private_database(backend, request, home) as url:
            with qfilter_serve(["--db", url, "--load", str(path)], home) as base_url:
                assert _names(base_url, "") == _in_memory(entities, "")
                assert _names(base_url, "tag:loaded") == ["Ünïcode only here"]
            # Loading again replaces the entities of the same names instead of failing.
            with qfilter_serve(["--db", url, "--load", str(path)], home) as base_url:
                assert len(_names(base_url, "")) == len(entities)


def test_serve_reports_a_file_it_cannot_load() -> None:
    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory)
        bad = home / "bad.json"
        bad.write_text('{"name": "not an array"}', encoding="utf-8")
        db = f"sqlite:///{home / 'x.sqlite3'}"
        for path, message in [(home / "missing.json", "cannot"), (bad, "JSON array")]:
            result = subprocess.run(
                [sys.executable, "-m", "qfilter", "serve", "--db", db, "--load", str(path), "--port", "1"],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 1
            assert message in result.stderr


def test_serve_counts_as_told_and_refuses_a_bad_count_or_key() -> None:
    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory)
        db = ["--db", f"sqlite:///{home / 'counted.sqlite3'}"]
        with qfilter_serve([*db, "--count", "capped:5"], home) as base_url:
            body = httpx.get(f"{base_url}/config/query", params={"limit": 2}).json()
            assert body["total_at_least"] == 6 and "total" not in body and "cursor=" in body["_links"]["next"]["href"]
        with qfilter_serve([*db, "--count", "none"], home) as base_url:
            body = httpx.get(f"{base_url}/config/query", params={"limit": 2}).json()
            assert "total" not in body and "total_at_least" not in body
        serve = [sys.executable, "-m", "qfilter", "serve", *db, "--port", "1"]
        bad = subprocess.run([*serve, "--count", "capped:0"], capture_output=True, text=True, timeout=120)
        assert bad.returncode == 2 and "--count" in bad.stderr and "capped:N" in bad.stderr
        short = subprocess.run(
            serve, capture_output=True, text=True, timeout=120, env={**os.environ, "QFILTER_CURSOR_KEY": "short"}
        )
        assert short.returncode == 1 and "QFILTER_CURSOR_KEY" in short.stderr and "Traceback" not in short.stderr
