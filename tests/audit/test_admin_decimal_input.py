"""A decimal typed in the admin is a number: "sNaN", "NaN" or "Infinity" is refused by
its field, never a server error."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from ecrf.accounts.models import User
from ecrf.studies.models import Arm, Study

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("typed", ["sNaN", "NaN", "Infinity", "-Infinity", "snan"])
def test_a_decimal_that_is_not_a_finite_number_is_refused_by_its_field(
    typed: str,
    study: Study,
    make_user: Callable[..., User],
    client_for: Callable[[User], Client],
) -> None:
    arm = Arm.objects.filter(study=study).order_by("pk").first()
    assert arm is not None
    before = arm.daily_dose_mg
    client = client_for(make_user("admin", username="ada_admin"))
    response = client.post(
        f"/admin/studies/arm/{arm.pk}/change/",
        {
            "name_en": arm.name_en,
            "name_ja": arm.name_ja,
            "daily_dose_mg": typed,
            "capsule_mg": arm.capsule_mg,
            "intakes_per_day": arm.intakes_per_day,
            "order": arm.order,
            "reason_for_change": "Typing test",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["daily_dose_mg"], errors
    arm.refresh_from_db()
    assert arm.daily_dose_mg == before
