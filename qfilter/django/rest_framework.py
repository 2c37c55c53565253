"""Django REST framework: a filter backend that reads ``q`` and ``sort``.

::

    from rest_framework import generics
    from qfilter.django.rest_framework import QFilterBackend

    class DeviceList(generics.ListAPIView):
        queryset = Device.objects.all()
        serializer_class = DeviceSerializer
        filter_backends = [QFilterBackend]
        qfilter_schema, qfilter_mapping = orm_schema(Device, {...})

A bad ``q`` or ``sort`` is a 400 whose body is
:func:`qfilter.integrations.listing.error_body`'s, the same JSON the FastAPI
integration answers; ``@me`` is the signed-in user (``request.user``, its
username unless the view says otherwise). Pagination is the view's own
(page number, limit/offset, cursor): the backend only filters and orders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework.exceptions import APIException
from rest_framework.pagination import CursorPagination

from qfilter.core.errors import FilterError
from qfilter.core.kinds import Kind, traits
from qfilter.core.parser import DEFAULT_LIMITS, Limits
from qfilter.core.schema import Schema
from qfilter.core.sorting import sortable_fields
from qfilter.integrations import listing
from qfilter.integrations.openapi_text import functions_description

from .orm import DjangoMapping, compile_q, order_by

__all__ = ["SIGNED_IN_HINT", "QFilterBackend", "QFilterError", "q_description", "q_examples", "signed_in_user"]

SIGNED_IN_HINT = "sign in: @me is the signed-in user"
"""The hint of ``@me`` without a user, as the FastAPI integration words it for an application's own users."""


class QFilterError(APIException):
    """A 400 whose body is qfilter's error body as it is (DRF would make its numbers strings)."""

    status_code = listing.ERROR_STATUS
    default_code = "invalid_filter"

    def __init__(self, body: Mapping[str, object]) -> None:
        super().__init__(detail=str(body.get("message", "bad request")), code=self.default_code)
        detail: Any = dict(body)  # DRF's handler answers a dict detail as it is: numbers stay numbers
        self.detail = detail


def signed_in_user(request: Any) -> str | None:
    """The current user for ``@me``: the signed-in user's username, ``None`` for an anonymous one."""
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.get_username())


def q_examples(schema: Schema) -> dict[str, str]:
    """One example filter per kind of qualifier ``schema`` has, and one with ``OR`` and ``NOT``."""
    examples: dict[str, str] = {}
    for field in schema.fields:
        qualifier = f"{field.qualifier}.key" if field.kind is Kind.META else field.qualifier
        examples.setdefault(field.kind.value, f"{qualifier}:{traits(field.kind).examples[0]}")
    plain = list(examples.values())
    if len(plain) >= 2:
        examples["boolean"] = f"({plain[0]} OR {plain[1]}) AND NOT {plain[-1]}"
    return examples


def q_description(schema: Schema) -> str:
    """The OpenAPI description of ``q`` under ``schema``."""
    return (
        "A search filter: space-separated terms `[-]qualifier:matcher[,matcher...]`. Terms with the same "
        "qualifier are OR-ed, different qualifiers AND-ed, a leading `-` excludes, and the matchers of one term "
        "are AND-ed. Quote a matcher that holds spaces, commas, quotes or parentheses; "
        "a colon may stand bare (`tag:a:b`). "
        f"{functions_description(schema)}. "
        "Combine with `AND`, `OR`, `NOT` (upper case) and parentheses. `@me` is the signed-in user. "
        f"Qualifiers: {', '.join(f'`{q}`' for q in schema.qualifiers)}. "
        "An empty filter matches everything; a bad one is a 400 that says what is wrong and where."
    )


class QFilterBackend:
    """A DRF filter backend: ``?q=`` filters the view's queryset, ``?sort=`` orders it.

    The view names its schema and mapping: ``qfilter_schema`` and
    ``qfilter_mapping`` (both from :func:`qfilter.django.orm_schema`).
    Optional: ``qfilter_default_sort`` (the order without ``sort``, in its
    syntax: ``"name"``; without it the queryset's own order stands),
    ``qfilter_limits`` (:class:`~qfilter.core.parser.Limits`) and
    ``qfilter_current_user`` (a function of the request giving the id
    ``@me`` stands for; default :func:`signed_in_user`). Under cursor
    pagination the paginator's order is the cursor's, so ``sort`` is refused
    there (and not documented).
    """

    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        """The queryset filtered by ``q`` and ordered by ``sort``; a :class:`QFilterError` for a bad one."""
        schema, mapping = _configuration(view)
        current_user: Callable[[Any], str | None] = getattr(view, "qfilter_current_user", signed_in_user)
        limits: Limits = getattr(view, "qfilter_limits", DEFAULT_LIMITS)
        try:
            q = _single(request, "q")
            sort = _single(request, "sort")
            if sort is not None and _pages_by_cursor(view):
                raise listing.ParameterError(
                    "sort", "this listing pages with a cursor, whose order is fixed: sort is not taken", value=sort
                )
            params = listing.read_filter(
                q, schema=schema, user=current_user(request), limits=limits, user_hint=SIGNED_IN_HINT, sort=sort
            )
            where = compile_q(params.plan, schema, mapping)
        except (FilterError, listing.ParameterError) as error:
            raise QFilterError(listing.error_body(error)) from None
        queryset = queryset.filter(where)
        keys = params.sort or listing.read_sort(getattr(view, "qfilter_default_sort", None), schema)
        if keys and not _pages_by_cursor(view):
            queryset = queryset.order_by(*order_by(keys, schema, mapping))
        return queryset

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """``q`` and ``sort`` for DRF's OpenAPI generator and drf-spectacular."""
        schema, _ = _configuration(view)
        examples = {name: {"summary": name, "value": value} for name, value in q_examples(schema).items()}
        parameters: list[dict[str, Any]] = [
            {
                "name": "q",
                "required": False,
                "in": "query",
                "description": q_description(schema),
                "schema": {"type": "string"},
                "examples": examples,
            }
        ]
        sortable = [field.qualifier for field in sortable_fields(schema)]
        if sortable and not _pages_by_cursor(view):
            parameters.append(
                {
                    "name": "sort",
                    "required": False,
                    "in": "query",
                    "description": (
                        "Comma-separated fields to order by, each optionally prefixed by '-' for descending "
                        f"(e.g. -{sortable[0]}); missing values last, ties by id. Sortable: {', '.join(sortable)}."
                    ),
                    "schema": {"type": "string"},
                }
            )
        return parameters


def _configuration(view: Any) -> tuple[Schema, DjangoMapping]:
    schema = getattr(view, "qfilter_schema", None)
    mapping = getattr(view, "qfilter_mapping", None)
    if not isinstance(schema, Schema) or not isinstance(mapping, DjangoMapping):
        raise ImproperlyConfigured(
            f"{type(view).__name__} uses QFilterBackend: give it qfilter_schema and qfilter_mapping "
            "(qfilter_schema, qfilter_mapping = qfilter.django.orm_schema(Model, {...}))"
        )
    return schema, mapping


def _single(request: Any, name: str) -> str | None:
    """A query parameter given at most once (either reading of a repeated one would be a guess)."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise listing.ParameterError(name, f"{name} is given more than once; give it once", value=values[-1])
    return values[0] if values else None


def _pages_by_cursor(view: Any) -> bool:
    paginator = getattr(view, "pagination_class", None)
    return isinstance(paginator, type) and issubclass(paginator, CursorPagination)
