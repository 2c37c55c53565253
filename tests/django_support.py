"""Django for the tests: one configured settings, three databases, the models, a DRF API and an admin.

Django's settings are process-wide, so they are configured once, when this
module is first imported (only ``tests/test_django*.py`` import it; no other
test loads Django). The databases are aliases of one ``DATABASES``:
``default`` is SQLite in memory, ``postgresql`` and ``mysql`` (MariaDB) are
filled in from conftest's private databases when a test first asks for them
(:func:`database_alias`), before their first connection, and get their tables
from ``schema_editor()``. Django's test runner is not used: each test keeps
the database as it found it (a rolled-back transaction, or deletes).

The module is also the app (``QfilterTestsConfig``) and the URL conf.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import django
import pytest
from django.apps import AppConfig
from django.conf import settings


class QfilterTestsConfig(AppConfig):
    """The tests' models live in this module, as the app ``qfilter_tests``."""

    name = "django_support"
    label = "qfilter_tests"
    default_auto_field = "django.db.models.AutoField"


ALIASES = {"sqlite": "default", "postgresql": "postgresql", "mysql": "mysql"}
"""Each database's alias in ``DATABASES``."""
_FIXTURES = {"postgresql": "postgres_url", "mysql": "mysql_url"}

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="qfilter tests",
        USE_TZ=True,
        TIME_ZONE="UTC",
        ALLOWED_HOSTS=["testserver"],
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
            # Filled in by database_alias() from conftest's private databases.
            "postgresql": {"ENGINE": "django.db.backends.postgresql", "NAME": "unset"},
            "mysql": {"ENGINE": "django.db.backends.mysql", "NAME": "unset", "OPTIONS": {"charset": "utf8mb4"}},
        },
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.admin",
            "rest_framework",
            "drf_spectacular",
            "django_support.QfilterTestsConfig",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        ROOT_URLCONF="django_support",
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        REST_FRAMEWORK={"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"},
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],  # fast: these are test users
    )
    django.setup()

from django.contrib import admin  # noqa: E402  (Django's settings first)
from django.db import connections, models  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework import generics, serializers  # noqa: E402
from rest_framework.pagination import CursorPagination, LimitOffsetPagination, PageNumberPagination  # noqa: E402

from qfilter import Kind  # noqa: E402
from qfilter.django import orm_schema  # noqa: E402
from qfilter.django.admin import QFilterAdminMixin  # noqa: E402
from qfilter.django.rest_framework import QFilterBackend  # noqa: E402

BRUSSELS = ZoneInfo("Europe/Brussels")


class Person(models.Model):
    email: models.CharField[str | None, str | None] = models.CharField(max_length=255, null=True)

    class Meta:
        app_label = "qfilter_tests"


class Tag(models.Model):
    name: models.CharField[str | None, str | None] = models.CharField(max_length=255, null=True)

    class Meta:
        app_label = "qfilter_tests"


class Device(models.Model):
    id: models.IntegerField[int, int] = models.IntegerField(primary_key=True)  # given: the tests know every entity's id
    name: models.CharField[str, str] = models.CharField(max_length=255)
    status: models.CharField[str | None, str | None] = models.CharField(
        max_length=255, null=True, choices=[("active", "active"), ("retired", "retired")]
    )
    owner: models.ForeignKey[Person | None, Person | None] = models.ForeignKey(
        Person, null=True, on_delete=models.SET_NULL, related_name="owned"
    )
    maintainer: models.ForeignKey[Person | None, Person | None] = models.ForeignKey(
        Person, null=True, on_delete=models.SET_NULL, related_name="maintained"
    )
    tags = models.ManyToManyField(Tag, related_name="devices")
    attributes = models.JSONField(null=True)
    created: models.DateTimeField[datetime | None, datetime | None] = models.DateTimeField(null=True)
    slots: models.IntegerField[int | None, int | None] = models.IntegerField(null=True)
    weight: models.FloatField[float | None, float | None] = models.FloatField(null=True)
    price: models.DecimalField[Decimal | None, Decimal | None] = models.DecimalField(
        max_digits=8, decimal_places=2, null=True
    )
    active: models.BooleanField[bool | None, bool | None] = models.BooleanField(null=True)

    class Meta:
        app_label = "qfilter_tests"


class Port(models.Model):
    device: models.ForeignKey[Device, Device] = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="ports"
    )
    name: models.CharField[str, str] = models.CharField(max_length=255)

    class Meta:
        app_label = "qfilter_tests"


MODELS: tuple[type[models.Model], ...] = (Person, Tag, Device, Port)

