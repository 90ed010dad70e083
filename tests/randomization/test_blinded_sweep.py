"""Blinding end to end: in a blinded study nothing a blinded role can get names the arm.

A blinded study with participants randomized to both arms (one through the API, one
through the web page, the rest through the service), their transfers planned, doses,
an adverse event and a query recorded. Then, for each role the study names: every route
the authorization matrix (``ACCESS``) lets her GET, with each object of the kind the
route takes (``ROUTES``), in English and in Japanese; every export the formats table
offers her, read file by file; every e-mail addressed to her. None may hold an arm
code, an arm label (English or Japanese) or an arm's daily dose. The roles the study
leaves unblinded (statistician, admin) still see the arm, so the sweep is not vacuous.
A route, form or export format added later is swept without a change here.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdf
import pyreadstat
import pytest
from django.core import mail
from django.test import Client, TestCase
from django.urls import NoReverseMatch, reverse
from rest_framework.test import APIClient

from ecrf.accounts.policy import concealed_from
from ecrf.accounts.selectors import sites_visible_to
from ecrf.celery import app as celery_app
from ecrf.common import catalogue
from ecrf.exports.formats import FORMATS
from ecrf.participants.models import Participant
from ecrf.participants.selectors import participants_visible_to
from ecrf.queries.services import query_open
from ecrf.safety.services import adverse_event_record
from ecrf.schedule.services import dose_day_record
from ecrf.schedule.tasks import send_daily_reminders
from ecrf.studies.models import Arm, Site, Study
from randomization.models import RandomizationList
from randomization.services import participant_randomize
from tests.clock import at
from tests.conftest import (
    eligible_consented,
    module_transaction,
    sign_in,
    study_user,
    transfer_planned_on_1_march,
)
from tests.core.test_authorization_matrix import ACCESS, ROLES
from tests.core.test_site_isolation import ROUTES

pytestmark = [pytest.mark.django_db, pytest.mark.requirement("PROT-RAND-BLINDING")]

#: The roles the blinded study names; statisticians and admins keep the randomization
#: lists (allocation concealment) and stay unblinded.
BLINDED_ROLES = ("coordinator", "investigator", "monitor", "data_manager")
UNBLINDED_ROLES = tuple(role for role in ROLES if role not in BLINDED_ROLES)
LANGUAGES = ("en", "ja")
#: The first dosing day of a transfer planned on 2026-03-01.
DOSING_DAY = dt.date(2026, 2, 27)


# -- what a leak looks like -------------------------------------------------------------


@dataclass(frozen=True)
class ArmWords:
    """What names an arm: its code, its labels in both languages, its daily dose."""

    codes: tuple[str, ...]
    labels: tuple[str, ...]
    daily_doses_mg: tuple[Decimal, ...]

    @classmethod
    def of(cls, study: Study) -> ArmWords:
        arms = list(Arm.objects.filter(study=study))
        return cls(
            codes=tuple(a.code for a in arms),
            labels=tuple(label for a in arms for label in (a.name_en, a.name_ja)),
            daily_doses_mg=tuple(a.daily_dose_mg for a in arms),
        )

    def found_in(self, text: str) -> list[str]:
        """Each place ``text`` names an arm, with a few characters around it."""
        text = _without_field_names(html.unescape(text))
        patterns = [(re.escape(label), re.IGNORECASE) for label in self.labels]
        # A code as a value: quoted, in a cell or a tag, not a word of a sentence.
        patterns += [
            (
                rf"(?:^|(?<=[\"'>,;=\t|]))\s*{re.escape(code)}\s*(?=[\"'<,;\t|\r\n]|$)",
                re.IGNORECASE | re.MULTILINE,
            )
            for code in self.codes
        ]
        patterns += [
            (rf"(?<![\w.]){re.escape(str(dose.normalize()))}(?:\.0+)?\s*(?:mg|ｍｇ)(?![A-Za-z])", 0)
            for dose in self.daily_doses_mg
        ]
        # The arm or its dose as a JSON value that is not null.
        patterns.append(
            (r"\"(?:arm|arm_code|dose_mg_per_day|daily_dose_mg)\"\s*:\s*(?!null)[^\s]", 0)
        )
        found = []
        for pattern, flags in patterns:
            for match in re.finditer(pattern, text, flags=flags):
                start, end = max(match.start() - 40, 0), match.end() + 40
                found.append(text[start:end].replace("\n", " "))
        return found


#: Where a text names a field rather than holds a value: a lab's normal range has a
#: field named ``low``, which is no arm.
FIELD_NAME = re.compile(r"(?:\"(?:field|name)\"\s*:\s*\"|data-field=\")[^\"]*\"")


def _without_field_names(text: str) -> str:
    """``text`` without the field names it mentions: JSON ``field`` and ``name`` keys, the
    pages' ``data-field`` attributes, and a CSV's ``field`` column (the values stay)."""
    text = FIELD_NAME.sub("", text)
    header, _newline, _rest = text.partition("\n")
    try:
        columns = next(csv.reader([header.rstrip("\r")]), [])
        if "field" not in columns or len(columns) < 3:
            return text
        at = columns.index("field")
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        return text  # not a CSV
    out = io.StringIO()
    csv.writer(out).writerows([row[:at] + row[at + 1 :] for row in rows])
    return out.getvalue()


def test_the_detector_finds_the_answers_that_once_leaked_the_arm(study):
    """The sweep would catch the leaks a review found: the API's randomize answer, the
    web page's success message, and a dose check telling the arm's dose."""
    words = ArmWords.of(study)
    assert words.found_in(json.dumps({"arm": "low", "dose_mg_per_day": 2}))
    assert words.found_in(json.dumps({"arm": "high", "dose_mg_per_day": None}))
    assert words.found_in("<li>無作為化しました: S01-0001、低用量 2 mg/日。</li>")
    assert words.found_in("<li>Randomized: S01-0001, High dose, 4 mg/day.</li>")
    assert words.found_in("The arm&#x27;s dose is 4 mg a day; another dose is ...")
    assert words.found_in("STUDYID,USUBJID,ARM\r\nJRCT,S01-001,low\r\n")
    assert words.found_in("<td>high</td>")
    assert not words.found_in(json.dumps({"arm": None, "dose_mg_per_day": None}))
    assert not words.found_in("The Th1/Th2 ratio is too low; it must be at least 10.3.")
    assert not words.found_in("Dose 1 mg taken at 08:00; 12 mg returned; 24 capsules.")
    assert not words.found_in('<input name="csrfmiddlewaretoken" value="ArbfCOCNP4MgabkzS8">')
    assert not words.found_in('<tr data-field="low"><td>Lower limit</td><td>90.00</td></tr>')
    assert not words.found_in("timestamp,user,field,new_value\r\n2026,sys,low,90.00\r\n")
    assert words.found_in("timestamp,user,field,new_value\r\n2026,sys,arm,high\r\n")


# -- the blinded study --------------------------------------------------------------------


@dataclass
class Scenery:
    study: Study
    words: ArmWords
    users: dict[str, Any]
    participants: list[Participant]
    objects: dict[str, Any]
    #: The API's answer to the coordinator who randomized, and the page she was shown.
    randomize_answer: dict[str, Any]
    randomize_page: str
    emails: list[mail.EmailMessage]


@pytest.fixture(scope="module")
def scenery(trial_built: None, django_db_blocker: Any) -> Iterator[Scenery]:
    previous_eager = celery_app.conf.task_always_eager
    with module_transaction(django_db_blocker), django_db_blocker.unblock():
        celery_app.conf.task_always_eager = True
        mail.outbox = []
        study = Study.objects.get()
        study.blinded = True
        study.blinded_roles = list(BLINDED_ROLES)
        study.save(update_fields=["blinded", "blinded_roles"])
        site = Site.objects.get(code="S01")
        users = {
            role: study_user(role, email=f"{role}@example.org", language="en") for role in ROLES
        }
        coordinator = users["coordinator"]
        with TestCase.captureOnCommitCallbacks(execute=True):
            participants, answer, page = _randomize_both_arms(site, coordinator)
            for participant in participants:
                transfer_planned_on_1_march(participant, coordinator)
            # The coordinators' e-mails: "dosing starts tomorrow" and the day's agenda.
            with at((DOSING_DAY - dt.timedelta(days=1)).isoformat(), hour=7):
                send_daily_reminders()
            for participant in participants:
                with at(DOSING_DAY.isoformat(), hour=21):
                    dose_day_record(
                        participant=participant,
                        date=DOSING_DAY,
                        taken=True,
                        performed_by=coordinator,
                    )
            adverse_event = adverse_event_record(
                participant=participants[0],
                term="Headache",
                onset_date=DOSING_DAY,
                ctcae_grade=1,
                serious=False,
                related=False,
                outcome="recovered",
                performed_by=coordinator,
            )
            query = query_open(
                participant=participants[0],
                record="consent",
                field="consent_date",
                text="Please check the consent date against the signed form.",
                performed_by=users["monitor"],
            )
        emails = list(mail.outbox)
        celery_app.conf.task_always_eager = previous_eager
        yield Scenery(
            study=study,
            words=ArmWords.of(study),
            users=users,
            participants=participants,
            objects={
                "query": query,
                "adverse_event": adverse_event,
                "randomization_list": RandomizationList.objects.get(site=site),
            },
            randomize_answer=answer,
            randomize_page=page,
            emails=emails,
        )


def _randomize_both_arms(
    site: Site, coordinator: Any
) -> tuple[list[Participant], dict[str, Any], str]:
    """Randomize her first participant through the API, the second through the web page,
    then more through the service until both arms have someone."""
    api = APIClient()
    api.force_authenticate(coordinator)
    with at("2026-02-20"):
        first = eligible_consented(site, coordinator)
        response = api.post(
            f"/api/v1/participants/{first.pk}/randomize/",
            HTTP_IDEMPOTENCY_KEY="sweep-first",
            format="json",
        )
        assert response.status_code == 201, response.content
        answer = response.json()
        second = eligible_consented(site, coordinator)
        web = sign_in(Client(), coordinator)
        page = web.post(
            reverse("participants:randomize", args=[second.pk]),
            {"token": "sweep-second"},
            follow=True,
        )
        assert page.status_code == 200
    participants = [first, second]
    while len({_arm_of(p) for p in participants}) < 2:
        assert len(participants) < 12, "the list gave one arm only"
        with at("2026-02-20"):
            more = eligible_consented(site, coordinator)
            participant_randomize(
                participant=more,
                idempotency_key=f"sweep-{len(participants)}",
                performed_by=coordinator,
            )
        participants.append(more)
    return participants, answer, page.content.decode()


def _arm_of(participant: Participant) -> str:
    participant.refresh_from_db()
    return str(Participant.objects.get(pk=participant.pk).allocation.arm.code)


# -- what each role can get ---------------------------------------------------------------


def _route_urls(name: str, scenery: Scenery, exports: list[Any]) -> Iterator[str]:
    """Every URL of route ``name``: one per object of the kind it takes, and for a
    route that takes a form's code, one per form of the catalogue."""
    kind = ROUTES[name]
    if kind is None:
        yield reverse(name)
        return
    kind_name, extra = kind if isinstance(kind, tuple) else (kind, {})
    if kind_name == "participant":
        objects: list[Any] = scenery.participants
    elif kind_name == "export":
        objects = exports
    else:
        objects = [scenery.objects[kind_name]]
    variants: list[dict[str, Any]] = [dict(extra)]
    for key in ("code", "record"):
        if key in extra:
            variants = [{**extra, key: form.code} for form in catalogue.FORMS]
    for obj in objects:
        for variant in variants:
            kwargs = {"query_pk" if name == "queries:step" else "pk": obj.pk, **variant}
            if "ae_pk" in kwargs:
                kwargs["ae_pk"] = scenery.objects["adverse_event"].pk
            if "day" in kwargs:
                kwargs["day"] = DOSING_DAY.isoformat()
            try:
                yield reverse(name, kwargs=kwargs)
            except NoReverseMatch:
                continue


