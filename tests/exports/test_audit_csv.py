"""The audit trail as CSV: every change, with its old and new value, reason and action."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone
from pghistory.models import Events

from ecrf.accounts.models import ApiKey, User
from ecrf.audit.context import change_context
from ecrf.endpoints.services import endpoint_record
from ecrf.exports.formats.audit import (
    AUDIT_COLUMNS,
    COLUMNS,
    SECRET_FIELDS,
    audit_rows,
    audited_models,
    write_audit_csv,
)
from ecrf.exports.formats.base import ExportScope
from ecrf.participants.models import Participant
from ecrf.queries.services import query_close, query_open, query_respond
from ecrf.safety.services import adverse_event_record, adverse_event_update
from ecrf.schedule.models import DoseEntry
from ecrf.schedule.services import dose_record
from ecrf.studies.models import Site, Study

from ..clock import at
from ..factories import PASSWORD

pytestmark = pytest.mark.django_db

CHAIN_HEAD = "ab" * 32
FORMULA_COMMENT = '=HYPERLINK("http://evil.example","click")'
FORMULA_TERM = "=1+1"
FORMULA_REASON = "+ grade corrected after the investigator's review"
MINUS_REASON = "-1 day: entered for the wrong day"
SLOT_AND_LIST = ("randomization.Slot", "randomization.RandomizationList")


@dataclass
class Trail:
    study: Study
    site_a: Site
    site_b: Site
    a: Participant
    b: Participant
    coordinator_a: User
    monitor_a: User
    investigator_a: User
    data_manager: User
    deleted_dose: DoseEntry
    adverse_event_id: int


def build_trail(
    study: Study,
    site_a: Site,
    site_b: Site,
    transferred: Participant,
    coordinator_a: User,
    coordinator_b: User,
    make_user: Callable[..., User],
    ready_participant: Callable[..., Participant],
    api_for: Callable[[User], Any],
) -> Trail:
    """Participant A of site A through treatment, corrections, a query and a signature;
    participant B of site B screened; one dose entry deleted with its reason."""
    a = transferred
    monitor = make_user("monitor", ["S01"], username="monitor_a")
    investigator = make_user("investigator", ["S01"], username="investigator_a")
    data_manager = make_user("data_manager", [], username="dm")
    coordinator_api = api_for(coordinator_a)
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
        mistaken = dose_record(
            participant=a,
            date=dt.date(2026, 2, 28),
            intake="morning",
            taken=True,
            performed_by=coordinator_a,
        )
        performed = coordinator_api.put(
            f"/api/v1/participants/{a.pk}/embryo-transfer/",
            {"et_date": "2026-03-01", "performed": True, "reason": "Transfer performed as planned"},
            format="json",
        )
        assert performed.status_code == 200, performed.content
    with change_context(performed_by=data_manager, reason=MINUS_REASON):
        DoseEntry.objects.filter(pk=mistaken.pk).delete()
    with at("2026-03-05"):
        event = adverse_event_record(
            participant=a,
            term=FORMULA_TERM,
            onset_date=dt.date(2026, 3, 3),
            ctcae_grade=1,
            serious=False,
            related=True,
            outcome="recovering",
            performed_by=coordinator_a,
        )
        adverse_event_update(
            adverse_event=event,
            term=FORMULA_TERM,
            onset_date=dt.date(2026, 3, 3),
            ctcae_grade=2,
            serious=False,
            related=True,
            outcome="recovered",
            end_date=dt.date(2026, 3, 4),
            reason=FORMULA_REASON,
            performed_by=coordinator_a,
        )
    with at("2026-03-15"):
        values = {
            "assessed_on": dt.date(2026, 3, 15),
            "serum_hcg_miu_ml": Decimal("250.50"),
            "result": "positive",
        }
        endpoint_record(
            participant=a, record="biochemical_pregnancy", values=values, performed_by=coordinator_a
        )
        endpoint_record(
            participant=a,
            record="biochemical_pregnancy",
            values={**values, "serum_hcg_miu_ml": Decimal("260.00")},
            reason="Laboratory report corrected",
            performed_by=coordinator_a,
        )
        query = query_open(
            participant=a,
            record="biochemical_pregnancy",
            field="serum_hcg_miu_ml",
            text="Please confirm the hCG value against the laboratory report.",
            performed_by=monitor,
        )
        query_respond(query=query, text="Confirmed: 260.00 mIU/mL.", performed_by=coordinator_a)
        query_close(query=query, performed_by=monitor)
    with at("2026-03-16"):
        signed = api_for(investigator).post(
            f"/api/v1/participants/{a.pk}/signature/",
            {"password": PASSWORD, "meaning": "I approve the data of this casebook."},
            format="json",
        )
        assert signed.status_code == 201, signed.content
    with at("2026-02-20"):
        b = ready_participant(site=site_b, coordinator=coordinator_b)
    a.refresh_from_db()
    return Trail(
        study=study,
        site_a=site_a,
        site_b=site_b,
        a=a,
        b=b,
        coordinator_a=coordinator_a,
        monitor_a=monitor,
        investigator_a=investigator,
        data_manager=data_manager,
        deleted_dose=mistaken,
        adverse_event_id=event.pk,
    )


@pytest.fixture
def trail(
    study: Study,
    site_a: Site,
    site_b: Site,
    transferred: Participant,
    coordinator_a: User,
    coordinator_b: User,
    make_user: Callable[..., User],
    ready_participant: Callable[..., Participant],
    api_for: Callable[[User], Any],
) -> Trail:
    return build_trail(
        study,
        site_a,
        site_b,
        transferred,
        coordinator_a,
        coordinator_b,
        make_user,
        ready_participant,
        api_for,
    )


def scope_of(trail: Trail, *sites: Site, **kwargs: Any) -> ExportScope:
    return ExportScope(
        study_id=trail.study.pk,
        site_ids=tuple(site.pk for site in (sites or (trail.site_a, trail.site_b))),
        **kwargs,
    )


def export_csv(scope: ExportScope) -> tuple[list[str], list[dict[str, str]], list[Any]]:
    """The CSV file as a spreadsheet would read it: header, rows, and the progress calls."""
    out = io.BytesIO()
    calls: list[Any] = []
    write_audit_csv(
        scope, out, progress=lambda done, total: calls.append((done, total)), chain_head=CHAIN_HEAD
    )
    text = out.getvalue().decode("utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    rows = [dict(zip(header, row, strict=True)) for row in reader]
    return header, rows, calls


def find(rows: list[dict[str, str]], **match: str) -> list[dict[str, str]]:
    return [row for row in rows if all(row[k] == v for k, v in match.items())]


def one(rows: list[dict[str, str]], **match: str) -> dict[str, str]:
    found = find(rows, **match)
    assert len(found) == 1, (match, found)
    return found[0]


@pytest.mark.requirement("API-AUDIT-CSV")
def test_the_header_is_the_contracts_columns_in_order(trail: Trail) -> None:
    header, _rows, _calls = export_csv(scope_of(trail))
    assert header[: len(AUDIT_COLUMNS)] == [
        "timestamp",
        "user",
        "role",
        "site",
        "subject_id",
        "record",
        "record_id",
        "field",
        "old_value",
        "new_value",
        "reason",
        "action",
    ]
    assert header == list(COLUMNS)


@pytest.mark.requirement("API-AUDIT-CSV", "CFR11-10E-CONTENT")
def test_a_correction_gives_old_and_new_value_with_its_reason_user_and_origin(
    trail: Trail,
) -> None:
    _header, rows, _calls = export_csv(scope_of(trail))
    hcg = one(rows, record="biochemical_pregnancy", field="serum_hcg_miu_ml", action="update")
    assert hcg["old_value"] == "250.50"
    assert hcg["new_value"] == "260.00"
    assert hcg["reason"] == "Laboratory report corrected"
    assert hcg["user"] == "coordinator_a"
    assert hcg["role"] == "coordinator"
    assert hcg["site"] == "S01"
    assert hcg["subject_id"] == trail.a.subject_id
    assert hcg["record_id"] == str(trail.a.biochemical_pregnancy.pk)
    assert dt.datetime.fromisoformat(hcg["timestamp"]).utcoffset() == dt.timedelta(hours=9)
    assert hcg["event"].startswith("endpoints_biochemicalpregnancyevent:")
    unchanged = find(rows, record="biochemical_pregnancy", field="result", action="update")
    assert unchanged == [], "a value that did not change is not a change"

    performed = one(rows, record="embryo_transfer", field="performed", action="update")
    assert (performed["old_value"], performed["new_value"]) == ("0", "1")
    assert performed["reason"] == "Transfer performed as planned"
    assert performed["source"] == "api"
    assert performed["origin"] == f"/api/v1/participants/{trail.a.pk}/embryo-transfer/"
    assert performed["request_id"]

    grade = one(rows, record="adverse_event", field="ctcae_grade", action="update")
    assert (grade["old_value"], grade["new_value"]) == ("1", "2")
    end = one(rows, record="adverse_event", field="end_date", action="update")
    assert (end["old_value"], end["new_value"]) == ("", "2026-03-04")


@pytest.mark.requirement("API-AUDIT-CSV")
def test_a_creation_gives_each_value_and_a_deletion_each_old_value(trail: Trail) -> None:
    _header, rows, _calls = export_csv(scope_of(trail))
    dose = trail.deleted_dose
    created = find(rows, record="dose", record_id=str(dose.pk), action="create")
    assert {row["field"]: row["new_value"] for row in created}.items() >= {
        "date": "2026-02-28",
        "taken": "1",
        "dose_mg": format(dose.dose_mg, "f"),
        "capsules": str(dose.capsules),
        "participant": str(trail.a.pk),
    }.items()
    assert all(row["old_value"] == "" for row in created)
    assert "comment" not in {row["field"] for row in created}, "an empty text is no value"
    deleted = find(rows, record="dose", record_id=str(dose.pk), action="delete")
    assert {row["field"]: row["old_value"] for row in deleted} == {
        row["field"]: row["new_value"] for row in created
    }
    assert all(row["new_value"] == "" for row in deleted)
    assert {row["reason"] for row in deleted} == {"'" + MINUS_REASON}
    assert {row["user"] for row in deleted} == {"dm"}
    assert {row["subject_id"] for row in deleted} == {trail.a.subject_id}


@pytest.mark.requirement("API-AUDIT-CSV", "CFR11-10E-REVIEW")
def test_every_change_of_every_audited_record_is_in_the_file(trail: Trail) -> None:
    """Compared with pghistory's own reading of the events: each field it says changed."""
    _header, rows, calls = export_csv(scope_of(trail))
    exported = {(row["event"], row["field"]) for row in rows}
    auto_stamps = {
        (m.model._meta.label, f.attname)
        for m in audited_models()
        for f in m.fields
        if getattr(f, "auto_now", False)
    }
    expected = set()
    for event in Events.objects.all():
        event_model = apps.get_model(event.pgh_model)
        tracked = event_model.pgh_tracked_model
        names = {f.attname: f.name for f in tracked._meta.concrete_fields}
        reference = f"{event_model._meta.db_table}:{event.pgh_id}"
        if event.pgh_label == "update":
            changed = event.pgh_diff or {}
        else:
            changed = {k: v for k, v in (event.pgh_data or {}).items() if v not in (None, "", [])}
        for attname in changed:
            if attname in names and attname != "id" and attname not in SECRET_FIELDS:
                if event.pgh_label == "update" and (tracked._meta.label, attname) in auto_stamps:
                    continue
                expected.add((reference, names[attname]))
    assert expected, "the trail is not empty"
    assert expected == exported
    assert calls[-1] == (len(rows), len(rows))
    assert calls[0][0] == 0 and calls[0][1] > 0


