"""The public API: what each public module exports exists, is documented and fully typed.

``__all__`` is the contract of a module; these tests keep every name in it
importable, with a docstring, and with annotations on every parameter and
return, so that ``py.typed`` is honest.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from typing import Any

import pytest

import qfilter

PUBLIC_MODULES = [
    "qfilter",
    "qfilter.core.ast",
    "qfilter.core.backend",
    "qfilter.core.optimise",
    "qfilter.core.errors",
    "qfilter.core.parser",
    "qfilter.core.plan",
    "qfilter.core.schema",
    "qfilter.core.times",
    "qfilter.core.values",
    "qfilter.core.explain",
    "qfilter.memory",
    "qfilter.sql",
    "qfilter.integrations.listing",
    "qfilter.integrations.fastapi",
    "qfilter.integrations.fastapi_errors",
    "qfilter.integrations.openapi_text",
    "qfilter.integrations.strategies",
]


def exported(module_name: str) -> list[tuple[str, Any]]:
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    assert names is not None, f"{module_name} has no __all__"
    return [(name, getattr(module, name)) for name in names]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_exported_name_exists_once(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert len(names) == len(set(names)), f"{module_name}.__all__ repeats a name"
    missing = [name for name in names if not hasattr(module, name)]
    assert missing == [], f"{module_name}.__all__ names what it does not define: {missing}"
    assert [name for name in names if name.startswith("_")] == []


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_functions_and_classes_are_documented_and_typed(module_name: str) -> None:
    problems = []
    for name, value in exported(module_name):
        if not (inspect.isfunction(value) or inspect.isclass(value)):
            continue
        if not inspect.getdoc(value):
            problems.append(f"{name}: no docstring")
        if inspect.isfunction(value):
            signature = inspect.signature(value)
            untyped = [p.name for p in signature.parameters.values() if p.annotation is inspect.Parameter.empty]
            if untyped or signature.return_annotation is inspect.Signature.empty:
                problems.append(f"{name}: parameters {untyped} or its return lack annotations")
    assert problems == [], f"{module_name}: " + "; ".join(problems)


def test_the_package_facade_covers_the_pipeline() -> None:
    """``import qfilter`` gives text to AST (parse), AST to Plan (bind), Plan to a predicate, and the errors."""
    parsed = qfilter.parse("tag:a")
    plan = qfilter.bind(parsed, qfilter.WAYLAY)
    predicate = qfilter.compile_predicate(plan, qfilter.WAYLAY)
    assert predicate({"meta": {"tags": ["a"]}}) and not predicate({"meta": {"tags": ["b"]}})
    assert issubclass(qfilter.FilterSyntaxError, qfilter.FilterError)
    assert qfilter.__version__ == importlib.metadata.version("qfilter-lang")


def test_a_field_pickled_in_another_process_keys_the_same_dictionaries() -> None:
    # A field's hash is computed once; string hashes differ between processes, so unpickling
    # must compute it again rather than restore the other process's.
    import os
    import pickle
    import subprocess
    import sys

    program = "import pickle, sys, qfilter; sys.stdout.buffer.write(pickle.dumps(qfilter.WAYLAY.fields))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    dumped = subprocess.run([sys.executable, "-c", program], capture_output=True, check=True, env=env).stdout
    fields = pickle.loads(dumped)
    import qfilter

    by_field = {field: field.qualifier for field in qfilter.WAYLAY.fields}
    assert [by_field[field] for field in fields] == [field.qualifier for field in qfilter.WAYLAY.fields]


def test_a_plan_is_enough_where_a_plan_and_its_schema_were_asked_for() -> None:
    """``compile_predicate(plan)`` and ``compile_clause(plan, mapping)``; the forms with the schema keep working."""
    import sqlalchemy as sa

    from qfilter.sql import Column, compile_clause

    table = sa.Table("t", sa.MetaData(), sa.Column("name", sa.String))
    mapping = {"name": Column(table.c.name)}
    schema = qfilter.Schema("s", (qfilter.Field("name", qfilter.Kind.TEXT, "name"),))
    plan = qfilter.bind(qfilter.parse("name:a -name:b"), schema)
    entities = [{"name": "xa"}, {"name": "ab"}, {}]
    assert qfilter.compile_predicate(plan).filter(entities) == qfilter.compile_predicate(plan, schema).filter(entities)
    assert qfilter.compile_predicate(plan).filter(entities) == [{"name": "xa"}]
    dialect = sa.create_engine("sqlite://").dialect
    assert str(compile_clause(plan, mapping).compile(dialect=dialect)) == str(
        compile_clause("name:a -name:b", schema, mapping).compile(dialect=dialect)
    )
    with pytest.raises(TypeError, match="bound Plan"):
        compile_clause("name:a", mapping)  # type: ignore[call-overload]  # text needs its schema
    with pytest.raises(TypeError, match="needs the schema"):
        qfilter.compile_predicate("name:a")  # type: ignore[call-overload]
