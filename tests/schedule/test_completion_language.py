"""The completion reason is read in the reader's language, whoever completed her."""

from __future__ import annotations

import pytest
from django.utils import translation

from ecrf.participants.models import StatusChange

from .test_completion import _biochemical, _clinical, _drug_return


def status_history(client, participant) -> str:
    html = client.get(f"/participants/{participant.pk}/").content.decode()
    start = html.index('id="status-history"')
    return html[start : html.index("</table>", start)]


@pytest.mark.django_db
@pytest.mark.requirement("PROT-LANGUAGE", "PROT-COMPLETION")
def test_a_completion_a_japanese_coordinator_caused_reads_in_each_readers_language(
    api_for, coordinator_a, transferred, make_user, client_for
):
    api = api_for(coordinator_a)
    _biochemical(api, transferred)
    _clinical(api, transferred)
    japanese = make_user("coordinator", ["S01"], language="ja")
    with translation.override("ja"):
        _drug_return(transferred, japanese)
    change = StatusChange.objects.get(participant=transferred, to_status="completed")
    assert change.reason_code == "completed"
    assert change.reason.startswith("Completed: ")
    assert "Drug return recorded" in change.reason

    english_reader = client_for(make_user("monitor", ["S01"], language="en"))
    in_english = status_history(english_reader, transferred)
    assert "Completed: " in in_english
    assert "Drug return recorded" in in_english
    assert "返却薬の記録" not in in_english

    japanese_reader = client_for(japanese)
    in_japanese = status_history(japanese_reader, transferred)
    assert "完了: " in in_japanese
    assert "返却薬の記録" in in_japanese
    assert "Drug return recorded" not in in_japanese