def _body(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


#: CDISC's reference-range indicator (LBNRIND: LOW, NORMAL, HIGH) and its codelist spell
#: the same words as this study's arm codes; they say how a result compares with its
#: normal range, not which arm she is in, so the sweep leaves them out of SDTM files.
RANGE_INDICATOR = "LBNRIND"


def _without_range_indicator(name: str, data: bytes) -> bytes:
    if name.endswith("/lb.json"):
        document = json.loads(data)
        at = [c["name"] for c in document["columns"]].index(RANGE_INDICATOR)
        for row in document["rows"]:
            row[at] = None
        return json.dumps(document, ensure_ascii=False).encode()
    if name.endswith("/define.xml"):
        return re.sub(rb'<CodeList OID="CL.NRIND".*?</CodeList>', b"", data, flags=re.DOTALL)
    return data


def _file_texts(name: str, data: bytes) -> Iterator[tuple[str, str]]:
    """The text of a downloaded file, member by member for a zip; SAS transport files
    read as a table."""
    data = _without_range_indicator(name, data)
    if name.endswith(".tsr"):
        return  # an RFC 3161 token (DER): a digest, times and certificates, no study text
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                yield from _file_texts(f"{name}/{member}", archive.read(member))
        return
    if data[:5] == b"%PDF-":
        reader = pypdf.PdfReader(io.BytesIO(data))
        yield name, "\n".join(page.extract_text() for page in reader.pages)
        return
    if name.lower().endswith(".xpt"):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "data.xpt"
            path.write_bytes(data)
            frame, _meta = pyreadstat.read_xport(str(path))
        if name.startswith("sdtm.") and RANGE_INDICATOR in frame.columns:
            frame = frame.drop(columns=[RANGE_INDICATOR])
        yield name, frame.to_csv(index=False)
        return
    yield name, data.decode("utf-8", errors="replace")


def _export_everything(
    user: Any, participants: list[Participant]
) -> tuple[list[Any], list[tuple[str, str]]]:
    """Ask for every export of the formats table through the API as ``user`` (the
    casebook of the first participant she sees); answer her jobs and the text of every
    file they produced."""
    from ecrf.exports.models import ExportJob

    api = APIClient()
    api.force_authenticate(user)
    texts: list[tuple[str, str]] = []
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        asks = [
            {"kind": kind, "format": export_format}
            for kind, export_format in FORMATS
            if kind not in {"casebook", "archive"}
        ]
        # One site's archive: every casebook of the site, its data and trail.
        site = sites_visible_to(user).order_by("code").first()
        if site is not None:
            asks.append({"kind": "archive", "format": "zip", "site": site.code})
        # One casebook: every casebook is printed by the same template from her forms.
        seen = participants_visible_to(user).filter(pk__in=[p.pk for p in participants])
        first = seen.order_by("pk").first()
        if first is not None:
            asks.append({"kind": "casebook", "format": "pdf", "subject_id": first.subject_id})
        for body in asks:
            kind, export_format = body["kind"], body["format"]
            with TestCase.captureOnCommitCallbacks(execute=True):
                asked = api.post("/api/v1/exports/", body, format="json")
            assert asked.status_code == 202, (kind, export_format, asked.content)
            job_id = asked.json()["id"]
            status = api.get(f"/api/v1/exports/{job_id}/").json()
            assert status["status"] == "done", (kind, export_format, status)
            download = api.get(status["download_url"])
            assert download.status_code == 200, (kind, export_format)
            texts += _file_texts(f"{kind}.{export_format}", _body(download))
    finally:
        celery_app.conf.task_always_eager = previous
    return list(ExportJob.objects.filter(owner=user)), texts


def _sweep(role: str, scenery: Scenery, settings: Any, tmp_path: Path) -> dict[str, list[str]]:
    """Everything ``role`` can get, by where it came from: pages and API answers in both
    languages, export files, e-mails to her."""
    settings.MEDIA_ROOT = tmp_path / "media"
    user = scenery.users[role]
    got: dict[str, list[str]] = {}
    exports: list[Any] = []
    if "post" in ACCESS["export-list"].allowed and role in ACCESS["export-list"].allowed["post"]:
        exports, files = _export_everything(user, scenery.participants)
        for name, text in files:
            got.setdefault(f"export {name}", []).append(text)
    for language in LANGUAGES:
        type(user).objects.filter(pk=user.pk).update(language=language)
        user.refresh_from_db()
        web = sign_in(Client(), user)
        api = APIClient()
        api.force_authenticate(user)
        for name in sorted(ACCESS):
            if role not in ACCESS[name].allowed.get("get", frozenset()):
                continue
            for url in _route_urls(name, scenery, exports):
                if url.startswith("/api/"):
                    response = api.get(url, HTTP_ACCEPT_LANGUAGE=language)
                else:
                    response = web.get(url, HTTP_ACCEPT_LANGUAGE=language)
                assert response.status_code < 500, (url, response.status_code)
                # A download is read as the export sweep reads it (a zip member by member,
                # a PDF's text), not as bytes that may spell a word by chance.
                for _name, text in _file_texts(url, _body(response)):
                    got.setdefault(f"{language} GET {url} ({response.status_code})", []).append(
                        text
                    )
    for email in scenery.emails:
        if user.email in email.to:
            got.setdefault(f"e-mail {email.subject}", []).append(f"{email.subject}\n{email.body}")
    return got


def _leaks(got: dict[str, list[str]], words: ArmWords) -> dict[str, list[str]]:
    return {
        where: found
        for where, texts in got.items()
        if (found := [hit for text in texts for hit in words.found_in(text)])
    }


def _told(leaks: dict[str, list[str]]) -> str:
    """Each place and what it showed first, one a line."""
    return "\n".join(f"{where}: {hits[0]!r} ({len(hits)} in all)" for where, hits in leaks.items())


@pytest.mark.parametrize("role", BLINDED_ROLES)
def test_nothing_a_blinded_role_can_get_names_the_arm(role, scenery, settings, tmp_path, anchored):
    got = _sweep(role, scenery, settings, tmp_path)
    assert len(got) > 20, sorted(got)  # the sweep reached her pages
    if role == "coordinator":
        assert any(where.startswith("e-mail ") for where in got), sorted(got)
    leaks = _leaks(got, scenery.words)
    assert leaks == {}, _told(leaks)


def test_the_coordinator_who_randomizes_is_not_told_the_arm(scenery):
    answer = scenery.randomize_answer
    assert answer["arm"] is None and answer["dose_mg_per_day"] is None
    assert answer["randomization_number"]
    assert scenery.words.found_in(json.dumps(answer)) == []
    assert "S01-" in scenery.randomize_page  # the success message names her number
    assert scenery.words.found_in(scenery.randomize_page) == []


@pytest.mark.parametrize("role", UNBLINDED_ROLES)
def test_the_unblinded_roles_still_see_the_arm(role, scenery, settings, tmp_path, anchored):
    got = _sweep(role, scenery, settings, tmp_path)
    leaks = _leaks(got, scenery.words)
    for participant in scenery.participants:
        detail = f"/api/v1/participants/{participant.pk}/"
        answers = [
            json.loads(text)
            for where, texts in got.items()
            if where.endswith(f"GET {detail} (200)")
            for text in texts
        ]
        assert answers and {a["arm"] for a in answers} == {_arm_of(participant)}
    assert any(where.startswith("en GET /participants/") for where in leaks), sorted(leaks)
    assert any(where.startswith("ja GET /participants/") for where in leaks), sorted(leaks)
    assert any(where.startswith("export clinical_data") for where in leaks), sorted(leaks)


def test_a_list_keeper_the_study_blinds_sees_no_arm_in_the_audit_trail(
    scenery, settings, tmp_path, anchored
):
    """Blinding reaches the audit views and audit exports even of a role that keeps the
    randomization lists: the allocation's and the arms' events are left out for her."""
    Study.objects.filter(pk=scenery.study.pk).update(blinded_roles=[*BLINDED_ROLES, "admin"])
    assert {"randomization.RandomizationList", "randomization.Slot", "studies.Arm"} <= set(
        concealed_from(scenery.users["admin"], Study.objects.get(pk=scenery.study.pk))
    )
    got = _sweep("admin", scenery, settings, tmp_path)
    audit = {
        where: texts
        for where, texts in got.items()
        if where.startswith("export audit_trail") or "/audit" in where
    }
    assert any(where.startswith("export audit_trail") for where in audit), sorted(got)
    assert any("/api/v1/audit-events/" in where for where in audit), sorted(got)
    leaks = _leaks(audit, scenery.words)
    assert leaks == {}, _told(leaks)
