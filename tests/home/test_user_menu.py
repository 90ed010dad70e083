"""The menu bar: each role's user menu (who she is, password, API, language, sign out)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.contrib.auth.models import AnonymousUser

from ecrf.accounts.policy import may_use_api
from ecrf.accounts.roles import Role

pytestmark = pytest.mark.django_db

#: The roles whose work the API serves in the menu: the sponsor's data center and the
#: monitors' scripts.
API_ROLES = {Role.MONITOR, Role.DATA_MANAGER, Role.STATISTICIAN, Role.ADMIN}


def user_menu(html: str) -> str:
    return html.split('id="user-menu"', 1)[1].split("</ul>", 1)[0]


@pytest.mark.parametrize("role", list(Role))
def test_only_roles_that_use_the_api_may_use_it(role, make_user):
    assert bool(may_use_api(make_user(role.value))) is (role in API_ROLES)


def test_no_api_for_a_user_without_a_role_or_signed_out(make_user):
    assert not may_use_api(AnonymousUser())
    monitor = make_user("monitor")
    monitor.is_active = False
    assert not may_use_api(monitor)


@pytest.mark.parametrize("role", list(Role))
def test_user_menu_says_who_she_is_and_offers_password_language_sign_out(
    role, make_user, client_for
):
    user = make_user(role.value, username=f"menu_{role.value}")
    html = client_for(user).get("/participants/").content.decode()
    menu = user_menu(html)
    assert 'data-bs-toggle="dropdown"' in html.split('id="user-menu"', 1)[1]
    assert f">{user} · {role.label}<" in menu
    assert 'href="/accounts/password/" id="menu-password"' in menu
    assert 'id="lang-ja"' in menu and 'id="lang-en"' not in html
    assert 'id="logout"' in menu
    offered = {'id="menu-api-key"', 'id="menu-api-docs"'}
    assert all((item in menu) is (role in API_ROLES) for item in offered), role
    nav = html.split('id="nav"', 1)[1].split('id="user-menu"', 1)[0]
    assert "API documentation" not in nav and "API key" not in nav


@pytest.mark.parametrize("role", list(Role))
def test_every_id_on_the_page_is_unique(role, make_user, client_for):
    html = client_for(make_user(role.value)).get("/participants/").content.decode()
    repeated = [i for i, n in Counter(re.findall(r'\sid="([^"]+)"', html)).items() if n > 1]
    assert repeated == []


def test_in_japanese_the_menu_offers_english(make_user, client_for):
    user = make_user("data_manager", language="ja")
    html = client_for(user).get("/participants/").content.decode()
    menu = user_menu(html)
    assert 'id="lang-en"' in menu and 'id="lang-ja"' not in html
    assert "ログアウト" in menu and "パスワード" in menu


def test_api_pages_stay_reachable_for_roles_not_offered_them(make_user, client_for):
    client = client_for(make_user("coordinator"))
    assert client.get("/api/docs/").status_code == 200
    assert client.get("/accounts/api-token/").status_code == 200
