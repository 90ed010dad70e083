# ruff: noqa: S608  (SQL built from this module's constants and table names; values are parameters)
"""Each SDTM domain as one SQL query: PostgreSQL derives the rows, the writers only stream.

Every query starts from the same set of subjects, ``subj``: the participants of the
export's sites (and participant, when one is asked for) in the study, each with the
reference dates the domains count from (the first and last intake taken, consent, end
of participation) and, only when the recipient may see it, her arm. Nothing reaches a
domain except through ``subj``. The same query feeds both formats: Dataset-JSON takes
each row as PostgreSQL's ``json_build_array`` writes it, XPT takes the typed values, so
the two files cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connection
from django.utils import translation

from ecrf.common import catalogue
from ecrf.participants.eligibility import CRITERIA

from . import spec

#: Rows fetched per round trip of a server-side cursor.
FETCH_SIZE = 5000

#: The scheduled visits (catalogue order) and their numbers in TV.
VISIT_NUMBERS: dict[str, int] = {
    visit.code: number
    for number, visit in enumerate((v for v in catalogue.VISITS if v.scheduled), start=1)
}
#: Visits of the safety-lab form, by the schedule's visit they belong to.
LAB_VISITS = {"screening": "screening", "et_plus_14": "biochemical_pregnancy"}
#: The schedule's visits of the visit records (the endpoint visits).
RECORDED_VISITS = ("biochemical_pregnancy", "clinical_pregnancy")


@dataclass(frozen=True)
class Subjects:
    """What ``subj`` selects, and what it may show of the allocation."""

    studyid: str
    study_pk: int
    site_ids: tuple[int, ...]
    subject_id: str | None
    zone: str
    arm_shown: bool
    #: the dose of an intake, which tells the arm: hidden from a recipient the study blinds
    dose_shown: bool = True

    @property
    def params(self) -> dict[str, Any]:
        return {
            "studyid": self.studyid,
            "study": self.study_pk,
            "sites": list(self.site_ids),
            "subject": self.subject_id,
            "zone": self.zone,
        }


def table(label: str) -> str:
    return connection.ops.quote_name(apps.get_model(label)._meta.db_table)


def literal(text: str | None) -> str:
    """A constant of this module as an SQL literal (never a user's value: those are
    parameters)."""
    if text is None:
        return "NULL"
    return "'" + text.replace("'", "''") + "'"


def values_table(alias: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, int):
            return str(value)
        return literal(str(value))

    body = ", ".join("(" + ", ".join(cell(v) for v in row) + ")" for row in rows)
    return f"(VALUES {body}) AS {alias}({', '.join(columns)})"


def dtc(date: str) -> str:
    return f"to_char({date}, 'YYYY-MM-DD')"


def dtc_time(date: str, time: str) -> str:
    return (
        f"CASE WHEN {time} IS NULL THEN to_char({date}, 'YYYY-MM-DD') "
        f"ELSE to_char({date} + {time}, 'YYYY-MM-DD\"T\"HH24:MI') END"
    )


def local_date(moment: str) -> str:
    return f"({moment} AT TIME ZONE %(zone)s)::date"


def study_day(date: str) -> str:
    """SDTM's --DY: from the first dose (day 1), with no day 0."""
    return (
        f"CASE WHEN {date} IS NULL OR subj.first_date IS NULL THEN NULL "
        f"WHEN {date} >= subj.first_date THEN ({date} - subj.first_date) + 1 "
        f"ELSE {date} - subj.first_date END"
    )


def epoch(date: str) -> str:
    return (
        f"CASE WHEN {date} IS NULL THEN NULL "
        f"WHEN subj.first_date IS NULL OR {date} < subj.first_date THEN 'SCREENING' "
        f"WHEN {date} <= subj.last_date THEN 'TREATMENT' ELSE 'FOLLOW-UP' END"
    )


def yes_no(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 'Y' ELSE 'N' END"


def coded(column: str, mapping: dict[str, str]) -> str:
    arms = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in mapping.items())
    return f"CASE {column} {arms} END"


def visit_names() -> dict[str, str]:
    with translation.override("en"):
        return {v.code: str(v.label) for v in catalogue.VISITS if v.scheduled}


