"""Queries inline on a form's page: raised beside a field or row, answered and corrected
in place by the site, closed and re-opened in place by the monitor."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from ecrf.queries.models import Query, QueryMessage
from ecrf.queries.services import query_close, query_open, query_respond

from ..clock import at

pytestmark = pytest.mark.django_db

HCG = "biochemical_pregnancy"


def form_url(participant, code: str = HCG) -> str:
    return reverse("participants:form", args=[participant.pk, code])


def element(html: str, element_id: str) -> str:
    """The opening tag of the element with this id and what follows up to its row's end."""
    match = re.search(rf'<[a-z]+ [^>]*id="{element_id}".*?</(?:td|tr)>', html, re.S)
    assert match, f"no element #{element_id}"
    return match.group(0)


def raise_on(client, participant, field: str, text: str, *, code: str = HCG, record_id=""):
    return client.post(
        reverse("queries:open", args=[participant.pk]),
        {"target": f"{code}.{field}", "record_id": record_id, "text": text, "on_form": "1"},
    )


def step(client, query: Query, name: str, text: str = ""):
    return client.post(
        reverse("queries:step", args=[query.pk, name]), {"text": text, "on_form": "1"}
    )


@pytest.fixture
def monitor(make_user):
    return make_user("monitor", ["S01"])


@pytest.mark.requirement("ICH-E6R3-4.2.3-REVIEW", "ICH-E6R3-4.2.2-WORKFLOW")
def test_the_whole_cycle_happens_beside_the_field(client_for, monitor, coordinator_a, biochemical):
    monitor_web, site_web = client_for(monitor), client_for(coordinator_a)
    with at("2026-03-16"):
        page = site_web.get(form_url(biochemical)).content.decode()
        assert 'id="raise-query-serum_hcg_miu_ml"' not in page  # the site does not raise queries

        html = monitor_web.get(form_url(biochemical)).content.decode()
        control = element(html, "raise-query-serum_hcg_miu_ml")
        assert 'id="raise-query-serum_hcg_miu_ml-toggle"' in control
        assert 'id="raise-query-serum_hcg_miu_ml-text"' in control
        assert 'id="raise-query-serum_hcg_miu_ml-submit"' in control
        raised = raise_on(monitor_web, biochemical, "serum_hcg_miu_ml", "Source says 145?")
        assert raised.status_code == 302
        assert raised["Location"] == form_url(biochemical) + "#queries-serum_hcg_miu_ml"
        query = Query.objects.get()
        assert (query.record, query.field, query.status) == (HCG, "serum_hcg_miu_ml", "open")

        page = site_web.get(form_url(biochemical)).content.decode()
        thread = element(page, f"query-{query.pk}")
        assert "Source says 145?" in thread and monitor.username in thread
        assert "2026-03-16 10:00 (UTC+09:00)" in thread and "Open" in thread
        assert f'id="respond-{query.pk}"' in thread and f'id="close-{query.pk}"' not in thread
        correct = element(page, "correct-serum_hcg_miu_ml")
        assert reverse("endpoints:form", args=[biochemical.pk, HCG]) in correct
        assert f'id="query-{query.pk}"' in element(page, "queries-serum_hcg_miu_ml")

        answered = step(site_web, query, "respond", "Corrected to 145 from the lab report.")
        assert answered.status_code == 302
        assert answered["Location"] == form_url(biochemical) + f"#query-{query.pk}"
        html = monitor_web.get(form_url(biochemical)).content.decode()
        thread = element(html, f"query-{query.pk}")
        assert (
            "Corrected to 145 from the lab report." in thread and coordinator_a.username in thread
        )
        assert (
            f'id="close-{query.pk}-submit"' in thread and f'id="respond-{query.pk}"' not in thread
        )

        assert step(monitor_web, query, "close", "Thank you.").status_code == 302
        html = monitor_web.get(form_url(biochemical)).content.decode()
        thread = element(html, f"query-{query.pk}")
        assert 'data-status="closed"' in thread and f'id="reopen-{query.pk}"' in thread
        assert step(monitor_web, query, "reopen", "The report says 154.").status_code == 302
        query.refresh_from_db()
        assert query.status == "open"
        assert [m.kind for m in query.messages.all()] == [
            "opened",
            "answered",
            "closed",
            "reopened",
        ]


def test_an_empty_or_too_long_question_comes_back_beside_its_field_with_why(
    client_for, monitor, biochemical
):
    client = client_for(monitor)
    empty = raise_on(client, biochemical, "result", "   ")
    assert empty.status_code == 400
    control = element(empty.content.decode(), "raise-query-result")
    assert " open" in control.split(">", 1)[0]  # the disclosure stays open
    assert "Write the question." in control
    long_text = "Is this right? " * 140
    too_long = raise_on(client, biochemical, "result", long_text)
    assert too_long.status_code == 400
    control = element(too_long.content.decode(), "raise-query-result")
    assert "at most 2000 characters" in control
    assert long_text.strip() in control  # what was typed is kept
    assert not Query.objects.exists()


