"""Clinical data exports: CSV (long and wide, one file per form) and SAS transport (XPT v5).

Both are ZIP archives that also carry the data dictionary (``dictionary.csv``) and a
``manifest.json`` (study, export time, scope, the audit chain's head hash, row counts).
Rows are read through server-side cursors a chunk at a time; the CSV archive is
streamed entry by entry, so memory stays flat however many rows there are. SAS
transport files are written by pyreadstat from one DataFrame per form, which holds one
form's rows in memory at a time (a few thousand rows at the trial's scale).

Every read is limited to ``scope.site_ids`` (the requester's sites, already narrowed
by the request), the scope's participant and date range (on the form's own date, else
the date it was saved, in the study's time zone); concealed models are left out, and
so is the arm when the scope may not see it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from ecrf.studies.models import Site, Study

from .dictionary import (
    DICTIONARY_COLUMNS,
    KEY_COLUMNS,
    SAS_KEY_NAMES,
    FieldDef,
    FormDef,
    dictionary_rows,
    forms_in_scope,
    neutralise,
    sas_name,
    study_zone,
    value_to_text,
)

if TYPE_CHECKING:
    import pandas as pd  # noqa: PLC0415  (heavy: loaded only to write XPT)

    from .base import ExportScope, Progress

#: Rows fetched from the database per round trip of the server-side cursor.
CHUNK_SIZE = 2000

#: How often, in rows, a writer reports its progress.
PROGRESS_EVERY = 500

LONG_COLUMNS = ("subject_id", "site", "form", "record_id", "field", "value", "form_date")

#: SAS transport v5: names of at most 8 characters, labels of at most 40, text of at most 200 bytes.
XPT_NAME_MAX = 8
XPT_LABEL_MAX = 40
XPT_TEXT_MAX_BYTES = 200

XPT_TEXT_RULE = (
    "SAS transport v5 holds at most 200 bytes of text per value. A longer text (UTF-8) is "
    "split at a character boundary into 200-byte parts: the first stays in the field's "
    "variable, the next in its continuation variables (listed per dataset in "
    "xpt_continuations and in dictionary.csv's sas_continuation), in order; concatenate "
    "them to restore the text. Nothing is cut off."
)
XPT_VALUE_RULE = (
    "Dates are SAS dates (DATE9.), date-times SAS date-times (DATETIME20.) in the study's "
    "time zone; booleans are 1 (yes) and 0 (no); lists of codes are joined by ';'; "
    "an empty value is missing."
)

DATE_RULE = (
    "since and until apply to each form's own date (form_date: screening, consent, "
    "randomization, withdrawal, transfer, dose, dispensing, return, visit, assessment, "
    "onset or measurement date), else to the date it was last saved, in the study's time "
    "zone; a record with neither (a missed visit) is left out of an export with a date range."
)


@dataclass(frozen=True)
class FormRecord:
    """One row of a form: who it belongs to, its id and date, and its fields' values."""

    subject_id: str
    site: str
    record_id: int
    form_date: dt.date | None
    values: tuple[Any, ...]


def _as_date(model: type[models.Model], name: str) -> Any:
    if not name:
        return None
    field = model._meta.get_field(name)
    if isinstance(field, models.DateTimeField):
        return TruncDate(name, tzinfo=study_zone())
    return F(name)


def form_queryset(form: FormDef, scope: ExportScope) -> models.QuerySet[Any]:
    """The rows of ``form`` the scope may see, with their subject, site and form date.

    Site scoping is ``scope.site_ids`` (computed by the export framework from the
    requester's sites, never widened here) within the scope's study.
    """
    model = form.model_class
    queryset = model._default_manager.filter(**dict(form.filters)).filter(
        **{
            f"{form.site_path}__in": scope.site_ids,
            f"{form.site_path}__study_id": scope.study_id,
        }
    )
    if scope.subject_id:
        queryset = queryset.filter(**{form.subject_path: scope.subject_id})
    own = _as_date(model, form.date_field)
    recorded = _as_date(model, form.recorded_field)
    form_date: Any
    if own is not None and recorded is not None:
        form_date = Coalesce(own, recorded, output_field=models.DateField())
    elif own is not None or recorded is not None:
        form_date = own if own is not None else recorded
    else:
        form_date = Value(None, output_field=models.DateField())
    queryset = queryset.annotate(
        export_subject_id=F(form.subject_path),
        export_site=F(f"{form.site_path}__code"),
        export_form_date=form_date,
    )
    if scope.since is not None:
        queryset = queryset.filter(export_form_date__gte=scope.since)
    if scope.until is not None:
        queryset = queryset.filter(export_form_date__lte=scope.until)
    return queryset