def visits_table(visit_days: dict[str, int | None]) -> str:
    names = visit_names()
    return values_table(
        "tv",
        ("visitnum", "visit", "visitdy"),
        ((n, names[code], visit_days.get(code)) for code, n in VISIT_NUMBERS.items()),
    )


def criteria_codes() -> list[tuple[str, str, str, str]]:
    """Each eligibility criterion: its code, IETESTCD, text (English) and category."""
    counters = {"inclusion": 0, "exclusion": 0}
    rows = []
    with translation.override("en"):
        for criterion in CRITERIA:
            counters[criterion.kind] += 1
            prefix = "IN" if criterion.kind == "inclusion" else "EX"
            rows.append(
                (
                    criterion.code,
                    f"{prefix}{counters[criterion.kind]:02d}",
                    str(criterion.statement),
                    criterion.kind.upper(),
                )
            )
    return rows


def _subjects_cte(subjects: Subjects) -> str:
    participant = table("participants.Participant")
    dose = table("schedule.DoseEntry")
    status = table("participants.StatusChange")
    arm_columns = "NULL::text AS armcd, NULL::text AS arm, NULL::text AS element"
    arm_join = ""
    if subjects.arm_shown:
        arm_columns = (
            "upper(a.code) AS armcd, a.name_en AS arm, "
            "'Tacrolimus ' || trim_scale(a.daily_dose_mg)::text || ' mg/day' AS element"
        )
        arm_join = (
            f"LEFT JOIN {table('randomization.Slot')} sl ON sl.participant_id = p.id "
            f"LEFT JOIN {table('studies.Arm')} a ON a.id = sl.arm_id"
        )
    first = (
        f"SELECT d.date, {dtc_time('d.date', 'd.time_taken')} AS dtc FROM {dose} d "
        "WHERE d.participant_id = p.id AND d.taken "
        "ORDER BY d.date {dir}, (d.intake = 'evening') {dir}, d.time_taken {dir} NULLS LAST "
        "LIMIT 1"
    )
    return f"""subj AS (
    SELECT p.id AS pid, %(studyid)s || '-' || p.subject_id AS usubjid,
        p.subject_id AS subjid, s.code AS siteid, p.birth_date, p.screening_date, p.status,
        c.consent_date, fd.date AS first_date, fd.dtc AS first_dtc,
        ld.date AS last_date, ld.dtc AS last_dtc, {arm_columns},
        (SELECT {local_date("min(sc.changed_at)")} FROM {status} sc
            WHERE sc.participant_id = p.id AND sc.to_status = 'randomized') AS randomized_on,
        (SELECT {local_date("max(sc.changed_at)")} FROM {status} sc
            WHERE sc.participant_id = p.id AND sc.to_status = p.status) AS status_on,
        GREATEST(
            p.screening_date, c.consent_date, ld.date,
            (SELECT w.date FROM {table("participants.Withdrawal")} w
                WHERE w.participant_id = p.id),
            (SELECT b.assessed_on FROM {table("endpoints.BiochemicalPregnancy")} b
                WHERE b.participant_id = p.id),
            (SELECT k.assessed_on FROM {table("endpoints.ClinicalPregnancy")} k
                WHERE k.participant_id = p.id),
            (SELECT max(v.done_on) FROM {table("schedule.VisitRecord")} v
                WHERE v.participant_id = p.id),
            (SELECT max(r.measured_on) FROM {table("labs.LabResult")} r
                WHERE r.participant_id = p.id),
            (SELECT max(COALESCE(e.end_date, e.onset_date))
                FROM {table("safety.AdverseEvent")} e WHERE e.participant_id = p.id),
            (SELECT t.et_date FROM {table("schedule.EmbryoTransfer")} t
                WHERE t.participant_id = p.id AND t.performed)
        ) AS rfpen
    FROM {participant} p
    JOIN {table("studies.Site")} s ON s.id = p.site_id
    LEFT JOIN {table("participants.Consent")} c ON c.participant_id = p.id
    LEFT JOIN LATERAL ({first.format(dir="ASC")}) fd ON TRUE
    LEFT JOIN LATERAL ({first.format(dir="DESC")}) ld ON TRUE
    {arm_join}
    WHERE s.study_id = %(study)s AND p.site_id = ANY(%(sites)s)
        AND (%(subject)s::text IS NULL OR p.subject_id = %(subject)s)
)"""


