"""The admin's search box takes a ``q`` filter: through Django's test client, signed in as a staff user."""

from __future__ import annotations

import django_support  # configures Django's settings: before any other import of Django

# isort: split
import re
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

URL = "/admin/qfilter_tests/device/"


@pytest.fixture(scope="module")
def staff(request: pytest.FixtureRequest) -> Iterator[User]:
    """Django's own tables (users, sessions, the admin's log), the devices, and a superuser named ann."""
    alias = django_support.database_alias(request, "sqlite")
    call_command("migrate", database=alias, verbosity=0, interactive=False)
    django_support.insert(
        alias,
        [
            {"id": 1, "name": "pump-north", "owner": {"id": 101, "email": "ann"}, "tags": [{"name": "lab"}]},
            {"id": 2, "name": "pump-south", "tags": [{"name": "old"}]},
            {"id": 3, "name": "valve"},
        ],
    )
    user = User.objects.db_manager(alias).create_superuser("ann", "ann@example.com", "secret")
    yield user
    user.delete()
    django_support.clear(alias)


def listed(client: Client, q: str) -> tuple[list[str], str]:
    response = client.get(URL, {"q": q})
    assert response.status_code == 200
    page = response.content.decode()
    return re.findall(r'class="field-name"><a href="[^"]+">([^<]+)</a>', page), page


def test_the_search_box_takes_a_filter(staff: User) -> None:
    client = Client()
    client.force_login(staff)
    assert sorted(listed(client, "name:pump -tag:old")[0]) == ["pump-north"]
    assert sorted(listed(client, "tag:lab OR name:valve")[0]) == ["pump-north", "valve"]
    assert sorted(listed(client, "owner:@me")[0]) == ["pump-north"]  # the signed-in user's username
    assert sorted(listed(client, "")[0]) == ["pump-north", "pump-south", "valve"]
    page = listed(client, "")[1]
    assert 'name="q"' in page and "qualifiers: name, status, tag" in page  # the box and its help text


def test_a_bad_filter_is_an_error_message_and_an_empty_list(staff: User) -> None:
    client = Client()
    client.force_login(staff)
    names, page = listed(client, "nmae:pump")
    assert names == []
    assert "Search: unknown qualifier &#x27;nmae&#x27; at position 0 (did you mean &#x27;name&#x27;?" in page
    assert 'class="error"' in page
