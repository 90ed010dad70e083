"""Script payloads in the reasons and notes, read in a real browser: no dialog fires.

``tests/hostile/test_xss_sweep.py`` sends a payload to every free-text input and reads
the HTML of every page; here the inputs the issue found missing from the earlier sweep
(the unblinding reason, the consent, screening and lab correction reasons, the note
closing a query) and the withdrawal reason are entered through their pages, and
Chromium opens the pages that show them most: her page, her audit trail, the query list,
the participant list and the home page. A script that ran would open an alert.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog

from ecrf.participants.models import Participant
from tests.hostile.conftest import Scene
from tests.hostile.engine import clocked
from tests.hostile.targets import TARGETS
from tests.hostile.test_xss_sweep import _data, _meaningful, _send, participant_of, payload, tag_of

from .test_pages import signed_in_context

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.requirement("ICH-E6R3-4.3.3-HOSTILE"),
]

#: (target, field, whether a first save comes before: the payload is then a correction)
ENTRIES = [
    ("unblind", "reason", False),
    ("consent", "reason", True),
    ("screening_correction", "reason", False),
    ("lab_result", "reason", True),
    ("query_close", "text", False),
    ("withdraw", "reason", False),
]


def _enter(scene: Scene) -> tuple[set[Participant], set[str]]:
    by_name = {t.name: t for t in TARGETS}
    participants: set[Participant] = set()
    tags: set[str] = set()
    for name, field, again in ENTRIES:
        target = by_name[name]
        with clocked(target):
            ctx = target.setup(scene)
            if again:
                accepted, detail = _send(target, ctx, {})
                assert accepted, f"{name}: {detail}"
            data, _files = _data(target, ctx)
            tag = tag_of(target, field)
            values = {**_meaningful(target, field)(ctx, data), field: payload(tag)}
            accepted, detail = _send(target, ctx, values)
            assert accepted, f"{name}.{field}: {detail}"
            owner = participant_of(target.stored(ctx) if target.stored else None, ctx)
        assert owner is not None, name
        participants.add(owner)
        tags.add(tag)
    return participants, tags


def test_no_script_payload_runs_on_the_pages_that_show_reasons_and_notes(
    request: pytest.FixtureRequest, study: Any, browser: Browser, live_server: Any
) -> None:
    scene = Scene(request)
    participants, tags = _enter(scene)
    reader = scene.user("data_manager")
    paths = ["/", "/participants/", "/queries/"]
    for participant in sorted(participants, key=lambda p: p.pk):
        paths += [f"/participants/{participant.pk}/", f"/participants/{participant.pk}/history/"]
    dialogs: list[str] = []
    shown: set[str] = set()
    with signed_in_context(browser, live_server.url, reader) as context:
        page = context.new_page()

        def dismiss(dialog: Dialog) -> None:
            dialogs.append(f"{page.url}: {dialog.type} {dialog.message}")
            dialog.dismiss()

        page.on("dialog", dismiss)
        for path in paths:
            response = page.goto(f"{live_server.url}{path}")
            assert response is not None and response.status == 200, path
            page.wait_for_load_state("load")
            html = page.content()
            shown |= {tag for tag in tags if tag in html}
    assert dialogs == []
    assert sorted(tags - shown) == [], "payloads no page showed: the test proves nothing"