def test_a_query_on_a_field_nobody_enters_is_refused_on_the_page(client_for, monitor, biochemical):
    response = raise_on(client_for(monitor), biochemical, "updated_at", "Why?")
    assert response.status_code == 400
    assert "Last saved of the form Biochemical pregnancy takes no queries" in (
        response.content.decode()
    )
    assert not Query.objects.exists()


def test_answering_a_closed_query_is_refused_beside_it(
    client_for, monitor, coordinator_a, biochemical
):
    query = query_open(
        participant=biochemical, record=HCG, field="result", text="?", performed_by=monitor
    )
    query_close(query=query, performed_by=monitor)
    response = step(client_for(coordinator_a), query, "respond", "Late answer")
    assert response.status_code == 409
    thread = element(response.content.decode(), f"query-{query.pk}")
    assert "This query is closed; it cannot be answered." in thread
    assert QueryMessage.objects.filter(kind="answered").count() == 0


def test_a_refused_re_open_keeps_the_monitor_on_the_form(client_for, monitor, biochemical):
    query = query_open(
        participant=biochemical, record=HCG, field="result", text="?", performed_by=monitor
    )
    query_close(query=query, performed_by=monitor)
    response = step(client_for(monitor), query, "reopen", "")
    assert response.status_code == 400
    assert "Say why the query is re-opened." in element(
        response.content.decode(), f"query-{query.pk}"
    )


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        ("statistician", set()),
        ("investigator", {"respond"}),
        ("data_manager", {"raise", "close"}),
    ],
)
def test_each_role_sees_the_thread_and_only_the_actions_it_may_take(
    role, sees, client_for, make_user, monitor, biochemical
):
    query = query_open(
        participant=biochemical, record=HCG, field="result", text="Positive?", performed_by=monitor
    )
    html = client_for(make_user(role, ["S01"])).get(form_url(biochemical)).content.decode()
    assert "Positive?" in element(html, f"query-{query.pk}")
    shown = {
        "raise": 'id="raise-query-result"' in html,
        "respond": f'id="respond-{query.pk}"' in html,
        "close": f'id="close-{query.pk}"' in html,
    }
    assert {name for name, present in shown.items() if present} == sees
    assert 'id="correct-result"' not in html  # only the coordinator corrects


def test_a_row_of_a_multi_record_form_takes_a_query_on_one_of_its_fields(
    client_for, api_for, monitor, coordinator_a, transferred
):
    dose = str(transferred.allocation.arm.daily_dose_mg / 2)
    with at("2026-03-01"):
        rows = [
            api_for(coordinator_a)
            .post(
                f"/api/v1/participants/{transferred.pk}/doses/",
                {"date": day, "intake": "morning", "dose_mg": dose, "taken": True},
                format="json",
            )
            .json()["id"]
            for day in ["2026-02-27", "2026-02-28"]
        ]
    client = client_for(monitor)
    html = client.get(form_url(transferred, "dose")).content.decode()
    select = element(html, f"raise-query-row-{rows[1]}")
    assert f'id="raise-query-row-{rows[1]}-field"' in select
    assert '<option value="dose.taken">' in select and 'dose_mg"' not in select.split("-field")[0]
    response = raise_on(
        client, transferred, "taken", "Diary says missed.", code="dose", record_id=rows[1]
    )
    assert response.status_code == 302
    assert response["Location"] == form_url(transferred, "dose") + f"#row-{rows[1]}"
    query = Query.objects.get()
    assert (query.record_id, query.field) == (rows[1], "taken")
    site_html = client_for(coordinator_a).get(form_url(transferred, "dose")).content.decode()
    threads = element(site_html, f"queries-row-{rows[1]}")
    assert "Diary says missed." in threads
    assert f'id="queries-row-{rows[0]}"' not in site_html
    assert reverse("schedule:treatment", args=[transferred.pk]) in element(
        site_html, f"correct-row-{rows[1]}"
    )

    missing_row = raise_on(client, transferred, "taken", "Which?", code="dose", record_id="")
    assert missing_row.status_code == 400
    assert "Give the id of the row of Dose diary entry the query is on." in (
        missing_row.content.decode()
    )


def test_the_form_page_reads_its_queries_in_a_fixed_number_of_queries(
    client_for, monitor, coordinator_a, biochemical, django_assert_num_queries
):
    client = client_for(monitor)
    query_open(participant=biochemical, record=HCG, field="result", text="?", performed_by=monitor)
    with django_assert_num_queries(FORM_PAGE_QUERIES):
        client.get(form_url(biochemical))
    for field in ["assessed_on", "serum_hcg_miu_ml", "result"]:
        query = query_open(
            participant=biochemical, record=HCG, field=field, text="?", performed_by=monitor
        )
        query_respond(query=query, text="Checked.", performed_by=coordinator_a)
        query_close(query=query, performed_by=monitor)
    with django_assert_num_queries(FORM_PAGE_QUERIES):
        html = client.get(form_url(biochemical)).content.decode()
    assert html.count('class="query-thread') == 4


#: However many queries and steps the form holds, its page reads them with the same
#: number of queries (the queries, then their steps with their authors; and the lock
#: standing over her data, for the page's lock banner).
FORM_PAGE_QUERIES = 20
