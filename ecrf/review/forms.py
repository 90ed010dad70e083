"""The filters of audit-trail review and its sign-off, checked the same way for the web
page and the API."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from ecrf.accounts.models import User
from ecrf.accounts.selectors import visible_sites
from ecrf.common.forms import FreeTextField, PlainSelect, PlainTextarea, PlainTextInput
from ecrf.studies.models import Site

from .selectors import ANY_SIGNAL, AuditFilters, record_choices, words

_NAME = RegexValidator(r"^[a-z0-9_]+$", _("Give a field name such as serum_hcg_miu_ml."))


class MomentField(forms.DateTimeField):
    """A day (``YYYY-MM-DD``, in the study's time zone) or a time with its offset.

    ``end_of_day`` makes a day mean its end (the first moment of the next day), so that a
    range "until 15 March" takes in the whole of 15 March.
    """

    widget = PlainTextInput
    input_formats: list[str] = []

    def __init__(self, *, end_of_day: bool = False, **kwargs: Any) -> None:
        self.end_of_day = end_of_day
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> dt.datetime | None:
        text = str(value or "").strip()
        if not text:
            return None
        if len(text) > 40:
            raise ValidationError(_("Enter a date or a time of at most 40 characters."))
        try:
            moment = parse_datetime(text) if "T" in text or " " in text else None
            day = None if moment else parse_date(text)
        except ValueError:
            moment = day = None
        if moment is not None:
            if moment.tzinfo is None:
                raise ValidationError(
                    _("Give the time with its offset, e.g. 2026-03-15T18:00+09:00.")
                )
            return moment
        if day is None:
            raise ValidationError(
                _("Enter a date as YYYY-MM-DD, or a time such as 2026-03-15T18:00+09:00.")
            )
        if self.end_of_day:
            day += dt.timedelta(days=1)
        return dt.datetime.combine(day, dt.time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


def _site_choices(
    form: forms.Form, user: User, *, blank: Any, sites: dict[str, Site] | None = None
) -> dict[str, Site]:
    """Offer the sites ``user`` sees (``sites`` when the caller has them), by code;
    answer them by code."""
    if sites is None:
        sites = {site.code: site for site in visible_sites(user)}
    choices = [(code, str(site)) for code, site in sites.items()]
    form.fields["site"].choices = ([("", blank)] if blank else []) + choices  # type: ignore[attr-defined]
    return sites


def _styled(form: forms.Form) -> None:
    for field in form.fields.values():
        select = isinstance(field.widget, forms.Select)
        field.widget.attrs.setdefault("class", "form-select" if select else "form-control")


class AuditFilterForm(forms.Form):
    """What a reviewer narrows the trail to (every filter optional)."""

    site = forms.ChoiceField(label=_("Site"), required=False, widget=PlainSelect)
    subject_id = FreeTextField(
        label=_("Subject ID"), max_length=16, required=False, widget=PlainTextInput
    )
    user = FreeTextField(label=_("User"), max_length=200, required=False, widget=PlainTextInput)
    role = forms.ChoiceField(label=_("Role"), required=False, widget=PlainSelect)
    record = forms.ChoiceField(label=_("Form"), required=False, widget=PlainSelect)
    field = FreeTextField(
        label=_("Field"),
        max_length=63,
        required=False,
        validators=[_NAME],
        widget=PlainTextInput,
    )
    action = forms.ChoiceField(label=_("Action"), required=False, widget=PlainSelect)
    since = MomentField(label=_("From"), required=False)
    until = MomentField(label=_("Until"), required=False, end_of_day=True)
    reason = FreeTextField(
        label=_("Reason contains"), max_length=200, required=False, widget=PlainTextInput
    )
    signal = forms.ChoiceField(label=_("Risk signal"), required=False, widget=PlainSelect)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sites = _site_choices(self, user, blank=_("Any"))
        anything = [("", str(_("Any")))]
        roles, actions, signals = words()
        self.fields["role"].choices = anything + list(roles.items())  # type: ignore[attr-defined]
        self.fields["record"].choices = anything + record_choices()  # type: ignore[attr-defined]
        self.fields["action"].choices = anything + list(actions.items())  # type: ignore[attr-defined]
        self.fields["signal"].choices = (  # type: ignore[attr-defined]
            anything + [(ANY_SIGNAL, str(_("Any risk signal")))] + list(signals.items())
        )
        _styled(self)

    def clean_site(self) -> Site | None:
        return self.sites.get(self.cleaned_data.get("site") or "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until <= since:
            self.add_error("until", _("The end of the range must come after its start."))
        return data

    def filters(self) -> AuditFilters:
        data = self.cleaned_data
        return AuditFilters(
            site=data.get("site"),
            subject_id=data.get("subject_id") or "",
            user=data.get("user") or "",
            role=data.get("role") or "",
            record=data.get("record") or "",
            field=data.get("field") or "",
            action=data.get("action") or "",
            since=data.get("since"),
            until=data.get("until"),
            reason=data.get("reason") or "",
            signal=data.get("signal") or "",
        )


class AuditReviewForm(forms.Form):
    """A sign-off: the site, the time the review reaches, and what it found."""

    site = forms.ChoiceField(label=_("Site"), widget=PlainSelect)
    through = MomentField(label=_("Reviewed through"), end_of_day=True)
    comment = FreeTextField(label=_("Comment"), max_length=4000, widget=PlainTextarea)

    def __init__(
        self, *args: Any, user: User, sites: dict[str, Site] | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("auto_id", "review_%s")  # beside the filters, whose ids are id_*
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault(
            "through", timezone.localtime().replace(second=0, microsecond=0).isoformat()
        )
        super().__init__(*args, **kwargs)
        self.sites = _site_choices(self, user, blank=None, sites=sites)
        self.fields["comment"].widget.attrs["rows"] = 2
        _styled(self)

    def clean_site(self) -> Site | None:
        return self.sites.get(self.cleaned_data.get("site") or "")
