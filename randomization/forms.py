from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ecrf.common.forms import FreeTextField
from ecrf.studies.models import Site

from . import blocks


class GenerateListForm(forms.Form):
    site = forms.ModelChoiceField(label=_("Site"), queryset=Site.objects.none(), required=False)
    length = forms.IntegerField(
        label=_("Number of slots (at least)"), min_value=1, max_value=10_000
    )
    block_sizes = FreeTextField(
        label=_("Block sizes"), initial="3,6", max_length=50, help_text=_("e.g. 3,6")
    )

    def __init__(self, *args: Any, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        site_field = self.fields["site"]
        assert isinstance(site_field, forms.ModelChoiceField)
        site_field.queryset = sites

    def clean_block_sizes(self) -> tuple[int, ...]:
        try:
            return blocks.parse_block_sizes(self.cleaned_data["block_sizes"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


class ImportListForm(forms.Form):
    site = forms.ModelChoiceField(label=_("Site"), queryset=Site.objects.none(), required=False)
    file = forms.FileField(
        label=_("Allocation table (CSV: sequence,block,block_size,arm)"),
        help_text=_("At most 1 MB."),
    )

    def __init__(self, *args: Any, sites: Any, **kwargs: Any) -> None:
        # Beside the generation form, which also asks for a site: ids of its own.
        kwargs.setdefault("auto_id", "id_import_%s")
        super().__init__(*args, **kwargs)
        site_field = self.fields["site"]
        assert isinstance(site_field, forms.ModelChoiceField)
        site_field.queryset = sites

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > 1_000_000:
            raise forms.ValidationError(_("The file is larger than 1 MB."))
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError(_("The file is not UTF-8 text.")) from exc


class ExtendListForm(forms.Form):
    length = forms.IntegerField(label=_("Slots to add (at least)"), min_value=1, max_value=10_000)