def _dm(subjects: Subjects) -> str:
    shown = "TRUE" if subjects.arm_shown else "FALSE"
    return f"""
SELECT %(studyid)s AS studyid, 'DM' AS domain, subj.usubjid, subj.subjid,
    subj.first_dtc AS rfstdtc, subj.last_dtc AS rfendtc,
    subj.first_dtc AS rfxstdtc, subj.last_dtc AS rfxendtc,
    {dtc("subj.consent_date")} AS rficdtc, {dtc("subj.rfpen")} AS rfpendtc,
    {dtc("death.on_date")} AS dthdtc,
    CASE WHEN death.on_date IS NOT NULL THEN 'Y' END AS dthfl,
    subj.siteid,
    date_part('year', age(COALESCE(subj.consent_date, subj.screening_date),
        subj.birth_date))::int AS age,
    'YEARS' AS ageu, 'F' AS sex, NULL::text AS race,
    subj.armcd, subj.arm,
    CASE WHEN subj.first_date IS NOT NULL THEN subj.armcd END AS actarmcd,
    CASE WHEN subj.first_date IS NOT NULL THEN subj.arm END AS actarm,
    CASE
        WHEN subj.randomized_on IS NULL AND subj.status = 'screen_failed' THEN 'SCREEN FAILURE'
        WHEN subj.randomized_on IS NULL THEN 'NOT ASSIGNED'
        WHEN NOT {shown} THEN {literal(spec.ARM_CONCEALED)}
        WHEN subj.first_date IS NULL THEN 'ASSIGNED, NOT TREATED'
    END AS armnrs,
    'JPN' AS country
FROM subj
LEFT JOIN LATERAL (
    SELECT COALESCE(e.end_date, e.onset_date) AS on_date FROM {table("safety.AdverseEvent")} e
    WHERE e.participant_id = subj.pid AND e.outcome = 'fatal' ORDER BY 1 LIMIT 1
) death ON TRUE"""


def _se(subjects: Subjects) -> str:
    shown = subjects.arm_shown
    treatment_code = "left(subj.armcd, 8)" if shown else literal(spec.UNPLANNED_ELEMENT)
    treatment_name = "subj.element" if shown else "NULL::text"
    treatment_order = "2" if shown else "NULL::int"
    unplanned = (
        "NULL::text" if shown else literal("Treatment with tacrolimus; the arm is concealed")
    )
    return f"""
SELECT %(studyid)s AS studyid, 'SE' AS domain, subj.usubjid,
    row_number() OVER (PARTITION BY subj.pid ORDER BY e.ord)::int AS seseq,
    e.etcd, e.element, e.taetord, e.epoch, e.sestdtc, e.seendtc,
    {study_day("e.start_date")} AS sestdy, {study_day("e.end_date")} AS seendy, e.seupdes
FROM subj
CROSS JOIN LATERAL (
    SELECT 1 AS ord, {literal(spec.SCREENING_ELEMENT)} AS etcd, 'Screening' AS element,
        1 AS taetord, 'SCREENING' AS epoch, {dtc("subj.screening_date")} AS sestdtc,
        COALESCE(subj.first_dtc, {dtc("subj.rfpen")}) AS seendtc,
        subj.screening_date AS start_date, COALESCE(subj.first_date, subj.rfpen) AS end_date,
        NULL::text AS seupdes
    UNION ALL
    SELECT 2, {treatment_code}, {treatment_name}, {treatment_order}, 'TREATMENT',
        subj.first_dtc, subj.last_dtc, subj.first_date, subj.last_date, {unplanned}
    WHERE subj.first_date IS NOT NULL
    UNION ALL
    SELECT 3, {literal(spec.FOLLOW_UP_ELEMENT)}, 'Follow-up', 3, 'FOLLOW-UP',
        subj.last_dtc, {dtc("subj.rfpen")}, subj.last_date, subj.rfpen, NULL
    WHERE subj.first_date IS NOT NULL AND subj.rfpen > subj.last_date
) e"""


