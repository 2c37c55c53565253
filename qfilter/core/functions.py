"""Function matchers (spec section 9): the built-in ones and an application's own, declared one way.

A function is a :class:`FunctionMatcher`: its name, the kinds of field that
take it, how each of its arguments reads (:class:`Argument`), its meaning
(in memory, in SQL, in Django), its words for ``explain`` and how the
Hypothesis strategies generate it. Every part that deals with functions (the
parser's checks and errors, the binder, ``explain``, the strategies, the
OpenAPI description) reads the declarations, so a function is declared once.

The built-ins (:data:`BUILTINS`) bind to conditions of their own
(:class:`~qfilter.core.ir.Equals`, :class:`~qfilter.core.ir.Like`, ...),
which each backend writes by hand. An application's function binds to a
:class:`~qfilter.core.ir.Call`, which each backend evaluates through the
declaration; a schema takes it with ``Schema(..., functions=[...])``::

    STARTS_WITH = FunctionMatcher(
        "startsWith",
        kinds={Kind.TEXT, Kind.EXACT},
        arguments=(Argument.TEXT,),
        memory=lambda value, prefix: value.lower().startswith(prefix.lower()),
        words="starting with {0}, ignoring case",
    )
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .ast import Function, Matcher, Value
from .errors import MatcherError, UnknownFunctionError
from .ir import AllOf, AnyOf, Contains, Like, Not, ValuePredicate
from .kinds import COMPARISON_WORDS, KINDS, Kind

if TYPE_CHECKING:
    from .binder import Binding

__all__ = [
    "Argument",
    "FunctionMatcher",
    "FunctionTable",
    "BUILTINS",
    "BUILTIN_FUNCTIONS",
    "FunctionSpec",
    "FUNCTIONS",
    "FUNCTION_NAMES",
    "lookup",
    "closest",
]

_NAME = re.compile(r"[A-Za-z]+")


class Argument(enum.Enum):
    """How one argument of a function reads; what its declaration's ``memory``, ``sql`` and ``check`` receive."""

    VALUE = "value"
    """A value as the field's plain matcher reads one: a number (NUMBER), ``true``/``false`` (BOOLEAN),
    a user id or ``@me`` (USER), an instant (TIME), else a text (of an enum field, one of its values)."""
    TEXT = "text"
    """Any text (a ``str``); under a USER field ``@me`` is the current user's id."""
    GLOB = "glob"
    """A glob, ``*`` any run and ``?`` one character (a ``str``, as written)."""
    NUMBER = "number"
    """A JSON number, exactly: an ``int``, or a ``Decimal`` (``2.5``)."""
    TIME = "time"
    """A timestamp token of spec section 5 (``now-P1D``, ``2020-04``): an aware ``datetime``, its first instant."""
    BOUND = "bound"
    """What ``lt()`` and its siblings compare with: under a TIME field a timestamp, else a number."""
    MATCHER = "matcher"
    """A matcher of the field, nested: a function, or a plain value meaning the field's own matcher.
    ``memory`` receives whether the value satisfies it (a ``bool``), ``sql`` that as a boolean clause."""


Words = Callable[[Kind, tuple[str, ...]], str]
"""A function's words for ``explain``: from the field's kind and each argument in words, what a value must be."""


