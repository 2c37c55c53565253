"""The Django measure: a DRF endpoint filtered by qfilter against the same endpoint with django-filter.

One table of devices (a name, a status, a slot count, tags through a
many-to-many) on SQLite (a file) and, when a server is given, PostgreSQL.
Two measures per filter, each a ratio of medians from the same run:

- **requests**: the list endpoint (DRF's ``ListAPIView``, 20 per page with a
  count) with ``QFilterBackend`` and ``?q=``, against the same view with
  django-filter's ``DjangoFilterBackend`` and one parameter per field, for
  the same filter: in-process requests through Django's whole request
  stack (DRF's test client), so both pay the same overhead. Target: at least
  the requests/s of django-filter (time per request ratio ≤ 1.0).
- **SQL**: the statement of ``Model.objects.filter(compile_q(...))`` against
  that of a hand-written ``Q`` with the same answer, each run through the
  database cursor (SQL text and parameters made once, so only the database's
  work and the fetch are timed). Target: ≤ 1.1x.

The hand-written forms are what a Django developer writes: ``tags__name``
with ``.distinct()``, ``icontains``, ``gte``; qfilter's schema declares
``status`` an exact value, as both of them compare it. Without django-filter (qfilter's
own test environment) the request measure is skipped and said to be missing.
"""

from __future__ import annotations

import importlib.util
import os
import random
import tempfile
from functools import partial
from typing import TYPE_CHECKING, Any

from .timing import measure

if TYPE_CHECKING:
    from .bench import Config, Row

# (case, q, django-filter's parameters, the hand-written Q's keyword arguments)
CASES: list[tuple[str, str, dict[str, str], dict[str, Any]]] = [
    ("tag, status, slots", "tag:lab status:active slots:>=4", {"tag": "lab", "status": "active", "slots_min": "4"}, {}),
    ("name fragment", "name:sensor-1", {"name": "sensor-1"}, {}),
]
_LABELS = [f"label-{n}" for n in range(18)] + ["lab", "old"]


def _configure(databases: dict[str, dict[str, Any]]) -> None:
    import django
    from django.conf import settings

    apps = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
    if importlib.util.find_spec("django_filters") is not None:
        apps.append("django_filters")
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmarks",
        USE_TZ=True,
        ALLOWED_HOSTS=["testserver"],
        DATABASES=databases,
        INSTALLED_APPS=apps,
        ROOT_URLCONF=__name__,
        REST_FRAMEWORK={"DEFAULT_AUTHENTICATION_CLASSES": [], "UNAUTHENTICATED_USER": None},
    )
    django.setup()


urlpatterns: list[Any] = []


def _build(alias: str, rows: int) -> dict[str, Any]:
    """The models, their table filled on ``alias``, and the two views (django-filter's when installed)."""
    from django.db import connections, models
    from django.urls import path
    from rest_framework import generics, serializers
    from rest_framework.pagination import PageNumberPagination

    from qfilter import Kind
    from qfilter.django import orm_schema
    from qfilter.django.rest_framework import QFilterBackend

    label = f"bench_{alias}"

    class Tag(models.Model):
        name: Any = models.CharField(max_length=50, db_index=True)

        class Meta:
            app_label = label

    class Device(models.Model):
        name: Any = models.CharField(max_length=100, db_index=True)
        status: Any = models.CharField(max_length=20, db_index=True)
        slots: Any = models.IntegerField(null=True, db_index=True)
        tags: Any = models.ManyToManyField(Tag)

        class Meta:
            app_label = label

    # status is an exact value, as django-filter's and the hand-written Q's status=: the same filter
    # (a TEXT field, what orm_schema reads a CharField without choices as, would find a fragment ignoring case).
    schema, mapping = orm_schema(
        Device,
        {"name": "name", "status": "status", "tag": "tags__name", "slots": "slots"},
        kinds={"status": Kind.EXACT},
    )
    with connections[alias].schema_editor() as editor:
        for model in (Tag, Device):
            editor.create_model(model)
    rng = random.Random(20)
    Tag.objects.using(alias).bulk_create(Tag(id=i + 1, name=name) for i, name in enumerate(_LABELS))
    devices = [
        Device(
            id=i + 1,
            name=f"sensor-{i}",
            status=rng.choice(["active", "retired", "spare"]),
            slots=rng.choice([None, 1, 2, 4, 8, 16]),
        )
        for i in range(rows)
    ]
    Device.objects.using(alias).bulk_create(devices, batch_size=2000)
    Link = Device.tags.through
    links = [Link(device_id=i + 1, tag_id=t) for i in range(rows) for t in rng.sample(range(1, len(_LABELS) + 1), 3)]
    Link.objects.using(alias).bulk_create(links, batch_size=5000)
    if connections[alias].vendor == "postgresql":
        # The statistics autovacuum would gather within a minute: without them both plans are guesses.
        with connections[alias].cursor() as cursor:
            for model in (Tag, Device, Link):
                cursor.execute(f"ANALYZE {connections[alias].ops.quote_name(model._meta.db_table)}")

    class Pages(PageNumberPagination):
        page_size = 20

    class DeviceSerializer(serializers.ModelSerializer[Any]):
        class Meta:
            model = Device
            fields = ["id", "name", "status", "slots"]

    class Base(generics.ListAPIView[Any]):
        queryset = Device.objects.using(alias).order_by("id")
        serializer_class = DeviceSerializer
        pagination_class = Pages

    class QFilterList(Base):
        filter_backends = [QFilterBackend]
        qfilter_schema, qfilter_mapping = schema, mapping

    urlpatterns.append(path(f"{alias}/qfilter/", QFilterList.as_view()))
    built: dict[str, Any] = {"Device": Device, "schema": schema, "mapping": mapping}
    if importlib.util.find_spec("django_filters") is not None:
        import django_filters
        from django_filters.rest_framework import DjangoFilterBackend

        class DeviceFilter(django_filters.FilterSet):  # type: ignore[misc]
            tag = django_filters.CharFilter(field_name="tags__name", distinct=True)
            status = django_filters.CharFilter(field_name="status")
            slots_min = django_filters.NumberFilter(field_name="slots", lookup_expr="gte")
            name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

            class Meta:
                model = Device
                fields: list[str] = []

        class FilterList(Base):
            filter_backends = [DjangoFilterBackend]
            filterset_class = DeviceFilter

        urlpatterns.append(path(f"{alias}/django-filter/", FilterList.as_view()))
    return built