DEVICES, DEVICES_Q = orm_schema(
    Device,
    {
        "name": "name",
        "status": "status",
        "tag": "tags__name",  # many-to-many
        "port": "ports__name",  # a reverse foreign key: one-to-many
        "owner": "owner__email",  # many-to-one
        "owner_id": "owner__id",  # an integer read as a user id
        "user": ("owner__email", "maintainer__email"),  # either of two
        "created": "created",
        "slots": "slots",
        "weight": "weight",
        "price": "price",
        "active": "active",
        "room": "attributes__room",  # a key of a JSONField
        "attributes": "attributes",  # the JSONField as the meta.<path> object
    },
    kinds={"owner": Kind.USER, "owner_id": Kind.USER, "user": Kind.USER},
    timezone=BRUSSELS,
)


# -- entities: dicts of the models' shape, for memory; rows, for Django -----------------------------


def insert(alias: str, entities: list[dict[str, Any]]) -> None:
    """Store the entities (``id``, ``name``, ``owner``/``maintainer`` dicts, ``tags``/``ports`` lists, ...)."""
    people: dict[int, Person] = {}  # a person may own one device and maintain another
    tags: list[Tag] = []
    links: list[Any] = []
    ports: list[Port] = []
    devices: list[Device] = []
    for entity in entities:
        owners: dict[str, int | None] = {}
        for role in ("owner", "maintainer"):
            person = entity.get(role)
            owners[role] = None if person is None else person["id"]
            if person is not None:
                people[person["id"]] = Person(id=person["id"], email=person.get("email"))
        devices.append(
            Device(
                id=entity["id"],
                name=entity["name"],
                status=entity.get("status"),
                owner_id=owners["owner"],
                maintainer_id=owners["maintainer"],
                attributes=entity.get("attributes"),
                created=entity.get("created"),
                slots=entity.get("slots"),
                weight=entity.get("weight"),
                price=entity.get("price"),
                active=entity.get("active"),
            )
        )
        for tag in entity.get("tags", []):
            tags.append(Tag(id=len(tags) + 1, name=tag["name"]))
            links.append(Device.tags.through(device_id=entity["id"], tag_id=len(tags)))
        for port in entity.get("ports", []):
            ports.append(Port(device_id=entity["id"], name=port["name"]))
    Person.objects.using(alias).bulk_create(people.values())
    Tag.objects.using(alias).bulk_create(tags)
    Device.objects.using(alias).bulk_create(devices)
    Device.tags.through.objects.using(alias).bulk_create(links)
    Port.objects.using(alias).bulk_create(ports)


def clear(alias: str) -> None:
    """Delete every row of the tests' models."""
    for model in (Port, Device.tags.through, Device, Tag, Person):
        model.objects.using(alias).all().delete()


PRICES = [Decimal(text) for text in ("0.00", "0.01", "0.10", "2.50", "9.99", "-3.33", "10.00", "123.45", "999999.99")]
"""Prices at the decimal column's scale, most of them no binary fraction (9.99): memory compares them exactly."""


# -- databases ---------------------------------------------------------------------------------------

_ready: set[str] = set()


def database_alias(request: pytest.FixtureRequest, database: str) -> str:
    """The alias of ``database`` (``sqlite``, ``postgresql``, ``mysql``), its tables created once.

    A server's alias points at conftest's private database for it; without
    one the test skips (outside CI), as conftest decides.
    """
    alias = ALIASES[database]
    if alias in _ready:
        return alias
    if database in _FIXTURES:
        import sqlalchemy as sa

        url = sa.make_url(request.getfixturevalue(_FIXTURES[database]))
        settings.DATABASES[alias].update(
            NAME=url.database,
            USER=url.username or "",
            PASSWORD=url.password or "",
            HOST=url.host or "",
            PORT=url.port or "",
        )
    with connections[alias].schema_editor() as editor:
        for model in MODELS:
            editor.create_model(model)
    _ready.add(alias)
    return alias


# -- the REST API and the admin (this module is the URL conf) ---------------------------------------


class DeviceSerializer(serializers.ModelSerializer[Device]):
    class Meta:
        model = Device
        fields = ["id", "name"]


class _DeviceList(generics.ListAPIView[Device]):
    queryset = Device.objects.all()
    serializer_class = DeviceSerializer
    filter_backends = [QFilterBackend]
    qfilter_schema, qfilter_mapping = DEVICES, DEVICES_Q
    qfilter_default_sort = "name"


class _Pages(PageNumberPagination):
    page_size = 2


class DevicePages(_DeviceList):
    pagination_class = _Pages


class DeviceLimitOffset(_DeviceList):
    pagination_class = LimitOffsetPagination


class _Cursor(CursorPagination):
    page_size = 2
    ordering = "id"


class DeviceCursor(_DeviceList):
    pagination_class = _Cursor


class DeviceAdmin(QFilterAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]  # not subscriptable at run time
    qfilter_schema, qfilter_mapping = DEVICES, DEVICES_Q
    list_display = ["name"]


admin.site.register(Device, DeviceAdmin)

urlpatterns = [
    path("devices/", DevicePages.as_view()),
    path("devices-limit/", DeviceLimitOffset.as_view()),
    path("devices-cursor/", DeviceCursor.as_view()),
    path("admin/", admin.site.urls),
]
