"""The texts the system writes on its own, kept as a code and parameters and shown in
the reader's language.

A status change the system makes, an edit check's finding and the query it opens are
read by people working in different languages: a coordinator in Japanese, a monitor in
English. Such a text is stored as a code of :data:`MESSAGES` with its parameters (and,
for the audit trail and the exports, which are language-neutral records, once in
English); each page renders it again with :func:`render` in the language of whoever
reads it. A text a person typed has no code and is shown as typed.

Parameters are stored as JSON. A value that depends on the language (a label, a list
of labels) is frozen by :func:`freeze` into its text in each language of the site
(``{"by_language": {"en": ..., "ja": ...}}``); anything else (a date, a number, a
randomization number) is stored as it reads in every language.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

#: Every text the system writes in its own words, by code; ``%(name)s`` are parameters.
MESSAGES: dict[str, Promise] = {
    # Reasons of the status changes the system makes.
    "eligibility_assessed": _("Eligibility assessed"),
    "consent_recorded": _("Consent recorded"),
    "age_counted_at_consent": _("Age counted at consent"),
    "age_recomputed": _("Age re-computed"),
    "randomized": _("Randomized: %(number)s"),
    "completed": _("Completed: %(items)s."),
    "both_endpoints_recorded": _("Both endpoints recorded"),
    # Findings of the endpoint forms' edit checks (the code is the check's code).
    "assessment_before_et": _(
        "The assessment (%(assessed)s) is dated before the embryo transfer (%(et)s)."
    ),
    "hcg_out_of_range": _("Serum hCG %(value)s mIU/mL is outside 0 to %(max)s mIU/mL."),
    "assessment_outside_window": _(
        "The assessment (%(assessed)s) is outside the visit window (%(start)s to %(end)s)."
    ),
    "hcg_positive_below_cutoff": _(
        "The result is positive but serum hCG %(value)s mIU/mL is under the cut-off of "
        "%(cutoff)s mIU/mL."
    ),
    "clinical_after_negative_biochemical": _(
        "A clinical pregnancy is recorded after a negative biochemical pregnancy result."
    ),
}

#: The key of a parameter frozen in each language.
BY_LANGUAGE = "by_language"


def _language_codes() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def freeze(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``params`` as JSON to store: a translatable text (lazy) or a callable answering
    one becomes its text in each language of the site; dates and numbers their text."""
    frozen: dict[str, Any] = {}
    for name, value in (params or {}).items():
        if isinstance(value, Promise) or callable(value):
            produce: Callable[[], Any] = value if callable(value) else value.__str__
            texts = {}
            for code in _language_codes():
                with translation.override(code):
                    texts[code] = str(produce())
            frozen[name] = {BY_LANGUAGE: texts}
        else:
            frozen[name] = _plain(value)
    return frozen


def _thawed(params: Mapping[str, Any]) -> dict[str, Any]:
    language = translation.get_language() or settings.LANGUAGE_CODE
    values = {}
    for name, value in params.items():
        if isinstance(value, dict) and BY_LANGUAGE in value:
            texts = value[BY_LANGUAGE]
            value = texts.get(language[:2]) or texts.get(settings.LANGUAGE_CODE[:2]) or ""
        values[name] = value
    return values


def render(code: str, params: Mapping[str, Any] | None = None, fallback: str = "") -> str:
    """The message ``code`` with its (stored) ``params`` in the active language;
    ``fallback`` (the text as stored) if the code is unknown or a parameter is missing."""
    template = MESSAGES.get(code)
    if template is None:
        return fallback
    try:
        return str(template) % _thawed(params or {}) if "%(" in str(template) else str(template)
    except (KeyError, TypeError, ValueError):
        return fallback


def english(code: str, params: Mapping[str, Any] | None = None) -> str:
    """The message in English: the text kept in the audit trail and the exports."""
    with translation.override("en"):
        return render(code, params)


#: The words of each edit check's finding as findings and their queries were stored
#: before they were kept as codes (English, then Japanese): the migrations that give the
#: stored texts their codes and parameters read them back with :func:`former_finding_params`.
FORMER_FINDINGS: dict[str, tuple[str, ...]] = {
    "assessment_before_et": (
        "The assessment (%(assessed)s) is dated before the embryo transfer (%(et)s).",
        "評価日（%(assessed)s）が胚移植日（%(et)s）より前になっています。",
    ),
    "hcg_out_of_range": (
        "Serum hCG %(value)s mIU/mL is outside 0 to %(max)s mIU/mL.",
        "血中hCG %(value)s mIU/mL は 0～%(max)s mIU/mL の範囲外です。",
    ),
    "assessment_outside_window": (
        "The assessment (%(assessed)s) is outside the visit window (%(start)s to %(end)s).",
        "評価日（%(assessed)s）が来院許容範囲（%(start)s～%(end)s）外です。",
    ),
    "hcg_positive_below_cutoff": (
        "The result is positive but serum hCG %(value)s mIU/mL is under the cut-off of "
        "%(cutoff)s mIU/mL.",
        "結果は陽性ですが、血中hCG %(value)s mIU/mL はカットオフ値 %(cutoff)s mIU/mL 未満です。",
    ),
}


def _wording_pattern(template: str) -> re.Pattern[str]:
    """A pattern matching ``template`` with each ``%(name)s`` captured as ``name``."""
    pattern, position = "", 0
    for found in re.finditer(r"%\((\w+)\)s", template):
        pattern += re.escape(template[position : found.start()]) + f"(?P<{found.group(1)}>.+?)"
        position = found.end()
    return re.compile(pattern + re.escape(template[position:]), re.DOTALL)


def former_finding_params(code: str, text: str) -> dict[str, str] | None:
    """The parameters of check ``code``'s finding stored worded ``text`` (in either
    language), or ``None`` when the text is not one of its former wordings."""
    for template in FORMER_FINDINGS.get(code, ()):
        matched = _wording_pattern(template).fullmatch(text)
        if matched:
            return matched.groupdict()
    return None
