"""Test data, always made through the services, as the app itself makes it."""

from __future__ import annotations

import datetime as dt

import factory

from ecrf.accounts.models import User
from ecrf.accounts.services import user_create
from ecrf.participants.models import Participant
from ecrf.participants.services import participant_enroll

PASSWORD = "Correct-Horse-Battery-42"


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


class ParticipantFactory(factory.Factory):
    class Meta:
        model = Participant

    screening_date = factory.LazyFunction(lambda: dt.date.today() - dt.timedelta(days=3))
    birth_date = dt.date(1990, 5, 17)

    @classmethod
    def _create(cls, model_class: type[Participant], **kwargs: object) -> Participant:
        return participant_enroll(**kwargs)  # type: ignore[arg-type]