def test_a_query_message_belongs_to_the_participant_of_its_query(trail: Trail) -> None:
    _header, rows, _calls = export_csv(scope_of(trail))
    messages = find(rows, record="querymessage", field="text", action="create")
    assert [m["new_value"] for m in messages] == [
        "Please confirm the hCG value against the laboratory report.",
        "Confirmed: 260.00 mIU/mL.",
    ]
    assert {m["subject_id"] for m in messages} == {trail.a.subject_id}
    assert {m["site"] for m in messages} == {"S01"}


def test_a_text_a_spreadsheet_would_run_as_a_formula_is_written_as_text(trail: Trail) -> None:
    _header, rows, _calls = export_csv(scope_of(trail))
    comment = one(rows, record="dose", field="comment", action="create")
    assert comment["new_value"] == "'" + FORMULA_COMMENT
    term = one(rows, record="adverse_event", field="term", action="create")
    assert term["new_value"] == "'=1+1"
    grade = one(rows, record="adverse_event", field="ctcae_grade", action="update")
    assert grade["reason"] == "'" + FORMULA_REASON
    for row in rows:
        for column in COLUMNS:
            cell = row[column]
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), (column, row)
            # A leading minus is left only on a plain number.
            assert not cell.startswith("-") or re.fullmatch(r"-\d+(\.\d+)?", cell), (column, row)
    # Numbers stay numbers: a negative offset is not text a spreadsheet would run.
    offset = one(rows, record="study", field="dosing_start_offset", action="create")
    assert offset["new_value"] == "-2"


