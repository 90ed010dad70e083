"""Past the API's request rate the answer is 429, in JSON, with Retry-After."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.requirement("API-CONV-429", "API-CONV-JSON")]


@pytest.fixture
def low_rates(settings) -> Iterator[None]:
    settings.API_THROTTLE_RATES = {"anon": "2/minute", "user": "3/minute"}
    cache.clear()
    yield
    cache.clear()


def test_a_key_past_its_rate_gets_429_json_with_retry_after(low_rates, api_for, coordinator_a):
    client = api_for(coordinator_a)
    answers = [client.get("/api/v1/participants/").status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    throttled = client.get("/api/v1/participants/")
    assert throttled.status_code == 429
    assert throttled["Content-Type"].startswith("application/json")
    assert "throttled" in throttled.json()["detail"]
    assert int(throttled["Retry-After"]) > 0


def test_requests_without_a_key_past_their_rate_get_429(low_rates):
    # Routes that need a key answer 401 first; the published schema is open to anyone.
    client = APIClient()
    schema = "/api/schema/"
    answers = [client.get(schema, HTTP_ACCEPT="application/json").status_code for _ in range(2)]
    assert answers == [200, 200]
    throttled = client.get(schema, HTTP_ACCEPT="application/json")
    assert throttled.status_code == 429
    assert "detail" in throttled.json()
    assert "Retry-After" in throttled


def test_each_user_has_her_own_count(low_rates, api_for, coordinator_a, coordinator_b):
    first = api_for(coordinator_a)
    for _ in range(3):
        first.get("/api/v1/participants/")
    assert first.get("/api/v1/participants/").status_code == 429
    assert api_for(coordinator_b).get("/api/v1/participants/").status_code == 200


def test_the_default_rates_are_generous_and_the_suite_runs_above_them(settings):
    from ecrf.settings import base

    assert base.API_THROTTLE_RATES["user"] == "1200/minute"
    assert settings.API_THROTTLE_RATES["user"] == "100000/minute"
