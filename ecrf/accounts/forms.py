from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.utils.translation import gettext_lazy as _

from ecrf.common.forms import FreeTextField

from .lockout import account_failure_limit


class LoginForm(AuthenticationForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Username")
        self.fields["password"].label = _("Password")
        self.error_messages["invalid_login"] = _(
            "The username or password is not correct. After %(limit)s failed attempts the "
            "account is locked for an hour."
        )
        self.helper = FormHelper()
        self.helper.form_id = "login-form"
        self.helper.add_input(Submit("submit", _("Sign in"), css_class="w-100"))

    def get_invalid_login_error(self) -> forms.ValidationError:
        return forms.ValidationError(
            self.error_messages["invalid_login"],
            code="invalid_login",
            params={"limit": account_failure_limit()},
        )


class TokenForm(forms.Form):
    token = forms.RegexField(
        label=_("Six-digit code from your authenticator app"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("Enter the six digits your authenticator app shows.")},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_id = "token-form"
        self.helper.add_input(Submit("submit", _("Verify")))

    def clean_token(self) -> str:
        return self.cleaned_data["token"].strip()


class StyledPasswordChangeForm(PasswordChangeForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Change password")))


#: The prefix of the per-account "what to change" fields of the access review form.
CHANGE_PREFIX = "change_"


class AccessReviewForm(forms.Form):
    """A periodic access review: its date, what it found, and for any account listed,
    what is to change (left empty: nothing)."""

    reviewed_on = forms.DateField(
        label=_("Review date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    comment = FreeTextField(
        label=_("What the review found"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, usernames: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for username in usernames:
            self.fields[CHANGE_PREFIX + username] = FreeTextField(
                label=_("What to change for %(username)s") % {"username": username},
                required=False,
                max_length=500,
            )

    def change_field(self, username: str) -> forms.BoundField:
        return self[CHANGE_PREFIX + username]

    def accounts_to_change(self) -> list[dict[str, str]]:
        """The accounts given something to change, with what (cleaned data)."""
        return [
            {"username": name.removeprefix(CHANGE_PREFIX), "change": value.strip()}
            for name, value in self.cleaned_data.items()
            if name.startswith(CHANGE_PREFIX) and value and value.strip()
        ]
