"""The Django backend: filter QuerySets with ``q``, sort them with ``sort=``.

Needs the ``django`` extra (``pip install "qfilter-lang[django]"``)::

    from qfilter.django import compile_q, order_by, orm_schema

    DEVICES, DEVICES_Q = orm_schema(Device, {"name": "name", "tag": "tags__name", "owner": "owner__email"})
    devices = Device.objects.filter(compile_q("tag:lab -owner:@me", DEVICES, DEVICES_Q, user="ann@example.com"))

The ``Q`` selects exactly the entities :mod:`qfilter.memory` keeps on the
same data, on SQLite, PostgreSQL and MariaDB (``docs/django.md``).
:mod:`qfilter.django.rest_framework` is the Django REST framework filter
backend and :mod:`qfilter.django.admin` the admin's search box; import them
explicitly (they need Django's settings). The backend is :mod:`.orm`:
:mod:`.orm.mapping` (where values live), :mod:`.orm.compiler` (the
``Q``), :mod:`.orm.expressions` and :mod:`.orm.json_paths` (the SQL
Django's lookups lack).
"""

from __future__ import annotations

from .orm import (
    MAX_META_KEYS,
    DjangoBackend,
    DjangoMapping,
    DjangoPaths,
    Place,
    compile_q,
    order_by,
    orm_mapping,
    orm_schema,
)

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
