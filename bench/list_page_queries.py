"""SQL queries of the participant list and of one casebook page, at 10 and at 10,000 participants.

Ten participants are made through the services: one casebook followed through
treatment (dose diary, biochemical endpoint, a monitor's query) and nine others at
every stage before it, at two sites. The pages are counted through Django's test
client as the site's coordinator and as a data manager, both signed in with a second
factor. Then 9,990 participants are added in SQL, each a copy of one of the nine
(with her eligibility, consent, status changes, allocation, transfer, doses and
visits), and the same pages are counted again: the same casebook, a full first page
of the list. The figure is the total of the four counts at 10,000; the target is the
count at 10.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

from common import fresh_database, report

TOTAL = 10_000

#: Tables copied with each participant (her one-to-one and child rows).
COPIED_MODELS = [
    "participants.Eligibility",
    "participants.Consent",
    "participants.StatusChange",
    "schedule.EmbryoTransfer",
    "schedule.DoseEntry",
    "schedule.VisitRecord",
]


def signed_in(user: Any) -> Any:
    """A test client signed in with a confirmed second factor, as a real session is."""
    from django.test import Client
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = Client()
    client.force_login(user)
    device, _created = TOTPDevice.objects.get_or_create(
        user=user, name="bench", defaults={"confirmed": True}
    )
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client


def count_queries(client: Any, path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code}")
    return len(captured.captured_queries)


def ten_participants() -> dict[str, Any]:
    """The casebook and nine others, through the services."""
    import trialdata

    from ecrf.endpoints.checks import BIOCHEMICAL
    from ecrf.endpoints.services import endpoint_record
    from ecrf.participants.services import participant_enroll, site_today
    from ecrf.queries.services import query_open
    from ecrf.schedule.services import dose_day_record
    from ecrf.studies.models import Site

    trialdata.trial(["S01", "S02"])
    s01, s02 = Site.objects.get(code="S01"), Site.objects.get(code="S02")
    coordinator = trialdata.staff("bench-coordinator", "coordinator", ["S01"])
    coordinator2 = trialdata.staff("bench-coordinator2", "coordinator", ["S02"])
    monitor = trialdata.staff("bench-monitor", "monitor", ["S01", "S02"])
    data_manager = trialdata.staff("bench-datamanager", "data_manager", [])

    case, *treated = trialdata.treated_participants(s01, coordinator, 3)
    for day in trialdata.dosing_days(s01)[:6]:
        dose_day_record(participant=case, date=day, taken=True, performed_by=coordinator)
    for p in treated:
        dose_day_record(
            participant=p, date=trialdata.dosing_days(s01)[0], taken=True, performed_by=coordinator
        )
    endpoint_record(
        participant=case,
        record=BIOCHEMICAL,
        values=trialdata.biochemical_values(s01),
        performed_by=coordinator,
    )
    query_open(
        participant=case,
        record=BIOCHEMICAL,
        field="serum_hcg_miu_ml",
        text="Please confirm the hCG value against the laboratory report.",
        performed_by=monitor,
    )
    trialdata.ready_participant(s01, coordinator)
    trialdata.ready_participant(s01, coordinator)
    trialdata.ready_participant(s02, coordinator2)
    for site, who in (
        (s01, coordinator),
        (s01, coordinator),
        (s02, coordinator2),
        (s02, coordinator2),
    ):
        participant_enroll(
            site=site,
            screening_date=site_today(site),
            birth_date=dt.date(1989, 3, 2),
            performed_by=who,
        )
    return {"case": case, "coordinator": coordinator, "data_manager": data_manager}


def grow_to(total: int, *, case_pk: int) -> None:
    """Copy the participants other than the casebook, round robin, up to ``total`` in all."""
    import trialdata
    from django.apps import apps
    from django.db import connection, transaction

    from ecrf.audit.context import command_context
    from ecrf.participants.models import Participant
    from ecrf.studies.models import Site

    templates = list(
        Participant.objects.exclude(pk=case_pk)
        .order_by("pk")
        .values_list("pk", "site_id", "status")
    )
    template_site = {pk: site_id for pk, site_id, _status in templates}
    randomized = {pk for pk, _site_id, status in templates if status == "randomized"}
    sites = {site.pk: site for site in Site.objects.all()}
    numbers = {pk: site.last_subject_number for pk, site in sites.items()}
    template_ids, subject_numbers, subject_ids = [], [], []
    for i in range(total - Participant.objects.count()):
        template_id = templates[i % len(templates)][0]
        site_id = template_site[template_id]
        numbers[site_id] += 1
        template_ids.append(template_id)
        subject_numbers.append(numbers[site_id])
        subject_ids.append(f"{sites[site_id].code}-{numbers[site_id]:03d}")
    for site in sites.values():
        trialdata.ensure_slots(
            site, sum(1 for t in template_ids if t in randomized and template_site[t] == site.pk)
        )
    quote = connection.ops.quote_name
    with (
        command_context("bench list_page_queries"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO participants_participant (subject_number, subject_id, "
            "screening_date, birth_date, status, registered_at, registered_by_id, site_id) "
            "SELECT m.number, m.subject_id, p.screening_date, p.birth_date, p.status, "
            "p.registered_at, p.registered_by_id, p.site_id "
            "FROM unnest(%s::bigint[], %s::int[], %s::text[]) AS m(template_id, number, "
            "subject_id) JOIN participants_participant p ON p.id = m.template_id "
            "RETURNING subject_id, id",
            [template_ids, subject_numbers, subject_ids],
        )
        new_ids = dict(cursor.fetchall())
        sources = template_ids
        targets = [new_ids[s] for s in subject_ids]
        for label in COPIED_MODELS:
            model = apps.get_model(label)
            table = quote(model._meta.db_table)
            columns = [
                f.column
                for f in model._meta.concrete_fields
                if f.column not in ("id", "participant_id")
            ]
            cursor.execute(
                f"INSERT INTO {table} (participant_id, {', '.join(map(quote, columns))}) "
                f"SELECT m.new_id, {', '.join('t.' + quote(c) for c in columns)} "
                f"FROM {table} t JOIN unnest(%s::bigint[], %s::bigint[]) "
                "AS m(template_id, new_id) ON t.participant_id = m.template_id",
                [sources, targets],
            )
        for site in sites.values():
            pairs = [
                (t, n)
                for t, n in zip(sources, targets, strict=True)
                if t in randomized and template_site[t] == site.pk
            ]
            cursor.execute(
                "WITH free AS (SELECT s.id, s.sequence, row_number() OVER "
                "(ORDER BY s.sequence) AS rn FROM randomization_slot s "
                "JOIN randomization_randomizationlist l ON l.id = s.randomization_list_id "
                "WHERE l.site_id = %s AND l.status = 'active' AND s.participant_id IS NULL), "
                "wanted AS (SELECT w.new_id, w.template_id, row_number() OVER "
                "(ORDER BY w.new_id) AS rn FROM unnest(%s::bigint[], %s::bigint[]) "
                "AS w(new_id, template_id)) "
                "UPDATE randomization_slot s SET participant_id = wanted.new_id, "
                "allocated_at = taken.allocated_at, allocated_by_id = taken.allocated_by_id, "
                "randomization_number = %s || '-R' || lpad(free.sequence::text, "
                "greatest(3, length(free.sequence::text)), '0') "
                "FROM free JOIN wanted USING (rn) "
                "JOIN randomization_slot taken ON taken.participant_id = wanted.template_id "
                "WHERE s.id = free.id",
                [site.pk, [n for _t, n in pairs], [t for t, _n in pairs], site.code],
            )
        for site_id, number in numbers.items():
            cursor.execute(
                "UPDATE studies_site SET last_subject_number = %s WHERE id = %s",
                [number, site_id],
            )


def main() -> None:
    fresh_database()
    from ecrf.participants.models import Participant

    made = ten_participants()
    case = made["case"]
    pages = {
        "list": "/participants/",
        "casebook": f"/participants/{case.pk}/",
    }
    roles = {"coordinator": made["coordinator"], "data_manager": made["data_manager"]}

    def counts() -> dict[str, int]:
        found = {}
        for role, user in roles.items():
            client = signed_in(user)
            for page, path in pages.items():
                client.get(path)
                found[f"{page}_{role}"] = count_queries(client, path)
        return found

    started = time.perf_counter()
    small = counts()
    print(
        f"counted at {Participant.objects.count()}", time.perf_counter() - started, file=sys.stderr
    )
    grow_to(TOTAL, case_pk=case.pk)
    print(f"grown to {Participant.objects.count()}", time.perf_counter() - started, file=sys.stderr)
    large = counts()
    report(
        "list_page_queries",
        sum(large.values()),
        "SQL queries (list and casebook, as coordinator and data manager)",
        sum(small.values()),
        participants=TOTAL,
        **{f"{key}_at_10": value for key, value in small.items()},
        **{f"{key}_at_{TOTAL}": value for key, value in large.items()},
    )


if __name__ == "__main__":
    main()
