"""Randomization lists: generated or imported, activated, extended, never edited, concealed."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from pghistory.models import Events

from ecrf.common.exceptions import StateConflict
from randomization import blocks
from randomization.models import ListStatus, RandomizationList, Slot
from randomization.services import list_activate, list_extend, list_generate

pytestmark = pytest.mark.django_db


@pytest.mark.requirement("PROT-RAND-SEED", "PROT-RAND-STRATA", "API-CMD-SETUP-TRIAL")
def test_setup_trial_gives_each_site_an_active_list_with_a_recorded_seed(study):
    active = RandomizationList.objects.filter(status=ListStatus.ACTIVE).order_by("site__code")
    assert [lst.site.code for lst in active] == ["S01", "S02"]
    for randomization_list in active:
        assert len(randomization_list.seeds) == 1
        arms = [s.arm.code for s in randomization_list.slots.order_by("sequence")]
        regenerated = blocks.generate_list(
            seed=randomization_list.seeds[0], length=60, ratio=(2, 1), block_sizes=(3, 6)
        )
        assert arms == [s.arm for s in regenerated]


@pytest.mark.requirement("PROT-RAND-SEED", "PROT-RAND-BLOCKS")
def test_statistician_generates_activates_and_extends_in_the_ui(
    client_for, make_user, study, site_a
):
    client = client_for(make_user("statistician"))
    RandomizationList.objects.filter(site=site_a).update(status=ListStatus.RETIRED)
    response = client.post(
        "/randomization/generate/", {"site": site_a.pk, "length": "10", "block_sizes": "3,6"}
    )
    assert response.status_code == 302
    draft = RandomizationList.objects.get(site=site_a, status=ListStatus.DRAFT)
    assert draft.version == 2 and draft.slots.count() >= 10
    client.post(f"/randomization/{draft.pk}/activate/")
    draft.refresh_from_db()
    assert draft.status == ListStatus.ACTIVE
    before = list(draft.slots.order_by("sequence").values_list("sequence", "block", "arm__code"))
    client.post(f"/randomization/{draft.pk}/extend/", {"length": "6"})
    after = list(draft.slots.order_by("sequence").values_list("sequence", "block", "arm__code"))
    assert after[: len(before)] == before
    assert [s for s, _, _ in after] == list(range(1, len(after) + 1))
    draft.refresh_from_db()
    assert len(draft.seeds) == 2


@pytest.mark.requirement("PROT-RAND-STRATA")
def test_a_second_active_list_for_a_site_is_refused(study, site_a, make_user):
    statistician = make_user("statistician")
    draft = list_generate(study=study, site=site_a, length=3, performed_by=statistician)
    with pytest.raises(StateConflict, match="already has an active list"):
        list_activate(randomization_list=draft, performed_by=statistician)


@pytest.mark.requirement("PROT-RAND-SEED", "ICH-E6R3-4-SAFEGUARD-RANDOMISATION")
def test_extension_never_changes_allocated_slots(study, site_a, make_user, ready_participant):
    from randomization.services import participant_randomize

    coordinator = make_user("coordinator", ["S01"])
    participant = ready_participant(coordinator=coordinator)
    allocation = participant_randomize(
        participant=participant, idempotency_key="x", performed_by=coordinator
    )
    active = RandomizationList.objects.get(site=site_a, status=ListStatus.ACTIVE)
    list_extend(randomization_list=active, length=30, performed_by=make_user("statistician"))
    slot = Slot.objects.get(participant=participant)
    assert (slot.sequence, slot.arm.code) == (1, allocation.arm)


@pytest.mark.requirement("PROT-RAND-IMPORT", "PROT-RAND-RATIO", "ICH-E6R3-4.2.5-TRANSFER")
def test_import_refuses_a_three_to_zero_block_with_the_line_number(
    client_for, make_user, study, site_a
):
    client = client_for(make_user("statistician"))
    table = "sequence,block,block_size,arm\n1,1,3,low\n2,1,3,low\n3,1,3,low\n"
    upload = io.BytesIO(table.encode())
    upload.name = "table.csv"
    response = client.post("/randomization/import/", {"site": site_a.pk, "file": upload})
    assert response.status_code == 400
    html = response.content.decode()
    assert "line 4" in html and "2:1" in html
    assert not RandomizationList.objects.filter(source="imported").exists()


@pytest.mark.requirement("PROT-RAND-IMPORT", "ICH-E6R3-4.2.5-TRANSFER")
def test_import_accepts_a_valid_table(client_for, make_user, study, site_a):
    client = client_for(make_user("statistician"))
    table = blocks.to_csv(blocks.generate_list(seed=7, length=9))
    upload = io.BytesIO(table.encode())
    upload.name = "table.csv"
    response = client.post("/randomization/import/", {"site": site_a.pk, "file": upload})
    assert response.status_code == 302
    imported = RandomizationList.objects.get(source="imported")
    assert imported.status == ListStatus.DRAFT
    assert imported.slots.count() == len(blocks.generate_list(seed=7, length=9))


@pytest.mark.requirement("PROT-RAND-IMPORT")
def test_export_gives_the_list_as_csv(client_for, make_user, study, site_a):
    active = RandomizationList.objects.get(site=site_a, status=ListStatus.ACTIVE)
    response = client_for(make_user("admin")).get(f"/randomization/{active.pk}/export.csv")
    assert response["Content-Type"].startswith("text/csv")
    slots = blocks.parse_allocation_csv(
        response.content.decode(), ratio=(2, 1), arms=("low", "high")
    )
    assert len(slots) == active.slots.count()


@pytest.mark.requirement(
    "PROT-RAND-CONCEAL", "CFR11-10G-AUTHORITY", "ICH-E6R3-4-SAFEGUARD-RANDOMISATION"
)
@pytest.mark.parametrize("role", ["coordinator", "investigator", "monitor", "data_manager"])
def test_only_statisticians_and_admins_see_lists(role, client_for, make_user, study, site_a):
    client = client_for(make_user(role))
    active = RandomizationList.objects.get(site=site_a, status=ListStatus.ACTIVE)
    assert client.get("/randomization/").status_code == 403
    assert client.get(f"/randomization/{active.pk}/").status_code == 404
    assert client.get(f"/randomization/{active.pk}/export.csv").status_code == 404
    assert client.post("/randomization/generate/", {"length": "3"}).status_code == 403


@pytest.mark.requirement("CFR11-10E-CAPTURE", "ICH-E6R3-4-SAFEGUARD-RANDOMISATION")
def test_list_changes_are_audited(study, site_a, make_user):
    statistician = make_user("statistician")
    draft = list_generate(
        study=study,
        site=None if not study.stratify_by_site else site_a,
        length=3,
        performed_by=statistician,
    )
    event = Events.objects.tracks(draft).get()
    assert event.pgh_context["username"] == statistician.username


@pytest.mark.requirement("PROT-RAND-SEED")
def test_randomization_list_command_prints_a_reproducible_csv():
    first, second = io.StringIO(), io.StringIO()
    call_command("randomization_list", "--seed", "42", "--length", "12", stdout=first)
    call_command(
        "randomization_list",
        "--seed",
        "42",
        "--length",
        "12",
        "--ratio",
        "2:1",
        "--block-sizes",
        "3,6",
        stdout=second,
    )
    assert first.getvalue() == second.getvalue()
    lines = first.getvalue().splitlines()
    assert lines[0] == "sequence,block,block_size,arm"
    assert len(lines) - 1 >= 12
    assert not RandomizationList.objects.exists()


@pytest.mark.requirement("PROT-RAND-RATIO")
def test_randomization_list_command_refuses_a_bad_ratio():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="ratio"):
        call_command("randomization_list", "--seed", "1", "--length", "3", "--ratio", "3:0")
