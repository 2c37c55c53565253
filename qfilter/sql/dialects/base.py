"""What a SQL dialect module provides: the shape of its JSON search."""

from __future__ import annotations

import re
from typing import Any, Protocol

import sqlalchemy as sa

from qfilter.core.plan import Condition

__all__ = ["PATH_KEY", "JsonAny", "ValueTest"]

PATH_KEY = re.compile(r"[A-Za-z0-9_-]*")
"""The ``meta`` keys a JSON path may name as they are: the ones a parsed filter has.

SQLite's and MariaDB's JSON paths compare a key with the object's key as
the document spells it, escapes included (``\\u00e9`` is not ``é`` to them,
and SQLite's path cannot hold a ``"``). Every writer spells these characters
as themselves, so a path finds them; any other key is looked up among the
object's decoded keys instead (``json_each``, ``JSON_KEYS``).
"""


class ValueTest(Protocol):
    """A condition applied to one JSON element, which ``json_any`` lists.

    ``text`` is the element's text as memory compares it: a string as it is,
    a number's JSON spelling, ``true``/``false``; NULL for JSON null, an
    object or an array. ``number`` is the element's value when it is a JSON
    number (NULL otherwise), in a type the dialect's
    :class:`~qfilter.sql.elements.number_param` compares exactly.
    ``present`` is true unless the element is JSON null (objects and arrays
    are present). A dialect that passes no ``number`` makes numeric tests
    (``gt(5)``, ``eq(5)`` under ``meta.``) match nothing; one that passes no
    ``present`` makes ``exists()`` and ``not()`` see scalars only.
    """

    def __call__(
        self,
        text: sa.ColumnElement[Any],
        *,
        number: sa.ColumnElement[Any] | None = None,
        present: sa.ColumnElement[bool] | None = None,
    ) -> sa.ColumnElement[bool]: ...


class JsonAny(Protocol):
    """EXISTS an element at ``keys`` in a JSON ``column`` (arrays looked into) that passes ``test``."""

    def __call__(
        self, column: sa.ColumnElement[Any], keys: tuple[str, ...], condition: Condition, test: ValueTest
    ) -> sa.ColumnElement[bool]: ...
