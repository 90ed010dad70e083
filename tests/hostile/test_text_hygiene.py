"""Free text is held to one rule on every way in (see ``ecrf.common.text``).

Every form and serializer the hostile suite knows (each page's form, each API body) is
walked: each of its fields that takes free text refuses control characters, naming the
field and the rule, and saves nothing; line breaks and tabs are taken where the field
is multi-line and refused where it is a single line; a decomposed accent is stored
composed (NFC).
"""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from django.contrib.postgres.forms import SimpleArrayField

from .engine import Case, Ctx, Target, clocked, judge, rolled_back, row_counts, submit
from .targets import TARGETS

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.requirement("ICH-E6R3-4.3.3-HOSTILE"),
]

PLAIN = "Plain words"

#: One of each kind the rule refuses: C0 controls (start of heading, vertical tab,
#: escape), DEL and C1 controls (next line, application program command).
REFUSED = ["a\x01b", "a\x0bb", "\x1b[31mred", "a\x7fb", "a\x85b", "a\x9fb"]
MULTILINE = "first line\r\nsecond\tline"
DECOMPOSED = "Cafe\u0301"


def _text_fields(target: Target, ctx: Ctx) -> dict[str, Any]:
    instance = target.build(ctx, None, None)
    return {
        name: instance.fields[name]
        for name, kind in target.fields(ctx).items()
        # a list of codes (the admin's comma-separated lists) is not free text
        if kind.name == "text" and not isinstance(instance.fields[name], SimpleArrayField)
    }


def _try(target: Target, ctx: Ctx, data: dict[str, Any], files: dict[str, bytes], name: str):
    with rolled_back(ctx.client):
        before = row_counts()
        case = Case(data=data, files=files, mutated=(name,))
        response = submit(target, ctx, case)
        verdict = judge(target, ctx, case, response, before, target.fields(ctx), {})
        cleaned = dict(ctx.get("cleaned") or {}) if verdict.accepted else {}
        ctx.pop("cleaned", None)
        return response, verdict, cleaned


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_every_free_text_field_refuses_control_characters_and_stores_nfc(target: Target, scene):
    with clocked(target):
        ctx = target.setup(scene)
        baseline = target.baseline(ctx)
        files = {k: v for k, v in baseline.items() if isinstance(v, bytes)}
        data = {k: v for k, v in baseline.items() if k not in files}
        for name, field in _text_fields(target, ctx).items():
            _, plain, _ = _try(target, ctx, {**data, name: PLAIN}, files, name)
            if not plain.accepted:
                continue  # a code or a secret here, not free text
            assert hasattr(field, "multiline"), (
                f"{target.name}.{name} takes free text through {type(field).__name__}, "
                "not the study's free-text field"
            )
            for value in REFUSED:
                response, verdict, _ = _try(target, ctx, {**data, name: value}, files, name)
                assert not verdict.accepted, f"{target.name}.{name}: stored {value!r}"
                # refused on the page again (400; the admin's own pages: 200), or, for a
                # panel of her page, back to it with the refusal as an error message (302)
                assert response.status_code in (400, 409) or (
                    not target.api and response.status_code in (200, 302)
                ), (target.name, name, response.status_code)
                code_point = f"U+{ord(next(c for c in value if not c.isprintable())):04X}"
                # the admin shows its form again with the errors (200); elsewhere the
                # verdict carries the errors as the page or the API gave them
                told = response.content.decode() if response.status_code == 200 else verdict.detail
                assert code_point in told, (
                    f"{target.name}.{name}: the refusal does not name {code_point}: {told[:500]}"
                )
                if response.status_code == 400:
                    assert name in verdict.detail, verdict.detail

            _, verdict, cleaned = _try(target, ctx, {**data, name: MULTILINE}, files, name)
            if field.multiline:
                assert verdict.accepted, f"{target.name}.{name}: {verdict.detail}"
                if name in cleaned:
                    assert cleaned[name] == "first line\nsecond\tline"
            else:
                assert not verdict.accepted, f"{target.name}.{name} took a line break"

            _, verdict, cleaned = _try(target, ctx, {**data, name: DECOMPOSED}, files, name)
            assert verdict.accepted, f"{target.name}.{name}: {verdict.detail}"
            if name in cleaned:
                assert cleaned[name] == "Caf\u00e9"
                assert unicodedata.is_normalized("NFC", cleaned[name])
