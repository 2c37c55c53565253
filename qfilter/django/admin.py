"""The Django admin's search box takes a ``q`` filter.

::

    from django.contrib import admin
    from qfilter.django.admin import QFilterAdminMixin

    @admin.register(Device)
    class DeviceAdmin(QFilterAdminMixin, admin.ModelAdmin):
        qfilter_schema, qfilter_mapping = orm_schema(Device, {...})

The admin's search parameter is already called ``q``. A bad filter shows
its error (what is wrong, where, and a hint) as an error message above an
empty list; ``@me`` is the signed-in staff user's username.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages

from qfilter.core.errors import FilterError
from qfilter.core.schema import Schema
from qfilter.integrations import listing

from .orm import DjangoMapping, compile_q

__all__ = ["QFilterAdminMixin"]


class QFilterAdminMixin:
    """A ``ModelAdmin`` mixin: the search box reads a ``q`` filter over ``qfilter_schema`` and ``qfilter_mapping``.

    Put it before ``admin.ModelAdmin`` in the bases. ``search_help_text``
    lists the qualifiers unless the admin sets its own.
    """

    qfilter_schema: Schema
    qfilter_mapping: DjangoMapping

    def get_search_fields(self, request: Any) -> tuple[str, ...]:
        """Not used to search (the filter names its fields); non-empty so that the admin shows its search box."""
        return ("q",)

    search_help_text: Any = None  # ModelAdmin's: a text or a lazy translation
    """The hint under the search box; by default the filter's form and the schema's qualifiers."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        schema = getattr(cls, "qfilter_schema", None)
        if cls.search_help_text is None and isinstance(schema, Schema):
            qualifiers = ", ".join(schema.qualifiers)
            cls.search_help_text = (
                f"A q filter, e.g. name:demo -tag:old (qualifiers: {qualifiers}; OR, AND, NOT and parentheses combine)"
            )

    def get_search_results(self, request: Any, queryset: Any, search_term: str) -> tuple[Any, bool]:
        """The queryset filtered by ``search_term``; no rows, and an error message, for a bad filter."""
        if not search_term.strip():
            return queryset, False
        user = request.user.get_username() if request.user.is_authenticated else None
        try:
            params = listing.read_filter(
                search_term, schema=self.qfilter_schema, user=user, user_hint="sign in: @me is the signed-in user"
            )
            where = compile_q(params.plan, self.qfilter_schema, self.qfilter_mapping)
        except FilterError as error:
            messages.error(request, f"Search: {error.render().splitlines()[0]}")
            return queryset.none(), False
        # Subqueries, never joins: no row is listed twice, so the admin need not add DISTINCT.
        return queryset.filter(where), False
