"""The backend itself: Django paths resolved (:mod:`.mapping`), a Plan compiled to ``Q`` (:mod:`.compiler`).

It imports :mod:`qfilter.core` and Django only (an import-linter contract
holds it so); :mod:`qfilter.django.rest_framework` and
:mod:`qfilter.django.admin` build on it with the listing helpers.
"""

from __future__ import annotations

from .compiler import MAX_META_KEYS, DjangoBackend, compile_q, order_by
from .mapping import DjangoMapping, DjangoPaths, Place, orm_mapping, orm_schema

__all__ = [
    "MAX_META_KEYS",
    "DjangoBackend",
    "DjangoMapping",
    "DjangoPaths",
    "Place",
    "compile_q",
    "order_by",
    "orm_mapping",
    "orm_schema",
]