@dataclass(frozen=True, eq=False)
class FunctionMatcher:
    """One function matcher: the declaration every part of qfilter reads (``docs/extending.md``).

    ``name`` is letters only, read in any letter case and written as given
    (``startsWith``). ``kinds`` are the kinds of field that take it.
    ``arguments`` say how each argument reads, in order; ``repeats`` lets
    the last one come again any number of times, ``optional`` lets the last
    so many be left out.

    Its meaning, for an application's own function, is ``memory``: a test
    of one value, ``memory(value, *arguments) -> bool``, the value read as
    the field's kind reads it (a ``str`` for TEXT, EXACT, USER and META, a
    number for NUMBER, a ``bool`` for BOOLEAN, an aware ``datetime`` for
    TIME; a value the kind cannot read satisfies nothing). ``sql`` is the
    same test as a clause, ``sql(value, *arguments)`` over a
    :class:`qfilter.sql.compiler.SqlValue` giving a SQLAlchemy boolean
    expression, one for every database or a mapping of dialect names
    (``"sqlite"``, ``"postgresql"``, ``"mysql"``) to one each; without it
    the SQL compiler refuses the function. ``django(lookup, *arguments)``
    gives a ``Q`` over the model's lookup path; without it the Django
    backend refuses the function. ``check(*arguments)`` may return a
    problem with the arguments as read, which is the user's error at the
    function's name.

    ``words`` say what a value must be, for ``explain``: a template of the
    arguments in words (``"starting with {0}"``; ``{arguments}`` is all of
    them), or a function of the field's kind and those words.
    ``description`` is one sentence for documentation (OpenAPI);
    ``example`` a matcher to show (``startsWith(pump)``). ``strategy(kind)``
    gives a Hypothesis strategy of argument lists (tuples of texts) for the
    strategies of :mod:`qfilter.integrations.strategies`; by default each
    argument is drawn as its :class:`Argument` reads.

    ``bind`` and ``field_level`` are how the built-ins are declared:
    ``bind(binding, function)`` makes the condition of a function of their
    own (:class:`~qfilter.core.ir.Equals`, ...) that the backends write by
    hand, where an application's function becomes a
    :class:`~qfilter.core.ir.Call`; ``field_level`` is ``exists()``.
    """

    name: str
    kinds: AbstractSet[Kind]
    arguments: tuple[Argument, ...] = ()
    repeats: bool = False
    optional: int = 0
    memory: Callable[..., bool] | None = None
    sql: Callable[..., Any] | Mapping[str, Callable[..., Any]] | None = None
    django: Callable[..., Any] | None = None
    check: Callable[..., str | None] | None = None
    words: str | Words = ""
    description: str = ""
    example: str = ""
    strategy: Callable[[Kind], Any] | None = None
    bind: Callable[[Binding, Function], ValuePredicate] | None = field(default=None, repr=False)
    field_level: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(f"a function's name is letters only (spec section 9), not {self.name!r}")
        kinds = frozenset(self.kinds)
        if not kinds or not all(isinstance(kind, Kind) for kind in kinds):
            raise ValueError(f"{self.name}(): kinds are one or more Kind members, not {self.kinds!r}")
        object.__setattr__(self, "kinds", kinds)
        arguments = tuple(self.arguments)
        if not all(isinstance(argument, Argument) for argument in arguments):
            raise ValueError(f"{self.name}(): each argument is an Argument member, not {self.arguments!r}")
        object.__setattr__(self, "arguments", arguments)
        if self.repeats and not arguments:
            raise ValueError(f"{self.name}(): repeats needs an argument to repeat")
        if not 0 <= self.optional <= len(arguments):
            raise ValueError(f"{self.name}(): optional is 0 to the number of arguments, not {self.optional!r}")
        if self.bind is None and not self.field_level and not callable(self.memory):
            raise ValueError(f"{self.name}(): memory (a test of one value) is its meaning, and it is missing")
        if self.sql is not None and not callable(self.sql) and not isinstance(self.sql, Mapping):
            raise ValueError(f"{self.name}(): sql is a function, or a mapping of dialect names to functions")

    @property
    def min_arguments(self) -> int:
        """The fewest arguments it takes."""
        return len(self.arguments) - self.optional

    @property
    def max_arguments(self) -> int | None:
        """The most arguments it takes; ``None``: no bound."""
        return None if self.repeats else len(self.arguments)

    @property
    def nests(self) -> bool:
        """Whether its arguments may be functions themselves (``not``, ``all``, ``any``)."""
        return Argument.MATCHER in self.arguments

    @property
    def builtin(self) -> bool:
        """Whether it is one of the language's own (spec section 9), with a condition of its own."""
        return self.bind is not None or self.field_level

    def argument(self, index: int) -> Argument:
        """How the argument at ``index`` reads (the last one again past the end, when it repeats)."""
        return self.arguments[min(index, len(self.arguments) - 1)]

    def arity(self) -> str:
        """The number of arguments in words: ``no argument``, ``one argument``, ``one or more arguments``."""
        low, high = self.min_arguments, self.max_arguments
        if high == 0:
            return "no argument"
        if low == high:
            return "one argument" if high == 1 else f"{high} arguments"
        if high is None:
            return "one or more arguments" if low == 1 else f"{low} or more arguments"
        return f"{low} to {high} arguments"

    def words_for(self, kind: Kind, arguments: tuple[str, ...]) -> str:
        """What a value must be to satisfy this function under ``kind``, its arguments given in words."""
        if callable(self.words):
            return self.words(kind, arguments)
        joined = ", ".join(arguments)
        if not self.words:
            return f"satisfying {self.name}({joined})"
        return self.words.format(*arguments, arguments=joined)

    def sql_for(self, dialect: str) -> Callable[..., Any] | None:
        """Its SQL for the dialect named ``dialect``; ``None`` if it has none there."""
        if self.sql is None or callable(self.sql):
            return self.sql
        found = self.sql.get(dialect)
        if found is None and dialect in ("mysql", "mariadb"):  # SQLAlchemy's two names for MariaDB
            found = self.sql.get("mariadb" if dialect == "mysql" else "mysql")
        return found


