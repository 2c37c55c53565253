"""How a listing's request parameters and its current user are declared to FastAPI, with their OpenAPI prose.

:class:`~qfilter.integrations.fastapi.QFilter` declares ``q``, ``sort``,
``limit``, ``offset`` and ``cursor`` with :func:`listing_queries` (their
descriptions, schemas and examples for the OpenAPI document, in the words of
:mod:`qfilter.integrations.openapi_text`) and reads the current user with
:func:`user_dependency`. The names of this module that an app uses are
importable from :mod:`qfilter.integrations.fastapi`.
"""

# No "from __future__ import annotations": FastAPI reads the dependencies' annotations, which name locals.
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Header, Query

from qfilter.core.schema import Schema
from qfilter.integrations import listing
from qfilter.integrations.fastapi_errors import FilterHTTPException
from qfilter.integrations.openapi_text import (
    CURSOR_DESCRIPTION,
    OFFSET_DESCRIPTION,
    USER_HEADER_DESCRIPTION,
    integer_schema,
    limit_description,
    q_description,
    q_examples,
    sort_description,
    string_schema,
)

__all__ = [
    "DEFAULT_USER_HEADER",
    "MAX_USER_LENGTH",
    "DeclaredText",
    "ListingQueries",
    "listing_queries",
    "UserParameter",
    "header_user",
    "user_parameter",
    "user_dependency",
    "user_hint",
]

DeclaredText: Any = str
"""The type a listing's parameters and the user header are declared with: text, ``None`` when absent.

Not ``str | None``: FastAPI walks a union's members for every parameter
on every request (to see whether it is a list), about a third of what the
declared parameters cost a request. An absent one is its default,
``None``, all the same. The OpenAPI document says ``string`` (or
``integer``) with no ``null``, which is what a query parameter or header
can be. ``Any`` to mypy, which would rightly object to a ``str`` that
defaults to ``None``."""

DEFAULT_USER_HEADER = "X-User-Id"
"""The request header that names the current user, for ``@me``."""
MAX_USER_LENGTH = 255
"""The longest user id the header may carry (user columns are indexed; index entries are bounded)."""


@dataclass(frozen=True, slots=True)
class ListingQueries:
    """The ``Query(...)`` declaration of each listing parameter: what the OpenAPI document says of it."""

    q: Any
    sort: Any
    limit: Any
    offset: Any
    cursor: Any


def listing_queries(
    schema: Schema,
    *,
    user_header: str | None,
    signed_in: bool,
    examples: Mapping[str, str] | None,
    max_limit: int,
    default_limit: int,
) -> ListingQueries:
    """The declarations of ``q`` (with ``examples``, else :func:`~qfilter.integrations.openapi_text.q_examples`),
    ``sort``, ``limit``, ``offset`` and ``cursor`` for a listing of ``schema``."""
    shown = q_examples(schema) if examples is None else dict(examples)
    return ListingQueries(
        q=Query(
            description=q_description(schema, user_header, signed_in=signed_in),
            json_schema_extra=string_schema,
            openapi_examples={name: {"summary": name, "value": value} for name, value in shown.items()},
        ),
        sort=Query(description=sort_description(schema), json_schema_extra=string_schema),
        limit=Query(
            description=limit_description(max_limit, default_limit),
            json_schema_extra=integer_schema(0, max_limit, default_limit),
        ),
        offset=Query(description=OFFSET_DESCRIPTION, json_schema_extra=integer_schema(0, listing.MAX_OFFSET, 0)),
        cursor=Query(description=CURSOR_DESCRIPTION, json_schema_extra=string_schema),
    )


def user_hint(user_header: str | None, current_user: Callable[..., Any] | None) -> str:
    """How a client of this endpoint gives the current user that ``@me`` needs."""
    if current_user is not None:
        return "sign in: @me is the signed-in user"
    if user_header is not None:
        return f"send the current user's id in the {user_header} header"
    return "this endpoint has no current user: name the user instead of @me"


@dataclass(frozen=True, slots=True)
class UserParameter:
    """How a listing dependency takes the current user as a parameter of its own (no dependency more to solve).

    ``declared`` is the parameter's FastAPI declaration: the user header's
    ``Header``, or ``Depends`` of the application's ``current_user`` (of one
    that answers ``None`` without either); ``read`` makes the user's id, or
    ``None``, of the value FastAPI passes, as :func:`user_dependency` does.
    """

    declared: Any
    read: Callable[[Any], str | None]


def _as_text(user: object) -> str | None:
    return None if user is None else str(user)


async def _no_user() -> str | None:
    return None


def header_user(user_header: str, value: str | None) -> str | None:
    """The user's id in the ``user_header`` header's ``value``: its UTF-8 text, stripped; ``None`` when empty.

    HTTP hands header bytes over as Latin-1; a value whose bytes are not UTF-8 is a 400.
    """
    if value is None:
        return None
    try:
        text = value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        problem = listing.ParameterError(user_header, f"the {user_header} header is not valid UTF-8")
        raise FilterHTTPException(listing.error_body(problem)) from None
    return text.strip() or None


def _user_header(user_header: str) -> Any:
    return Header(alias=user_header, max_length=MAX_USER_LENGTH, description=USER_HEADER_DESCRIPTION)


def user_parameter(user_header: str | None, current_user: Callable[..., Any] | None) -> UserParameter:
    """The current user as a listing dependency declares it: the header itself, or the application's dependency."""
    if current_user is not None:
        return UserParameter(Depends(current_user), _as_text)
    if user_header is None:
        return UserParameter(Depends(_no_user), _as_text)
    return UserParameter(_user_header(user_header), partial(header_user, user_header))


def user_dependency(
    user_header: str | None, current_user: Callable[..., Any] | None
) -> Callable[..., Awaitable[str | None]]:
    """The dependency that gives the current user's id or ``None``.

    The application's ``current_user`` dependency's answer (as text) when
    one is given, else the ``user_header`` header's value, UTF-8 (a 400 when
    it is not), stripped (``None`` when empty); ``None`` without either.
    A coroutine, as it does no I/O (FastAPI runs it on the event loop, not
    in its threadpool); the application's own dependency runs as it is declared.
    """
    parameter = user_parameter(user_header, current_user)
    declared, read = parameter.declared, parameter.read

    async def current_user_id(user: Annotated[DeclaredText, declared] = None) -> str | None:
        return read(user)

    return current_user_id