def _sv(subjects: Subjects, visit_days: dict[str, int | None]) -> str:
    recorded = values_table(
        "rv", ("code", "visitnum"), ((c, VISIT_NUMBERS[c]) for c in RECORDED_VISITS)
    )
    return f"""
SELECT %(studyid)s AS studyid, 'SV' AS domain, subj.usubjid, v.visitnum, tv.visit,
    'Y' AS svpresp, v.occurred AS svoccur, v.reason AS svreasoc, tv.visitdy,
    {epoch("v.on_date")} AS epoch, {dtc("v.on_date")} AS svstdtc, {dtc("v.on_date")} AS svendtc,
    {study_day("v.on_date")} AS svstdy, {study_day("v.on_date")} AS svendy
FROM (
    SELECT subj.pid, {VISIT_NUMBERS["screening"]} AS visitnum, subj.screening_date AS on_date,
        'Y' AS occurred, NULL::text AS reason
    FROM subj
    UNION ALL
    SELECT subj.pid, {VISIT_NUMBERS["randomization"]}, subj.randomized_on, 'Y', NULL
    FROM subj WHERE subj.randomized_on IS NOT NULL
    UNION ALL
    SELECT t.participant_id, {VISIT_NUMBERS["treatment"]}, t.et_date, 'Y', NULL
    FROM {table("schedule.EmbryoTransfer")} t JOIN subj ON subj.pid = t.participant_id
    WHERE t.performed
    UNION ALL
    SELECT r.participant_id, rv.visitnum, r.done_on,
        CASE WHEN r.outcome = 'done' THEN 'Y' ELSE 'N' END,
        CASE WHEN r.outcome = 'done' THEN NULL ELSE NULLIF(r.reason, '') END
    FROM {table("schedule.VisitRecord")} r JOIN subj ON subj.pid = r.participant_id
    JOIN {recorded} ON rv.code = r.visit_code
) v
JOIN subj ON subj.pid = v.pid
JOIN {visits_table(visit_days)} ON tv.visitnum = v.visitnum"""


_DOSE_ORDER = "d.date, (d.intake = 'evening'), d.id"


def _dose(subjects: Subjects, expression: str) -> str:
    return expression if subjects.dose_shown else "NULL::numeric"


def _ex(subjects: Subjects) -> str:
    moment = dtc_time("d.date", "d.time_taken")
    return f"""
SELECT %(studyid)s AS studyid, 'EX' AS domain, subj.usubjid,
    row_number() OVER (PARTITION BY subj.pid ORDER BY {_DOSE_ORDER})::int AS exseq,
    'TACROLIMUS' AS extrt, {_dose(subjects, "trim_scale(d.dose_mg)")} AS exdose,
    'mg' AS exdosu,
    'CAPSULE' AS exdosfrm, 'ONCE' AS exdosfrq, 'ORAL' AS exroute, upper(d.intake) AS extpt,
    {epoch("d.date")} AS epoch, {moment} AS exstdtc, {moment} AS exendtc,
    {study_day("d.date")} AS exstdy, {study_day("d.date")} AS exendy
FROM {table("schedule.DoseEntry")} d JOIN subj ON subj.pid = d.participant_id
WHERE d.taken"""


def _ec(subjects: Subjects) -> str:
    moment = dtc_time("d.date", "d.time_taken")
    return f"""
SELECT %(studyid)s AS studyid, 'EC' AS domain, subj.usubjid,
    row_number() OVER (PARTITION BY subj.pid ORDER BY {_DOSE_ORDER})::int AS ecseq,
    'TACROLIMUS' AS ectrt, 'PERFORMED' AS ecmood, 'Y' AS ecpresp,
    {yes_no("d.taken")} AS ecoccur,
    CASE WHEN d.taken THEN NULL ELSE NULLIF(d.missed_reason, '') END AS ecreasoc,
    {_dose(subjects, "CASE WHEN d.taken THEN trim_scale(d.dose_mg) END")} AS ecdose,
    'mg' AS ecdosu,
    'CAPSULE' AS ecdosfrm, 'ONCE' AS ecdosfrq, 'ORAL' AS ecroute, upper(d.intake) AS ectpt,
    {epoch("d.date")} AS epoch, {moment} AS ecstdtc, {moment} AS ecendtc,
    {study_day("d.date")} AS ecstdy, {study_day("d.date")} AS ecendy
FROM {table("schedule.DoseEntry")} d JOIN subj ON subj.pid = d.participant_id"""