@dataclass(frozen=True)
class FunctionTable:
    """The functions a schema's filters may use: the built-ins and the schema's own, by name in any letter case."""

    functions: tuple[FunctionMatcher, ...]
    by_name: dict[str, FunctionMatcher] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, FunctionMatcher] = {}
        for function in self.functions:
            if not isinstance(function, FunctionMatcher):
                raise ValueError(f"a schema's functions are FunctionMatcher declarations, not {function!r}")
            held = index.get(function.name.lower())
            if held is not None:
                raise ValueError(f"two functions are named {function.name} (names are read in any letter case)")
            index[function.name.lower()] = function
        object.__setattr__(self, "by_name", index)

    @property
    def names(self) -> tuple[str, ...]:
        """The canonical spellings, in order (the built-ins in the spec's order first)."""
        return tuple(function.name for function in self.functions)

    def __iter__(self) -> Iterator[FunctionMatcher]:
        return iter(self.functions)

    def __len__(self) -> int:
        return len(self.functions)

    def lookup(self, name: str) -> FunctionMatcher | None:
        """The function called ``name`` in any letter case; ``None`` if there is none."""
        return self.by_name.get(name.lower())

    def closest(self, name: str) -> str | None:
        """The canonical spelling of the function closest to ``name``, if one is close."""
        import difflib  # for a suggestion in an error message only: not worth importing at start-up

        found = difflib.get_close_matches(name.lower(), list(self.by_name), n=1, cutoff=0.6)
        return self.by_name[found[0]].name if found else None

    def checked(self, written: str, arguments: tuple[Matcher, ...], position: int) -> Function:
        """A :class:`~qfilter.core.ast.Function` named ``written`` (any letter case), checked against this table.

        Raises :class:`~qfilter.core.errors.UnknownFunctionError` for a name
        the table does not hold (its hint lists those it does and suggests the
        closest) and :class:`~qfilter.core.errors.MatcherError` for arguments
        the function does not take; both point at the name.
        """
        declared = self.lookup(written)
        if declared is None:
            suggestion = self.closest(written)
            hint = f"did you mean {suggestion}? " if suggestion else ""
            raise UnknownFunctionError(
                f"unknown function {written!r}",
                position=position,
                hint=f"{hint}known functions: {', '.join(self.names)}; to search for the text, quote it",
            )
        count = len(arguments)
        if count < declared.min_arguments or (declared.max_arguments is not None and count > declared.max_arguments):
            raise MatcherError(f"{declared.name}() takes {declared.arity()}, not {count}", position=position)
        for argument in arguments:
            if not isinstance(argument, Function):
                continue
            inner = self.lookup(argument.name)
            if not declared.nests:
                raise MatcherError(
                    f"the arguments of {declared.name}() are values, not functions",
                    position=argument.position,
                    hint="only not(), all() and any() take functions",
                )
            if inner is not None and inner.field_level:
                raise MatcherError(
                    f"{inner.name}() tests the whole field, not one value: it cannot stand inside {declared.name}()",
                    position=argument.position,
                    hint=f"make it a matcher of its own, e.g. tag:{inner.name}() or -tag:{inner.name}()",
                )
        return Function(declared.name, arguments, position)

    def with_functions(self, functions: Iterable[FunctionMatcher]) -> FunctionTable:
        """This table and ``functions`` after it (a name already taken is a ``ValueError``)."""
        return FunctionTable((*self.functions, *functions))


# -- the built-ins of spec section 9 -----------------------------------------------------------------------


def _kinds_taking(name: str) -> frozenset[Kind]:
    return frozenset(kind for kind, traits in KINDS.items() if name in traits.functions)


def _values(function: Function) -> list[Value]:
    return [argument for argument in function.arguments if isinstance(argument, Value)]


def _equal(binding: Binding, function: Function) -> ValuePredicate:
    return binding.one_of(_values(function), ignore_case=binding.field.ignore_case, function=function.name)


def _equal_ignoring_case(binding: Binding, function: Function) -> ValuePredicate:
    return binding.one_of(_values(function), ignore_case=True, function=function.name)


def _like(binding: Binding, function: Function) -> ValuePredicate:
    return Like(_values(function)[0].text)


def _contains(binding: Binding, function: Function) -> ValuePredicate:
    text = _values(function)[0].text
    return Contains(text.lower(), ignore_case=True) if binding.field.ignore_case else Contains(text, False)


def _compare(binding: Binding, function: Function) -> ValuePredicate:
    return binding.compare(function.name, _values(function)[0])


def _not(binding: Binding, function: Function) -> ValuePredicate:
    return Not(binding.predicate(function.arguments[0]))


def _all(binding: Binding, function: Function) -> ValuePredicate:
    return AllOf(tuple(binding.predicate(argument) for argument in function.arguments))


