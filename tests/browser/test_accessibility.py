"""WCAG 2.1 AA in a real browser: every role's pages, reached from her menu, her home and a
participant's page, in English and Japanese at 1280 px, checked by axe-core, with unique
element ids and no sideways scrolling."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page

from ecrf.accounts.models import User
from ecrf.accounts.roles import Role
from ecrf.participants.models import Participant
from ecrf.quality.services import verification_mark
from ecrf.queries.services import query_open
from ecrf.safety.services import adverse_event_record
from ecrf.schedule.services import dose_day_record

from ..clock import at
from . import axe
from .axe import (
    assert_accessible,
    axe_problems,
    axe_violations,
    duplicate_id_problems,
    overflow_problems,
)
from .test_pages import signed_in_context

#: Forms read on their own page: single-record ones, and doses and AEs as tables of rows.
FORMS = (
    "eligibility",
    "consent",
    "randomization",
    "biochemical_pregnancy",
    "dose",
    "adverse_event",
)
#: Menu entries served by other software (Django's admin, Swagger UI), not by these templates.
FOREIGN_PAGES = ("/admin/", "/api/")
LOCALES = {"en": "en-US", "ja": "ja-JP"}
#: The roles who work on her data (the coordinator enters it, the monitor checks it) open
#: every page her page links to: data entry, treatment, safety, labs and the audit trail.
EVERY_PARTICIPANT_PAGE = frozenset({Role.COORDINATOR, Role.MONITOR})


@pytest.fixture
def casebook(biochemical: Participant, coordinator_a: User, make_user: Callable[..., User]) -> Any:
    """The participant with a serum hCG, two diary days, an adverse event, a verified value
    and an open query, so that every kind of row and mark is on her pages."""
    with at("2026-03-01", hour=21):
        dose_day_record(
            participant=biochemical,
            date=dt.date(2026, 2, 27),
            taken=True,
            time_taken=dt.time(8, 30),
            performed_by=coordinator_a,
        )
        dose_day_record(
            participant=biochemical,
            date=dt.date(2026, 2, 28),
            taken=False,
            performed_by=coordinator_a,
        )
    with at("2026-03-05"):
        adverse_event_record(
            participant=biochemical,
            term="Headache",
            onset_date=dt.date(2026, 3, 3),
            ctcae_grade=1,
            serious=False,
            related=True,
            outcome="recovering",
            performed_by=coordinator_a,
        )
    monitor = make_user("monitor", ["S01"], username="axe_source_monitor")
    with at("2026-03-16"):
        verification_mark(
            participant=biochemical,
            record="biochemical_pregnancy",
            fields=["serum_hcg_miu_ml"],
            performed_by=monitor,
        )
        query_open(
            participant=biochemical,
            record="biochemical_pregnancy",
            field="assessed_on",
            text="The laboratory report is dated a day earlier.",
            performed_by=monitor,
        )
    return biochemical


def same_site_links(page: Page, selector: str) -> list[str]:
    """The paths of the page's links matched by ``selector`` that stay on this site, in
    order, once each, leaving out downloads and other software's pages."""
    host = urlsplit(page.url).netloc
    links: list[str] = page.locator(selector).evaluate_all(
        "links => links.filter(a => !a.hasAttribute('download')).map(a => a.href)"
    )
    paths: list[str] = []
    for link in links:
        parts = urlsplit(link)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if parts.netloc != host or path.startswith(FOREIGN_PAGES) or path in paths:
            continue
        paths.append(path)
    return paths


def check(page: Page, path: str, context: str, problems: list[str]) -> None:
    response = page.goto(path)
    assert response is not None, path
    if response.status != 200:
        problems.append(f"{context}: answered {response.status}")
        return
    found = [
        *axe_problems(page, context=context),
        *overflow_problems(page, context=context),
        *duplicate_id_problems(page, context=context),
    ]
    if found:
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in context)
        page.screenshot(path=str(axe.REPORTS / f"{name}.png"), full_page=True)
    problems.extend(found)