def _pr(subjects: Subjects, visit_days: dict[str, int | None]) -> str:
    return f"""
SELECT %(studyid)s AS studyid, 'PR' AS domain, subj.usubjid, 1 AS prseq,
    'EMBRYO TRANSFER' AS prtrt, 'Y' AS prpresp, 'Y' AS proccur,
    tv.visitnum, tv.visit, {epoch("t.et_date")} AS epoch,
    {dtc("t.et_date")} AS prstdtc, {study_day("t.et_date")} AS prstdy
FROM {table("schedule.EmbryoTransfer")} t JOIN subj ON subj.pid = t.participant_id
JOIN {visits_table(visit_days)} ON tv.visitnum = {VISIT_NUMBERS["treatment"]}
WHERE t.performed"""


def _supppr(subjects: Subjects) -> str:
    qualifiers = {name: (label, field) for name, label, field in spec.TRANSFER_QUALIFIERS}
    values = {
        "EMBNUM": "t.embryos_transferred::text",
        "EMBSTAGE": "NULLIF(upper(t.embryo_stage), '')",
        "EMBGRADE": "NULLIF(t.embryo_grade, '')",
    }
    rows = " UNION ALL ".join(
        f"SELECT {order} AS ord, {literal(name)} AS qnam, {literal(label)} AS qlabel, "
        f"{values[name]} AS qval"
        for order, (name, (label, _field)) in enumerate(qualifiers.items())
    )
    return f"""
SELECT %(studyid)s AS studyid, 'PR' AS rdomain, subj.usubjid, 'PRSEQ' AS idvar,
    '1' AS idvarval, q.qnam, q.qlabel, q.qval, 'CRF' AS qorig, NULL::text AS qeval
FROM {table("schedule.EmbryoTransfer")} t JOIN subj ON subj.pid = t.participant_id
CROSS JOIN LATERAL ({rows}) q
WHERE t.performed AND q.qval IS NOT NULL"""


def _ae(subjects: Subjects) -> str:
    flags = ", ".join(
        f"CASE WHEN e.serious THEN {yes_no(f'{literal(code)} = ANY(e.seriousness_criteria)')} "
        f"END AS {flag.lower()}"
        for flag, code in spec.SERIOUSNESS_FLAGS.items()
    )
    return f"""
SELECT %(studyid)s AS studyid, 'AE' AS domain, subj.usubjid,
    row_number() OVER (PARTITION BY subj.pid ORDER BY e.onset_date, e.id)::int AS aeseq,
    e.term AS aeterm, e.term AS aedecod, NULL::text AS aebodsys,
    {yes_no("e.serious")} AS aeser, {coded("e.action_taken", spec.ACTION_TAKEN)} AS aeacn,
    {yes_no("e.related")} AS aerel, {coded("e.outcome", spec.AE_OUTCOME)} AS aeout,
    {flags}, e.ctcae_grade::text AS aetoxgr, {epoch("e.onset_date")} AS epoch,
    {dtc("e.onset_date")} AS aestdtc, {dtc("e.end_date")} AS aeendtc,
    {study_day("e.onset_date")} AS aestdy, {study_day("e.end_date")} AS aeendy
FROM {table("safety.AdverseEvent")} e JOIN subj ON subj.pid = e.participant_id"""


