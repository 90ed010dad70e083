"""Checkpoints of the chain, signed and time-stamped outside the database: a rewrite of
the whole trail (events, links and shapes together) passes the chain's own check, and
the checkpoints catch it."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives import serialization
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from ecrf.audit import anchor
from ecrf.audit.chain import chain_verify
from ecrf.audit.checkpoints import (
    checkpoint_take,
    checkpoints_document,
    checkpoints_stamp_pending,
    checkpoints_verify,
)
from ecrf.audit.models import ChainCheckpoint, ChainLink, CheckpointAttempt
from ecrf.exports.services import export_request, export_run
from ecrf.home.tasks import audit_checkpoint_scheduled
from ecrf.participants.services import participant_update_screening
from ecrf.quality.services import lock_set
from tests.tsa import LoopbackTSA

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_checkpoint_signs_the_head_once_until_it_moves(anchored, participant_a, coordinator_a):
    first = checkpoint_take()
    head = ChainLink.objects.order_by("-seq").first()
    assert (first.seq, first.digest) == (head.seq, head.digest)
    assert checkpoint_take() == first
    anchor.verify_signature(
        first.public_key, base64.b64decode(first.signature), first.statement.encode()
    )
    assert json.loads(first.statement)["digest"] == head.digest

    participant_update_screening(
        participant=participant_a,
        screening_date=participant_a.screening_date,
        birth_date=participant_a.birth_date - dt.timedelta(days=1),
        reason="Typo in the year of birth",
        performed_by=coordinator_a,
    )
    second = checkpoint_take()
    assert second.pk != first.pk and second.seq > first.seq


def test_the_authority_stamps_it_and_every_checkpoint_holds(anchored, participant_a):
    checkpoint_take()
    stamps = checkpoints_stamp_pending()
    assert (stamps.stamped, stamps.failed) == (1, 0)
    records = checkpoints_document()["checkpoints"]
    assert records[0]["timestamp_token"] and records[0]["stamped_at"]
    assert checkpoints_verify(records, roots=[anchored.root]) == []
    call_command("verify_audit_trail")


def rewrite_the_last_event_and_its_link() -> None:
    """What a superuser could do: edit the last event with the triggers off, then
    recompute its link so that the chain checks out again, and drop the earlier
    verifications that recorded the old head."""
    last = ChainLink.objects.order_by("-seq").first()
    table = connection.ops.quote_name(last.event_table)
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(
                f"UPDATE {table} SET pgh_label = pgh_label || ' ' WHERE pgh_id = %s",  # noqa: S608
                [last.event_id],
            )
            cursor.execute("SET LOCAL timezone = 'UTC'; SET LOCAL extra_float_digits = 1;")
            cursor.execute(
                f"""
                UPDATE audit_chain_link l SET digest = encode(sha256(convert_to(
                    l.prev_digest || '|' || l.event_table || '|' || ecrf_audit_event_content(
                        (SELECT to_jsonb(e) FROM {table} e WHERE e.pgh_id = l.event_id),
                        (SELECT s.columns FROM audit_chain_shape s
                          WHERE s.event_table = l.event_table AND s.from_seq <= l.seq
                          ORDER BY s.from_seq DESC LIMIT 1)),
                    'UTF8')), 'hex')
                 WHERE l.seq = %s
                """,  # noqa: S608
                [last.seq],
            )
            cursor.execute("DELETE FROM audit_chain_verification")
        finally:
            cursor.execute("SET session_replication_role = origin")


def test_a_whole_rewrite_passes_the_chain_but_not_its_checkpoints(
    anchored, participant_a, tmp_path
):
    checkpoint_take()
    checkpoints_stamp_pending()
    kept = tmp_path / "checkpoints.json"
    kept.write_text(json.dumps(checkpoints_document()))

    rewrite_the_last_event_and_its_link()

    assert chain_verify(checked_by="test").intact, "the rewrite was consistent"
    problems = checkpoints_verify(json.loads(kept.read_text())["checkpoints"])
    assert len(problems) == 1
    assert "no longer holds this head" in str(problems[0])
    with pytest.raises(CommandError, match="checkpoint"):
        call_command("verify_audit_trail", "--checkpoints", str(kept))


def test_a_forged_signature_or_stamp_is_refused(anchored, participant_a):
    checkpoint_take()
    checkpoints_stamp_pending()
    [record] = checkpoints_document()["checkpoints"]
    other_key = anchor.new_signing_key_pem()
    forged = dict(record)
    forged["signature"] = base64.b64encode(
        serialization.load_pem_private_key(other_key, None).sign(record["statement"].encode())
    ).decode()
    assert "signature does not hold" in str(checkpoints_verify([forged])[0])
    foreign = dict(record)
    foreign["public_key"] = anchor.public_key_pem(
        serialization.load_pem_private_key(other_key, None)
    )
    assert "not this installation's" in str(
        checkpoints_verify([foreign], public_key=record["public_key"])[0]
    )
    with LoopbackTSA() as stranger:
        stranger_stamp = anchor.timestamp(record["statement"].encode(), url=stranger.url)
    restamped = dict(record)
    restamped["timestamp_token"] = base64.b64encode(stranger_stamp.response).decode()
    assert "time stamp" in str(checkpoints_verify([restamped], roots=[anchored.root])[0])


def test_an_authority_that_is_down_delays_the_stamp_then_raises_one_alarm(
    anchored, participant_a, settings, make_user
):
    admin = make_user("admin", username="ada", email="ada@example.org")
    settings.TSA_URL = "http://127.0.0.1:9/tsa"
    checkpoint_take()
    assert audit_checkpoint_scheduled()["failed"] == 1
    assert CheckpointAttempt.objects.filter(alarm_sent=False).count() == 1
    assert mail.outbox == []

    later = timezone.now() + dt.timedelta(hours=settings.TSA_ALARM_HOURS + 1)
    assert checkpoints_stamp_pending(now=later).overdue
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: later)
        assert audit_checkpoint_scheduled()["overdue"] == 1
        assert audit_checkpoint_scheduled()["overdue"] == 0
    assert [m.to for m in mail.outbox] == [[admin.email]]
    assert "time-stamping authority" in mail.outbox[0].subject

    settings.TSA_URL = anchored.url
    assert audit_checkpoint_scheduled()["stamped"] == 1


def test_an_export_and_a_lock_are_each_checkpointed(
    anchored, participant_a, make_user, celery_eager, django_capture_on_commit_callbacks, study
):
    data_manager = make_user("data_manager", username="dm_cp")
    with django_capture_on_commit_callbacks(execute=True):
        job = export_request(performed_by=data_manager, kind="audit_trail", format="csv")
    export_run(job_id=job.pk)
    assert ChainCheckpoint.objects.filter(reason="export").count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        lock_set(
            study=study, participant=participant_a, reason="Monitored", performed_by=data_manager
        )
    lock = ChainCheckpoint.objects.get(reason="lock")
    assert lock.seq == ChainLink.objects.order_by("-seq").first().seq
    assert hasattr(lock, "stamp")


def test_data_managers_download_the_checkpoints_others_may_not(
    anchored, participant_a, client_for, make_user, coordinator_a
):
    checkpoint_take()
    response = client_for(make_user("data_manager", username="dm_dl")).get(
        "/audit/checkpoints.json"
    )
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    document = json.loads(response.content)
    assert document["checkpoints"][0]["digest"] == ChainCheckpoint.objects.get().digest
    assert client_for(coordinator_a).get("/audit/checkpoints.json").status_code == 403


def test_without_a_key_the_scheduled_checkpoint_tells_the_administrators(
    settings, make_user, monkeypatch
):
    admin = make_user("admin", username="adb", email="adb@example.org")
    settings.ARCHIVE_KEY_FILE = ""
    settings.ARCHIVE_KEY = ""
    monkeypatch.delenv("ARCHIVE_KEY_FILE", raising=False)
    monkeypatch.delenv("ARCHIVE_KEY", raising=False)
    assert audit_checkpoint_scheduled() == {"stamped": 0, "failed": 0, "overdue": 0}
    assert [m.to for m in mail.outbox] == [[admin.email]]
    assert "ARCHIVE_KEY_FILE" in mail.outbox[0].body


def test_the_review_page_shows_the_installations_public_key_to_whoever_downloads(
    anchored, client_for, make_user
):
    page = client_for(make_user("admin", username="adk")).get("/audit/").content.decode()
    pem = anchor.public_key_pem()
    assert pem.splitlines()[1] in page
    assert anchor.installation_key()[1] in page
    monitor = make_user("monitor", ["S01"], username="mok")
    assert 'id="installation-key"' not in client_for(monitor).get("/audit/").content.decode()


def test_a_checkpoint_signed_by_another_key_fails_the_command_without_being_told_the_key(
    anchored, participant_a
):
    """Whoever rewrote the trail could add checkpoints of her own; she cannot sign with
    the installation's key, which the command pins by default."""
    checkpoint_take()
    forger = serialization.load_pem_private_key(anchor.new_signing_key_pem(), None)
    real = ChainCheckpoint.objects.get()
    ChainCheckpoint.objects.create(
        seq=real.seq,
        digest=real.digest,
        taken_at=real.taken_at,
        reason=real.reason,
        statement=real.statement,
        signature=base64.b64encode(forger.sign(real.statement.encode())).decode(),
        public_key=anchor.public_key_pem(forger),
    )
    with pytest.raises(CommandError, match="not this installation's"):
        call_command("verify_audit_trail")