def form_records(
    form: FormDef, scope: ExportScope, *, chunk_size: int = CHUNK_SIZE
) -> Iterator[FormRecord]:
    """The form's rows in the scope, by site, subject, date and id, read a chunk at a time."""
    rows = (
        form_queryset(form, scope)
        .order_by("export_site", "export_subject_id", "export_form_date", "pk")
        .values_list(
            "pk",
            "export_subject_id",
            "export_site",
            "export_form_date",
            *(field.source for field in form.fields),
        )
        .iterator(chunk_size=chunk_size)
    )
    for pk, subject_id, site, form_date, *values in rows:
        yield FormRecord(subject_id, site, pk, form_date, tuple(values))


def _manifest(
    scope: ExportScope,
    *,
    export_format: str,
    chain_head: str,
    forms: list[FormDef],
    row_counts: dict[str, int],
    files: list[str],
    extra: dict[str, Any],
) -> bytes:
    study = Study.objects.filter(pk=scope.study_id).first()
    sites = list(
        Site.objects.filter(pk__in=scope.site_ids).order_by("code").values_list("code", flat=True)
    )
    manifest = {
        "study": study.code if study else None,
        "study_title": study.title_en if study else None,
        "registry_id": study.registry_id if study else None,
        "kind": "clinical_data",
        "format": export_format,
        "exported_at": timezone.now().astimezone(study_zone()).isoformat(),
        "time_zone": str(study_zone()),
        "scope": {
            "sites": sites,
            "subject_id": scope.subject_id,
            "since": scope.since.isoformat() if scope.since else None,
            "until": scope.until.isoformat() if scope.until else None,
            "arm_visible": scope.arm_visible,
            "concealed_models": list(scope.concealed_models),
            "requested_by_id": scope.requested_by_id,
        },
        "audit_chain_head": chain_head,
        "forms": [form.name for form in forms],
        "row_counts": row_counts,
        "files": files,
        "key_columns": list(KEY_COLUMNS),
        "date_range_rule": DATE_RULE,
        **extra,
    }
    return json.dumps(manifest, ensure_ascii=False, indent=2).encode()


def _write_dictionary(
    archive: zipfile.ZipFile,
    forms: list[FormDef],
    continuations: dict[tuple[str, str], list[str]] | None = None,
) -> int:
    columns = (*DICTIONARY_COLUMNS, "sas_continuation")
    count = 0
    with io.TextIOWrapper(
        archive.open("dictionary.csv", "w"), encoding="utf-8", newline=""
    ) as text:
        writer = csv.writer(text)
        writer.writerow(columns)
        for row in dictionary_rows(forms):
            row["sas_continuation"] = " ".join(
                (continuations or {}).get((row["form"], row["field"]), [])
            )
            writer.writerow([neutralise(row[column]) for column in columns])
            count += 1
    return count


def _cell(field: FieldDef, value: Any) -> str:
    """A CSV cell: text a spreadsheet could run as a formula is neutralised; numbers,
    dates and booleans cannot hold a formula and are written as they are."""
    text = value_to_text(field, value)
    return neutralise(text) if field.data_type == "text" else text


class _Progress:
    def __init__(self, progress: Progress, total: int) -> None:
        self.progress = progress
        self.total = max(total, 1)
        self.done = 0
        progress(0, self.total)

    def step(self, rows: int = 1) -> None:
        before = self.done // PROGRESS_EVERY
        self.done += rows
        if self.done // PROGRESS_EVERY != before:
            self.progress(min(self.done, self.total), self.total)

    def finish(self) -> None:
        self.progress(self.total, self.total)


