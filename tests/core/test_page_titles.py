"""Every page names itself in the browser tab, in the reader's language (WCAG 2.4.2).

The pages are those of the access table (``ACCESS``), each opened by a role that may
read it, so a new page without its own ``{% block title %}`` fails here.
"""

# The access table's module fixture ``scenery`` is imported, and so named again as a
# test argument.
# ruff: noqa: F811

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from ecrf.accounts.services import user_set_language
from ecrf.endpoints.views import FORMS as ENDPOINT_FORMS
from tests.conftest import study_user
from tests.core.test_authorization_matrix import ACCESS, ROLES, scenery  # noqa: F401
from tests.core.test_site_isolation import ROUTES

pytestmark = pytest.mark.django_db

TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL)

#: Routes that answer a file or JSON, not a page.
DOWNLOADS = frozenset(
    {
        "accounts:access_review_csv",
        "audit_review:checkpoints",
        "exports:download",
        "exports:status",
        "queries:csv",
        "randomization:export",
        "schedule:ics",
    }
)


#: Pages one route serves for several forms, beyond the one ``ROUTES`` names: a form's
#: data entry page and its reading page must not share a title.
FORM_PAGES = {
    "endpoints:form": [{"record": code} for code in ENDPOINT_FORMS],
    "participants:form": [{"code": code} for code in ("eligibility", "consent", *ENDPOINT_FORMS)],
}


def _urls(name: str, objects: dict[str, Any]) -> list[str]:
    kind = ROUTES[name]
    if kind is None:
        return [reverse(name)]
    kind_name, extra = kind if isinstance(kind, tuple) else (kind, {})
    pk = objects[kind_name].pk
    if "ae_pk" in extra:
        extra = {**extra, "ae_pk": objects["adverse_event"].pk}
    return [reverse(name, kwargs={"pk": pk, **e}) for e in FORM_PAGES.get(name, [extra])]


def _title(response: Any) -> str:
    found = TITLE.search(response.content.decode())
    assert found, "no <title>"
    return " ".join(unescape(found.group(1)).split())


def _pages_of_the_app() -> list[str]:
    """Routes a browser opens: GET taken, outside the API and its documentation."""
    return sorted(
        name
        for name, entry in ACCESS.items()
        if "get" in entry.allowed and name not in DOWNLOADS and ":" in name
    )


def _default_title(language: str) -> str:
    with translation.override(language):
        return str(translation.gettext("Tacrolimus trial eCRF"))


@pytest.mark.parametrize("language", ["en", "ja"])
def test_every_page_has_its_own_title_in_the_readers_language(language, scenery, client_for):
    titles: dict[str, str] = {}
    not_pages: list[str] = []
    for name in _pages_of_the_app():
        entry = ACCESS[name]
        if entry.public:
            client = Client(HTTP_ACCEPT_LANGUAGE=language)
        elif name == "accounts:mfa_setup":
            # Only a user without a second factor yet is shown the set-up page.
            newcomer = study_user("coordinator", language=language)
            client = Client()
            client.force_login(newcomer)
        else:
            role = next(r for r in ROLES if r in entry.allowed["get"])
            user = scenery.users[role]
            user_set_language(user=user, language=language)
            client = client_for(user)
        for url in _urls(name, scenery.objects):
            response = client.get(url)
            if response.status_code != 200 or not any(
                t.name == "base.html" for t in response.templates
            ):
                not_pages.append(f"{url} ({response.status_code})")
                continue
            titles[url] = _title(response)
    default = _default_title(language)
    assert not_pages == [], "\n".join(not_pages)
    assert [name for name, title in titles.items() if title == default] == []
    assert [name for name, title in titles.items() if not title.endswith(f" · {default}")] == []
    repeated = {
        title: sorted(n for n, t in titles.items() if t == title)
        for title in set(titles.values())
        if list(titles.values()).count(title) > 1
    }
    assert repeated == {}


@pytest.mark.parametrize("language", ["en", "ja"])
def test_each_roles_home_page_has_a_title_of_its_own(language, scenery, client_for):
    default = _default_title(language)
    for role in ROLES:
        user = scenery.users[role]
        user_set_language(user=user, language=language)
        title = _title(client_for(user).get(reverse("core:home")))
        assert title != default, role
        assert title.endswith(default), role


class _FocusOrder(HTMLParser):
    """The focusable elements of a page, in document order, and the ids it holds."""

    FOCUSABLE = frozenset({"a", "button", "input", "select", "textarea"})

    def __init__(self) -> None:
        super().__init__()
        self.focusable: list[dict[str, str | None]] = []
        self.main_ids: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "main":
            self.main_ids.append(attributes.get("id"))
        if attributes.get("type") == "hidden" or (tag == "a" and "href" not in attributes):
            return
        if tag in self.FOCUSABLE:
            self.focusable.append({"tag": tag, **attributes})


@pytest.mark.parametrize("signed_in", [False, True])
def test_a_skip_link_to_the_main_content_comes_before_the_navigation(
    signed_in, scenery, client_for
):
    client = client_for(scenery.users["coordinator"]) if signed_in else Client()
    url = reverse("participants:list") if signed_in else reverse("accounts:login")
    page = _FocusOrder()
    page.feed(client.get(url).content.decode())
    first = page.focusable[0]
    assert first["href"] == "#main"
    assert "visually-hidden-focusable" in (first["class"] or "").split()
    assert page.main_ids == ["main"]
