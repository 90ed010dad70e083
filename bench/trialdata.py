"""Study data for the benchmarks and the load test, made through the services as the app
makes it (and, for the 10,000-participant screening log, copied from such records in SQL),
or, for trials of thousands of participants and millions of audit entries, written by
plain SQL (:func:`complete_trial`, :func:`audit_index`).

A treated participant was randomized 20 days ago (the clock is moved back for that, as the
tests do) and had her embryo transfer 15 days ago: today is inside her biochemical
pregnancy visit window (ET+14 to ET+16), and the dosing days ET-2 to ET+13 are all past,
so both the dose diary and the endpoint forms take entries today.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecrf.accounts.models import User
    from ecrf.participants.models import Participant
    from ecrf.studies.models import Site, Study

STAFF_PASSWORD = "Bench-Load-Staff-2026"  # noqa: S105  (throwaway databases only)
RANDOMIZED_DAYS_AGO = 20
ET_DAYS_AGO = 15


def trial(site_codes: list[str]) -> Study:
    """The tacrolimus study with these sites, each with its active randomization list."""
    from ecrf.home.services import study_setup_trial

    study, _report = study_setup_trial(
        sites=[(code, f"Site {code}", "") for code in site_codes], performed_by=None
    )
    return study


def relax_mfa(study: Study) -> None:
    """Switch two-factor authentication off, as the demo installation does (not production)."""
    from ecrf.audit.services import record_update

    record_update(
        instance=study,
        values={"mfa_required": False},
        reason="Load test installation: two-factor authentication relaxed",
        performed_by=None,
        site=None,
    )


def staff(username: str, role: str, site_codes: list[str]) -> User:
    from ecrf.accounts.services import user_create

    return user_create(
        username=username,
        role=role,
        password=STAFF_PASSWORD,
        site_codes=site_codes,
        printed_name=username.title(),
        language="en",
        performed_by=None,
        validate=False,
    )


def ensure_slots(site: Site, count: int) -> None:
    """At least ``count`` free slots on the site's active list (extended by the statistician)."""
    from randomization.models import ListStatus, RandomizationList
    from randomization.services import MAX_LIST_LENGTH, list_extend

    statistician = _statistician()
    active = RandomizationList.objects.get(site=site, status=ListStatus.ACTIVE)
    missing = count - active.slots.filter(participant__isnull=True).count()
    while missing > 0:
        added = list_extend(
            randomization_list=active,
            length=min(missing, MAX_LIST_LENGTH),
            performed_by=statistician,
        )
        missing -= added


def _statistician() -> User:
    from ecrf.accounts.models import User

    found = User.objects.filter(role="statistician").first()
    return found or staff("bench-statistician", "statistician", [])


def _site_now(site: Site, days_ago: int) -> dt.datetime:
    zone = zoneinfo.ZoneInfo(site.time_zone)
    local = dt.datetime.now(zone) - dt.timedelta(days=days_ago)
    return local.replace(hour=10, minute=0, second=0, microsecond=0)


def ready_participant(site: Site, coordinator: User) -> Participant:
    """A woman screened three days ago, eligible, who consented two days ago."""
    from ecrf.participants.services import consent_record, eligibility_record, participant_enroll
    from ecrf.studies.trial import CONSENT_VERSIONS
    from tests.factories import ELIGIBLE_ANSWERS

    zone = zoneinfo.ZoneInfo(site.time_zone)
    today = dt.datetime.now(zone).date()
    participant = participant_enroll(
        site=site,
        screening_date=today - dt.timedelta(days=3),
        birth_date=dt.date(1990, 5, 17),
        performed_by=coordinator,
    )
    eligibility_record(participant=participant, answers=ELIGIBLE_ANSWERS, performed_by=coordinator)
    consent_record(
        participant=participant,
        consent_date=today - dt.timedelta(days=2),
        consent_version=CONSENT_VERSIONS[-1],
        performed_by=coordinator,
    )
    participant.refresh_from_db()
    return participant


