"""No case report form answers a question in advance: on a blank form page no box is
ticked, no choice is selected, and every drop-down starts on an empty option."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from ecrf.common import catalogue

from ..clock import at

pytestmark = pytest.mark.django_db

#: Which of the participant fixtures has none of the form's data yet, and the page where a
#: new record of the form is entered (a form of many records is entered on its list page).
BLANK_PAGES = {
    "eligibility": ("participant_a", "participants:eligibility"),
    "consent": ("participant_a", "participants:consent"),
    "embryo_transfer": ("randomized", "schedule:treatment"),
    "dose": ("transferred", "schedule:treatment"),
    "biochemical_pregnancy": ("transferred", "endpoints:form"),
    "clinical_pregnancy": ("transferred", "endpoints:form"),
    "adverse_event": ("transferred", "safety:adverse_events"),
    "safety_lab": ("transferred", "labs:results"),
    # Entered on a page of its own rather than an edit page of the catalogue.
    "withdrawal": ("transferred", "participants:withdraw"),
}


class _Answers(HTMLParser):
    """The inputs of the page's data-entry forms answered in advance (in words)."""

    def __init__(self) -> None:
        super().__init__()
        self.in_entry_form = False
        self.select: str | None = None
        self.first_option = False
        self.answered: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            # The language switch and search boxes are not case report forms.
            self.in_entry_form = (attributes.get("method") or "").lower() == "post" and (
                "i18n" not in (attributes.get("action") or "")
            )
        if not self.in_entry_form:
            return
        if tag == "input" and "checked" in attributes:
            self.answered.append(f"{attributes.get('name')}={attributes.get('value')} ticked")
        if tag == "select":
            self.select = None if "multiple" in attributes else attributes.get("name")
            self.first_option = True
        if tag == "option":
            value = attributes.get("value") or ""
            if "selected" in attributes and value:
                self.answered.append(f"{value} selected")
            if self.select is not None and self.first_option and value:
                self.answered.append(f"{self.select} starts on {value}")
            self.first_option = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_entry_form = False
        if tag == "select":
            self.select = None


def test_every_crf_with_an_entry_page_is_walked():
    with_pages = {form.code for form in catalogue.FORMS if form.is_crf and form.edit_page}
    assert with_pages <= set(BLANK_PAGES)


@pytest.mark.requirement("ICH-E6R3-4.2.1-CAPTURE")
@pytest.mark.parametrize(
    "code",
    sorted(BLANK_PAGES),
)
def test_a_blank_form_answers_nothing_in_advance(request, client_for, coordinator_a, code):
    fixture, page = BLANK_PAGES[code]
    participant = request.getfixturevalue(fixture)
    form = catalogue.form(code)
    arguments = {"participant": participant.pk, "form": code}
    url = reverse(
        page, args=[arguments[name] for name in form.edit_page_arguments if name in arguments]
    )
    with at("2026-03-02"):
        response = client_for(coordinator_a).get(url)
    assert response.status_code == 200
    parser = _Answers()
    parser.feed(response.content.decode())
    assert parser.answered == [], parser.answered
