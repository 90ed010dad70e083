"""The pages in a real headless Chromium against a live server: language, sign-in with a
second factor, each role's home page, registering a participant, and the account lockout."""

from __future__ import annotations

import base64
import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect

from ecrf.accounts.models import User
from ecrf.accounts.roles import Role
from ecrf.participants.models import Participant
from ecrf.participants.services import site_today
from ecrf.studies.models import Site
from tests.conftest import sign_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOTP_STEP = 30
INVALID_LOGIN = "The username or password is not correct."
WRONG_CODE = "This code is not correct or has expired; try the next one."
BOOTSTRAP_PRIMARY = "rgb(13, 110, 253)"


@contextmanager
def browser_context(browser: Browser, locale: str = "en-US") -> Iterator[BrowserContext]:
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()


def screenshot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def submit_login(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.locator("#login-form [type=submit]").click()


def submit_token(page: Page, code: str) -> None:
    page.locator("#id_token").fill(code)
    page.locator("#token-form [type=submit]").click()


def totp_key(secret: str) -> bytes:
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


def current_step() -> int:
    return int(time.time()) // TOTP_STEP


def code_for_step(key: bytes, step: int) -> str:
    return f"{totp(key, step=TOTP_STEP, digits=6, drift=step - current_step()):06d}"


def wait_until_verification_allowed(user: User, timeout: float = 10.0) -> None:
    """django_otp refuses any code for a moment after a wrong one (1 s after the first)."""
    deadline = time.monotonic() + timeout
    while not TOTPDevice.objects.get(user=user, confirmed=True).verify_is_allowed()[0]:
        assert time.monotonic() < deadline, "the device stayed throttled"
        time.sleep(0.1)


@contextmanager
def signed_in_context(
    browser: Browser, base_url: str, user: User, locale: str = "en-US"
) -> Iterator[BrowserContext]:
    client = sign_in(Client(), user)
    with browser_context(browser, locale) as context:
        context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}]
        )
        yield context


def record_requests(page: Page) -> list[Request]:
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    return requests


def record_console_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


@pytest.mark.requirement("PROT-LANGUAGE")
def test_login_page_renders_in_english_and_switches_to_japanese_and_back(
    browser: Browser, live_server: Any, screenshot_dir: Path
) -> None:
    login_url = f"{live_server.url}/accounts/login/"
    with browser_context(browser, locale="en-US") as context:
        page = context.new_page()
        page.goto(login_url)
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
        expect(page.locator("#id_username")).to_be_visible()
        expect(page.locator("#id_password")).to_have_attribute("type", "password")
        expect(page.locator("#lang-ja")).to_have_text("日本語")
        expect(page.locator("#lang-en")).to_have_count(0)
        screenshot(page, screenshot_dir, "01-login-en")

        page.locator("#lang-ja").click()
        expect(page).to_have_url(login_url)
        expect(page.locator("html")).to_have_attribute("lang", "ja")
        expect(page.locator("#lang-en")).to_have_text("English")
        expect(page.locator("#lang-ja")).to_have_count(0)
        expect(page.locator("#id_username")).to_be_visible()
        expect(page.locator("#id_password")).to_have_attribute("type", "password")
        screenshot(page, screenshot_dir, "02-login-ja")

        page.reload()
        expect(page.locator("html")).to_have_attribute("lang", "ja")

        page.locator("#lang-en").click()
        expect(page).to_have_url(login_url)
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
        screenshot(page, screenshot_dir, "03-login-back-to-en")


@pytest.mark.requirement("PROT-LANGUAGE")
def test_login_page_follows_a_japanese_browser(
    browser: Browser, live_server: Any, screenshot_dir: Path
) -> None:
    with browser_context(browser, locale="ja-JP") as context:
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        expect(page.locator("html")).to_have_attribute("lang", "ja")
        expect(page.locator("#lang-en")).to_have_text("English")
        expect(page.locator("#id_username")).to_be_visible()
        screenshot(page, screenshot_dir, "01-login-ja-browser")