def treated_participants(site: Site, coordinator: User, count: int) -> list[Participant]:
    """``count`` women randomized 20 days ago whose embryo transfer was 15 days ago."""
    import time_machine

    from ecrf.participants.models import Participant
    from ecrf.schedule.services import embryo_transfer_set
    from randomization.services import participant_randomize

    ensure_slots(site, count)
    ids = []
    with time_machine.travel(_site_now(site, RANDOMIZED_DAYS_AGO), tick=True):
        for _ in range(count):
            participant = ready_participant(site, coordinator)
            participant_randomize(
                participant=participant,
                idempotency_key=f"setup-{participant.pk}",
                performed_by=coordinator,
            )
            ids.append(participant.pk)
    et_date = _site_now(site, ET_DAYS_AGO).date()
    treated = list(Participant.objects.select_related("site__study").filter(pk__in=ids))
    for participant in treated:
        embryo_transfer_set(
            participant=participant,
            et_date=et_date,
            performed=True,
            embryos_transferred=1,
            embryo_stage="blastocyst",
            performed_by=coordinator,
        )
    return treated


def dosing_days(site: Site) -> list[dt.date]:
    """The dosing days of a treated participant (ET-2 to ET+13), all in the past."""
    et_date = _site_now(site, ET_DAYS_AGO).date()
    return [et_date + dt.timedelta(days=offset) for offset in range(-2, 14)]


def biochemical_values(site: Site, serum_hcg: int = 120) -> dict[str, Any]:
    """A biochemical pregnancy form inside its window that fires no edit check."""
    from decimal import Decimal

    zone = zoneinfo.ZoneInfo(site.time_zone)
    return {
        "assessed_on": dt.datetime.now(zone).date(),
        "serum_hcg_miu_ml": Decimal(serum_hcg),
        "result": "positive",
    }