def _ds(subjects: Subjects) -> str:
    decided = coded("w.decided_by", spec.WITHDRAWAL_DECOD)
    return f"""
SELECT %(studyid)s AS studyid, 'DS' AS domain, subj.usubjid,
    row_number() OVER (PARTITION BY subj.pid ORDER BY x.on_date, x.ord)::int AS dsseq,
    x.term AS dsterm, x.decod AS dsdecod, x.cat AS dscat, {epoch("x.on_date")} AS epoch,
    {dtc("x.on_date")} AS dsstdtc, {study_day("x.on_date")} AS dsstdy
FROM (
    SELECT subj.pid, 1 AS ord, 'INFORMED CONSENT OBTAINED' AS term,
        'INFORMED CONSENT OBTAINED' AS decod, 'PROTOCOL MILESTONE' AS cat,
        subj.consent_date AS on_date
    FROM subj WHERE subj.consent_date IS NOT NULL
    UNION ALL
    SELECT subj.pid, 2, 'RANDOMIZED', 'RANDOMIZED', 'PROTOCOL MILESTONE', subj.randomized_on
    FROM subj WHERE subj.randomized_on IS NOT NULL
    UNION ALL
    SELECT subj.pid, 3, 'SCREEN FAILURE', 'SCREEN FAILURE', 'DISPOSITION EVENT', subj.status_on
    FROM subj WHERE subj.status = 'screen_failed'
    UNION ALL
    SELECT subj.pid, 4, 'COMPLETED', 'COMPLETED', 'DISPOSITION EVENT', subj.status_on
    FROM subj WHERE subj.status = 'completed'
    UNION ALL
    SELECT w.participant_id, 5, w.reason, {decided}, 'DISPOSITION EVENT', w.date
    FROM {table("participants.Withdrawal")} w JOIN subj ON subj.pid = w.participant_id
) x
JOIN subj ON subj.pid = x.pid"""


def _ie(subjects: Subjects, visit_days: dict[str, int | None]) -> str:
    criteria = values_table("crit", ("code", "testcd", "test", "cat"), criteria_codes())
    assessed = local_date("e.updated_at")
    return f"""
SELECT %(studyid)s AS studyid, 'IE' AS domain, subj.usubjid,
    row_number() OVER (PARTITION BY subj.pid ORDER BY crit.testcd)::int AS ieseq,
    crit.testcd AS ietestcd, crit.test AS ietest, crit.cat AS iecat,
    CASE crit.cat WHEN 'INCLUSION' THEN 'N' ELSE 'Y' END AS ieorres,
    CASE crit.cat WHEN 'INCLUSION' THEN 'N' ELSE 'Y' END AS iestresc,
    tv.visitnum, tv.visit, {epoch(assessed)} AS epoch,
    {dtc(assessed)} AS iedtc, {study_day(assessed)} AS iedy
FROM {table("participants.Eligibility")} e JOIN subj ON subj.pid = e.participant_id
CROSS JOIN LATERAL unnest(e.failed_criteria) AS failed(code)
JOIN {criteria} ON crit.code = failed.code
JOIN {visits_table(visit_days)} ON tv.visitnum = {VISIT_NUMBERS["screening"]}
WHERE NOT e.eligible"""


def _lab_visits() -> str:
    return values_table(
        "lv",
        ("code", "visitnum"),
        ((code, VISIT_NUMBERS[visit]) for code, visit in LAB_VISITS.items()),
    )