@pytest.mark.requirement("CFR11-10D-ACCESS", "CFR11-300D-SAFEGUARDS")
def test_sign_in_enrols_an_authenticator_then_asks_for_its_code(
    browser: Browser, live_server: Any, coordinator_a: User, screenshot_dir: Path
) -> None:
    with browser_context(browser) as context:
        page = context.new_page()
        submit_login(page, live_server.url, coordinator_a.username, PASSWORD)
        expect(page).to_have_url(re.compile(r"/accounts/mfa/setup/"))
        expect(page.locator("img.qr-code")).to_be_visible()
        secret = page.locator("#totp-secret").inner_text().strip()
        assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
        screenshot(page, screenshot_dir, "01-mfa-setup")

        key = totp_key(secret)
        setup_step = current_step()
        submit_token(page, code_for_step(key, setup_step))
        expect(page).to_have_url(f"{live_server.url}/")
        expect(page.locator("#home-title")).to_have_text("Coordinator home")
        expect(page.get_by_role("alert")).to_contain_text("Two-factor authentication is set up.")
        screenshot(page, screenshot_dir, "02-home-after-setup")

        page.locator("#user-menu-button").click()
        page.locator("#logout").click()
        expect(page).to_have_url(re.compile(r"/accounts/login/"))
        expect(page.get_by_role("alert")).to_contain_text("You have signed out.")
        screenshot(page, screenshot_dir, "03-signed-out")

        submit_login(page, live_server.url, coordinator_a.username, PASSWORD)
        expect(page).to_have_url(re.compile(r"/accounts/mfa/verify/"))
        expect(page.locator("#totp-secret")).to_have_count(0)
        screenshot(page, screenshot_dir, "04-mfa-verify")

        now = current_step()
        accepted = {code_for_step(key, step) for step in range(now - 2, now + 3)}
        wrong = next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in accepted)
        submit_token(page, wrong)
        expect(page.locator("#token-form")).to_contain_text(WRONG_CODE)
        expect(page).to_have_url(re.compile(r"/accounts/mfa/verify/"))
        expect(page.locator("#home-title")).to_have_count(0)
        screenshot(page, screenshot_dir, "05-mfa-wrong-code")

        wait_until_verification_allowed(coordinator_a)
        device = TOTPDevice.objects.get(user=coordinator_a, confirmed=True)
        assert device.last_t == setup_step
        # A code of the setup's step is refused as a replay; within the device's tolerance an
        # authenticator whose clock runs one step ahead is accepted, so no 30-second wait.
        step = max(current_step(), setup_step + 1)
        assert step - current_step() <= device.tolerance
        submit_token(page, code_for_step(key, step))
        expect(page).to_have_url(f"{live_server.url}/")
        expect(page.locator("#home-title")).to_have_text("Coordinator home")
        screenshot(page, screenshot_dir, "06-home-after-verify")


HOME_TITLES = {
    "coordinator": "Coordinator home",
    "monitor": "Monitor home",
    "data_manager": "Study overview",
}


@pytest.mark.requirement("ICH-E6R3-4.3.3-SECURITY")
@pytest.mark.parametrize("role", list(HOME_TITLES))
def test_home_page_of_each_role_renders_with_the_apps_own_bootstrap(
    role: str,
    browser: Browser,
    live_server: Any,
    make_user: Callable[..., User],
    screenshot_dir: Path,
) -> None:
    user = make_user(role, username=f"home_{role}")
    with signed_in_context(browser, live_server.url, user) as context:
        page = context.new_page()
        requests = record_requests(page)
        console_errors = record_console_errors(page)
        page.goto(f"{live_server.url}/", wait_until="load")

        expect(page).to_have_url(f"{live_server.url}/")
        expect(page.locator("#home-title")).to_have_text(HOME_TITLES[role])
        nav = page.locator("#nav")
        expect(nav).to_be_visible()
        expect(nav.get_by_role("link", name="Home", exact=True)).to_be_visible()
        expect(nav.get_by_role("link", name="Participants", exact=True)).to_be_visible()
        expect(nav.get_by_role("link", name="Register screening")).to_have_count(
            1 if role == "coordinator" else 0
        )
        page.locator("#user-menu-button").click()
        expect(page.locator("#whoami")).to_have_text(f"{user} · {Role(role).label}")
        expect(page.locator("#logout")).to_be_visible()
        screenshot(page, screenshot_dir, f"01-home-{role}")

        navbar_colour = page.locator("nav.navbar").evaluate(
            "element => getComputedStyle(element).backgroundColor"
        )
        assert navbar_colour == BOOTSTRAP_PRIMARY
        expect(page.locator(".navbar-toggler")).to_be_hidden()
        assert page.evaluate("typeof window.bootstrap?.Collapse") == "function"

        live_host = urlsplit(live_server.url).netloc
        foreign = [r.url for r in requests if urlsplit(r.url).netloc not in {"", live_host}]
        assert foreign == []
        assets = {urlsplit(r.url).path: r for r in requests}
        for path in (
            "/static/vendor/bootstrap/bootstrap.min.css",
            "/static/vendor/bootstrap/bootstrap.bundle.min.js",
            "/static/ecrf.css",
        ):
            assert path in assets, f"{path} was not loaded"
            response = assets[path].response()
            assert response is not None and response.status == 200, path
        assert console_errors == []


