"""The menu bar in a real browser at 1280 px, over the screening log: one row for every
role in English and Japanese, and a user menu that opens, is walked and closes by keyboard."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation
from playwright.sync_api import Browser, Page, expect

from ecrf.accounts.models import User
from ecrf.accounts.roles import Role
from ecrf.participants.models import Participant

from .axe import assert_accessible, duplicate_id_problems, overflow_problems
from .test_pages import signed_in_context

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOCALES = {"en": "en-US", "ja": "ja-JP"}
API_ROLES = {Role.MONITOR, Role.DATA_MANAGER, Role.STATISTICIAN, Role.ADMIN}

#: The tops and heights of the bar's brand, menu entries and user menu button.
BAR_BOXES = """() => {
  const box = element => {
    const r = element.getBoundingClientRect();
    return {text: element.textContent.trim(), top: r.top, bottom: r.bottom, height: r.height};
  };
  const bar = document.querySelector('nav.navbar');
  return {
    bar: box(bar),
    brand: box(bar.querySelector('.navbar-brand')),
    items: [...bar.querySelectorAll('#nav .nav-link, #user-menu-button')].map(box),
  };
}"""


def bar_rows(page: Page) -> tuple[dict[str, Any], list[str]]:
    """The bar's boxes, and what says it takes more than one row: an entry that starts
    below another's bottom, or a bar taller than one row of the brand."""
    boxes = page.evaluate(BAR_BOXES)
    problems = []
    first = boxes["items"][0]
    for item in boxes["items"]:
        if item["top"] >= first["bottom"] or first["top"] >= item["bottom"]:
            problems.append(f"{item['text']!r} is on another row than {first['text']!r}")
    brand = boxes["brand"]["height"]
    # One row: the brand's line and the bar's padding (8 px above and below).
    if boxes["bar"]["height"] > brand + 2 * 8 + 4:
        problems.append(f"the bar is {boxes['bar']['height']} px high, one row is {brand + 16}")
    return boxes, problems


@pytest.mark.requirement("PROT-LANGUAGE")
@pytest.mark.parametrize("language", list(LOCALES))
def test_the_bar_is_one_row_at_1280_px_and_the_user_menu_works_by_keyboard(
    language: str,
    browser: Browser,
    live_server: Any,
    make_user: Callable[..., User],
    transferred: Participant,
    screenshot_dir: Path,
) -> None:
    problems: list[str] = []
    for role in Role:
        user = make_user(role.value, username=f"nav_{role.value}", language=language)
        context_name = f"{role.value} {language}"
        with signed_in_context(browser, live_server.url, user, locale=LOCALES[language]) as ctx:
            page = ctx.new_page()
            page.goto(f"{live_server.url}/participants/")
            expect(page.locator("html")).to_have_attribute("lang", language)
            boxes, found = bar_rows(page)
            assert len(boxes["items"]) >= 3, boxes
            problems += [f"{context_name}: {problem}" for problem in found]

            button = page.locator("#user-menu-button")
            menu = page.locator("#user-menu .dropdown-menu")
            expect(menu).to_be_hidden()
            button.focus()
            page.keyboard.press("Enter")
            expect(menu).to_be_visible()
            expect(button).to_have_attribute("aria-expanded", "true")
            with translation.override(language):
                expect(page.locator("#whoami")).to_contain_text(f"{user} · {Role(role).label}")
            page.keyboard.press("ArrowDown")
            expect(page.locator("#menu-password")).to_be_focused()
            items = ["#menu-password"]
            if role in API_ROLES:
                items += ["#menu-api-key", "#menu-api-docs"]
            else:
                expect(page.locator("#menu-api-key, #menu-api-docs")).to_have_count(0)
            items += ["#lang-en" if language == "ja" else "#lang-ja", "#logout"]
            for item in items[1:]:
                page.keyboard.press("ArrowDown")
                expect(page.locator(item)).to_be_focused()
            assert_accessible(page, context=f"{context_name} user menu open")
            page.screenshot(path=str(screenshot_dir / f"{context_name.replace(' ', '-')}.png"))
            problems += duplicate_id_problems(page, context=context_name)
            problems += overflow_problems(page, context=context_name)
            page.keyboard.press("Escape")
            expect(menu).to_be_hidden()
            expect(button).to_be_focused()

            button.focus()
            page.keyboard.press("Space")
            expect(menu).to_be_visible()
            page.keyboard.press("Escape")
    assert not problems, "\n".join(problems)


def test_the_language_switch_in_the_user_menu_changes_the_language(
    browser: Browser, live_server: Any, make_user: Callable[..., User]
) -> None:
    user = make_user("monitor", username="nav_language")
    with signed_in_context(browser, live_server.url, user) as ctx:
        page = ctx.new_page()
        page.goto(f"{live_server.url}/participants/")
        page.locator("#user-menu-button").click()
        page.locator("#lang-ja").click()
        expect(page.locator("html")).to_have_attribute("lang", "ja")
        expect(page).to_have_url(f"{live_server.url}/participants/")
        page.locator("#user-menu-button").click()
        expect(page.locator("#lang-en")).to_be_visible()