def write_clinical_csv(
    scope: ExportScope, out: BinaryIO, *, progress: Progress, chain_head: str
) -> None:
    """A ZIP of the clinical data as CSV, written entry by entry.

    ``wide/<form>.csv`` has one row per record and one column per field (after
    ``subject_id``, ``site`` and ``record_id``); ``long.csv`` one row per value of every
    form. Values are written as :func:`~.dictionary.value_to_text` states, and a cell a
    spreadsheet would run as a formula is prefixed with ``'``.
    """
    forms = forms_in_scope(scope)
    counts = {form.name: form_queryset(form, scope).count() for form in forms}
    tracker = _Progress(progress, sum(counts.values()) + 1)
    row_counts: dict[str, int] = {}
    long_rows = 0
    files: list[str] = []
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as long_file,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        long_writer = csv.writer(long_file)
        long_writer.writerow(LONG_COLUMNS)
        for form in forms:
            name = f"wide/{form.name}.csv"
            rows = 0
            with io.TextIOWrapper(
                archive.open(name, "w", force_zip64=True), encoding="utf-8", newline=""
            ) as text:
                writer = csv.writer(text)
                writer.writerow([*KEY_COLUMNS, *(field.name for field in form.fields)])
                for record in form_records(form, scope):
                    keys = [
                        neutralise(record.subject_id),
                        neutralise(record.site),
                        str(record.record_id),
                    ]
                    cells = [
                        _cell(field, value)
                        for field, value in zip(form.fields, record.values, strict=True)
                    ]
                    writer.writerow([*keys, *cells])
                    form_date = record.form_date.isoformat() if record.form_date else ""
                    for field, cell in zip(form.fields, cells, strict=True):
                        long_writer.writerow(
                            [keys[0], keys[1], form.name, keys[2], field.name, cell, form_date]
                        )
                    long_rows += len(cells)
                    rows += 1
                    tracker.step()
            row_counts[form.name] = rows
            files.append(name)
        long_file.seek(0)
        with archive.open("long.csv", "w", force_zip64=True) as raw:
            while chunk := long_file.read(1 << 16):
                raw.write(chunk.encode("utf-8"))
        files.append("long.csv")
        dictionary_count = _write_dictionary(archive, forms)
        files.extend(["dictionary.csv", "manifest.json"])
        archive.writestr(
            "manifest.json",
            _manifest(
                scope,
                export_format="csv",
                chain_head=chain_head,
                forms=forms,
                row_counts=row_counts,
                files=files,
                extra={
                    "long_rows": long_rows,
                    "dictionary_rows": dictionary_count,
                    "values": (
                        "Booleans 1 (yes) and 0 (no); dates YYYY-MM-DD; date-times ISO 8601 "
                        "in the study's time zone; lists of codes joined by ';'; a cell "
                        "beginning with =, +, -, @, tab or carriage return is prefixed "
                        "with ' so that a spreadsheet shows it as text."
                    ),
                },
            ),
        )
    tracker.finish()


# -- SAS transport -------------------------------------------------------------------


