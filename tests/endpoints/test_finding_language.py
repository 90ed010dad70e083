"""An edit check's finding, and the query it opens, are read in the reader's language,
whoever saved the form; both are kept in English."""

from __future__ import annotations

import datetime as dt
import html
import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import translation

from ecrf.common.messages import FORMER_FINDINGS, MESSAGES
from ecrf.endpoints.models import EditCheckFinding
from ecrf.endpoints.services import endpoint_record
from ecrf.queries.models import Query, QueryMessage

from ..clock import at

pytestmark = pytest.mark.django_db

OUTSIDE = "assessment_outside_window"
FINDINGS_MIGRATION = importlib.import_module("ecrf.endpoints.migrations.0005_findings_as_codes")
QUERIES_MIGRATION = importlib.import_module(
    "ecrf.queries.migrations.0003_edit_check_queries_as_codes"
)


def english(params) -> str:
    return (
        f"The assessment ({params['assessed']}) is outside the visit window "
        f"({params['start']} to {params['end']})."
    )


def japanese(params) -> str:
    window = f"{params['start']}～{params['end']}"
    return f"評価日（{params['assessed']}）が来院許容範囲（{window}）外です。"


@pytest.fixture
def out_of_window(transferred, make_user):
    """The biochemical pregnancy form saved out of its window by a Japanese coordinator,
    who confirmed the warning."""
    coordinator = make_user("coordinator", ["S01"], language="ja")
    with translation.override("ja"), at("2026-03-18"):
        saved = endpoint_record(
            participant=transferred,
            record="biochemical_pregnancy",
            values={
                "assessed_on": dt.date(2026, 3, 18),
                "serum_hcg_miu_ml": Decimal("120"),
                "result": "positive",
            },
            confirm_warnings=True,
            performed_by=coordinator,
        )
    assert [w.code for w in saved.warnings] == [OUTSIDE]
    return transferred


def page(client, url: str) -> str:
    with at("2026-03-20"):
        response = client.get(url)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


@pytest.mark.requirement("PROT-LANGUAGE", "PROT-EDIT-CHECKS")
def test_the_finding_and_its_query_are_kept_in_english_with_their_parameters(out_of_window):
    finding = EditCheckFinding.objects.get(participant=out_of_window, code=OUTSIDE)
    assert finding.params["assessed"] == "2026-03-18"
    assert finding.message == english(finding.params)
    query = Query.objects.get(participant=out_of_window, edit_check=OUTSIDE)
    assert query.edit_check_params == finding.params
    assert query.messages.get().text == english(finding.params)


@pytest.mark.requirement("PROT-LANGUAGE", "PROT-EDIT-CHECKS")
@pytest.mark.parametrize(("language", "words"), [("en", english), ("ja", japanese)])
def test_the_auto_query_reads_in_the_readers_language_on_the_form_and_her_page(
    language, words, out_of_window, make_user, client_for
):
    params = EditCheckFinding.objects.get(participant=out_of_window, code=OUTSIDE).params
    other = japanese if words is english else english
    reader = client_for(make_user("monitor", ["S01"], language=language))

    form = page(
        reader, reverse("participants:form", args=[out_of_window.pk, "biochemical_pregnancy"])
    )
    assert words(params) in form
    assert other(params) not in form

    her_page = page(reader, f"/participants/{out_of_window.pk}/")
    findings = her_page[her_page.index('id="findings"') :]
    assert words(params) in findings[: findings.index("</ul>")]
    queries = her_page[her_page.index('id="queries"') :]
    assert words(params) in queries
    assert other(params) not in her_page
    assert OUTSIDE not in her_page.replace(f'data-check="{OUTSIDE}"', "")


@pytest.mark.requirement("PROT-LANGUAGE", "PROT-EDIT-CHECKS")
@pytest.mark.parametrize(
    ("language", "raised_by"),
    [
        ("en", "Edit check: An assessment outside its visit window is a deviation to confirm."),
        ("ja", "エディットチェック: 来院許容範囲外の評価は、確認が必要な逸脱です。"),
    ],
)
def test_the_query_list_names_the_check_in_the_readers_language(
    language, raised_by, out_of_window, make_user, client_for
):
    reader = client_for(make_user("monitor", ["S01"], language=language))
    listed = page(reader, "/queries/")
    assert raised_by in listed
    assert OUTSIDE not in listed


@pytest.mark.requirement("PROT-LANGUAGE")
def test_the_migrations_give_old_findings_and_queries_their_parameters(out_of_window):
    finding = EditCheckFinding.objects.get(participant=out_of_window, code=OUTSIDE)
    params = finding.params
    written_in_japanese = japanese(params)
    EditCheckFinding.objects.filter(pk=finding.pk).update(params={}, message=written_in_japanese)
    query = Query.objects.get(participant=out_of_window, edit_check=OUTSIDE)
    Query.objects.filter(pk=query.pk).update(edit_check_params={})
    QueryMessage.objects.filter(query=query).update(text=written_in_japanese)

    FINDINGS_MIGRATION.findings_to_params(apps, None)
    QUERIES_MIGRATION.queries_to_params(apps, None)

    finding.refresh_from_db()
    query.refresh_from_db()
    assert finding.params == params
    assert finding.message == written_in_japanese
    assert query.edit_check_params == params
    with translation.override("en"):
        assert finding.message_text == english(params)
        assert query.messages.get().text_shown == english(params)


def test_an_unmatched_old_text_is_left_and_shown_as_written(out_of_window):
    query = Query.objects.get(participant=out_of_window, edit_check=OUTSIDE)
    Query.objects.filter(pk=query.pk).update(edit_check_params={})
    QueryMessage.objects.filter(query=query).update(text="Something else entirely.")
    QUERIES_MIGRATION.queries_to_params(apps, None)
    query.refresh_from_db()
    assert query.edit_check_params == {}
    with translation.override("ja"):
        assert query.messages.get().text_shown == "Something else entirely."


def test_the_migrations_texts_are_those_the_checks_wrote_in_each_language():
    for code, (in_english, in_japanese) in FORMER_FINDINGS.items():
        with translation.override("en"):
            assert str(MESSAGES[code]) == in_english
        with translation.override("ja"):
            assert str(MESSAGES[code]) == in_japanese


@pytest.mark.requirement("PROT-LANGUAGE")
@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_api_gives_an_auto_querys_words_in_the_language_asked_for(
    out_of_window, api_for, make_user, language
):
    monitor = make_user("monitor", ["S01"])
    query = Query.objects.get(participant=out_of_window, edit_check=OUTSIDE)
    with at("2026-03-18"):
        body = (
            api_for(monitor)
            .get(f"/api/v1/queries/{query.pk}/", HTTP_ACCEPT_LANGUAGE=language)
            .json()
        )
    opened = body["messages"][0]["text"]
    if language == "ja":
        assert opened == japanese(query.edit_check_params)
    else:
        assert opened.startswith("The assessment (2026-03-18) is outside the visit window")