def check_role_pages(
    page: Page,
    base_url: str,
    participant: Participant,
    *,
    role: Role,
    context: str,
    shared: set[str],
) -> tuple[list[str], list[str]]:
    """Check a role's pages: her home, what its menu and body link to (a list once, whatever
    its filter), each report, the participant's page and her FORMS, and for
    EVERY_PARTICIPANT_PAGE roles every page the participant's page links to. A report
    already checked for another role (``shared``) is not checked again: only its scope
    differs. Returns the paths checked and the problems found."""
    participant_page = f"/participants/{participant.pk}/"
    queue = ["/"]
    checked: list[str] = []
    problems: list[str] = []
    while queue:
        path = queue.pop(0)
        bare = urlsplit(path).path
        if bare in {urlsplit(done).path for done in checked}:
            continue
        if bare.startswith("/reports/") and bare != "/reports/":
            if bare in shared:
                continue
            shared.add(bare)
        check(page, f"{base_url}{path}", f"{context} {path}", problems)
        checked.append(path)
        if bare == "/":
            queue += [*same_site_links(page, "#nav a.nav-link, main a[href]"), participant_page]
        elif bare == "/reports/":
            queue += same_site_links(page, "main a[href]")
        elif bare == participant_page:
            forms = same_site_links(page, "a[data-form]")
            queue += [form for form in forms if form.rstrip("/").rsplit("/", 1)[-1] in FORMS]
            if role in EVERY_PARTICIPANT_PAGE:
                others = same_site_links(page, "main a[href]")
                queue += [other for other in others if "/forms/" not in other]
    return checked, problems


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.requirement("PROT-LANGUAGE")
@pytest.mark.parametrize("language", list(LOCALES))
def test_every_roles_pages_have_no_serious_violation_no_repeated_id_and_fit_1280_px(
    language: str,
    browser: Browser,
    live_server: Any,
    make_user: Callable[..., User],
    casebook: Participant,
) -> None:
    problems: list[str] = []
    reports: set[str] = set()
    forms = {f"/participants/{casebook.pk}/forms/{code}/" for code in FORMS}
    for role in Role:
        user = make_user(role.value, username=f"axe_{role.value}", language=language)
        with signed_in_context(browser, live_server.url, user, locale=LOCALES[language]) as context:
            page = context.new_page()
            checked, found = check_role_pages(
                page,
                live_server.url,
                casebook,
                role=role,
                context=f"{role.value} {language}",
                shared=reports,
            )
            assert page.locator("html").get_attribute("lang") == language
        assert {"/", "/participants/", f"/participants/{casebook.pk}/", "/reports/"} <= set(
            checked
        ), (role, checked)
        assert forms <= set(checked), (role, checked)
        if role in EVERY_PARTICIPANT_PAGE:
            assert f"/participants/{casebook.pk}/history/" in checked, (role, checked)
        problems += found
    assert {"/reports/enrollment/", "/reports/safety/", "/reports/quality/"} <= reports
    assert not problems, "Accessibility problems:\n" + "\n".join(problems)


@pytest.mark.browser
def test_a_serious_violation_fails_with_its_rule_and_element_and_a_minor_one_does_not(
    browser: Browser, live_server: Any
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        assert_accessible(page, context="login")
        page.evaluate(
            """() => document.querySelector('main').insertAdjacentHTML('beforeend',
              '<div id="contents" role="directory">Contents</div>')"""
        )
        assert {v.rule: v.impact for v in axe_violations(page)} == {"aria-deprecated-role": "minor"}
        assert_accessible(page, context="login with a minor violation")
        page.evaluate(
            """() => document.querySelector('main').insertAdjacentHTML('beforeend',
              '<img id="unlabelled-chart" src="/static/favicon.svg">')"""
        )
        with pytest.raises(AssertionError) as failure:
            assert_accessible(page, context="login with an image without text")
        message = str(failure.value)
        assert "login with an image without text: [critical] image-alt:" in message
        assert "#unlabelled-chart" in message
        assert "aria-deprecated-role" not in message
    finally:
        context.close()


def test_a_missing_axe_core_fails_the_test_rather_than_skipping_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(axe, "AXE_SOURCE", tmp_path / "axe.min.js")
    axe.axe_source.cache_clear()
    try:
        with pytest.raises(pytest.fail.Exception, match="axe-core is not installed"):
            axe.axe_source()
    finally:
        axe.axe_source.cache_clear()


@pytest.mark.browser
def test_a_page_wider_than_the_window_or_with_a_repeated_id_is_reported(
    browser: Browser, live_server: Any
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        assert overflow_problems(page, context="login") == []
        # Through the CSSOM: the page's policy refuses inline style attributes.
        page.evaluate(
            """() => {
              const wide = document.createElement('div');
              wide.textContent = 'wide';
              wide.style.width = '3000px';
              document.querySelector('main').append(wide);
            }"""
        )
        (problem,) = overflow_problems(page, context="login")
        assert re.fullmatch(r"login: the page scrolls sideways by \d+ px at 1280 px", problem)

        assert duplicate_id_problems(page, context="login") == []
        page.evaluate("() => { document.querySelector('main').id = 'id_username'; }")
        assert duplicate_id_problems(page, context="login") == [
            "login: the id 'id_username' is used 2 times"
        ]
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_skip_link_shows_only_when_focused_and_moves_focus_to_the_main_content(
    browser: Browser, live_server: Any, coordinator_a: User
) -> None:
    with signed_in_context(browser, live_server.url, coordinator_a) as context:
        page = context.new_page()
        page.goto(f"{live_server.url}/participants/")
        skip = page.locator("#skip-link")
        hidden = skip.bounding_box()
        assert hidden is not None and hidden["width"] <= 1
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.id") == "skip-link"
        shown = skip.bounding_box()
        assert shown is not None and shown["width"] > 10
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.id") == "main"