def _truncate_bytes(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")


def split_text(text: str, limit: int = XPT_TEXT_MAX_BYTES) -> list[str]:
    """``text`` in parts of at most ``limit`` UTF-8 bytes, cut between characters."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for char in text:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            parts.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    parts.append("".join(current))
    return parts


def _continuation_label(label: str, part: int) -> str:
    suffix = f" (part {part})"
    return _truncate_bytes(label, XPT_LABEL_MAX - len(suffix)) + suffix


def _xpt_number(value: Any) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, Decimal):
        return float(value)
    return float(value)


def _xpt_column(field: FieldDef, values: list[Any]) -> tuple[pd.Series[Any], str | None]:
    """The column of one field as pyreadstat writes it, and its SAS format."""
    import pandas as pd  # noqa: PLC0415  (heavy: loaded only to write XPT)

    if field.data_type in {"integer", "float", "boolean"}:
        return pd.Series([_xpt_number(v) for v in values], dtype="float64"), None
    if field.data_type == "date":
        if all(v is None for v in values):
            return pd.Series([math.nan] * len(values), dtype="float64"), "DATE9."
        return pd.Series(values, dtype="object"), "DATE9."
    if field.data_type == "datetime":
        zone = study_zone()
        local = [v.astimezone(zone).replace(tzinfo=None) if v is not None else None for v in values]
        if all(v is None for v in local):
            return pd.Series([math.nan] * len(values), dtype="float64"), "DATETIME20."
        return pd.Series(pd.to_datetime(local)), "DATETIME20."
    return pd.Series([value_to_text(field, v) for v in values], dtype="object"), None


def _form_frame(
    form: FormDef, scope: ExportScope, tracker: _Progress
) -> tuple[pd.DataFrame, dict[str, str | None], dict[str, str], dict[str, list[str]]]:
    """One form as a DataFrame with SAS names, its labels, formats and text continuations."""
    import pandas as pd  # noqa: PLC0415  (heavy: loaded only to write XPT)

    keys: dict[str, list[Any]] = {name: [] for name in KEY_COLUMNS}
    columns: list[list[Any]] = [[] for _ in form.fields]
    for record in form_records(form, scope):
        keys["subject_id"].append(record.subject_id)
        keys["site"].append(record.site)
        keys["record_id"].append(float(record.record_id))
        for column, value in zip(columns, record.values, strict=True):
            column.append(value)
        tracker.step()
    data: dict[str, pd.Series[Any]] = {
        SAS_KEY_NAMES["subject_id"]: pd.Series(keys["subject_id"], dtype="object"),
        SAS_KEY_NAMES["site"]: pd.Series(keys["site"], dtype="object"),
        SAS_KEY_NAMES["record_id"]: pd.Series(keys["record_id"], dtype="float64"),
    }
    labels: dict[str, str | None] = {
        SAS_KEY_NAMES["subject_id"]: "Subject ID",
        SAS_KEY_NAMES["site"]: "Site code",
        SAS_KEY_NAMES["record_id"]: "Record ID",
    }
    formats: dict[str, str] = {}
    continuations: dict[str, list[str]] = {}
    taken = {*SAS_KEY_NAMES.values(), *(field.sas_name for field in form.fields)}
    for field, values in zip(form.fields, columns, strict=True):
        series, sas_format = _xpt_column(field, values)
        label = _truncate_bytes(field.label_en, XPT_LABEL_MAX)
        if field.data_type == "text":
            parts = [split_text(text) for text in series]
            width = max((len(p) for p in parts), default=1)
            data[field.sas_name] = pd.Series([p[0] for p in parts], dtype="object")
            labels[field.sas_name] = label
            names: list[str] = []
            for part in range(2, width + 1):
                name = sas_name(f"{field.sas_name[: XPT_NAME_MAX - len(str(part))]}{part}", taken)
                names.append(name)
                data[name] = pd.Series(
                    [p[part - 1] if len(p) >= part else "" for p in parts], dtype="object"
                )
                labels[name] = _continuation_label(field.label_en, part)
            if names:
                continuations[field.name] = names
            continue
        data[field.sas_name] = series
        labels[field.sas_name] = label
        if sas_format:
            formats[field.sas_name] = sas_format
    return pd.DataFrame(data), labels, formats, continuations


def write_clinical_xpt(
    scope: ExportScope, out: BinaryIO, *, progress: Progress, chain_head: str
) -> None:
    """A ZIP of one SAS transport (XPT version 5) file per form, with labels and formats.

    Dataset and variable names are at most 8 characters, upper case and unique (the
    mapping is ``dictionary.csv``'s ``sas_dataset`` and ``sas_variable``); labels are the
    English ones, at most 40 bytes. Text over 200 bytes is split into continuation
    variables rather than cut (``XPT_TEXT_RULE``).
    """
    import pyreadstat  # noqa: PLC0415  (heavy: loaded only to write XPT)

    forms = forms_in_scope(scope)
    counts = {form.name: form_queryset(form, scope).count() for form in forms}
    tracker = _Progress(progress, sum(counts.values()) + 1)
    row_counts: dict[str, int] = {}
    files: list[str] = []
    all_continuations: dict[tuple[str, str], list[str]] = {}
    datasets: dict[str, dict[str, Any]] = {}
    with (
        tempfile.TemporaryDirectory() as workdir,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        for form in forms:
            frame, labels, formats, continuations = _form_frame(form, scope, tracker)
            path = Path(workdir) / f"{form.sas_name.lower()}.xpt"
            pyreadstat.write_xport(
                frame,
                str(path),
                file_label=_truncate_bytes(form.label_en, XPT_LABEL_MAX),
                column_labels=labels,
                table_name=form.sas_name,
                file_format_version=5,
                variable_format=formats,
            )
            with (
                path.open("rb") as source,
                archive.open(path.name, "w", force_zip64=True) as target,
            ):
                shutil.copyfileobj(source, target)
            path.unlink()
            files.append(path.name)
            row_counts[form.name] = len(frame)
            for field_name, names in continuations.items():
                all_continuations[(form.name, field_name)] = names
            datasets[form.sas_name] = {
                "form": form.name,
                "file": path.name,
                "label": form.label_en,
                "variables": {
                    **{sas: key for key, sas in SAS_KEY_NAMES.items()},
                    **{field.sas_name: field.name for field in form.fields},
                },
                "continuations": {
                    next(f.sas_name for f in form.fields if f.name == field_name): names
                    for field_name, names in continuations.items()
                },
            }
        dictionary_count = _write_dictionary(archive, forms, all_continuations)
        files.extend(["dictionary.csv", "manifest.json"])
        archive.writestr(
            "manifest.json",
            _manifest(
                scope,
                export_format="xpt",
                chain_head=chain_head,
                forms=forms,
                row_counts=row_counts,
                files=files,
                extra={
                    "dictionary_rows": dictionary_count,
                    "xpt_version": 5,
                    "encoding": "UTF-8",
                    "datasets": datasets,
                    "xpt_text_rule": XPT_TEXT_RULE,
                    "xpt_values": XPT_VALUE_RULE,
                    "xpt_continuations": {
                        f"{form}.{field}": names
                        for (form, field), names in all_continuations.items()
                    },
                },
            ),
        )
    tracker.finish()
