"""The report pages: CONSORT flow, enrollment, safety, data quality, and who sees them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ecrf.participants.eligibility import CRITERIA
from ecrf.participants.models import Participant
from ecrf.quality.services import lock_set, verification_mark
from ecrf.queries.services import query_open
from ecrf.reports import selectors
from ecrf.studies.models import Site

from ..clock import at

pytestmark = pytest.mark.django_db

STATEMENT = {c.code: str(c.statement) for c in CRITERIA}
PAGES = ["index", "consort", "enrollment", "efficacy", "safety", "quality"]


@pytest.fixture
def consort_trial(trial):
    """A known flow at two sites; the list decides the arms, which are returned by name."""
    trial.register("S01")  # screened, nothing more yet
    trial.screen("S01", th1_th2_ratio=Decimal("5.0"), pregnant=True)  # not eligible
    trial.screen("S01", pregnant=True)  # not eligible
    declined = trial.screen("S01", consent=False)
    trial.withdraw(declined, "Did not wish to take part")
    moved = trial.screen("S01")
    trial.withdraw(moved, "Moved away")
    trial.screen("S01")  # consented, waiting for randomization
    full = trial.screen("S01")
    no_transfer = trial.screen("S01")
    withdrawn = trial.screen("S01")
    s02 = trial.screen("S02")
    trial.screen("S02", pregnant=True)  # not eligible
    arms = {
        "full": trial.randomize(full),
        "no_transfer": trial.randomize(no_transfer),
        "withdrawn": trial.randomize(withdrawn),
        "s02": trial.randomize(s02),
    }
    trial.treat(full)
    trial.assess(full, hcg_positive=True, sac_seen=True)
    trial.treat(no_transfer, et_performed=False)
    trial.withdraw(withdrawn, "Adverse event")
    trial.treat(s02)
    trial.assess(s02, hcg_positive=False, sac_seen=None)
    return arms


def _flow(user, study):
    columns = selectors.arm_columns(study, pooled=False)
    return selectors.consort_flow(selectors.participant_facts(user, study), columns)


@pytest.mark.requirement("PROT-REPORT-CONSORT", "PROT-ANALYSIS-SAFETY-SET", "PROT-ANALYSIS-FAS")
def test_consort_counts_every_step_with_its_reasons(consort_trial, study, make_user):
    flow = _flow(make_user("data_manager"), study)
    arms = consort_trial

    assert flow.screened == 11
    assert flow.not_eligible == 3
    assert dict(flow.failed_criteria) == {STATEMENT["pregnant"]: 3, STATEMENT["th1_th2_ratio"]: 1}
    assert flow.declined_consent == 1
    assert flow.other_excluded == 1 and flow.other_reasons == [("Moved away", 1)]
    assert flow.excluded == 5
    assert flow.not_yet_randomized == 2
    assert flow.randomized == 4

    def expected(*names):
        return {
            arm.column.code: sum(arms[n] == arm.column.code for n in names) for arm in flow.arms
        }

    by_arm = {arm.column.code: arm for arm in flow.arms}
    assert [arm.column.code for arm in flow.arms] == ["low", "high"]
    assert {a: f.randomized for a, f in by_arm.items()} == expected(*arms)
    assert {a: f.treated for a, f in by_arm.items()} == expected("full", "no_transfer", "s02")
    assert {a: f.not_treated for a, f in by_arm.items()} == expected("withdrawn")
    assert {a: f.transferred for a, f in by_arm.items()} == expected("full", "s02")
    assert {a: f.biochemical_assessed for a, f in by_arm.items()} == expected("full", "s02")
    assert {a: f.clinical_assessed for a, f in by_arm.items()} == expected("full")
    assert {a: f.withdrawn for a, f in by_arm.items()} == expected("withdrawn")
    assert by_arm[arms["withdrawn"]].withdrawal_reasons == [("Adverse event", 1)]
    assert {a: f.analysed for a, f in by_arm.items()} == expected("full", "s02")
    assert {a: f.not_analysed_no_transfer for a, f in by_arm.items()} == expected(
        "no_transfer", "withdrawn"
    )

    sets = selectors.analysis_sets(
        selectors.participant_facts(make_user("statistician"), study),
        selectors.arm_columns(study, pooled=False),
    )
    assert sets.safety_set_total == 3 and sets.fas_total == 2


def test_monitor_sees_the_flow_of_her_sites_only(consort_trial, study, make_user, client_for):
    monitor = make_user("monitor", ["S02"])
    flow = _flow(monitor, study)
    assert (flow.screened, flow.not_eligible, flow.randomized) == (2, 1, 1)

    html = client_for(monitor).get("/reports/consort/").content.decode()
    assert "Screened (n = 2)" in html
    assert "Moved away" not in html and "Adverse event" not in html


def test_consort_page_draws_the_diagram(consort_trial, make_user, client_for):
    response = client_for(make_user("data_manager")).get("/reports/consort/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="consort-diagram"' in html and "<svg" in html and "marker-end" in html
    assert "Screened (n = 11)" in html
    assert "Excluded (n = 5)" in html
    assert "Randomized (n = 4)" in html
    assert "Declined consent (n = 1)" in html
    assert "Moved away" in html and "Adverse event" in html
    assert "Low dose, 2 mg/day" in html and "High dose, 4 mg/day" in html
    assert "<script>" not in html and "style=" not in html


def test_a_blinded_role_sees_the_arms_pooled(consort_trial, study, make_user, client_for):
    from ecrf.audit.context import change_context

    with change_context(performed_by=None, reason="Blinded design"):
        study.blinded = True
        study.blinded_roles = ["monitor"]
        study.save(update_fields=["blinded", "blinded_roles"])
    html = client_for(make_user("monitor", ["S01", "S02"])).get("/reports/consort/").content
    assert b"Low dose" not in html and b"High dose" not in html
    assert b"All arms (arms concealed)" in html
    assert b"Allocated (n = 4)" in html


@pytest.mark.requirement("PROT-REPORT-ENROLMENT")
def test_enrollment_per_month_and_site_against_the_target(trial, study, make_user, client_for):
    first, second, later = trial.screen("S01"), trial.screen("S01"), trial.screen("S01")
    other = trial.screen("S02")
    trial.randomize(first, on="2026-01-10")
    trial.randomize(second, on="2026-01-20")
    trial.randomize(later, on="2026-03-05")
    trial.randomize(other, on="2026-02-20")
    trial.screen("S02", pregnant=True)

    user = make_user("statistician")
    report = selectors.enrollment(user, study, selectors.participant_facts(user, study))
    assert report.months == [dt.date(2025, 12, 1), *(dt.date(2026, m, 1) for m in (1, 2, 3))]
    assert {s.site.code: s.cumulative for s in report.sites} == {
        "S01": [0, 2, 2, 3],
        "S02": [0, 0, 1, 1],
    }
    assert report.total_cumulative == [0, 2, 3, 4]
    assert (report.target, report.screened, report.randomized) == (26, 5, 4)

    html = client_for(user).get("/reports/enrollment/").content.decode()
    assert html.count('class="enrollment-line"') == 3  # two sites and the total
    assert 'id="enrollment-target"' in html and "Target 26" in html
    assert "4 randomized of a target of 26; 5 screened." in html

    coordinator = client_for(trial.coordinators["S01"]).get("/reports/enrollment/")
    assert coordinator.status_code == 200
    text = coordinator.content.decode()
    assert text.count('class="enrollment-line"') == 2
    assert "S02" not in text


def test_enrollment_dates_a_randomization_by_the_sites_calendar(trial, study, make_user):
    """At one in the morning of 1 February in Tokyo it is still 31 January in UTC."""
    trial.randomize(trial.screen("S01"), on="2026-02-01", hour=1)
    trial.randomize(trial.screen("S01"), on="2026-01-31", hour=23)

    user = make_user("statistician")
    report = selectors.enrollment(user, study, selectors.participant_facts(user, study))
    assert report.months == [dt.date(2025, 12, 1), dt.date(2026, 1, 1), dt.date(2026, 2, 1)]
    assert report.sites[0].per_month == [0, 1, 1]


def test_participants_sharing_their_facts_are_counted_once_as_a_group(trial, study, make_user):
    """The database groups participants with the same facts; the counts stay per person."""
    waiting = [trial.screen("S01") for _ in range(3)]
    trial.randomize(trial.screen("S01"))
    trial.screen("S02")
    facts = selectors.participant_facts(make_user("statistician"), study)
    assert sorted(fact.count for fact in facts) == [1, 1, 3]
    assert sum(fact.count for fact in facts) == Participant.objects.count() == len(waiting) + 2


@pytest.mark.requirement("PROT-ANALYSIS-SAFETY-SET")
def test_safety_table_by_arm_grade_seriousness_and_relationship(
    trial, study, make_user, client_for
):
    first, second = trial.screen("S01"), trial.screen("S02")
    arm_first, arm_second = trial.randomize(first), trial.randomize(second)
    trial.treat(first)
    trial.treat(second)
    trial.adverse_event(first)  # grade 1 pruritus, related, not serious
    trial.adverse_event(first, term="Headache", related=False)
    trial.adverse_event(
        second,
        term="Ovarian hyperstimulation syndrome",
        ctcae_grade=3,
        serious=True,
        seriousness_criteria=["hospitalisation"],
        related=False,
        outcome="recovering",
    )
    table = selectors.safety_table(make_user("admin"), study, pooled=False)
    assert [c.code for c in table.columns] == ["low", "high"]
    cells = {(r.grade, r.serious, r.related): r for r in table.rows}
    assert set(cells) == {(1, False, True), (1, False, False), (3, True, False)}
    assert cells[(1, False, True)].events[arm_first] == 1
    assert cells[(3, True, False)].events[arm_second] == 1
    assert cells[(3, True, False)].participants[arm_second] == 1
    assert sum(table.events.values()) == 3
    assert sum(table.participants_with_events.values()) == 2
    assert sum(table.safety_set.values()) == 2

    html = client_for(make_user("monitor", ["S01"])).get("/reports/safety/").content.decode()
    assert "Pruritus" in html and "Headache" in html
    assert "Ovarian hyperstimulation" not in html  # an S02 event


@pytest.mark.requirement("ICH-E6R3-4.2.3-DQ-REPORT")
def test_data_quality_per_site(trial, study, make_user, client_for):
    monitor = make_user("monitor", ["S01", "S02"])
    waiting = trial.screen("S01")
    treated = trial.screen("S01")
    trial.randomize(treated)
    trial.treat(treated)  # ET 2026-01-14, one diary day; no endpoint recorded
    with at("2026-02-20"):
        query_open(
            participant=treated,
            record="consent",
            field="consent_date",
            text="Please check against the signed form",
            performed_by=monitor,
        )
        verification_mark(participant=treated, record="consent", performed_by=monitor)
        verification_mark(participant=treated, record="eligibility", performed_by=monitor)
    with at("2026-02-01"):
        query_open(
            participant=waiting,
            record="eligibility",
            field="th1_th2_ratio",
            text="Lab report?",
            performed_by=monitor,
        )

    with at("2026-03-10"):
        quality = {q.site.code: q for q in selectors.data_quality(monitor, study)}
        html = client_for(monitor).get("/reports/quality/").content.decode()
    s01 = quality["S01"]
    assert s01.open_queries == 2
    assert s01.open_by_age == [0, 1, 1]  # 18 days and 37 days old
    assert s01.oldest_open_days == 37
    # Values: eligibility (16, 14 critical) and consent (2, critical) of each, and the
    # treated one's embryo transfer (5) and one diary day, two intakes of 8 each; hers of the
    # first two verified.
    sdv = s01.verification
    assert (sdv.critical.verified, sdv.critical.verifiable) == (16, 32)
    assert (sdv.overall.verified, sdv.overall.verifiable) == (18, 57)
    assert sdv.forms_awaiting == 4  # the waiting one's two, the treated one's transfer and diary
    assert s01.overdue_visits == 2  # both endpoint windows have passed
    assert s01.overdue_diary_days == 15  # 16 dosing days, one recorded
    assert s01.participants_overdue == 1
    assert quality["S02"].open_queries == 0 and quality["S02"].verification.overall.verifiable == 0
    assert 'data-site="S01"' in html and 'data-site="S02"' in html
    s01_row = html.split('data-site="S01"')[1].split("</tr>")[0]
    critical_cell = s01_row.split('data-sdv="critical"')[1].split("</td>")[0]
    assert "16 of 32" in critical_cell and "(50.0%)" in critical_cell

    coordinator_b = client_for(trial.coordinators["S02"]).get("/reports/quality/")
    assert coordinator_b.status_code == 200
    assert b'data-site="S01"' not in coordinator_b.content


ALLOWED = {
    "coordinator": {"index", "enrollment", "quality"},
    "investigator": {"index", "enrollment", "quality"},
    "monitor": {"index", "consort", "enrollment", "safety", "quality"},
    "data_manager": {"index", "consort", "enrollment", "safety", "quality"},
    "statistician": set(PAGES),
    "admin": set(PAGES),
}


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_each_role_sees_its_reports_and_is_refused_the_others(role, study, make_user, client_for):
    client = client_for(make_user(role))
    for page in PAGES:
        url = "/reports/" if page == "index" else f"/reports/{page}/"
        response = client.get(url)
        expected = 200 if page in ALLOWED[role] else 403
        assert response.status_code == expected, (role, page, response.status_code)
    index = client.get("/reports/").content.decode()
    for page in PAGES[1:]:
        assert (f'href="/reports/{page}/"' in index) == (page in ALLOWED[role]), (role, page)


def test_data_managers_see_the_efficacy_page_after_the_lock_without_the_banner(
    study, make_user, client_for
):
    data_manager = make_user("data_manager")
    client = client_for(data_manager)
    assert client.get("/reports/efficacy/").status_code == 403
    lock_set(study=study, reason="Final analysis", performed_by=data_manager)
    response = client.get("/reports/efficacy/")
    assert response.status_code == 200
    assert b"before-lock-banner" not in response.content
    assert b"Full analysis set (FAS)" in response.content


def test_reports_need_a_signed_in_user(study, client):
    for page in PAGES:
        url = "/reports/" if page == "index" else f"/reports/{page}/"
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_reports_are_in_the_menu(make_user, client_for):
    html = client_for(make_user("coordinator")).get("/").content.decode()
    assert 'href="/reports/"' in html


def test_pages_print_with_their_own_stylesheet_and_no_inline_script(study, make_user, client_for):
    html = client_for(make_user("statistician")).get("/reports/efficacy/").content.decode()
    assert "reports/reports.css" in html and "reports/print.js" in html
    assert "<script>" not in html and "onclick" not in html


@pytest.mark.parametrize("page", ["consort", "enrollment", "efficacy", "safety", "quality"])
def test_query_count_does_not_grow_with_participants(
    page, trial, make_user, client_for, django_assert_num_queries
):
    """The same number of queries with one participant in each state as with three."""
    client = client_for(make_user("admin"))
    url = f"/reports/{page}/"

    def add_participants():
        for site in ("S01", "S02"):
            trial.one_in_each_state(site)

    add_participants()
    with at("2026-03-10"), CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    add_participants()
    add_participants()
    with at("2026-03-10"), django_assert_num_queries(len(small)):
        assert client.get(url).status_code == 200


def test_sites_without_participants_still_show(study, make_user):
    user = make_user("data_manager")
    report = selectors.enrollment(user, study, selectors.participant_facts(user, study))
    assert [s.site.code for s in report.sites] == list(
        Site.objects.filter(study=study).order_by("code").values_list("code", flat=True)
    )
    assert report.months == [] and report.randomized == 0
