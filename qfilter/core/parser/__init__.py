"""Text to AST: the Lark LALR parser, its error messages, and the size limits.

The grammar lives in ``grammar/qfilter.lark`` at the top of the source tree
and is shipped inside the package as ``qfilter/core/qfilter.lark``. The parser is
built on first use, so importing :mod:`qfilter` stays cheap.

Two things make :func:`parse` fast without changing what it returns:

- **A fast path.** Terms side by side whose functions take plain values
  are a regular language, so one regular expression per term recognises
  them and the AST is built from its groups directly (nested functions,
  ``AND``, ``OR``, ``NOT`` and parentheses are left to Lark). It accepts
  only text that the grammar accepts and yields the very same AST,
  positions included; where it stops, Lark parses the rest of the text
  (after a stand-in for the terms the fast path took), and stays the
  definition of the grammar and the source of every syntax error message.
  the test suite checks the two against each other with
  Hypothesis.
- **Limits before parsing.** A pre-scan counts terms and operators,
  matchers and nesting the way the grammar's lexer sees them, so that a
  filter over the limits never costs a parse.
- **A bounded cache.** Services see the same ``q`` many times and the AST is
  immutable, so :func:`parse` keeps the last :data:`DEFAULT_CACHE_SIZE`
  results in an LRU cache keyed on ``(text, default_qualifier, limits, functions)``.
  ``parse(..., cache=False)`` bypasses it for one call;
  :func:`set_cache_size` resizes it (``0`` turns it off) and
  :func:`cache_info` / :func:`clear_cache` inspect and empty it. Errors are
  not cached.

The package is one module per concern: :mod:`~qfilter.core.parser.limits`
(the limits and the pre-scan), :mod:`~qfilter.core.parser.grammar` (the
grammar, its Lark parser and callbacks, syntax error messages),
:mod:`~qfilter.core.parser.fastpath` (the fast path) and
:mod:`~qfilter.core.parser.reading` (Lark after the fast path, the checks
after parsing, :func:`parse` and its cache). Every name of theirs that the
single module ``qfilter/core/parser.py`` had is re-exported here; a test that
replaces one must replace it in the module that defines it.
"""

from __future__ import annotations

from .fastpath import _BOOLEAN_AHEAD as _BOOLEAN_AHEAD
from .fastpath import _F_BARE as _F_BARE
from .fastpath import _F_FUNCTION as _F_FUNCTION
from .fastpath import _F_KEYWORD as _F_KEYWORD
from .fastpath import _F_MATCHER as _F_MATCHER
from .fastpath import _F_QUALIFIER as _F_QUALIFIER
from .fastpath import _F_QUOTED as _F_QUOTED
from .fastpath import _F_TERM as _F_TERM
from .fastpath import _F_VALUE as _F_VALUE
from .fastpath import _FAST_AND_OR as _FAST_AND_OR
from .fastpath import _FAST_ARGUMENT as _FAST_ARGUMENT
from .fastpath import _FAST_ITEM_TERM as _FAST_ITEM_TERM
from .fastpath import _FAST_MATCHER as _FAST_MATCHER
from .fastpath import _FAST_NOT as _FAST_NOT
from .fastpath import _FAST_SPACE as _FAST_SPACE
from .fastpath import _FAST_TERM as _FAST_TERM
from .fastpath import _TRAILING_SPACE as _TRAILING_SPACE
from .fastpath import _fast_expression as _fast_expression
from .fastpath import _fast_matchers as _fast_matchers
from .fastpath import _fast_prefix as _fast_prefix
from .fastpath import _fast_quoted as _fast_quoted
from .fastpath import _fast_term as _fast_term
from .fastpath import _fast_terms as _fast_terms
from .fastpath import _fast_values as _fast_values
from .fastpath import _Frame as _Frame
from .fastpath import _Stop as _Stop
from .grammar import _AFTER_KEYWORD as _AFTER_KEYWORD
from .grammar import _ESCAPABLE as _ESCAPABLE
from .grammar import _ESCAPE as _ESCAPE
from .grammar import _EXPECTED_WORDS as _EXPECTED_WORDS
from .grammar import _FUNCTIONS as _FUNCTIONS
from .grammar import _PARENTHESES_HINT as _PARENTHESES_HINT
from .grammar import _QUALIFIER_HEAD as _QUALIFIER_HEAD
from .grammar import KEYWORDS as KEYWORDS
from .grammar import _describe_expected as _describe_expected
from .grammar import _lark as _lark
from .grammar import _quoted_example as _quoted_example
from .grammar import _syntax_error as _syntax_error
from .grammar import _ToAst as _ToAst
from .grammar import _unmoved as _unmoved
from .grammar import _unquote as _unquote
from .grammar import checked_function as checked_function
from .grammar import grammar_text as grammar_text
from .limits import _CHUNKS as _CHUNKS
from .limits import _INNERMOST_FUNCTION as _INNERMOST_FUNCTION
from .limits import _ITEM_PIECES as _ITEM_PIECES
from .limits import _QUOTED as _QUOTED
from .limits import _SPACED_PIECES as _SPACED_PIECES
from .limits import _TERM_COMMAS as _TERM_COMMAS
from .limits import DEFAULT_LIMITS as DEFAULT_LIMITS
from .limits import MAX_SAFE_DEPTH as MAX_SAFE_DEPTH
from .limits import Limits as Limits
from .limits import _masked as _masked
from .limits import _matcher_position as _matcher_position
from .limits import _prescan as _prescan
from .limits import _prescan_nested as _prescan_nested
from .limits import _too_deep as _too_deep
from .limits import _too_many_items as _too_many_items
from .limits import _too_many_matchers as _too_many_matchers
from .limits import _within_bounds as _within_bounds
from .reading import _OFFSET_AFTER_SPACE as _OFFSET_AFTER_SPACE
from .reading import _STAND_IN as _STAND_IN
from .reading import _TIME_BEFORE_SPACE as _TIME_BEFORE_SPACE
from .reading import DEFAULT_CACHE_SIZE as DEFAULT_CACHE_SIZE
from .reading import _cached_parse as _cached_parse
from .reading import _checked as _checked
from .reading import _InsideStandIn as _InsideStandIn
from .reading import _lark_filter as _lark_filter
from .reading import _lark_from as _lark_from
from .reading import _lark_terms as _lark_terms
from .reading import _operators as _operators
from .reading import _parse_text as _parse_text
from .reading import _parse_with as _parse_with
from .reading import _shifted as _shifted
from .reading import _Skeleton as _Skeleton
from .reading import _skeleton as _skeleton
from .reading import _space_for_plus as _space_for_plus
from .reading import _StandIn as _StandIn
from .reading import cache_info as cache_info
from .reading import clear_cache as clear_cache
from .reading import parse as parse
from .reading import set_cache_size as set_cache_size

__all__ = [
    "Limits",
    "DEFAULT_LIMITS",
    "DEFAULT_CACHE_SIZE",
    "parse",
    "set_cache_size",
    "cache_info",
    "clear_cache",
    "grammar_text",
    "checked_function",
]
