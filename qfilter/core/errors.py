"""The one exception family for everything a bad filter can cause.

Every error carries the filter text, a 0-based position (or ``None``), and
renders itself with a caret under that position, so a service can hand it to
the user unchanged and a command line can print it.

Each text says the error's kind once: :meth:`FilterError.render` starts with
the kind (``syntax error: unterminated quote ...``) unless the message does
already (``unknown qualifier 'nmae' ...``); ``str()`` and the ``message`` of
:meth:`FilterError.to_dict` are the message alone, next to its ``error``
(the kind) in a JSON body.
"""

from __future__ import annotations

__all__ = [
    "FilterError",
    "FilterSyntaxError",
    "FilterLimitError",
    "UnknownQualifierError",
    "MatcherError",
    "UnknownFunctionError",
    "TimeExpressionError",
    "CurrentUserError",
]

_CONTEXT = 60  # characters of the filter shown either side of the caret


class FilterError(ValueError):
    """Base class: a filter that cannot be parsed or compiled.

    ``message`` says what is wrong, ``position`` where it starts in ``text``
    (0-based, ``None`` when the problem has no place), ``hint`` how to fix it.
    """

    kind = "invalid filter"

    def __init__(
        self,
        message: str,
        *,
        text: str = "",
        position: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.text = text
        self.position = position
        self.hint = hint
        super().__init__(self._summary())

    def _summary(self) -> str:
        where = f" at position {self.position}" if self.position is not None else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.message}{where}{hint}"

    def with_text(self, text: str, offset: int = 0) -> FilterError:
        """Return this error placed in ``text``, its position shifted by ``offset``."""
        position = None if self.position is None else self.position + offset
        return type(self)(self.message, text=text, position=position, hint=self.hint)

    def _headline(self) -> str:
        """The first line of :meth:`render`: the kind, unless the message starts with it, and the summary."""
        summary = self._summary()
        if summary.lower().startswith(self.kind.lower()):
            return summary
        return f"{self.kind}: {summary}"

    def render(self) -> str:
        """The headline, then the filter (shortened around the problem) with a caret."""
        lines = [self._headline()]
        if self.text and self.position is not None:
            start = max(0, self.position - _CONTEXT)
            end = min(len(self.text), self.position + _CONTEXT)
            prefix = "..." if start > 0 else ""
            suffix = "..." if end < len(self.text) else ""
            shown = self.text[start:end].replace("\n", " ").replace("\t", " ").replace("\r", " ")
            lines.append(f"  {prefix}{shown}{suffix}")
            lines.append("  " + " " * (len(prefix) + self.position - start) + "^")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready description, for API error bodies."""
        return {
            "error": self.kind,
            "message": self.message,
            "position": self.position,
            "hint": self.hint,
            "filter": self.text,
        }


class FilterSyntaxError(FilterError):
    """The text does not follow the grammar (the language reference: terms and matchers)."""

    kind = "syntax error"


class FilterLimitError(FilterError):
    """The filter exceeds a configured bound (length, terms, matchers per term)."""

    kind = "filter too large"


class UnknownQualifierError(FilterError):
    """A qualifier the schema does not know."""

    kind = "unknown qualifier"


class MatcherError(FilterError):
    """A matcher its qualifier does not accept (``created:like(x)``, ``prio:abc``), or wrong function arguments."""

    kind = "invalid matcher"


class UnknownFunctionError(MatcherError):
    """A function matcher whose name the language does not know (``tag:inignorcase(a)``)."""

    kind = "unknown function"


class TimeExpressionError(FilterError):
    """A time interval, timestamp or period that cannot be read."""

    kind = "invalid time"


class CurrentUserError(FilterError):
    """``@me`` was used but the caller supplied no current user."""

    kind = "no current user"