def test_the_trail_read_for_odm_is_not_neutralised(trail: Trail) -> None:
    rows = list(audit_rows(scope_of(trail)))
    terms = [r for r in rows if r.record == "adverse_event" and r.field == "term"]
    assert [r.new_value for r in terms] == [FORMULA_TERM]


def test_a_monitor_of_site_a_never_gets_a_row_of_site_b(trail: Trail) -> None:
    _header, everything, _calls = export_csv(scope_of(trail))
    assert find(everything, subject_id=trail.b.subject_id), "site B has rows of its own"
    _header, rows, _calls = export_csv(scope_of(trail, trail.site_a))
    assert rows
    assert {row["site"] for row in rows} == {"S01"}
    assert trail.b.subject_id not in {row["subject_id"] for row in rows}
    assert not find(rows, user="coordinator_b")
    # Nor the study's settings and users, which are not one site's.
    assert not find(rows, record="study")
    assert not find(rows, record="user")
    assert find(rows, subject_id=trail.a.subject_id, record="signature")


def test_one_participant_only(trail: Trail) -> None:
    _header, rows, _calls = export_csv(scope_of(trail, subject_id=trail.a.subject_id))
    assert rows
    assert {row["subject_id"] for row in rows} == {trail.a.subject_id}


def test_concealed_models_and_a_hidden_arm_are_left_out(trail: Trail) -> None:
    _header, rows, _calls = export_csv(scope_of(trail))
    assert find(rows, model="randomization.slot", field="arm")
    assert find(rows, model="randomization.randomizationlist")
    _header, concealed, _calls = export_csv(scope_of(trail, concealed_models=SLOT_AND_LIST))
    assert concealed
    assert not [r for r in concealed if r["model"].startswith("randomization.")]
    _header, blind, _calls = export_csv(scope_of(trail, arm_visible=False))
    assert find(blind, model="randomization.slot", field="participant")
    assert not find(blind, model="randomization.slot", field="arm")


