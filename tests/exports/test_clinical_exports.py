"""Clinical data exports: CSV (long and wide) and SAS transport, read back by real readers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyreadstat
import pytest

from ecrf.accounts.models import User
from ecrf.endpoints.services import endpoint_record
from ecrf.exports.formats.base import ExportScope
from ecrf.exports.formats.clinical import (
    XPT_TEXT_MAX_BYTES,
    split_text,
    write_clinical_csv,
    write_clinical_xpt,
)
from ecrf.exports.formats.dictionary import forms_in_scope
from ecrf.labs.services import lab_result_record
from ecrf.participants.models import Participant
from ecrf.participants.services import participant_withdraw
from ecrf.safety.services import adverse_event_record
from ecrf.schedule.services import (
    dispensing_record,
    dose_record,
    drug_return_record,
    embryo_transfer_set,
)
from ecrf.studies.models import Site, Study
from randomization.services import participant_randomize

from ..clock import at

pytestmark = pytest.mark.django_db

CHAIN_HEAD = "9f" * 32
FORMULA_COMMENT = '=HYPERLINK("http://evil.example","click")'
FORMULA_TERM = "-2+3+cmd|' /C calc'!A0"
#: 120 Japanese characters: 360 bytes in UTF-8, more than SAS transport's 200.
LONG_COMMENT = "吐き気のため服用が遅れた。" * 9 + "以上です。夕食後に服用した。"


@dataclass
class Trial:
    study: Study
    site_a: Site
    site_b: Site
    a: Participant
    b: Participant


def _transfer_and_treat(participant: Participant, coordinator: User) -> None:
    with at("2026-02-21"):
        embryo_transfer_set(
            participant=participant,
            et_date=dt.date(2026, 3, 1),
            performed=False,
            performed_by=coordinator,
        )
        dispensing_record(
            participant=participant,
            dispensed_on=dt.date(2026, 2, 21),
            lot_number="L-2026-01",
            capsules=70,
            performed_by=coordinator,
        )


@pytest.fixture
def trial(
    study: Study,
    site_a: Site,
    site_b: Site,
    transferred: Participant,
    coordinator_a: User,
    coordinator_b: User,
    ready_participant: Callable[..., Participant],
) -> Trial:
    """Two participants, one per site, with data on every form of the treatment period."""
    a = transferred
    with at("2026-02-21"):
        dispensing_record(
            participant=a,
            dispensed_on=dt.date(2026, 2, 21),
            lot_number="L-2026-01",
            capsules=70,
            performed_by=coordinator_a,
        )
    with at("2026-03-01", hour=21):
        dose_record(
            participant=a,
            intake="morning",
            date=dt.date(2026, 2, 27),
            taken=True,
            time_taken=dt.time(8, 30),
            comment=FORMULA_COMMENT,
            performed_by=coordinator_a,
        )
        dose_record(
            participant=a,
            intake="morning",
            date=dt.date(2026, 2, 28),
            taken=True,
            comment=LONG_COMMENT,
            performed_by=coordinator_a,
        )
        dose_record(
            participant=a,
            date=dt.date(2026, 3, 1),
            intake="morning",
            taken=False,
            performed_by=coordinator_a,
        )
        embryo_transfer_set(
            participant=a,
            et_date=dt.date(2026, 3, 1),
            performed=True,
            embryos_transferred=1,
            embryo_stage="blastocyst",
            embryo_grade="4AA",
            reason="Transfer performed",
            performed_by=coordinator_a,
        )
    with at("2026-03-05"):
        adverse_event_record(
            participant=a,
            term=FORMULA_TERM,
            onset_date=dt.date(2026, 3, 3),
            ctcae_grade=1,
            serious=False,
            related=True,
            outcome="recovered",
            end_date=dt.date(2026, 3, 4),
            performed_by=coordinator_a,
        )
    with at("2026-03-15"):
        endpoint_record(
            participant=a,
            record="biochemical_pregnancy",
            values={
                "assessed_on": dt.date(2026, 3, 15),
                "serum_hcg_miu_ml": Decimal("250.50"),
                "result": "positive",
            },
            performed_by=coordinator_a,
        )
        lab_result_record(
            participant=a,
            visit="et_plus_14",
            analyte="potassium",
            measured_on=dt.date(2026, 3, 15),
            value=Decimal("4.1"),
            performed_by=coordinator_a,
        )
        drug_return_record(
            participant=a, returned_on=dt.date(2026, 3, 15), capsules=8, performed_by=coordinator_a
        )
    with at("2026-03-22"):
        endpoint_record(
            participant=a,
            record="clinical_pregnancy",
            values={
                "assessed_on": dt.date(2026, 3, 22),
                "transvaginal_ultrasound": True,
                "gestational_sac_seen": True,
                "number_of_sacs": 1,
                "fetal_heartbeat": True,
                "ectopic_pregnancy": False,
                "result": "positive",
                "followup_study_consent": True,
            },
            performed_by=coordinator_a,
        )
    with at("2026-02-20"):
        b = ready_participant(site=site_b, coordinator=coordinator_b)
        participant_randomize(participant=b, idempotency_key="b", performed_by=coordinator_b)
    _transfer_and_treat(b, coordinator_b)
    with at("2026-03-15"):
        endpoint_record(
            participant=b,
            record="biochemical_pregnancy",
            values={
                "assessed_on": dt.date(2026, 3, 15),
                "serum_hcg_miu_ml": Decimal("777.00"),
                "result": "positive",
            },
            performed_by=coordinator_b,
        )
        participant_withdraw(
            participant=b,
            date=dt.date(2026, 3, 15),
            reason="Moved abroad",
            performed_by=coordinator_b,
        )
    a.refresh_from_db()
    b.refresh_from_db()
    return Trial(study, site_a, site_b, a, b)


def scope_for(trial: Trial, *sites: Site, **kwargs: Any) -> ExportScope:
    return ExportScope(
        study_id=trial.study.pk,
        site_ids=tuple(site.pk for site in (sites or (trial.site_a, trial.site_b))),
        **kwargs,
    )


def export(writer: Callable[..., None], scope: ExportScope) -> tuple[zipfile.ZipFile, list[Any]]:
    out = io.BytesIO()
    calls: list[Any] = []
    writer(
        scope, out, progress=lambda done, total: calls.append((done, total)), chain_head=CHAIN_HEAD
    )
    out.seek(0)
    return zipfile.ZipFile(out), calls


def read_csv(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    with archive.open(name) as raw:
        return list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")))


def read_xpt(archive: zipfile.ZipFile, name: str, tmp_path: Path) -> tuple[Any, Any]:
    path = tmp_path / name
    path.write_bytes(archive.read(name))
    return pyreadstat.read_xport(str(path))


def manifest_of(archive: zipfile.ZipFile) -> dict[str, Any]:
    return json.loads(archive.read("manifest.json"))


# -- CSV -------------------------------------------------------------------------------


def test_csv_archive_holds_every_form_long_dictionary_and_manifest(trial):
    archive, _calls = export(write_clinical_csv, scope_for(trial))
    names = set(archive.namelist())
    forms = forms_in_scope(scope_for(trial))
    assert {f"wide/{form.name}.csv" for form in forms} <= names
    assert {"long.csv", "dictionary.csv", "manifest.json"} <= names
    manifest = manifest_of(archive)
    assert manifest["audit_chain_head"] == CHAIN_HEAD
    assert manifest["study"] == trial.study.code
    assert manifest["scope"]["sites"] == ["S01", "S02"]
    assert manifest["row_counts"]["dose"] == 3
    assert manifest["row_counts"]["participant"] == 2
    for form in forms:
        assert len(read_csv(archive, f"wide/{form.name}.csv")) == manifest["row_counts"][form.name]


def test_csv_values_are_what_was_entered(trial):
    archive, _calls = export(write_clinical_csv, scope_for(trial))
    [clinical] = read_csv(archive, "wide/clinical_pregnancy.csv")
    assert list(clinical)[:3] == ["subject_id", "site", "record_id"]
    assert clinical["subject_id"] == trial.a.subject_id
    assert clinical["site"] == "S01"
    assert clinical["assessed_on"] == "2026-03-22"
    assert clinical["gestational_sac_seen"] == "1"
    assert clinical["ectopic_pregnancy"] == "0"
    assert clinical["number_of_sacs"] == "1"
    assert clinical["result"] == "positive"
    biochemical = {r["subject_id"]: r for r in read_csv(archive, "wide/biochemical_pregnancy.csv")}
    assert biochemical[trial.a.subject_id]["serum_hcg_miu_ml"] == "250.50"
    assert biochemical[trial.b.subject_id]["serum_hcg_miu_ml"] == "777.00"
    doses = read_csv(archive, "wide/dose.csv")
    assert [d["date"] for d in doses] == ["2026-02-27", "2026-02-28", "2026-03-01"]
    assert doses[0]["time_taken"] == "08:30:00"
    assert doses[1]["comment"] == LONG_COMMENT
    assert doses[2]["taken"] == "0"
    [transfer] = [r for r in read_csv(archive, "wide/embryo_transfer.csv") if r["site"] == "S01"]
    assert transfer["embryo_stage"] == "blastocyst"
    assert transfer["embryos_transferred"] == "1"
    [withdrawal] = read_csv(archive, "wide/withdrawal.csv")
    assert withdrawal["subject_id"] == trial.b.subject_id
    assert withdrawal["reason"] == "Moved abroad"
    [eligibility] = [r for r in read_csv(archive, "wide/eligibility.csv") if r["site"] == "S01"]
    assert eligibility["th1_th2_ratio"] == "12.40"
    assert eligibility["eligible"] == "1"
    assert eligibility["failed_criteria"] == ""


def test_wide_and_long_agree(trial):
    archive, _calls = export(write_clinical_csv, scope_for(trial))
    long_rows = read_csv(archive, "long.csv")
    assert list(long_rows[0]) == [
        "subject_id",
        "site",
        "form",
        "record_id",
        "field",
        "value",
        "form_date",
    ]
    from_long = {
        (r["form"], r["subject_id"], r["site"], r["record_id"], r["field"]): r["value"]
        for r in long_rows
    }
    assert len(from_long) == len(long_rows) == manifest_of(archive)["long_rows"]
    from_wide = {}
    for form in forms_in_scope(scope_for(trial)):
        for row in read_csv(archive, f"wide/{form.name}.csv"):
            for field in form.fields:
                key = (form.name, row["subject_id"], row["site"], row["record_id"], field.name)
                from_wide[key] = row[field.name]
    assert from_wide == from_long
    dose_dates = {r["form_date"] for r in long_rows if r["form"] == "dose"}
    assert dose_dates == {"2026-02-27", "2026-02-28", "2026-03-01"}


def test_formula_injection_is_neutralised_in_wide_and_long(trial):
    archive, _calls = export(write_clinical_csv, scope_for(trial))
    doses = read_csv(archive, "wide/dose.csv")
    assert doses[0]["comment"] == "'" + FORMULA_COMMENT
    [event] = read_csv(archive, "wide/adverse_event.csv")
    assert event["term"] == "'" + FORMULA_TERM
    long_values = {r["value"] for r in read_csv(archive, "long.csv")}
    assert "'" + FORMULA_COMMENT in long_values
    assert FORMULA_COMMENT not in long_values
    assert FORMULA_TERM not in long_values
    for name in archive.namelist():
        if name.endswith(".csv"):
            text = archive.read(name).decode()
            for line in csv.reader(io.StringIO(text)):
                assert not any(cell[:1] in {"=", "+", "@", "\t", "\r"} for cell in line), name


def test_site_b_data_never_reaches_an_export_scoped_to_site_a(trial, tmp_path):
    scope = scope_for(trial, trial.site_a)
    archive, _calls = export(write_clinical_csv, scope)
    for name in archive.namelist():
        text = archive.read(name).decode()
        assert trial.b.subject_id not in text, name
        assert "777.00" not in text, name
    assert manifest_of(archive)["scope"]["sites"] == ["S01"]
    assert {r["site"] for r in read_csv(archive, "long.csv")} == {"S01"}
    xpt, _calls = export(write_clinical_xpt, scope)
    for name in xpt.namelist():
        if name.endswith(".xpt"):
            frame, _meta = read_xpt(xpt, name, tmp_path)
            assert set(frame["SITEID"]) <= {"S01"}, name
            assert trial.b.subject_id not in set(frame["SUBJID"]), name
    only_b, _calls = export(write_clinical_csv, scope_for(trial, trial.site_b))
    assert {r["subject_id"] for r in read_csv(only_b, "long.csv")} == {trial.b.subject_id}


def test_an_export_with_no_site_is_empty(trial):
    archive, _calls = export(write_clinical_csv, ExportScope(study_id=trial.study.pk, site_ids=()))
    assert read_csv(archive, "long.csv") == []
    assert set(manifest_of(archive)["row_counts"].values()) == {0}


def test_subject_and_date_range_narrow_the_export(trial):
    archive, _calls = export(write_clinical_csv, scope_for(trial, subject_id=trial.b.subject_id))
    assert {r["subject_id"] for r in read_csv(archive, "long.csv")} == {trial.b.subject_id}
    ranged, _calls = export(
        write_clinical_csv,
        scope_for(trial, since=dt.date(2026, 2, 28), until=dt.date(2026, 3, 4)),
    )
    assert [d["date"] for d in read_csv(ranged, "wide/dose.csv")] == ["2026-02-28", "2026-03-01"]
    assert len(read_csv(ranged, "wide/adverse_event.csv")) == 1
    assert read_csv(ranged, "wide/clinical_pregnancy.csv") == []
    assert read_csv(ranged, "wide/randomization.csv") == []
    assert {r["form_date"] for r in read_csv(ranged, "long.csv")} <= {
        "2026-02-28",
        "2026-03-01",
        "2026-03-02",
        "2026-03-03",
        "2026-03-04",
    }


def test_the_arm_is_left_out_when_the_scope_may_not_see_it(trial, tmp_path):
    visible, _calls = export(write_clinical_csv, scope_for(trial))
    rows = {r["subject_id"]: r for r in read_csv(visible, "wide/randomization.csv")}
    assert rows[trial.a.subject_id]["arm"] == trial.a.allocation.arm.code
    hidden_scope = scope_for(trial, arm_visible=False)
    hidden, _calls = export(write_clinical_csv, hidden_scope)
    randomization = read_csv(hidden, "wide/randomization.csv")
    assert randomization and "arm" not in randomization[0]
    assert not [r for r in read_csv(hidden, "long.csv") if r["field"] == "arm"]
    assert not [r for r in read_csv(hidden, "dictionary.csv") if r["field"] == "arm"]
    xpt, _calls = export(write_clinical_xpt, hidden_scope)
    frame, _meta = read_xpt(xpt, "rand.xpt", tmp_path)
    assert "ARM" not in frame.columns
    assert len(frame) == 2


def test_concealed_models_are_left_out(trial):
    scope = scope_for(trial, concealed_models=("randomization.Slot",))
    archive, _calls = export(write_clinical_csv, scope)
    assert "wide/randomization.csv" not in archive.namelist()
    assert not [r for r in read_csv(archive, "long.csv") if r["form"] == "randomization"]
    assert "randomization" not in manifest_of(archive)["row_counts"]


def test_progress_reaches_its_total(trial):
    _archive, calls = export(write_clinical_csv, scope_for(trial))
    assert calls[0][0] == 0
    assert calls[-1][0] == calls[-1][1]
    assert [done for done, _total in calls] == sorted(done for done, _total in calls)


# -- SAS transport ---------------------------------------------------------------------


def test_xpt_reads_back_with_the_same_values_and_labels(trial, tmp_path):
    scope = scope_for(trial)
    archive, _calls = export(write_clinical_xpt, scope)
    csv_archive, _calls = export(write_clinical_csv, scope)
    manifest = manifest_of(archive)
    assert manifest["audit_chain_head"] == CHAIN_HEAD
    assert {"dictionary.csv", "manifest.json"} <= set(archive.namelist())
    for form in forms_in_scope(scope):
        name = f"{form.sas_name.lower()}.xpt"
        frame, meta = read_xpt(archive, name, tmp_path)
        assert meta.table_name == form.sas_name
        assert meta.file_label == form.label_en
        assert len(frame) == manifest["row_counts"][form.name]
        for column in frame.columns:
            assert len(column) <= 8 and column == column.upper()
        assert len(set(frame.columns)) == len(frame.columns)
        for field in form.fields:
            assert meta.column_names_to_labels[field.sas_name] == field.label_en[:40]
            if field.data_type == "date":
                assert meta.original_variable_types[field.sas_name] == "DATE9"
        continuations = manifest["datasets"][form.sas_name]["continuations"]
        wide = read_csv(csv_archive, f"wide/{form.name}.csv")
        for row, (_index, record) in zip(wide, frame.iterrows(), strict=True):
            assert record["SUBJID"] == row["subject_id"]
            assert record["SITEID"] == row["site"]
            assert int(record["RECID"]) == int(row["record_id"])
            for field in form.fields:
                expected = row[field.name]
                if field.data_type == "text" and expected.startswith("'"):
                    expected = expected[1:]
                if field.data_type == "datetime":
                    expected = expected[:19]
                parts = continuations.get(field.sas_name, [])
                assert _xpt_as_csv(field, record, parts) == expected, (form.name, field.name)


def _xpt_as_csv(field: Any, record: Any, continuations: list[str]) -> str:
    """An XPT value written as the CSV writes it, to compare the two exports."""
    value = record[field.sas_name]
    if field.data_type == "text":
        return "".join([value, *(record[name] for name in continuations)])
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if field.data_type == "date":
        return value.isoformat()
    if field.data_type == "datetime":
        return value.to_pydatetime().isoformat()[:19]
    if field.data_type in {"integer", "boolean"}:
        return str(int(value))
    places = Decimal(10) ** -(field.fraction_digits or 0)
    return format(Decimal(str(value)).quantize(places), "f")


def test_xpt_datetimes_are_in_the_study_time_zone(trial, tmp_path):
    archive, _calls = export(write_clinical_xpt, scope_for(trial))
    frame, meta = read_xpt(archive, "rand.xpt", tmp_path)
    assert meta.original_variable_types["ALLOCATE"] == "DATETIME20"
    allocated = {r["SUBJID"]: r["ALLOCATE"] for _i, r in frame.iterrows()}
    assert allocated[trial.a.subject_id].date() == dt.date(2026, 2, 20)
    local = trial.a.allocation.allocated_at.astimezone(dt.timezone(dt.timedelta(hours=9)))
    assert allocated[trial.a.subject_id].to_pydatetime() == local.replace(
        tzinfo=None, microsecond=0
    )


def test_long_text_is_split_into_continuation_variables_not_cut(trial, tmp_path):
    archive, _calls = export(write_clinical_xpt, scope_for(trial))
    frame, meta = read_xpt(archive, "dose.xpt", tmp_path)
    manifest = manifest_of(archive)
    assert manifest["xpt_continuations"]["dose.comment"] == ["COMMENT2"]
    assert "200 bytes" in manifest["xpt_text_rule"]
    assert meta.variable_storage_width["COMMENT"] <= XPT_TEXT_MAX_BYTES
    assert meta.variable_storage_width["COMMENT2"] <= XPT_TEXT_MAX_BYTES
    second = frame.iloc[1]
    assert second["COMMENT"] + second["COMMENT2"] == LONG_COMMENT
    assert len(second["COMMENT"].encode()) <= XPT_TEXT_MAX_BYTES
    assert meta.column_names_to_labels["COMMENT2"] == "Comment (part 2)"
    [entry] = [
        r
        for r in read_csv(archive, "dictionary.csv")
        if r["form"] == "dose" and r["field"] == "comment"
    ]
    assert entry["sas_continuation"] == "COMMENT2"


def test_split_text_cuts_between_characters():
    text = "あ" * 100 + "b"
    parts = split_text(text, 200)
    assert "".join(parts) == text
    assert all(len(p.encode()) <= 200 for p in parts)
    assert split_text("") == [""]


@pytest.mark.requirement("CFR11-10B-READABLE")
def test_control_characters_already_stored_reach_csv_and_xpt_as_stored(trial, tmp_path):
    """Text stored before the boundary refused control characters exports whole: CSV and
    SAS transport can hold them, and their readers give them back."""
    from ecrf.safety.models import AdverseEvent

    stored = "Head\x01ache\x0b\x85"
    AdverseEvent.objects.update(term=stored)
    archive, _calls = export(write_clinical_csv, scope_for(trial))
    [event] = read_csv(archive, "wide/adverse_event.csv")
    assert event["term"] == stored
    archive, _calls = export(write_clinical_xpt, scope_for(trial))
    frame, _meta = read_xpt(archive, "ae.xpt", tmp_path)
    assert list(frame["TERM"]) == [stored]