def _findings(domain: str, visit_days: dict[str, int | None]) -> str:
    prefix = domain.lower()
    tests = values_table(
        "t",
        ("code", "testcd", "test"),
        [
            (code, testcd, name)
            for code, (testcd, name, where) in spec.ANALYTES.items()
            if where == domain
        ]
        + ([("hcg", *spec.HCG)] if domain == "LB" else []),
    )
    source = f"""
    SELECT r.participant_id AS pid, r.analyte AS code, r.value, r.unit, r.normal_low AS low,
        r.normal_high AS high, r.measured_on AS on_date, lv.visitnum,
        'CHEMISTRY' AS cat
    FROM {table("labs.LabResult")} r JOIN {_lab_visits()} ON lv.code = r.visit"""
    if domain == "LB":
        source += f"""
    UNION ALL
    SELECT b.participant_id, 'hcg', b.serum_hcg_miu_ml, 'mIU/mL', NULL, NULL, b.assessed_on,
        {VISIT_NUMBERS["biochemical_pregnancy"]}, 'PREGNANCY TEST'
    FROM {table("endpoints.BiochemicalPregnancy")} b"""
    lab_only = (
        """
    x.cat AS lbcat,"""
        if domain == "LB"
        else ""
    )
    ranges = (
        """
    trim_scale(x.low)::text AS lbornrlo, trim_scale(x.high)::text AS lbornrhi,"""
        if domain == "LB"
        else ""
    )
    std_ranges = (
        """
    trim_scale(x.low) AS lbstnrlo, trim_scale(x.high) AS lbstnrhi,
    CASE WHEN x.low IS NULL THEN NULL WHEN x.value < x.low THEN 'LOW'
        WHEN x.value > x.high THEN 'HIGH' ELSE 'NORMAL' END AS lbnrind,
    'SERUM' AS lbspec,"""
        if domain == "LB"
        else ""
    )
    return f"""
SELECT %(studyid)s AS studyid, {literal(domain)} AS domain, subj.usubjid,
    row_number() OVER (PARTITION BY subj.pid ORDER BY x.on_date, t.testcd)::int
        AS {prefix}seq,
    t.testcd AS {prefix}testcd, t.test AS {prefix}test,{lab_only}
    trim_scale(x.value)::text AS {prefix}orres, x.unit AS {prefix}orresu,{ranges}
    trim_scale(x.value)::text AS {prefix}stresc, trim_scale(x.value) AS {prefix}stresn,
    x.unit AS {prefix}stresu,{std_ranges}
    CASE WHEN x.on_date < subj.first_date AND x.on_date = max(x.on_date)
        FILTER (WHERE x.on_date < subj.first_date) OVER (PARTITION BY subj.pid, t.testcd)
        THEN 'Y' END AS {prefix}lobxfl,
    tv.visitnum, tv.visit, {epoch("x.on_date")} AS epoch,
    {dtc("x.on_date")} AS {prefix}dtc, {study_day("x.on_date")} AS {prefix}dy
FROM ({source}
) x
JOIN subj ON subj.pid = x.pid
JOIN {tests} ON t.code = x.code
JOIN {visits_table(visit_days)} ON tv.visitnum = x.visitnum"""


def _rp(subjects: Subjects, visit_days: dict[str, int | None]) -> str:
    biochemical = VISIT_NUMBERS["biochemical_pregnancy"]
    clinical = VISIT_NUMBERS["clinical_pregnancy"]
    ultrasound = "CASE WHEN k.transvaginal_ultrasound THEN 'ULTRASOUND' END"
    clinical_findings = values_table(
        "f",
        ("ord", "testcd"),
        ((n, code) for n, (code, _t, _f) in enumerate(spec.REPRODUCTIVE_TESTS)),
    )
    tests = values_table(
        "t", ("testcd", "test"), ((code, name) for code, name, _f in spec.REPRODUCTIVE_TESTS)
    )
    return f"""
SELECT %(studyid)s AS studyid, 'RP' AS domain, subj.usubjid,
    row_number() OVER (PARTITION BY subj.pid ORDER BY x.on_date, f.ord)::int AS rpseq,
    x.testcd AS rptestcd, t.test AS rptest, x.result AS rporres, x.result AS rpstresc,
    x.number AS rpstresn, x.method AS rpmethod, tv.visitnum, tv.visit,
    {epoch("x.on_date")} AS epoch, {dtc("x.on_date")} AS rpdtc,
    {study_day("x.on_date")} AS rpdy
FROM (
    SELECT b.participant_id AS pid, b.assessed_on AS on_date, {biochemical} AS visitnum,
        'BIOPREG' AS testcd, upper(b.result) AS result, NULL::numeric AS number,
        NULL::text AS method
    FROM {table("endpoints.BiochemicalPregnancy")} b
    UNION ALL
    SELECT k.participant_id, k.assessed_on, {clinical}, c.testcd, c.result, c.number, {ultrasound}
    FROM {table("endpoints.ClinicalPregnancy")} k
    CROSS JOIN LATERAL (
        SELECT 'GESTSAC' AS testcd, {yes_no("k.gestational_sac_seen")} AS result,
            NULL::numeric AS number
        UNION ALL
        SELECT 'GSACNUM', k.number_of_sacs::text, k.number_of_sacs::numeric
        WHERE k.number_of_sacs IS NOT NULL
        UNION ALL
        SELECT 'FETHRTB', {yes_no("k.fetal_heartbeat")}, NULL
        WHERE k.fetal_heartbeat IS NOT NULL
        UNION ALL
        SELECT 'ECTPREG', {yes_no("k.ectopic_pregnancy")}, NULL
        UNION ALL
        SELECT 'CLINPREG', upper(k.result), NULL
    ) c
) x
JOIN subj ON subj.pid = x.pid
JOIN {clinical_findings} ON f.testcd = x.testcd
JOIN {tests} ON t.testcd = x.testcd
JOIN {visits_table(visit_days)} ON tv.visitnum = x.visitnum"""


