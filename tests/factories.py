"""Test data, always made through the services, as the app itself makes it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import factory
from django_otp.plugins.otp_totp.models import TOTPDevice

from ecrf.accounts.models import User
from ecrf.accounts.services import api_token_issue, user_create
from ecrf.participants.models import Participant
from ecrf.participants.services import participant_enroll

PASSWORD = "Correct-Horse-Battery-42"

ELIGIBLE_ANSWERS: dict[str, Any] = {
    "prior_good_quality_transfers": 3,
    "prior_embryos_transferred": 5,
    "prior_biochemical_pregnancy": False,
    "other_infertility_factor": False,
    "th1_th2_ratio": Decimal("12.4"),
    "th1_th2_sample_date": None,
    "th1_th2_laboratory": "Central lab",
    "frozen_embryos_available": True,
    "able_to_attend_visits": True,
    "antiphospholipid_syndrome": False,
    "coagulation_abnormality": False,
    "thyroid_dysfunction": False,
    "other_pregnancy_loss_factor": False,
    "tacrolimus_contraindication": False,
    "pregnant": False,
    "investigator_judges_unsuitable": False,
}


class UserFactory(factory.Factory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    role = "coordinator"
    site_codes = factory.LazyFunction(lambda: ["S01"])
    password = PASSWORD
    printed_name = factory.LazyAttribute(lambda o: f"{o.username.title()} Test")
    language = "en"

    @classmethod
    def _create(cls, model_class: type[User], **kwargs: object) -> User:
        return user_create(performed_by=None, **kwargs)  # type: ignore[arg-type]


def enrol_authenticator(user: User) -> TOTPDevice:
    """A confirmed authenticator for ``user``, as the MFA set-up page leaves one."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def api_key_for(user: User) -> str:
    """A working API key for ``user``: where the study requires two-factor authentication
    a key is issued only to a user with an enrolled authenticator, so one is enrolled."""
    enrol_authenticator(user)
    return api_token_issue(user=user, performed_by=user).key


class ParticipantFactory(factory.Factory):
    class Meta:
        model = Participant

    screening_date = factory.LazyFunction(lambda: dt.date.today() - dt.timedelta(days=3))
    birth_date = dt.date(1990, 5, 17)

    @classmethod
    def _create(cls, model_class: type[Participant], **kwargs: object) -> Participant:
        return participant_enroll(**kwargs)  # type: ignore[arg-type]


def deactivation_form(user: Any, reason: str) -> dict[str, Any]:
    """The admin's change form of a coordinator with one site, posted to deactivate her
    (``is_active`` left out, as an unticked box is) with a reason."""
    membership = user.memberships.get()
    return {
        "username": user.username,
        "printed_name": user.printed_name,
        "email": "",
        "language": "en",
        "role": "coordinator",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "1",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": membership.pk,
        "memberships-0-user": user.pk,
        "memberships-0-site": membership.site_id,
        "reason_for_change": reason,
    }
