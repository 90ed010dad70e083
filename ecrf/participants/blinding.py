"""Who may see a participant's arm (concealment and blinding)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecrf.accounts.policy import arms_hidden_from

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from ecrf.accounts.models import User

    from .models import Participant


def arm_visible_to(user: User | AnonymousUser, participant: Participant) -> bool:
    """The arm shows once allocated, except to the roles a blinded study names.

    An investigator's unblinding of one participant shows her arm to every role.
    """
    if not arms_hidden_from(user, participant.site.study):
        return True
    return participant.unblindings.exists()