@pytest.mark.requirement("PROT-SCREEN-LOG", "CFR11-10A-INVALID")
def test_coordinator_registers_a_screened_participant_and_sees_date_errors(
    browser: Browser,
    live_server: Any,
    coordinator_a: User,
    site_a: Site,
    screenshot_dir: Path,
) -> None:
    screening = site_today(site_a) - dt.timedelta(days=2)
    with signed_in_context(browser, live_server.url, coordinator_a) as context:
        page = context.new_page()
        page.goto(f"{live_server.url}/participants/new/")
        form = page.locator("#screening-form")
        expect(form).to_be_visible()
        page.locator("#id_site").select_option(str(site_a.pk))
        page.locator("#id_screening_date").fill(screening.isoformat())
        page.locator("#id_birth_date").fill(dt.date(1990, 5, 17).isoformat())
        screenshot(page, screenshot_dir, "01-form-filled")
        form.locator("[type=submit]").click()

        expect(page.locator("#subject-id")).to_have_text("S01-001")
        expect(page).to_have_url(re.compile(r"/participants/\d+/$"))
        expect(page.get_by_role("alert")).to_contain_text("Registered S01-001.")
        expect(page.locator("#screening-date")).to_have_text(screening.isoformat())
        expect(page.locator("#birth-date")).to_have_text("1990-05-17")
        screenshot(page, screenshot_dir, "02-registered")
        participant = Participant.objects.get()
        assert participant.subject_id == "S01-001"
        assert participant.registered_by == coordinator_a

        page.goto(f"{live_server.url}/participants/new/")
        page.locator("#id_site").select_option(str(site_a.pk))
        page.locator("#id_screening_date").fill(screening.isoformat())
        page.locator("#id_birth_date").fill((screening + dt.timedelta(days=1)).isoformat())
        page.locator("#screening-form [type=submit]").click()

        expect(page).to_have_url(f"{live_server.url}/participants/new/")
        expect(page.locator("#id_birth_date")).to_have_class(re.compile(r"\bis-invalid\b"))
        expect(page.locator("#id_birth_date ~ .invalid-feedback")).to_have_text(
            "The date of birth must be before the screening date."
        )
        expect(page.locator("#subject-id")).to_have_count(0)
        screenshot(page, screenshot_dir, "03-birth-date-after-screening")
        assert Participant.objects.count() == 1


@pytest.mark.requirement("CFR11-300D-SAFEGUARDS")
def test_five_wrong_passwords_lock_the_account(
    browser: Browser, live_server: Any, coordinator_a: User, screenshot_dir: Path
) -> None:
    with browser_context(browser) as context:
        page = context.new_page()
        for attempt in range(1, 5):
            submit_login(page, live_server.url, coordinator_a.username, "Wrong-Password-0")
            expect(page.locator("#login-form")).to_contain_text(INVALID_LOGIN)
            screenshot(page, screenshot_dir, f"{attempt:02d}-wrong-password")

        submit_login(page, live_server.url, coordinator_a.username, "Wrong-Password-0")
        expect(page.locator("#locked")).to_be_visible()
        screenshot(page, screenshot_dir, "05-wrong-password-locks")

        submit_login(page, live_server.url, coordinator_a.username, PASSWORD)
        expect(page.locator("#locked")).to_be_visible()
        expect(page.locator("#locked")).to_contain_text("Account locked")
        expect(page).to_have_url(re.compile(r"/accounts/login/"))
        expect(page.locator("#logout")).to_have_count(0)
        screenshot(page, screenshot_dir, "06-right-password-still-locked")

        page.goto(f"{live_server.url}/")
        expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))


JAPANESE_HOME_TITLES = {
    "coordinator": "CRCホーム",
    "monitor": "モニターホーム",
    "data_manager": "研究の概況",
}


@pytest.mark.requirement("PROT-LANGUAGE")
@pytest.mark.parametrize("role", list(JAPANESE_HOME_TITLES))
def test_home_page_speaks_japanese_to_a_japanese_user(
    role: str,
    browser: Browser,
    live_server: Any,
    make_user: Callable[..., User],
    screenshot_dir: Path,
) -> None:
    user = make_user(role, username=f"ja_{role}", language="ja")
    with signed_in_context(browser, live_server.url, user, locale="ja-JP") as context:
        page = context.new_page()
        page.goto(f"{live_server.url}/")
        expect(page.locator("html")).to_have_attribute("lang", "ja")
        expect(page.locator("#home-title")).to_have_text(JAPANESE_HOME_TITLES[role])
        expect(page.locator("#nav").get_by_role("link", name="ホーム", exact=True)).to_be_visible()
        screenshot(page, screenshot_dir, f"01-home-{role}-ja")
