"""Validation rules of the forms, declared once: enforced by the services, described by
the data dictionary.

Each rule is a small frozen dataclass with two faces: :meth:`Rule.error` says what is
wrong with a value (or nothing), and :meth:`Rule.describe` states the rule in words.
The form catalogue attaches rules to fields (``Field.rules``); a service validates a
form's values with ``catalogue.form(code).errors(values, today=..., ...)`` and the
dictionary prints ``describe()`` of the very same objects, so the two cannot drift.

Rules that compare a value with another date name it as an *anchor*: a key of the
values being saved (the onset date of the same adverse event) or one the service
passes in (``today`` at the site, her ``screening_date``, her ``birth_date``).
A value or anchor that is missing is not judged here: being required is a rule of
its own.

``message`` overrides the default wording of the error where a form says it in its own
words; ``%(date)s`` in it is the anchor's date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.utils.functional import Promise
from django.utils.text import get_text_list
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Rule:
    """A rule of one field."""

    message: Promise | None = None

    def describe(self) -> Promise | str:
        raise NotImplementedError

    def error(self, value: Any, values: Mapping[str, Any]) -> str | None:
        """What is wrong with ``value`` (``values``: the form's values and the anchors)."""
        raise NotImplementedError

    def _say(self, default: Promise, **params: Any) -> str:
        text = self.message if self.message is not None else default
        return str(text) % params if params else str(text)


@dataclass(frozen=True)
class Required(Rule):
    """An answer must be given (blank text is no answer)."""

    def describe(self) -> Promise | str:
        return _("Required.")

    def error(self, value: Any, values: Mapping[str, Any]) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return self._say(_("This answer is required."))
        return None


@dataclass(frozen=True)
class NotInFuture(Rule):
    """A date no later than today at the site (``today``)."""

    def describe(self) -> Promise | str:
        return _("Not in the future.")

    def error(self, value: Any, values: Mapping[str, Any]) -> str | None:
        today = values.get("today")
        if value is None or today is None:
            return None
        if isinstance(value, dt.datetime):
            value = value.date()
        if value > today:
            return self._say(_("This date is in the future."))
        return None


@dataclass(frozen=True)
class NotBefore(Rule):
    """A date no earlier than another date of hers, less ``days`` if given."""

    anchor: str = ""
    anchor_label: Promise | str = ""
    days: int = 0

    def describe(self) -> Promise | str:
        if self.days:
            return _("Not more than %(days)s days before %(anchor)s.") % {
                "days": self.days,
                "anchor": self.anchor_label,
            }
        return _("Not before %(anchor)s.") % {"anchor": self.anchor_label}

    def error(self, value: Any, values: Mapping[str, Any]) -> str | None:
        anchor = values.get(self.anchor)
        if value is None or anchor is None:
            return None
        if value >= anchor - dt.timedelta(days=self.days):
            return None
        if self.days:
            return self._say(
                _("This is more than %(days)s days before %(anchor)s."),
                days=self.days,
                anchor=self.anchor_label,
                date=anchor.isoformat(),
            )
        return self._say(
            _("This is before %(anchor)s (%(date)s)."),
            anchor=self.anchor_label,
            date=anchor.isoformat(),
        )


@dataclass(frozen=True)
class AtLeast(Rule):
    """A number no smaller than ``minimum``."""

    minimum: Decimal | int = 0

    def describe(self) -> Promise | str:
        if self.minimum == 0:
            return _("Not negative.")
        return _("At least %(value)s.") % {"value": self.minimum}

    def error(self, value: Any, values: Mapping[str, Any]) -> str | None:
        if value is None or Decimal(value) >= self.minimum:
            return None
        return self._say(_("Expected at least %(value)s."), value=self.minimum)


@dataclass(frozen=True)
class Described(Rule):
    """A rule the service enforces with logic of its own (the dosing arithmetic, the
    schedule a moved transfer recomputes, a value computed from others), stated here
    so that the dictionary says it beside the field."""

    text: Promise | str = ""

    def describe(self) -> Promise | str:
        return self.text

    def error(self, value: Any, values: Mapping[str, Any]) -> str | None:
        return None


def _quoted(label: Promise | str) -> str:
    return str(_("“%(label)s”") % {"label": label})


@dataclass(frozen=True)
class ChoiceNeedsYes(Rule):
    """The answer ``choice`` stands only when at least one of ``answers`` (yes/no
    questions of the same form, as ``(name, label)``) is answered yes."""

    choice: str = ""
    choice_label: Promise | str = ""
    answers: tuple[tuple[str, Promise | str], ...] = ()

    def _answers(self) -> str:
        return get_text_list([_quoted(label) for _name, label in self.answers])

    def describe(self) -> Promise | str:
        return _("“%(choice)s” only when %(answers)s is yes.") % {
            "choice": self.choice_label,
            "answers": self._answers(),
        }

    def error(self, value: Any, values: Mapping[str, Any]) -> str | None:
        if value != self.choice or any(values.get(name) is True for name, _l in self.answers):
            return None
        return self._say(
            _("“%(choice)s” needs %(answers)s answered yes."),
            choice=self.choice_label,
            answers=self._answers(),
        )


@dataclass(frozen=True)
class ChoiceRefusedWithYes(Rule):
    """The answer ``choice`` is refused when the yes/no question ``answer`` of the same
    form (its name and label) is answered yes."""

    choice: str = ""
    choice_label: Promise | str = ""
    answer: str = ""
    answer_label: Promise | str = ""

    def describe(self) -> Promise | str:
        return _("Not “%(choice)s” when %(answer)s is yes.") % {
            "choice": self.choice_label,
            "answer": _quoted(self.answer_label),
        }

    def error(self, value: Any, values: Mapping[str, Any]) -> str | None:
        if value != self.choice or values.get(self.answer) is not True:
            return None
        return self._say(
            _("“%(choice)s” cannot be given when %(answer)s is answered yes."),
            choice=self.choice_label,
            answer=_quoted(self.answer_label),
        )


@dataclass(frozen=True)
class DaysAfterWithin(Rule):
    """A date from ``min_days`` to ``max_days`` days after another date of hers
    (``anchor``), both numbers study settings: ``min_days`` and ``max_days`` name fields
    of ``settings_model`` whose values the service passes in as anchors of the same
    names. ``why_earliest`` says why a date cannot come sooner."""

    anchor: str = ""
    anchor_label: Promise | str = ""
    settings_model: str = "studies.Study"
    min_days: str = ""
    max_days: str = ""
    why_earliest: Promise | str = ""

    def _setting_label(self, name: str) -> str:
        field = apps.get_model(self.settings_model)._meta.get_field(name)
        return _quoted(field.verbose_name)  # type: ignore[union-attr]

    def describe(self) -> Promise | str:
        return _("From %(min)s to %(max)s after %(anchor)s (study settings): %(why)s.") % {
            "min": self._setting_label(self.min_days),
            "max": self._setting_label(self.max_days),
            "anchor": self.anchor_label,
            "why": self.why_earliest,
        }

    def bounds(self, values: Mapping[str, Any]) -> tuple[dt.date, dt.date] | None:
        """The earliest and the latest date allowed, given the anchor and the settings."""
        anchor = values.get(self.anchor)
        low, high = values.get(self.min_days), values.get(self.max_days)
        if anchor is None or low is None or high is None:
            return None
        return anchor + dt.timedelta(days=low), anchor + dt.timedelta(days=high)

    def error(self, value: Any, values: Mapping[str, Any]) -> str | None:
        bounds = self.bounds(values)
        if value is None or bounds is None:
            return None
        earliest, latest = bounds
        if value < earliest:
            return str(
                _(
                    "%(date)s is the earliest date, %(days)s days after %(anchor)s "
                    "(%(anchor_date)s): %(why)s."
                )
                % {
                    "date": earliest.isoformat(),
                    "days": values[self.min_days],
                    "anchor": self.anchor_label,
                    "anchor_date": values[self.anchor].isoformat(),
                    "why": self.why_earliest,
                }
            )
        if value > latest:
            return str(
                _("%(date)s is the latest date, %(days)s days after %(anchor)s (%(anchor_date)s).")
                % {
                    "date": latest.isoformat(),
                    "days": values[self.max_days],
                    "anchor": self.anchor_label,
                    "anchor_date": values[self.anchor].isoformat(),
                }
            )
        return None
