"""The review page's filter and sign-off boxes, written in Python, give the markup the
template loop over the form's fields gives: labels, boxes, errors and the note, escaped,
in either language."""

from __future__ import annotations

import pytest
from django.template import engines
from django.utils import translation
from pytest_django.asserts import assertHTMLEqual

from ecrf.home.templatetags.audit_rows import filter_boxes, sign_off_boxes
from ecrf.review.forms import AuditFilterForm, AuditReviewForm

pytestmark = pytest.mark.django_db

FILTERS = """{% for field in form %}
<div class="col-6 col-md-3 col-xl-2">
  <label class="form-label small mb-0" for="{{ field.id_for_label }}">{{ field.label }}</label>
  {{ field.as_widget }}
  {% if field.errors %}<div class="invalid-feedback d-block"
    id="{{ field.id_for_label }}-error">{{ field.errors|join:" " }}</div>{% endif %}
</div>{% endfor %}"""

SIGN_OFF = """{% load i18n %}{% for field in form %}
<div class="{% if field.name == 'comment' %}col-12{% else %}col-6 col-md-3{% endif %}">
  <label class="form-label" for="{{ field.id_for_label }}">{{ field.label }}</label>
  {{ field.as_widget }}
  {% if field.errors %}<div class="invalid-feedback d-block">
    {{ field.errors|join:" " }}</div>{% endif %}
  {% if field.name == 'through' %}<div class="form-text">{% translate note %}</div>
  {% endif %}
</div>{% endfor %}"""


NOTE = "A time with its offset, or a date for the whole of that day."


def _template(source: str, form) -> str:
    return engines["django"].from_string(source).render({"form": form, "note": NOTE})


@pytest.mark.parametrize("language", ["en", "ja"])
@pytest.mark.parametrize(
    "data",
    [
        None,
        {"site": "S01", "user": '<b>"x"</b>', "since": "15 March", "signal": "sneaky"},
        {"since": "2026-03-02", "until": "2026-03-01", "reason": "a & b"},
    ],
)
def test_the_filter_boxes_are_the_template_loops(make_user, language, data):
    monitor = make_user("monitor", ["S01"])
    with translation.override(language):
        form = AuditFilterForm(data, user=monitor)
        form.is_valid()
        assertHTMLEqual(filter_boxes(form), _template(FILTERS, form))


@pytest.mark.parametrize("language", ["en", "ja"])
@pytest.mark.parametrize(
    "data",
    [None, {"site": "S09", "through": "tomorrow", "comment": ""}, {"comment": "<i>ok</i>"}],
)
def test_the_sign_off_boxes_are_the_template_loops(make_user, language, data):
    monitor = make_user("monitor", ["S01"])
    with translation.override(language):
        form = AuditReviewForm(data, user=monitor)
        if data is not None:
            form.is_valid()
        html = sign_off_boxes(form)
        assertHTMLEqual(html, _template(SIGN_OFF, form))
        assert ("日" in html) == (language == "ja")
