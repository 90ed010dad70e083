"""Health check, production settings and security headers."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from ..conftest import run_manage

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "ecrf.settings.production",
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
    "ALLOWED_HOSTS": "ecrf.example.org",
}


@pytest.mark.requirement("ICH-E6R3-4.3.6-SYSTEM-FAILURE")
@pytest.mark.django_db
def test_healthz_answers_200_when_database_and_broker_answer():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.requirement("ICH-E6R3-4.3.6-SYSTEM-FAILURE")
@pytest.mark.django_db
def test_healthz_answers_503_naming_the_broker_when_it_is_down(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "unreachable"
    assert response.json()["database"] == "ok"


@pytest.mark.requirement("ICH-E6R3-4.3.6-SYSTEM-FAILURE")
@pytest.mark.django_db(transaction=True)
def test_healthz_answers_503_naming_the_database_when_it_is_down():
    result = run_manage(
        "shell",
        "-c",
        "from django.test import Client; r = Client().get('/healthz'); "
        "print(r.status_code, r.content.decode())",
        DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere",
    )
    assert result.stdout.strip().splitlines()[-1].startswith("503")
    assert '"database": "unreachable"' in result.stdout


@pytest.mark.requirement("ICH-E6R3-4.3.3-SECURITY")
def test_production_refuses_to_start_without_its_environment():
    result = run_manage(
        "check",
        check=False,
        DJANGO_SETTINGS_MODULE="ecrf.settings.production",
        SECRET_KEY="",
        DATABASE_URL="",
        ALLOWED_HOSTS="",
    )
    assert result.returncode != 0
    assert "SECRET_KEY, DATABASE_URL, ALLOWED_HOSTS" in result.stderr


@pytest.mark.requirement("ICH-E6R3-4.3.3-SECURITY")
@pytest.mark.django_db(transaction=True)
def test_check_deploy_reports_nothing_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "DEBUG", **PRODUCTION_ENV)
    assert "System check identified no issues" in result.stdout


@pytest.mark.requirement("ICH-E6R3-4.3.3-SECURITY")
@pytest.mark.django_db(transaction=True)
def test_production_static_files_are_collected_with_hashed_names(tmp_path):
    result = run_manage("collectstatic", "--no-input", STATIC_ROOT=str(tmp_path), **PRODUCTION_ENV)
    assert "post-processed" in result.stdout
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    assert "vendor/bootstrap/bootstrap.min.css" in manifest
    hashed = manifest["js/exports.js"]
    assert hashed != "js/exports.js"
    assert (tmp_path / hashed).exists() and (tmp_path / f"{hashed}.gz").exists()
    assert not (tmp_path / "js/exports.js").exists()  # pages link the hashed name only


@pytest.mark.requirement("ICH-E6R3-4.3.3-SECURITY", "CFR11-10D-ACCESS")
@pytest.mark.django_db(transaction=True)
def test_demo_users_are_refused_in_production():
    result = run_manage("seed_demo", check=False, **PRODUCTION_ENV)
    assert result.returncode != 0
    assert "refused" in result.stderr


@pytest.mark.requirement("CFR11-10C-PROTECTION")
def test_sqlite_is_refused_as_a_database():
    from ecrf.settings.base import database_from_url

    with pytest.raises(ValueError, match="PostgreSQL"):
        database_from_url("sqlite:///db.sqlite3")


@pytest.mark.django_db
def test_the_apps_connections_compile_no_query_just_in_time():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)


@pytest.mark.requirement("ICH-E6R3-4.3.3-SECURITY")
@pytest.mark.django_db
def test_pages_carry_a_content_security_policy_and_no_framing():
    response = Client().get("/accounts/login/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.requirement("ICH-E6R3-4.3.3-SECURITY", "ICH-E6R3-4.3.6-SYSTEM-FAILURE")
@pytest.mark.django_db(transaction=True)
def test_production_serves_the_health_check_over_http_and_the_api_schema_to_users_only():
    script = (
        "from django.test import Client; c = Client(HTTP_HOST='ecrf.example.org'); "
        "print('healthz', c.get('/healthz').status_code); "
        "print('page', c.get('/participants/').status_code); "
        "print('schema', c.get('/api/schema/', secure=True).status_code); "
        "print('docs', c.get('/api/docs/', secure=True).status_code)"
    )
    result = run_manage("shell", "-c", script, **PRODUCTION_ENV)
    answers = dict(line.split() for line in result.stdout.strip().splitlines()[-4:])
    assert answers["healthz"] == "200"  # no redirect to HTTPS for the load balancer
    assert answers["page"] == "301"  # every other address still goes to HTTPS
    assert answers["schema"] in {"401", "403"}
    assert answers["docs"] in {"401", "403"}


@pytest.mark.requirement("ICH-E6R3-4.3.3-SECURITY")
@pytest.mark.django_db
def test_the_signed_in_and_language_cookies_are_secure_where_the_session_cookie_is(
    settings, coordinator_a
):
    from ecrf.accounts.middleware import SIGNED_IN_COOKIE

    from ..factories import PASSWORD

    settings.SESSION_COOKIE_SECURE = True
    settings.LANGUAGE_COOKIE_SECURE = True
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": coordinator_a.username, "password": PASSWORD}
    )
    assert response.cookies[SIGNED_IN_COOKIE]["secure"] is True
    language = client.post("/accounts/language/", {"language": "ja", "next": "/"})
    assert language.cookies[settings.LANGUAGE_COOKIE_NAME]["secure"] is True