def _any(binding: Binding, function: Function) -> ValuePredicate:
    return AnyOf(tuple(binding.predicate(argument) for argument in function.arguments))


def _whole_field(binding: Binding, function: Function) -> ValuePredicate:
    # The parser keeps exists() out of other functions; a hand-built AST may not.
    raise binding.error(
        f"{function.name}() tests the whole field and cannot stand inside another function", function.position
    )


def _one_of_words(kind: Kind, words: tuple[str, ...], ignoring: str = "") -> str:
    joined = ", ".join(words)
    return (f"equal to one of {joined}" if len(words) > 1 else f"equal to {joined}") + ignoring


def _comparison(name: str) -> FunctionMatcher:
    number_words, time_words = COMPARISON_WORDS[name]
    return FunctionMatcher(
        name,
        _kinds_taking(name),
        (Argument.BOUND,),
        bind=_compare,
        words=lambda kind, words: f"{time_words if kind is Kind.TIME else number_words} {words[0]}",
        description=f"the value is {number_words} x",
    )


def _joined(joint: str) -> Words:
    def words(kind: Kind, parts: tuple[str, ...]) -> str:
        joined = joint.join(parts)
        return f"({joined})" if len(parts) > 1 else joined

    return words


BUILTINS: tuple[FunctionMatcher, ...] = (
    FunctionMatcher(
        "equals",
        _kinds_taking("equals"),
        (Argument.VALUE,),
        bind=_equal,
        words="equal to {arguments}",
        description="the value equals x exactly",
    ),
    FunctionMatcher(
        "eq",
        _kinds_taking("eq"),
        (Argument.VALUE,),
        bind=_equal,
        words="equal to {arguments}",
        description="the value equals x exactly",
    ),
    FunctionMatcher(
        "in",
        _kinds_taking("in"),
        (Argument.VALUE,),
        repeats=True,
        bind=_equal,
        words=_one_of_words,
        description="the value equals one of the arguments",
    ),
    FunctionMatcher(
        "inIgnoreCase",
        _kinds_taking("inIgnoreCase"),
        (Argument.VALUE,),
        repeats=True,
        bind=_equal_ignoring_case,
        words=lambda kind, words: _one_of_words(kind, words, ", ignoring case"),
        description="the value equals one of the arguments, ignoring case",
    ),
    FunctionMatcher(
        "like",
        _kinds_taking("like"),
        (Argument.GLOB,),
        bind=_like,
        words="matching {0}",
        description="the value's text matches a glob (* any run, ? one character)",
    ),
    FunctionMatcher(
        "contains",
        _kinds_taking("contains"),
        (Argument.TEXT,),
        bind=_contains,
        words="containing {0}",
        description="the value's text contains x",
    ),
    *(_comparison(name) for name in ("lt", "lte", "gt", "gte")),
    FunctionMatcher(
        "not",
        _kinds_taking("not"),
        (Argument.MATCHER,),
        bind=_not,
        words="not {0}",
        description="the value does not satisfy the argument",
    ),
    FunctionMatcher(
        "all",
        _kinds_taking("all"),
        (Argument.MATCHER,),
        repeats=True,
        bind=_all,
        words=_joined(" and "),
        description="the value satisfies every argument",
    ),
    FunctionMatcher(
        "any",
        _kinds_taking("any"),
        (Argument.MATCHER,),
        repeats=True,
        bind=_any,
        words=_joined(" or "),
        description="the value satisfies some argument",
    ),
    FunctionMatcher(
        "exists",
        _kinds_taking("exists"),
        bind=_whole_field,
        field_level=True,
        description="the field has at least one value",
    ),
)
"""The functions of spec section 9, in the spec's order: every schema's, before its own."""

BUILTIN_FUNCTIONS = FunctionTable(BUILTINS)
"""The table of the built-ins alone: what :func:`~qfilter.core.parser.parse` reads by default."""

FunctionSpec = FunctionMatcher
"""The former name of :class:`FunctionMatcher`."""

FUNCTIONS: MappingProxyType[str, FunctionMatcher] = MappingProxyType(dict(BUILTIN_FUNCTIONS.by_name))
"""Every built-in function, by its name in lower case (names are read in any letter case)."""

FUNCTION_NAMES: tuple[str, ...] = BUILTIN_FUNCTIONS.names
"""The built-ins' canonical spellings, in the spec's order."""


def lookup(name: str) -> FunctionMatcher | None:
    """The built-in function called ``name`` in any letter case; ``None`` if there is none."""
    return BUILTIN_FUNCTIONS.lookup(name)


def closest(name: str) -> str | None:
    """The canonical spelling of the built-in function closest to ``name``, if one is close."""
    return BUILTIN_FUNCTIONS.closest(name)
