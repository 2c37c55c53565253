"""The Django REST framework filter backend, through DRF's test client: filters, sorts, pages, and answers bad input.

The endpoints are ``django_support``'s (page number, limit/offset and cursor
pagination over the same view). A bad request's 400 body is compared with
what the FastAPI integration answers for the same request, key by key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import django_support  # configures Django's settings: before any other import of Django

# isort: split
import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import path
from django_support import DEVICES, Device, DevicePages
from drf_spectacular.generators import SchemaGenerator as SpectacularGenerator
from drf_spectacular.validation import validate_schema
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from rest_framework import generics
from rest_framework.schemas.openapi import AutoSchema, SchemaGenerator
from rest_framework.test import APIClient

from qfilter.integrations.fastapi import QFilter, RequestFilter, install_error_handlers

DEVICE_ROWS = [
    {"id": 1, "name": "Sensor-Ü1", "owner": {"id": 101, "email": "ann"}, "tags": [{"name": "lab"}], "slots": 4},
    {"id": 2, "name": "sensor-2", "owner": {"id": 102, "email": "bob"}, "tags": [{"name": "lab"}], "slots": 8},
    {"id": 3, "name": "gateway", "tags": [{"name": "old"}]},
    {"id": 4, "name": "alpha", "owner": {"id": 104, "email": "ann"}},
    {"id": 5, "name": "boiler", "slots": 1},
]


@pytest.fixture(scope="module", autouse=True)
def devices(request: pytest.FixtureRequest) -> Iterator[None]:
    """The devices in the default database (SQLite) for this module, deleted afterwards."""
    alias = django_support.database_alias(request, "sqlite")
    with transaction.atomic(using=alias):
        django_support.insert(alias, DEVICE_ROWS)
    yield
    django_support.clear(alias)


@pytest.fixture
def client() -> APIClient:
    return APIClient()


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    body = response.json()
    return [item["name"] for item in (body["results"] if isinstance(body, dict) else body)]


def test_q_filters_and_the_default_sort_orders(client: APIClient) -> None:
    assert names(client.get("/devices/", {"q": "tag:lab"})) == ["Sensor-Ü1", "sensor-2"]  # by code point: S < s
    assert names(client.get("/devices/", {"q": "-tag:lab name:a"})) == ["alpha", "gateway"]
    assert client.get("/devices/").json()["count"] == 5


def test_sort_orders_with_missing_values_last(client: APIClient) -> None:
    response = client.get("/devices-limit/", {"sort": "-slots", "limit": "10"})
    assert names(response) == ["sensor-2", "Sensor-Ü1", "boiler", "gateway", "alpha"]  # no slots: last, by id
    assert names(client.get("/devices-limit/", {"sort": "slots,-name", "limit": "10"}))[:3] == [
        "boiler",
        "Sensor-Ü1",
        "sensor-2",
    ]


def test_me_is_the_signed_in_user(client: APIClient) -> None:
    client.force_authenticate(User(username="ann"))
    assert names(client.get("/devices/", {"q": "owner:@me"})) == ["Sensor-Ü1", "alpha"]
    assert sorted(names(client.get("/devices-limit/", {"q": "-owner:@me", "limit": "10"}))) == [
        "boiler",
        "gateway",
        "sensor-2",
    ]


def test_page_number_pagination_pages_the_filtered_list(client: APIClient) -> None:
    first = client.get("/devices/", {"q": "-tag:old"}).json()
    assert first["count"] == 4 and [d["name"] for d in first["results"]] == ["Sensor-Ü1", "alpha"]
    second = client.get(first["next"]).json()
    assert [d["name"] for d in second["results"]] == ["boiler", "sensor-2"] and second["next"] is None


def test_cursor_pagination_walks_every_match_once(client: APIClient) -> None:
    seen: list[str] = []
    url: str | None = "/devices-cursor/?q=-name:gateway"
    while url is not None:
        body = client.get(url).json()
        seen += [d["name"] for d in body["results"]]
        url = body["next"]
    assert seen == ["Sensor-Ü1", "sensor-2", "alpha", "boiler"]  # the cursor's order: by id


def test_sort_is_refused_under_cursor_pagination(client: APIClient) -> None:
    response = client.get("/devices-cursor/", {"sort": "name"})
    assert response.status_code == 400
    assert response.json()["parameter"] == "sort" and "cursor" in response.json()["message"]


# -- bad requests: the same body as the FastAPI integration's ----------------------------------------


BAD_REQUESTS = [
    {"q": 'name:"unclosed'},
    {"q": "nmae:x"},
    {"q": "owner:@me"},  # no signed-in user
    {"q": "created:now-P1D"},
    {"q": "slots:abc"},
    {"q": "tag:a\x00"},
    {"q": "(" * 40 + "tag:a" + ")" * 40},
    {"q": "x" * 5000},
    {"sort": "bogus"},
    {"sort": "tag"},
    {"sort": "name,name"},
    {"q": "tag:a", "sort": "-"},
]


def _nobody() -> str | None:
    return None


# The FastAPI integration with the same schema, no one signed in: its answers are the reference.
FASTAPI_DEVICES = QFilter(DEVICES, current_user=_nobody)


@pytest.fixture(scope="module")
def fastapi_client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/devices")
    def list_devices(found: Annotated[RequestFilter, Depends(FASTAPI_DEVICES.filter)]) -> list[str]:
        return []

    return TestClient(app)


@pytest.mark.parametrize("params", BAD_REQUESTS, ids=lambda p: repr(p)[:40])
def test_a_bad_request_gets_the_fastapi_integrations_400_body(
    client: APIClient, fastapi_client: TestClient, params: dict[str, str]
) -> None:
    django = client.get("/devices/", params)
    fastapi = fastapi_client.get("/devices", params=params)
    assert django.status_code == fastapi.status_code == 400
    assert django["Content-Type"] == "application/json"
    assert django.json() == fastapi.json()
    assert django.json()["code"] == 400 and isinstance(django.json().get("position", 0), (int, type(None)))


def test_a_repeated_parameter_is_refused(client: APIClient) -> None:
    response = client.get("/devices/?q=tag:a&q=tag:b")
    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "error": "invalid parameter",
        "message": "q is given more than once; give it once",
        "parameter": "q",
        "value": "tag:b",
    }


def test_a_view_without_a_schema_is_a_configuration_error() -> None:
    from django.core.exceptions import ImproperlyConfigured
    from rest_framework.test import APIRequestFactory

    from qfilter.django.rest_framework import QFilterBackend

    class Bare(generics.ListAPIView[Device]):
        queryset = Device.objects.all()

    request = APIRequestFactory().get("/devices/")
    with pytest.raises(ImproperlyConfigured, match="give it qfilter_schema and qfilter_mapping"):
        QFilterBackend().filter_queryset(request, Device.objects.all(), Bare())


# -- OpenAPI -------------------------------------------------------------------------------------------


def _parameters(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {parameter["name"]: parameter for parameter in operation.get("parameters", [])}


def test_drf_spectacular_describes_q_and_sort() -> None:
    document = SpectacularGenerator().get_schema(request=None, public=True)  # type: ignore[no-untyped-call]
    validate_schema(document)  # type: ignore[no-untyped-call]
    listed = _parameters(document["paths"]["/devices/"]["get"])
    assert "`tag`" in listed["q"]["description"] and listed["q"]["schema"] == {"type": "string"}
    assert listed["q"]["examples"]["boolean"]["value"]  # one per kind, and one combining them
    assert "Sortable: name, status, owner" in listed["sort"]["description"]
    assert "page" in listed  # the pagination's own parameters stay
    cursor = _parameters(document["paths"]["/devices-cursor/"]["get"])
    assert "q" in cursor and "sort" not in cursor and "cursor" in cursor


def test_drf_own_generator_describes_q_and_sort() -> None:
    class Described(DevicePages):
        schema = AutoSchema()

    document = SchemaGenerator(patterns=[path("devices/", Described.as_view())]).get_schema(public=True)
    listed = _parameters(document["paths"]["/devices/"]["get"])
    assert set(listed) >= {"q", "sort", "page"}
    assert listed["q"]["in"] == "query" and not listed["q"]["required"]