def domain_sql(name: str, subjects: Subjects, visit_days: dict[str, int | None]) -> str:
    """The SELECT of one subject-level domain, its columns named as the spec's variables
    (lower case) and in their order, ordered by the dataset's keys."""
    builders = {
        "DM": lambda: _dm(subjects),
        "SE": lambda: _se(subjects),
        "SV": lambda: _sv(subjects, visit_days),
        "EX": lambda: _ex(subjects),
        "EC": lambda: _ec(subjects),
        "PR": lambda: _pr(subjects, visit_days),
        "SUPPPR": lambda: _supppr(subjects),
        "AE": lambda: _ae(subjects),
        "DS": lambda: _ds(subjects),
        "IE": lambda: _ie(subjects, visit_days),
        "LB": lambda: _findings("LB", visit_days),
        "VS": lambda: _findings("VS", visit_days),
        "RP": lambda: _rp(subjects, visit_days),
    }
    dataset = spec.dataset(name)
    order = ", ".join(f"q.{v.name.lower()}" for v in dataset.keys[1:]) or "1"
    if name == "SUPPPR":
        order = "q.usubjid, q.idvarval, q.qnam"
    return (
        f"WITH {_subjects_cte(subjects)}\nSELECT q.* FROM ({builders[name]()}\n) q ORDER BY {order}"
    )


SUBJECT_DOMAINS = ("DM", "SE", "SV", "EX", "EC", "PR", "AE", "DS", "IE", "LB", "VS", "RP", "SUPPPR")


def json_rows_sql(name: str, subjects: Subjects, visit_days: dict[str, int | None]) -> str:
    """The domain's rows as JSON arrays, each value of the JSON type its column has in
    Dataset-JSON (a ``decimal`` as a string, so that no digit is lost)."""
    dataset = spec.dataset(name)
    cells = ", ".join(
        f"trim_scale(q.{v.name.lower()})::text"
        if v.json_type == "decimal"
        else f"q.{v.name.lower()}"
        for v in dataset.variables
    )
    return (
        f"SELECT json_build_array({cells})::text FROM ({domain_sql(name, subjects, visit_days)}) q"
    )


def stream(sql: str, params: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    """The rows of ``sql`` through a server-side cursor, :data:`FETCH_SIZE` at a time."""
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(FETCH_SIZE):
            yield from rows


def estimate_rows(subjects: Subjects) -> int:
    """About how many rows the subject-level domains hold: the progress bar's total."""
    sql = f"""WITH {_subjects_cte(subjects)}
SELECT count(*) * 8
    + (SELECT count(*) FROM {table("schedule.DoseEntry")} d
        JOIN subj ON subj.pid = d.participant_id) * 2
    + (SELECT count(*) FROM {table("safety.AdverseEvent")} e
        JOIN subj ON subj.pid = e.participant_id)
    + (SELECT count(*) FROM {table("labs.LabResult")} r
        JOIN subj ON subj.pid = r.participant_id)
FROM subj"""
    with connection.cursor() as cursor:
        cursor.execute(sql, subjects.params)
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def first_consent(subjects: Subjects) -> dt.date | None:
    """The study's first consent among the export's subjects (TS's study start)."""
    sql = f"WITH {_subjects_cte(subjects)} SELECT min(subj.consent_date) FROM subj"
    with connection.cursor() as cursor:
        cursor.execute(sql, subjects.params)
        row = cursor.fetchone()
    return row[0] if row else None
