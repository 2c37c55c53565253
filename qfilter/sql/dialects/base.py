"""What a SQL dialect module provides: the shape of its JSON search."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import sqlalchemy as sa

from qfilter.core.plan import Condition

__all__ = ["JsonAny", "ValueTest"]

ValueTest = Callable[[sa.ColumnElement[Any]], sa.ColumnElement[bool]]
"""A condition applied to one value's text (a column, or a JSON element's text)."""


class JsonAny(Protocol):
    """EXISTS a scalar at ``keys`` in a JSON ``column`` (arrays looked into) whose text passes ``test``."""

    def __call__(
        self, column: sa.ColumnElement[Any], keys: tuple[str, ...], condition: Condition, test: ValueTest
    ) -> sa.ColumnElement[bool]: ...