def test_since_and_until_are_dates_of_the_study_inclusive(trail: Trail) -> None:
    today = timezone.localdate()
    _header, everything, _calls = export_csv(scope_of(trail))
    _header, today_only, _calls = export_csv(scope_of(trail, since=today, until=today))
    assert today_only == everything
    _header, before, _calls = export_csv(scope_of(trail, until=today - dt.timedelta(days=1)))
    assert before == []
    _header, after, _calls = export_csv(scope_of(trail, since=today + dt.timedelta(days=1)))
    assert after == []


def test_the_date_range_still_compares_a_correction_with_the_value_before_it(
    trail: Trail,
) -> None:
    """A range that starts after a record was created still shows the old value."""
    from ecrf.endpoints.models import BiochemicalPregnancy

    event_model = apps.get_model("endpoints", "BiochemicalPregnancyEvent")
    # Move the creation to yesterday, as if the correction came a day later.
    from django.db import connection

    created = event_model.objects.get(pgh_label="create")
    with connection.cursor() as cursor:
        cursor.execute(
            "SET LOCAL session_replication_role = replica;"
            "UPDATE endpoints_biochemicalpregnancyevent "
            "SET pgh_created_at = pgh_created_at - interval '2 days' WHERE pgh_id = %s;"
            "SET LOCAL session_replication_role = origin;",
            [created.pgh_id],
        )
    assert BiochemicalPregnancy.objects.count() == 1
    _header, rows, _calls = export_csv(scope_of(trail, since=timezone.localdate()))
    assert not find(rows, record="biochemical_pregnancy", action="create")
    hcg = one(rows, record="biochemical_pregnancy", field="serum_hcg_miu_ml", action="update")
    assert (hcg["old_value"], hcg["new_value"]) == ("250.50", "260.00")


def test_no_password_or_key_ever_leaves(trail: Trail, api_for: Callable[[User], Any]) -> None:
    api_for(trail.monitor_a)
    _header, rows, _calls = export_csv(scope_of(trail))
    text = repr(rows)
    for user in User.objects.all():
        assert user.password and user.password not in text
    for api_key in ApiKey.objects.all():
        assert api_key.digest not in text and api_key.token_key not in text
    assert not {row["field"] for row in rows} & SECRET_FIELDS
    assert find(rows, record="user", field="username", new_value="monitor_a")


@pytest.mark.requirement("API-AUDIT-CSV")
def test_a_change_made_by_a_command_names_the_command(trail: Trail) -> None:
    call_command(
        "create_study_user",
        "monitor_s02",
        "--role",
        "monitor",
        "--site",
        "S02",
        "--password",
        PASSWORD,
        stdout=io.StringIO(),
    )
    _header, rows, _calls = export_csv(scope_of(trail))
    created = one(rows, record="user", field="username", new_value="monitor_s02")
    assert created["action"] == "create"
    assert (created["source"], created["origin"]) == ("command", "create_study_user")
    assert created["user"] == "system:create_study_user"
    assert created["request_id"]
    assert find(rows, record="sitemembership", origin="create_study_user", site="S02")
    _header, site_a, _calls = export_csv(scope_of(trail, trail.site_a))
    assert not find(site_a, origin="create_study_user")
