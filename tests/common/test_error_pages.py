"""The app's own error pages, in the reader's language, with DEBUG off as in production."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.test import Client, RequestFactory, override_settings
from django.utils import translation

from ecrf.accounts.services import user_set_language
from ecrf.common.errors import bad_request, server_error

from ..conftest import BASE_DIR, subprocess_env

HEADINGS = {
    "en": {400: "Bad request", 403: "Access denied", 404: "Page not found", 500: "Server error"},
    "ja": {
        400: "不正なリクエスト",
        403: "アクセスが拒否されました",
        404: "ページが見つかりません",
        500: "サーバーエラー",
    },
}


def _heading(response) -> str:
    page = response.content.decode()
    return page.split('id="error-heading">')[1].split("</h1>")[0]


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "ja"])
@override_settings(DEBUG=False)
def test_a_mistyped_address_answers_404_with_the_apps_page_in_the_readers_language(language):
    response = Client(HTTP_ACCEPT_LANGUAGE=language).get("/participantz/")
    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    assert _heading(response) == HEADINGS[language][404]
    assert f'<html lang="{language}">' in response.content.decode()


@pytest.mark.parametrize("language", ["en", "ja"])
@override_settings(DEBUG=False)
def test_a_signed_in_user_gets_the_404_page_in_her_profiles_language(
    language, client_for, make_user
):
    user = make_user("coordinator", ["S01"])
    user_set_language(user=user, language=language)
    response = client_for(user).get("/participants/not-a-number/")
    assert response.status_code == 404
    assert _heading(response) == HEADINGS[language][404]
    assert 'id="nav"' in response.content.decode()


@pytest.mark.parametrize("language", ["en", "ja"])
@override_settings(DEBUG=False)
def test_a_page_the_role_may_not_open_answers_403_with_the_apps_page(
    language, client_for, make_user
):
    monitor = make_user("monitor", ["S01"])
    user_set_language(user=monitor, language=language)
    response = client_for(monitor).get("/participants/new/")
    assert response.status_code == 403
    assert "403.html" in [t.name for t in response.templates]
    assert _heading(response) == HEADINGS[language][403]


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_a_mistyped_api_address_still_answers_json():
    response = Client().get("/api/v1/participantz/")
    assert response.status_code in (401, 404)
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_500_page_needs_neither_the_request_nor_the_database(language):
    # No database for this test: pytest-django refuses any query the page would make.
    request = RequestFactory().get("/participants/")
    with translation.override(language):
        try:
            raise RuntimeError("bug")
        except RuntimeError:
            response = server_error(request)
    assert response.status_code == 500
    page = response.content.decode()
    assert _heading(response) == HEADINGS[language][500]
    assert f'<html lang="{language}">' in page
    assert "nothing was saved" in page or "データは保存されていません" in page


def test_the_500_answer_under_the_api_is_json():
    try:
        raise RuntimeError("bug")
    except RuntimeError:
        response = server_error(RequestFactory().get("/api/v1/participants/"))
    assert response.status_code == 500
    assert json.loads(response.content)["detail"]


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_bad_request_answers_400_with_the_apps_page(language):
    from django.core.exceptions import SuspiciousOperation

    with translation.override(language):
        response = bad_request(RequestFactory().get("/x/"), SuspiciousOperation("bad"))
    assert response.status_code == 400
    assert _heading(response) == HEADINGS[language][400]


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_a_body_larger_than_the_server_accepts_answers_413_json_under_the_api(
    api_for, coordinator_a, transferred
):
    from ecrf.schedule.models import DoseEntry

    body = json.dumps({"date": "2026-02-27", "comment": "x" * 3_000_000})
    response = api_for(coordinator_a).post(
        f"/api/v1/participants/{transferred.pk}/doses/", data=body, content_type="application/json"
    )
    assert response.status_code == 413
    assert "larger than the 2.5 MB the server accepts" in response.json()["detail"]
    assert not DoseEntry.objects.exists()


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_body_too_large_for_a_page_answers_413_with_the_apps_page(language):
    from django.core.exceptions import RequestDataTooBig

    with translation.override(language):
        response = bad_request(RequestFactory().post("/x/"), RequestDataTooBig("too big"))
    assert response.status_code == 413
    assert (
        _heading(response)
        == {"en": "Request too large", "ja": "リクエストが大きすぎます"}[language]
    )
    assert "2.5 MB" in response.content.decode()


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_static_files_are_served_with_debug_off():
    response = Client().get("/static/vendor/bootstrap/bootstrap.min.css")
    assert response.status_code == 200
    assert b"Bootstrap" in b"".join(response.streaming_content)


def test_make_run_settings_have_debug_off_unless_asked_for():
    code = (
        "from django.conf import settings; print(settings.DEBUG, settings.WHITENOISE_USE_FINDERS)"
    )
    env = subprocess_env(DJANGO_SETTINGS_MODULE="ecrf.settings.local")
    env.pop("DEBUG", None)
    run = [sys.executable, "-c", f"import django; django.setup(); {code}"]
    default = subprocess.run(run, env=env, cwd=BASE_DIR, capture_output=True, text=True)
    asked = subprocess.run(
        run, env={**env, "DEBUG": "1"}, cwd=BASE_DIR, capture_output=True, text=True
    )
    assert default.stdout.split() == ["False", "True"], default.stderr
    assert asked.stdout.split() == ["True", "True"], asked.stderr