def complete_trial(study: Study, recorded_by: User, count: int) -> None:
    """``count`` more participants with complete data, dealt to the study's sites in turn.

    Written by plain SQL (``INSERT ... SELECT generate_series``) with the audit triggers
    off for the transaction: what is measured is reading. One in ten fails screening (two
    criteria); the others consent, are randomized (2:1), have their transfer, a 16-day
    dose diary (32 intakes, one missed), safety labs at screening and ET+14, both
    endpoints, their visit records and two adverse events, and have completed the study.
    Every other one has the values of her eligibility and consent verified against source.
    The verification tally, the participants' summaries and the sites' adverse event counts
    are then counted afresh, as the triggers that keep them were off.
    """
    from django.db import connection, transaction
    from django.db.models import Max

    from ecrf.common import catalogue
    from ecrf.participants.models import Participant
    from ecrf.quality.tally import tally_rebuild
    from ecrf.reports.safety_counts import safety_counts_rebuild
    from ecrf.reports.summary import summary_rebuild

    first = Participant.objects.count() + 1
    params = {
        "first": first,
        "last": first + count - 1,
        "after": Participant.objects.aggregate(last=Max("id"))["last"] or 0,
        "study": study.pk,
        "user": recorded_by.pk,
        **{
            f"{code}_fields": [f.name for f in catalogue.form(code).entered_fields]
            for code in ("eligibility", "consent")
        },
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        for statement in _COMPLETE_TRIAL:
            cursor.execute(statement, params)
        tally_rebuild()
        summary_rebuild()
        safety_counts_rebuild()


#: The trial, table by table; ``b`` is the participant's number in the benchmark
#: (``first``..``last``), and participants are dealt to the sites in turn.
_COMPLETE_TRIAL = [
    """CREATE TEMP TABLE bench_sites AS
       SELECT row_number() OVER (ORDER BY code) - 1 AS k, count(*) OVER () AS n, id, code
       FROM studies_site WHERE study_id = %(study)s""",
    """INSERT INTO participants_participant (site_id, subject_number, subject_id,
           screening_date, birth_date, status, registered_at, registered_by_id)
       SELECT s.id, (b + s.n - 1) / s.n,
           s.code || '-' || lpad(((b + s.n - 1) / s.n)::text, 5, '0'),
           DATE '2025-01-06' + (b %% 300), DATE '1992-01-01' + (b %% 3000),
           CASE WHEN b %% 10 = 0 THEN 'screen_failed' ELSE 'completed' END,
           TIMESTAMPTZ '2025-01-06 10:00+09' + make_interval(days => b %% 300), %(user)s
       FROM generate_series(%(first)s, %(last)s) b JOIN bench_sites s ON s.k = b %% s.n""",
    """CREATE TEMP TABLE bench_p AS
       SELECT p.id, p.screening_date AS sd, p.status = 'screen_failed' AS failed,
           %(first)s - 1 + row_number() OVER (ORDER BY p.id) AS b, p.site_id
       FROM participants_participant p WHERE p.id > %(after)s""",
    """INSERT INTO participants_eligibility (participant_id, prior_good_quality_transfers,
           prior_embryos_transferred, prior_biochemical_pregnancy, other_infertility_factor,
           th1_th2_ratio, th1_th2_sample_date, th1_th2_laboratory, frozen_embryos_available,
           able_to_attend_visits, antiphospholipid_syndrome, coagulation_abnormality,
           thyroid_dysfunction, other_pregnancy_loss_factor, tacrolimus_contraindication,
           pregnant, investigator_judges_unsuitable, age_at_assessment, eligible,
           failed_criteria, assessed_by_id, updated_at)
       SELECT id, 4, 6, FALSE, FALSE, CASE WHEN failed THEN 4.2 ELSE 12.5 END, sd, 'Central',
           TRUE, TRUE, FALSE, FALSE, FALSE, FALSE, FALSE, failed, FALSE, 33, NOT failed,
           CASE WHEN failed THEN ARRAY['th1_th2_ratio', 'pregnant']::varchar[]
               ELSE ARRAY[]::varchar[] END,
           %(user)s, sd + TIME '11:00'
       FROM bench_p""",
    """INSERT INTO participants_consent (participant_id, consent_date, consent_version,
           recorded_by_id, updated_at)
       SELECT id, sd + 1, '1.0', %(user)s, sd + 1 + TIME '10:00' FROM bench_p WHERE NOT failed""",
    """INSERT INTO participants_statuschange (participant_id, from_status, to_status, reason,
           reason_code, reason_params, changed_by_id, changed_at)
       SELECT id, 'consented', 'randomized', 'Randomized', '', '{}'::jsonb, %(user)s,
           sd + 3 + TIME '10:00'
       FROM bench_p WHERE NOT failed
       UNION ALL
       SELECT id, 'randomized', 'completed', 'Completed', '', '{}'::jsonb, %(user)s,
           sd + 26 + TIME '10:00'
       FROM bench_p WHERE NOT failed
       UNION ALL
       SELECT id, 'screening', 'screen_failed', 'Not eligible', '', '{}'::jsonb, %(user)s,
           sd + TIME '11:00'
       FROM bench_p WHERE failed""",
    """INSERT INTO randomization_slot (randomization_list_id, sequence, block, block_size,
           arm_id, participant_id, randomization_number, allocated_at, allocated_by_id)
       SELECT l.id, 100000 + p.b, 100000 + p.b / 3, 3,
           (SELECT a.id FROM studies_arm a WHERE a.study_id = %(study)s
               ORDER BY a.code = CASE WHEN p.b %% 3 = 0 THEN 'high' ELSE 'low' END DESC
               LIMIT 1),
           p.id, 'BENCH-' || p.b, p.sd + 3 + TIME '10:00', %(user)s
       FROM bench_p p
       JOIN randomization_randomizationlist l ON l.site_id = p.site_id AND l.status = 'active'
       WHERE NOT p.failed""",
    """INSERT INTO schedule_embryotransfer (participant_id, et_date, performed,
           embryos_transferred, embryo_stage, embryo_grade, recorded_by_id, updated_at)
       SELECT id, sd + 5, TRUE, 1, 'blastocyst', '4AA', %(user)s, sd + 5 + TIME '15:00'
       FROM bench_p WHERE NOT failed""",
    """INSERT INTO schedule_doseentry (participant_id, date, intake, taken, dose_mg, capsules,
           time_taken, missed_reason, comment, deviation, deviation_reason, recorded_by_id,
           recorded_at)
       SELECT p.id, p.sd + 3 + day, intake, NOT (day = 7 AND intake = 'evening'),
           CASE WHEN day = 7 AND intake = 'evening' THEN 0 ELSE 1 END,
           CASE WHEN day = 7 AND intake = 'evening' THEN 0 ELSE 1 END,
           CASE WHEN day = 7 AND intake = 'evening' THEN NULL
               WHEN intake = 'morning' THEN TIME '08:00' ELSE TIME '19:30' END,
           CASE WHEN day = 7 AND intake = 'evening' THEN 'Forgot' ELSE '' END, '', FALSE, '',
           %(user)s, p.sd + 3 + day + TIME '21:00'
       FROM bench_p p CROSS JOIN generate_series(0, 15) day
       CROSS JOIN (VALUES ('morning'), ('evening')) i(intake)
       WHERE NOT p.failed""",
    """INSERT INTO labs_labresult (participant_id, visit, analyte, measured_on, value, unit,
           normal_low, normal_high, out_of_range, recorded_by_id, updated_at)
       SELECT p.id, v.visit, r.analyte, p.sd + v.offset_days, r.low + (p.b %% 7) * r.step,
           r.unit, r.low, r.high, r.low + (p.b %% 7) * r.step > r.high, %(user)s,
           p.sd + v.offset_days + TIME '12:00'
       FROM bench_p p
       CROSS JOIN (VALUES ('screening', 0), ('et_plus_14', 19)) v(visit, offset_days)
       JOIN labs_normalrange r0 ON r0.site_id = p.site_id
       CROSS JOIN LATERAL (SELECT r0.analyte, r0.unit, r0.low, r0.high,
           (r0.high - r0.low) / 5 AS step) r
       WHERE NOT p.failed""",
    """INSERT INTO endpoints_biochemicalpregnancy (participant_id, assessed_on,
           serum_hcg_miu_ml, result, recorded_by_id, updated_at)
       SELECT id, sd + 19, CASE WHEN b %% 2 = 0 THEN 312.5 ELSE 1.2 END,
           CASE WHEN b %% 2 = 0 THEN 'positive' ELSE 'negative' END, %(user)s,
           sd + 19 + TIME '12:00'
       FROM bench_p WHERE NOT failed""",
    """INSERT INTO endpoints_clinicalpregnancy (participant_id, assessed_on,
           transvaginal_ultrasound, gestational_sac_seen, number_of_sacs, fetal_heartbeat,
           ectopic_pregnancy, result, followup_study_consent, recorded_by_id, updated_at)
       SELECT id, sd + 26, TRUE, b %% 2 = 0, CASE WHEN b %% 2 = 0 THEN 1 END,
           CASE WHEN b %% 2 = 0 THEN TRUE END, FALSE,
           CASE WHEN b %% 2 = 0 THEN 'positive' ELSE 'negative' END, b %% 2 = 0, %(user)s,
           sd + 26 + TIME '12:00'
       FROM bench_p WHERE NOT failed""",
    """INSERT INTO schedule_visitrecord (participant_id, visit_code, outcome, done_on, reason,
           reason_code, reason_params, recorded_by_id)
       SELECT p.id, v.code, 'done', p.sd + v.offset_days, '', '', '{}'::jsonb, %(user)s
       FROM bench_p p
       CROSS JOIN (VALUES ('biochemical_pregnancy', 19), ('clinical_pregnancy', 26))
           v(code, offset_days)
       WHERE NOT p.failed""",
    """INSERT INTO safety_adverse_events (participant_id, term, onset_date, end_date,
           ctcae_grade, serious, seriousness_criteria, related, action_taken, outcome,
           learned_at, pre_treatment, recorded_by_id, recorded_at, updated_at)
       SELECT p.id, e.term, p.sd + e.offset_days, p.sd + e.offset_days + 2, 1, FALSE,
           ARRAY[]::varchar[], e.related, 'none', 'recovered', p.sd + e.offset_days + TIME '09:00',
           FALSE, %(user)s, p.sd + e.offset_days + TIME '09:00',
           p.sd + e.offset_days + TIME '09:00'
       FROM bench_p p
       CROSS JOIN (VALUES ('Pruritus', 6, TRUE), ('Headache', 12, FALSE))
           e(term, offset_days, related)
       WHERE NOT p.failed""",
    """INSERT INTO quality_verification (participant_id, record, record_id, field,
           verified_by_id, verified_at, cleared_reason)
       SELECT p.id, 'eligibility', e.id, f.name, %(user)s, p.sd + 30 + TIME '10:00', ''
       FROM bench_p p JOIN participants_eligibility e ON e.participant_id = p.id
       CROSS JOIN unnest(%(eligibility_fields)s::varchar[]) f(name)
       WHERE p.b %% 2 = 0
       UNION ALL
       SELECT p.id, 'consent', c.id, f.name, %(user)s, p.sd + 30 + TIME '10:00', ''
       FROM bench_p p JOIN participants_consent c ON c.participant_id = p.id
       CROSS JOIN unnest(%(consent_fields)s::varchar[]) f(name)
       WHERE p.b %% 2 = 0""",
    "DROP TABLE bench_p, bench_sites",
]


def audit_index(
    rows: int,
    people: list[tuple[int, str, int, int]],
    *,
    first: int = 1,
    span: dt.timedelta = dt.timedelta(days=365),
) -> None:
    """``rows`` entries of the audit-trail review index, numbered from ``first``, spread
    evenly over ``span`` from 5 January 2026, by plain SQL as the index holds them.

    ``people`` are (participant id, subject ID, site id, site number) in turn, four
    entries each: dose diary entries, one in nine a correction with a reason, about 1 %
    with a risk signal. The site's coordinators are ``coordinator_<site number>_<0..9>``.
    The trail itself (the event tables) is not written: review reads the index.
    """
    from django.db import connection

    from ecrf.review.models import AuditEntry

    indexes = AuditEntry._meta.indexes
    constraints = AuditEntry._meta.constraints
    # Indexes built once over the rows cost less than kept up row by row.
    with connection.schema_editor() as editor:
        for index in indexes:
            editor.remove_index(AuditEntry, index)
        for constraint in constraints:
            editor.remove_constraint(AuditEntry, constraint)
    ids, subjects, sites, numbers = (list(column) for column in zip(*people, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO review_auditentry
                (seq, event_table, event_id, field, at, actor, role, site_id, participant_id,
                 subject_id, record, record_id, model, old_value, new_value, reason, action,
                 source, reveals_arm, signals)
            SELECT g, 'schedule_doseentryevent', g / 4,
                   (ARRAY['date', 'taken', 'dose_mg', 'time_taken'])[1 + g %% 4],
                   timestamptz '2026-01-05 09:00+09' + (g - %(first)s) * (%(span)s / %(rows)s),
                   'coordinator_' || p.number || '_' || (g / 400 %% 10), 'coordinator',
                   p.site_id, p.id, p.subject_id,
                   'dose', (g / 4)::text, 'schedule.doseentry',
                   CASE WHEN g %% 9 = 0 THEN '0' ELSE '' END, '1',
                   CASE WHEN g %% 9 = 0 THEN 'Transcription error' ELSE '' END,
                   CASE WHEN g %% 9 = 0 THEN 'update' ELSE 'create' END, 'web', false,
                   CASE WHEN g %% 97 = 0 THEN ARRAY['off_hours']
                        WHEN g %% 211 = 0 THEN ARRAY['late_entry']
                        WHEN g %% 9 = 0 AND g %% 27 = 0 THEN ARRAY['repeated_change']
                        ELSE '{}'::varchar[] END
              FROM generate_series(%(first)s, %(first)s + %(rows)s - 1) g
              JOIN unnest(%(ids)s::bigint[], %(subjects)s::text[], %(sites)s::bigint[],
                          %(numbers)s::int[]) WITH ORDINALITY AS p(id, subject_id, site_id,
                                                                   number, k)
                ON p.k = 1 + (g / 4) %% %(people)s
            """,
            {
                "first": first,
                "rows": rows,
                "span": span,
                "ids": ids,
                "subjects": subjects,
                "sites": sites,
                "numbers": numbers,
                "people": len(people),
            },
        )
    with connection.schema_editor() as editor:
        for index in indexes:
            editor.add_index(AuditEntry, index)
        for constraint in constraints:
            editor.add_constraint(AuditEntry, constraint)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE review_auditentry")
