"""qfilter: the Waylay-style ``q`` search filter language for Python.

Parse a filter, bind it to a schema, and run it in memory or in SQL::

    import qfilter

    f = qfilter.parse("tag:demo -tag:old created:now-P1W/")
    matches = qfilter.compile_predicate(f, qfilter.WAYLAY).filter(entities)

The pipeline is one module per stage: :mod:`qfilter.core.parser` (text to
:mod:`qfilter.core.ast`), :mod:`qfilter.core.plan` (schema, users and
:mod:`qfilter.core.times`), then the compilers :mod:`qfilter.memory` and
:mod:`qfilter.sql`.
"""

from qfilter.core.ast import Filter, Function, Matcher, Term, Value
from qfilter.core.errors import (
    CurrentUserError,
    FilterError,
    FilterLimitError,
    FilterSyntaxError,
    MatcherError,
    TimeExpressionError,
    UnknownFunctionError,
    UnknownQualifierError,
)
from qfilter.core.functions import Argument, FunctionMatcher
from qfilter.core.parser import DEFAULT_LIMITS, Limits, parse
from qfilter.core.plan import Context, Plan, bind
from qfilter.core.schema import PRESETS, TIMEPLUS, WAYLAY, Field, Kind, Schema, get_schema
from qfilter.memory import Predicate, compile_predicate

__all__ = [
    "parse",
    "bind",
    "compile_predicate",
    "Filter",
    "Term",
    "Value",
    "Function",
    "Matcher",
    "Limits",
    "DEFAULT_LIMITS",
    "Schema",
    "Field",
    "Kind",
    "WAYLAY",
    "TIMEPLUS",
    "PRESETS",
    "get_schema",
    "FunctionMatcher",
    "Argument",
    "Context",
    "Plan",
    "Predicate",
    "FilterError",
    "FilterSyntaxError",
    "FilterLimitError",
    "UnknownQualifierError",
    "MatcherError",
    "UnknownFunctionError",
    "TimeExpressionError",
    "CurrentUserError",
]

__version__ = "0.1.0"
