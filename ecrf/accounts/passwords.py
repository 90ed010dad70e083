"""A password an attacker would guess soon is refused, whatever its length.

Length and a list of common passwords (Django's validators) let ``pw1pw1pw1pw1`` through;
zxcvbn estimates how many guesses a password takes, seeing repeated patterns, sequences,
keyboard walks, dates and common words, and the user's own name and username.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from zxcvbn import zxcvbn

if TYPE_CHECKING:
    from django.utils.functional import Promise

#: The longest password zxcvbn reads.
ZXCVBN_MAX_LENGTH = 72

#: The kinds of weakness zxcvbn finds, in the words the refusal uses.
WEAKNESSES: dict[str, Promise] = {
    "repeat": gettext_lazy("it repeats a pattern"),
    "sequence": gettext_lazy("it follows a sequence such as abc or 123"),
    "spatial": gettext_lazy("it follows a keyboard pattern"),
    "date": gettext_lazy("it contains a date"),
    "dictionary": gettext_lazy("it is built on common words or names"),
}


class GuessablePasswordValidator:
    """Refuse a password zxcvbn scores below ``min_score`` (0 to 4; 3 by default: about
    10^8 guesses or more, beyond an online attack and costly offline), saying what makes
    it guessable."""

    def __init__(self, min_score: int = 3) -> None:
        self.min_score = min_score

    def validate(self, password: str, user: Any = None) -> None:
        own = [
            str(value)
            for value in (
                getattr(user, "username", ""),
                getattr(user, "printed_name", ""),
                getattr(user, "first_name", ""),
                getattr(user, "last_name", ""),
                getattr(user, "email", ""),
            )
            if value
        ]
        # zxcvbn reads at most its first 72 characters (longer ones it refuses to read).
        result = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=own)
        if result["score"] >= self.min_score:
            return
        found = [m["pattern"] for m in result["sequence"] if m["pattern"] in WEAKNESSES]
        reasons = [str(WEAKNESSES[p]) for p in dict.fromkeys(found)] or [
            _("it is too short or too simple for its length")
        ]
        raise ValidationError(
            _(
                "This password is too easy to guess: %(reasons)s. Choose a longer one made "
                "of unrelated words."
            ),
            code="password_too_guessable",
            params={"reasons": get_text_list(reasons, _("and"))},
        )

    def get_help_text(self) -> str:
        return _(
            "Your password must not be easy to guess: no repeated patterns, sequences, "
            "keyboard patterns, dates, common words or your own name."
        )
