"""Hypothesis over every form and every input serializer, through the real pages and API.

No generated case answers 5xx; a refusal names the field and writes nothing (not even
an audit event); an acceptance stores what normal cleaning made of the input.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from .conftest import GENERATED, hostile_settings
from .engine import (
    Case,
    Target,
    cases,
    clocked,
    extras_state,
    judge,
    rolled_back,
    row_counts,
    submit,
)
from .targets import TARGETS

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.requirement("ICH-E6R3-4.3.3-HOSTILE", "CFR11-10A-INVALID", "API-CONV-400-FIELDS"),
]

#: targets whose valid baseline is refused by design (a wrong one-time code)
BASELINE_REFUSED = {"mfa_verify"}


def _baseline_case(target: Target, baseline: dict) -> Case:
    data = dict(baseline)
    files = {k: data.pop(k) for k, v in baseline.items() if isinstance(v, bytes)}
    return Case(data=data, files=files)


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_hostile_input_is_refused_cleanly_or_stored_as_cleaned(target: Target, scene) -> None:
    with clocked(target):
        ctx = target.setup(scene)
        fields = target.fields(ctx)
        baseline = target.baseline(ctx)

        with rolled_back(ctx.client):
            before = row_counts()
            case = _baseline_case(target, baseline)
            response = submit(target, ctx, case)
            verdict = judge(target, ctx, case, response, before, fields, {})
            if not target.saves:
                assert response.status_code == 200, verdict.detail
            else:
                expected = target.name not in BASELINE_REFUSED
                assert verdict.accepted is expected, verdict.detail

        # Every case starts from this state: the one before rolls back all it wrote.
        before = row_counts()
        extras_before = extras_state(target, ctx)

        @hostile_settings(target.weight)
        @given(case=cases(target, fields, baseline))
        def run(case: Case) -> None:
            GENERATED["API bodies" if target.api else "form posts"] += 1
            with rolled_back(ctx.client):
                response = submit(target, ctx, case)
                judge(target, ctx, case, response, before, fields, extras_before)

        run()
