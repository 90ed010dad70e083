"""The study's forms resolved for one study, and the data dictionary that describes them.

The forms and their fields come from the form catalogue (``ecrf.common.catalogue``);
what the catalogue reads from the models (verbose names in English and Japanese,
choices, lengths, field types, validators and constraints) and what the study's
settings add (edit checks, eligibility thresholds, its arms) is resolved here, so that
the CSV, SAS transport and ODM exports and the dictionary shipped with them always
agree with what the eCRF stores.

How values are written in every export (see :func:`value_to_text`):

- booleans ``1`` (yes) and ``0`` (no); an unanswered question is empty;
- dates ``YYYY-MM-DD``; date-times ISO 8601 in the study's time zone, with the offset;
- times of day ``HH:MM:SS``;
- decimals in plain notation with their stored decimal places (``12.40``);
- a list of codes (failed criteria, seriousness criteria) as the codes joined by ``;``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, BinaryIO

from django.apps import apps
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core import validators as django_validators
from django.db import models
from django.utils import translation
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from ecrf.common import catalogue
from ecrf.endpoints.checks import CHECK_FIELDS, CHECKS, HARD
from ecrf.endpoints.models import EditCheckSetting
from ecrf.participants.eligibility import CRITERIA, EligibilityRules
from ecrf.participants.services import eligibility_rules
from ecrf.studies import trial
from ecrf.studies.models import Arm, Study

if TYPE_CHECKING:
    from .base import ExportScope, Progress

DATA_TYPES = ("text", "integer", "float", "date", "datetime", "boolean")

#: The separator of a list of codes in one value.
LIST_SEPARATOR = ";"

#: The key columns that start every row of a form, before its fields.
KEY_COLUMNS = ("subject_id", "site", "record_id")

#: SAS names of the key columns (reserved: no field takes them).
SAS_KEY_NAMES = {"subject_id": "SUBJID", "site": "SITEID", "record_id": "RECID"}

DICTIONARY_COLUMNS = (
    "form",
    "field",
    "label_en",
    "label_ja",
    "type",
    "length",
    "unit",
    "allowed_values",
    "allowed_values_ja",
    "edit_checks",
    "edit_checks_ja",
    "required",
    "oid",
    "sas_dataset",
    "sas_variable",
)

BOOLEAN_VALUES: tuple[tuple[str, Promise], ...] = (("1", _("Yes")), ("0", _("No")))


@dataclass(frozen=True)
class FieldDef:
    """One field of a form: what it holds, how it is labelled and checked.

    ``allowed_values`` pairs each stored code with its English label
    (``allowed_values_ja`` with its Japanese one); ``edit_checks`` states in words every
    rule the eCRF enforces on the field. ``source`` is the ORM path the value is read
    from; ``arm`` marks a field that reveals the allocated arm.
    """

    form: str
    name: str
    oid: str
    label_en: str
    label_ja: str
    data_type: str
    length: int | None
    unit: str
    allowed_values: tuple[tuple[str, str], ...]
    edit_checks: tuple[str, ...]
    mandatory: bool = False
    fraction_digits: int | None = None
    allowed_values_ja: tuple[tuple[str, str], ...] = ()
    edit_checks_ja: tuple[str, ...] = ()
    multiple: bool = False
    source: str = ""
    sas_name: str = ""
    arm: bool = False
    unit_ja: str = ""


@dataclass(frozen=True)
class FormDef:
    """One form (record) of participant data and how its rows tie to a participant.

    ``participant_path`` is the ORM path from a row to its participant (empty when the
    row is the participant herself). ``date_field`` is the form's own date, if it has
    one; ``recorded_field`` the time it was saved, used when it has no date of its own.
    ``filters`` narrows the model's rows to those that are participant data (a
    randomization slot only once allocated).
    """

    name: str
    model: str
    oid: str
    item_group_oid: str
    label_en: str
    label_ja: str
    fields: tuple[FieldDef, ...]
    participant_path: str
    date_field: str
    recorded_field: str
    repeating: bool
    sas_name: str
    filters: tuple[tuple[str, Any], ...] = ()

    @property
    def model_class(self) -> type[models.Model]:
        return apps.get_model(self.model)

    @property
    def subject_path(self) -> str:
        return _path(self.participant_path, "subject_id")

    @property
    def site_path(self) -> str:
        return _path(self.participant_path, "site")

    def field(self, name: str) -> FieldDef:
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(name)


def _path(prefix: str, name: str) -> str:
    return f"{prefix}__{name}" if prefix else name


#: The database's rules (check and unique constraints) in words, by constraint name.
CONSTRAINT_WORDS: dict[str, tuple[tuple[str, ...], Promise]] = {
    "participant_born_before_screening": (
        ("birth_date",),
        _("The date of birth is before the screening date."),
    ),
    "eligibility_ratio_not_negative": (("th1_th2_ratio",), _("Not negative.")),
    "eligibility_result_matches_failures": (
        ("eligible", "failed_criteria"),
        _("Eligible exactly when no criterion failed."),
    ),
    "embryos_counted_only_when_performed": (
        ("embryos_transferred",),
        _("Counted only once the transfer is performed."),
    ),
    "embryos_transferred_plausible": (("embryos_transferred",), _("From 1 to 5.")),
    "one_dose_entry_per_intake": (
        ("date", "intake"),
        _("One entry per intake (morning, evening) of a dosing day."),
    ),
    "dose_not_negative": (("dose_mg",), _("Not negative.")),
    "deviation_has_reason": (
        ("deviation_reason",),
        _("Required when the entry is a protocol deviation."),
    ),
    "missed_dose_is_zero": (
        ("dose_mg", "capsules"),
        _("A missed intake has 0 mg and 0 capsules."),
    ),
    "taken_dose_has_no_missed_reason": (
        ("missed_reason",),
        _("Empty when the intake was taken."),
    ),
    "dispensed_positive": (("capsules",), _("At least 1.")),
    "one_record_per_visit": (("visit_code",), _("One record per visit.")),
    "visit_record_complete": (
        ("done_on", "reason"),
        _("A visit done has its date; a missed visit has no date and a reason."),
    ),
    "sacs_counted_only_when_seen": (
        ("number_of_sacs",),
        _("Counted (above 0) only when a gestational sac is seen."),
    ),
    "ae_ctcae_grade_1_to_5": (("ctcae_grade",), _("From 1 to 5.")),
    "ae_ends_after_onset": (("end_date",), _("Not before the onset date.")),
    "ae_grade_5_is_fatal_and_serious": (
        ("ctcae_grade", "outcome", "serious"),
        _("Grade 5 exactly when the outcome is fatal, and then serious."),
    ),
    "ae_criteria_only_when_serious": (
        ("seriousness_criteria",),
        _("Given only for a serious event."),
    ),
    "ae_confirmation_complete": (
        ("confirmed_at",),
        _("Set when, and only when, an investigator confirms the event."),
    ),
    "one_result_per_visit_analyte": (
        ("analyte",),
        _("One result per visit and analyte."),
    ),
    "lab_value_not_negative": (("value",), _("Not negative.")),
}

#: Constraints that say nothing the allowed values or the key columns do not say already.
CONSTRAINTS_WITHOUT_WORDS = frozenset(
    {
        "subject_number_unique_per_site",
        "participant_status_known",
        "ae_seriousness_criteria_known",
        "ae_action_taken_known",
        "ae_outcome_known",
        "slot_sequence_unique_per_list",
        "slot_allocation_complete",
    }
)


def sas_name(name: str, taken: set[str]) -> str:
    """A SAS v5 name for ``name``: at most 8 letters, digits or underscores, upper case,
    not starting with a digit, and not in ``taken`` (to which it is added)."""
    base = re.sub(r"[^A-Za-z0-9]", "", name).upper()
    if not base or base[0].isdigit():
        base = "V" + base
    candidate = base[:8]
    counter = 1
    while candidate in taken:
        counter += 1
        suffix = str(counter)
        candidate = base[: 8 - len(suffix)] + suffix
    taken.add(candidate)
    return candidate


def in_language(language: str, text: Promise | str) -> str:
    """A translatable text in the given language."""
    with translation.override(language):
        return str(text)


def _label(language: str, text: Promise | str) -> str:
    with translation.override(language):
        return str(capfirst(str(text)))


def _data_type(field: models.Field[Any, Any]) -> tuple[str, int | None, int | None]:
    """The export type of a model field, its length and its decimal places."""
    if isinstance(field, ArrayField):
        return "text", None, None
    if isinstance(field, models.BooleanField):
        return "boolean", None, None
    if isinstance(field, models.DateTimeField):
        return "datetime", None, None
    if isinstance(field, models.DateField):
        return "date", None, None
    if isinstance(field, models.TimeField):
        return "text", 8, None
    if isinstance(field, models.DecimalField):
        return "float", field.max_digits, field.decimal_places
    if isinstance(field, models.SmallIntegerField | models.PositiveSmallIntegerField):
        return "integer", 5, None
    if isinstance(field, models.BigIntegerField):
        return "integer", 19, None
    if isinstance(field, models.IntegerField | models.PositiveIntegerField):
        return "integer", 10, None
    if isinstance(field, models.ForeignKey):
        target = field.target_field
        return _data_type(target)
    if isinstance(field, models.CharField | models.SlugField):
        return "text", field.max_length, None
    return "text", None, None


def _choices(field: models.Field[Any, Any]) -> list[tuple[Any, Any]]:
    if isinstance(field, ArrayField):
        return list(field.base_field.choices or [])
    return list(field.choices or [])


def _validator_words(field: models.Field[Any, Any]) -> list[Promise | str]:
    """The field's own validators in words (not the database's integer ranges)."""
    words: list[Promise | str] = []
    if isinstance(
        field,
        models.PositiveIntegerField
        | models.PositiveSmallIntegerField
        | models.PositiveBigIntegerField,
    ):
        words.append(_("Not negative."))
    for validator in getattr(field, "_validators", ()):
        if isinstance(validator, django_validators.MinValueValidator):
            words.append(_("At least %(value)s.") % {"value": validator.limit_value})
        elif isinstance(validator, django_validators.MaxValueValidator):
            words.append(_("At most %(value)s.") % {"value": validator.limit_value})
        elif isinstance(validator, django_validators.RegexValidator):
            words.append(validator.message)
    if getattr(field, "unique", False) and not field.primary_key:
        words.append(_("Unique across the study."))
    return words


def _eligibility_words(study_id: int | None) -> dict[str, tuple[Promise | str, ...]]:
    rules = EligibilityRules()
    if study_id is not None:
        study = Study.objects.filter(pk=study_id).first()
        if study is not None:
            rules = eligibility_rules(study)
    thresholds: dict[str, Promise | str] = {
        "prior_good_quality_transfers": _("Eligible when at least %(n)s (study setting).")
        % {"n": rules.min_prior_transfers},
        "prior_embryos_transferred": _("Eligible when at least %(n)s (study setting).")
        % {"n": rules.min_prior_embryos},
        "th1_th2_ratio": _("Eligible when at least %(n)s (study setting).")
        % {"n": rules.th1_th2_min},
        "age_at_assessment": _("Eligible when %(min)s or over and under %(max)s (study settings).")
        % {"min": rules.age_min, "max": rules.age_max_exclusive},
    }
    words: dict[str, tuple[Promise | str, ...]] = {}
    for criterion in CRITERIA:
        name = "age_at_assessment" if criterion.code == "age" else criterion.code
        kind = _("inclusion") if criterion.kind == "inclusion" else _("exclusion")
        statement = _("Eligibility criterion (%(kind)s): %(statement)s.") % {
            "kind": kind,
            "statement": criterion.statement,
        }
        if name in thresholds:
            words[name] = (statement, thresholds[name])
        else:
            eligible_when_no = criterion.holds(
                SimpleNamespace(**{name: False}),  # type: ignore[arg-type]
                rules.age_min,
                rules,
            )
            words[name] = (
                statement,
                _("Eligible when answered no.")
                if eligible_when_no
                else _("Eligible when answered yes."),
            )
    return words


def _endpoint_check_words(study_id: int | None) -> dict[tuple[str, str], list[Promise | str]]:
    settings_by_code: dict[str, tuple[bool, str, Decimal | None]] = {}
    if study_id is not None:
        for setting in EditCheckSetting.objects.filter(study_id=study_id):
            settings_by_code[setting.code] = (setting.enabled, setting.severity, setting.threshold)
    words: dict[tuple[str, str], list[Promise | str]] = {}
    for check in CHECKS:
        enabled, severity, threshold = settings_by_code.get(
            check.code, (True, check.default_severity, check.default_threshold)
        )
        if not enabled:
            continue
        kind = _("hard check") if severity == HARD else _("soft check")
        if threshold is not None:
            text = _("%(description)s (%(kind)s %(code)s, threshold %(threshold)s)") % {
                "description": check.description,
                "kind": kind,
                "code": check.code,
                "threshold": format(threshold.normalize(), "f"),
            }
        else:
            text = _("%(description)s (%(kind)s %(code)s)") % {
                "description": check.description,
                "kind": kind,
                "code": check.code,
            }
        for record in check.records:
            words.setdefault((record, CHECK_FIELDS[check.code]), []).append(text)
    return words


def _arm_values(study_id: int | None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    arms = (
        [(a.code, a.name_en, a.name_ja) for a in Arm.objects.filter(study_id=study_id)]
        if study_id is not None
        else []
    )
    if not arms:
        arms = [(code, en, ja) for code, en, ja, _mg, _w in trial.ARMS]
    return [(c, en) for c, en, _ja in arms], [(c, ja) for c, _en, ja in arms]


def _form_def(
    spec: catalogue.Form,
    *,
    arm_visible: bool,
    eligibility_words: dict[str, tuple[Promise | str, ...]],
    endpoint_words: dict[tuple[str, str], list[Promise | str]],
    arm_values: tuple[list[tuple[str, str]], list[tuple[str, str]]],
) -> FormDef:
    model = apps.get_model(spec.model)
    constraint_words: dict[str, list[Promise | str]] = {}
    for constraint in model._meta.constraints:
        if constraint.name in CONSTRAINTS_WITHOUT_WORDS:
            continue
        names, text = CONSTRAINT_WORDS[constraint.name]
        for name in names:
            constraint_words.setdefault(name, []).append(text)
    fields: list[FieldDef] = []
    for entry in spec.fields:
        field = spec.model_field(entry.name)
        is_arm = entry.concealed
        if (is_arm or entry.reveals_arm) and not arm_visible:
            continue
        data_type, length, fraction_digits = _data_type(field)
        if is_arm:
            allowed_en, allowed_ja = arm_values
            data_type, length = "text", 16
            source = f"{field.name}__code"
        else:
            choices = _choices(field)
            allowed_en = [(str(code), in_language("en", label)) for code, label in choices]
            allowed_ja = [(str(code), in_language("ja", label)) for code, label in choices]
            source = field.name
        if data_type == "boolean":
            allowed_en = [(code, in_language("en", label)) for code, label in BOOLEAN_VALUES]
            allowed_ja = [(code, in_language("ja", label)) for code, label in BOOLEAN_VALUES]
        if spec.code == "eligibility" and field.name == "failed_criteria":
            allowed_en = [(c.code, in_language("en", c.statement)) for c in CRITERIA]
            allowed_ja = [(c.code, in_language("ja", c.statement)) for c in CRITERIA]
        checks: list[Promise | str] = []
        mandatory = not field.null and not (field.blank and not isinstance(field, ArrayField))
        if isinstance(field, models.BooleanField) and not field.null:
            mandatory = True
        if spec.code == "eligibility":
            checks.extend(eligibility_words.get(field.name, ()))
        checks.extend(_validator_words(field))
        checks.extend(constraint_words.get(field.name, ()))
        checks.extend(rule.describe() for rule in entry.rules)
        checks.extend(endpoint_words.get((spec.code, field.name), ()))
        if isinstance(field, ArrayField):
            checks.append(_("A list of codes separated by ';'."))
        label: Any = field.verbose_name
        if is_arm and field.related_model is not None:
            label = field.related_model._meta.verbose_name
        fields.append(
            FieldDef(
                form=spec.code,
                name=field.name,
                oid=f"I.{spec.code.upper()}.{field.name.upper()}",
                label_en=_label("en", label),
                label_ja=_label("ja", label),
                data_type=data_type,
                length=length,
                unit=in_language("en", entry.unit) if entry.unit is not None else "",
                allowed_values=tuple(allowed_en),
                edit_checks=tuple(dict.fromkeys(in_language("en", c) for c in checks)),
                mandatory=mandatory,
                fraction_digits=fraction_digits,
                allowed_values_ja=tuple(allowed_ja),
                edit_checks_ja=tuple(dict.fromkeys(in_language("ja", c) for c in checks)),
                multiple=isinstance(field, ArrayField),
                source=source,
                sas_name=entry.sas,
                unit_ja=in_language("ja", entry.unit) if entry.unit is not None else "",
                arm=is_arm,
            )
        )
    verbose = model._meta.verbose_name
    return FormDef(
        name=spec.code,
        model=model._meta.label,
        oid=f"F.{spec.code.upper()}",
        item_group_oid=f"IG.{spec.code.upper()}",
        label_en=_label("en", verbose),
        label_ja=_label("ja", verbose),
        fields=tuple(fields),
        participant_path=spec.participant_path,
        date_field=spec.date_field,
        recorded_field=spec.recorded_field,
        repeating=spec.multi_record,
        sas_name=spec.sas_dataset,
        filters=spec.filters,
    )


def study_forms(*, arm_visible: bool = True, study_id: int | None = None) -> list[FormDef]:
    """Every form of participant data in the trial, described from its model.

    With ``arm_visible`` false the allocated arm is left out (blinding, concealment).
    Given ``study_id``, the edit checks and eligibility thresholds are that study's
    settings; otherwise the protocol's defaults.
    """
    eligibility_words = _eligibility_words(study_id)
    endpoint_words = _endpoint_check_words(study_id)
    arm_values = _arm_values(study_id)
    return [
        _form_def(
            spec,
            arm_visible=arm_visible,
            eligibility_words=eligibility_words,
            endpoint_words=endpoint_words,
            arm_values=arm_values,
        )
        for spec in catalogue.case_report_forms()
    ]


def forms_in_scope(scope: ExportScope) -> list[FormDef]:
    """The forms an export may contain: concealed models left out, the arm when hidden."""
    return [
        form
        for form in study_forms(arm_visible=scope.arm_visible, study_id=scope.study_id)
        if form.model not in scope.concealed_models
    ]


def study_zone() -> zoneinfo.ZoneInfo:
    """The study's time zone: export dates and date-times are written in it."""
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def value_to_text(field: FieldDef, value: Any) -> str:
    """A stored value as the exports write it (see the module's documentation)."""
    if value is None:
        return ""
    if field.multiple:
        return LIST_SEPARATOR.join(str(v) for v in value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return value.astimezone(study_zone()).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def describe_values(values: Iterable[tuple[str, str]]) -> str:
    """Allowed values as one line: ``code=label; code=label``."""
    return "; ".join(f"{code}={label}" for code, label in values)


def neutralise(text: str) -> str:
    """A cell a spreadsheet will not run as a formula: ``'`` before =, +, -, @, tab, CR."""
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def dictionary_rows(forms: Iterable[FormDef]) -> Iterator[dict[str, str]]:
    """One row per field of every form, keyed by :data:`DICTIONARY_COLUMNS`."""
    for form in forms:
        for field in form.fields:
            yield {
                "form": form.name,
                "field": field.name,
                "label_en": field.label_en,
                "label_ja": field.label_ja,
                "type": field.data_type,
                "length": "" if field.length is None else str(field.length),
                "unit": field.unit,
                "allowed_values": describe_values(field.allowed_values),
                "allowed_values_ja": describe_values(field.allowed_values_ja),
                "edit_checks": " ".join(field.edit_checks),
                "edit_checks_ja": " ".join(field.edit_checks_ja),
                "required": "1" if field.mandatory else "0",
                "oid": field.oid,
                "sas_dataset": form.sas_name,
                "sas_variable": field.sas_name,
            }


def write_dictionary_rows(text: io.TextIOBase, forms: Iterable[FormDef]) -> int:
    """Write the dictionary as CSV to a text stream; the number of rows written."""
    writer = csv.writer(text)
    writer.writerow(DICTIONARY_COLUMNS)
    count = 0
    for row in dictionary_rows(forms):
        writer.writerow([neutralise(row[column]) for column in DICTIONARY_COLUMNS])
        count += 1
    return count


def write_dictionary_csv(
    scope: ExportScope, out: BinaryIO, *, progress: Progress, chain_head: str
) -> None:
    """The data dictionary as CSV: one row per field of every form the scope may see."""
    forms = forms_in_scope(scope)
    total = sum(len(form.fields) for form in forms)
    progress(0, total)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")  # type: ignore[arg-type]
    try:
        written = write_dictionary_rows(text, forms)
        text.flush()
    finally:
        text.detach()
    progress(written, total)