def _hand_written(case: str) -> Any:
    from django.db.models import Q

    if case == "name fragment":
        return Q(name__icontains="sensor-1")
    return Q(tags__name="lab") & Q(status="active") & Q(slots__gte=4)


def _statement(queryset: Any, alias: str) -> tuple[str, Any]:
    return queryset.values_list("id", flat=True).query.get_compiler(using=alias).as_sql()  # type: ignore[no-any-return]


def _run_statement(alias: str, sql: str, params: Any) -> int:
    from django.db import connections

    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return len(cursor.fetchall())


def run(config: Config) -> list[Row]:
    from .bench import Row

    rows = 300 if config.smoke else 20_000
    folder = tempfile.mkdtemp(prefix="qfilter-django-bench-")
    databases: dict[str, dict[str, Any]] = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(folder, "bench.sqlite3")}
    }
    if config.postgres_url and "postgresql" in config.sql_databases:
        import sqlalchemy as sa

        url = sa.make_url(config.postgres_url)
        databases["postgresql"] = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": url.database,
            "USER": url.username or "",
            "PASSWORD": url.password or "",
            "HOST": url.host or "",
            "PORT": url.port or "",
        }
    _configure(databases)
    from django.db import connections
    from rest_framework.test import APIClient

    from qfilter.django import compile_q

    results: list[Row] = []
    client = APIClient()
    for alias in databases:
        name = "SQLite" if alias == "default" else "PostgreSQL"
        try:
            built = _build(alias, rows)
        except Exception as error:  # a server that does not answer: say so, measure the others
            results.append(Row("Django", f"{name}: unavailable ({type(error).__name__})", "qfilter", None, "", None))
            continue
        Device = built["Device"]
        try:
            for case, q, params, _ in CASES:
                qfilter_url = f"/{alias}/qfilter/"
                filter_url = f"/{alias}/django-filter/"
                got = client.get(qfilter_url, {"q": q}).json()
                cases_: dict[str, Any] = {"qfilter": partial(client.get, qfilter_url, {"q": q})}
                if any(str(p.pattern) == filter_url.lstrip("/") for p in urlpatterns):
                    want = client.get(filter_url, params).json()
                    assert got["count"] == want["count"] and got["results"] == want["results"], case
                    cases_["django-filter"] = partial(client.get, filter_url, params)
                timing = measure(cases_, rounds=config.sql_rounds, sample_time=config.sample_time * 5)
                results.append(
                    Row(
                        "Django",
                        f"{name} requests: {case}",
                        "DRF + QFilterBackend",
                        timing["qfilter"],
                        "DRF + django-filter",
                        timing.get("django-filter"),
                        target="≥ 1.0x the requests/s (ratio ≤ 1.0)",
                        limit=1.0,
                        note="" if "django-filter" in timing else "django-filter is not installed",
                    )
                )
                ours = Device.objects.using(alias).filter(compile_q(q, built["schema"], built["mapping"]))
                hand = Device.objects.using(alias).filter(_hand_written(case)).distinct()
                assert sorted(ours.values_list("id", flat=True)) == sorted(hand.values_list("id", flat=True)), case
                statements = {"compile_q": _statement(ours, alias), "hand-written Q": _statement(hand, alias)}
                timing = measure(
                    {label: partial(_run_statement, alias, *statement) for label, statement in statements.items()},
                    rounds=config.sql_rounds,
                    sample_time=config.sample_time * 5,
                )
                results.append(
                    Row(
                        "Django",
                        f"{name} SQL: {case}",
                        "filter(compile_q(...))",
                        timing["compile_q"],
                        "filter(hand-written Q)",
                        timing["hand-written Q"],
                        target="≤ 1.1x",
                        limit=1.1,
                    )
                )
        finally:
            with connections[alias].schema_editor() as editor:
                editor.delete_model(Device)  # and its many-to-many table
                editor.delete_model(Device.tags.field.related_model)
    return results
