"""The drop-down list, text box and text area written in Python give the markup Django's own
templates give, for any choices, value and attributes."""

from __future__ import annotations

from django import forms
from hypothesis import given
from hypothesis import strategies as st
from pytest_django.asserts import assertHTMLEqual

from ecrf.common.forms import PlainSelect, PlainTextarea, PlainTextInput

text = st.text(alphabet=st.sampled_from("ab<>&\"' 日本"), max_size=6)
flat_choices = st.lists(st.tuples(text, text), max_size=5)
grouped_choices = st.lists(
    st.one_of(st.tuples(text, text), st.tuples(text, flat_choices.map(tuple))), max_size=4
)
attributes = st.fixed_dictionaries(
    {"id": st.just("id_site"), "class": st.just("form-select")},
    optional={
        "required": st.booleans(),
        "aria-describedby": text,
        "aria-invalid": st.just("true"),
    },
)


@given(choices=grouped_choices, value=st.one_of(st.none(), text), attrs=attributes)
def test_a_plain_select_writes_what_the_select_template_writes(choices, value, attrs):
    ours = PlainSelect(choices=choices).render("site", value, attrs=attrs)
    django = forms.Select(choices=choices).render("site", value, attrs=attrs)
    assertHTMLEqual(ours, django)


def test_a_plain_select_marks_only_the_first_of_equal_values_chosen():
    ours = PlainSelect(choices=[("a", "A"), ("a", "again")]).render("x", "a")
    assert ours.count("selected") == 1
    assertHTMLEqual(ours, forms.Select(choices=[("a", "A"), ("a", "again")]).render("x", "a"))


@given(value=st.one_of(st.none(), text, st.integers()), attrs=attributes)
def test_a_plain_text_box_writes_what_the_text_input_template_writes(value, attrs):
    ours = PlainTextInput(attrs={"maxlength": "16"}).render("user", value, attrs=attrs)
    django = forms.TextInput(attrs={"maxlength": "16"}).render("user", value, attrs=attrs)
    assertHTMLEqual(ours, django)


@given(value=st.one_of(st.none(), text, st.integers()), attrs=attributes)
def test_a_plain_text_area_writes_what_the_textarea_template_writes(value, attrs):
    ours = PlainTextarea(attrs={"rows": 2}).render("comment", value, attrs=attrs)
    django = forms.Textarea(attrs={"rows": 2}).render("comment", value, attrs=attrs)
    assertHTMLEqual(ours, django)
