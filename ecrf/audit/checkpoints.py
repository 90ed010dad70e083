"""Checkpoints of the hash chain, anchored outside the database.

The chain shows an event edited, deleted or slipped in. Someone able to rewrite the
events, the links and the shapes together could build a new chain that checks out; a
checkpoint stops that. Each one states a head of the chain (its link and digest) and the
time, signed by the installation's Ed25519 key, which is not in the database, and
stamped by an RFC 3161 time-stamping authority. A rewrite changes the digests, so a
checkpoint's link no longer holds its digest, and a new statement cannot be signed
without the key nor stamped at the old time.

Checkpoints are taken on a schedule (beat, ``CHECKPOINT_INTERVAL_MINUTES``), after every
export and every lock; the authority is asked from a task, never from a request, so an
authority that is down delays the stamp, not data entry. Beat asks again, and after
``TSA_ALARM_HOURS`` without a stamp the administrators are told. The checkpoints are
downloaded as a small JSON document that the sponsor keeps elsewhere;
``verify_audit_trail`` checks the chain against the database's checkpoints and against
such a document.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import anchor
from .chain import GENESIS
from .models import (
    ChainCheckpoint,
    ChainLink,
    CheckpointAttempt,
    CheckpointReason,
    CheckpointStamp,
)

logger = logging.getLogger(__name__)

#: What the downloaded document says it is.
DOCUMENT_FORMAT = "ecrf-audit-checkpoints/1"


def _statement(seq: int, digest: str, taken_at: dt.datetime) -> str:
    return json.dumps(
        {
            "format": DOCUMENT_FORMAT,
            "link": seq,
            "digest": digest,
            "taken_at": taken_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def checkpoint_take(*, reason: str = CheckpointReason.SCHEDULED) -> ChainCheckpoint:
    """Sign the chain's head as it is now (the last checkpoint, when the head has not
    moved since). Raises ``ImproperlyConfigured`` without the installation's key."""
    key = anchor.signing_key()
    with transaction.atomic():
        head = ChainLink.objects.order_by("-seq").values_list("seq", "digest").first()
        seq, digest = head if head else (0, GENESIS)
        last = ChainCheckpoint.objects.order_by("-taken_at", "-pk").first()
        if last is not None and (last.seq, last.digest) == (seq, digest):
            return last
        taken_at = timezone.now().replace(microsecond=0)
        statement = _statement(seq, digest, taken_at)
        return ChainCheckpoint.objects.create(
            seq=seq,
            digest=digest,
            taken_at=taken_at,
            reason=reason,
            statement=statement,
            signature=base64.b64encode(anchor.sign(statement.encode(), key)).decode(),
            public_key=anchor.public_key_pem(key),
        )


@dataclass(frozen=True)
class StampRound:
    """What one round of stamping did: stamped, failed, and the checkpoints still
    unstamped past the alarm delay that no alarm was raised for yet."""

    stamped: int
    failed: int
    overdue: tuple[ChainCheckpoint, ...]


def checkpoints_stamp_pending(*, now: dt.datetime | None = None) -> StampRound:
    """Ask the authority to stamp every checkpoint not yet stamped, oldest first; stop at
    the first refusal (the authority is down), recording it."""
    now = now or timezone.now()
    stamped = failed = 0
    for checkpoint in ChainCheckpoint.objects.filter(stamp__isnull=True).order_by("taken_at"):
        try:
            stamp = anchor.timestamp(checkpoint.statement.encode())
        except anchor.TimestampUnavailable as exc:
            CheckpointAttempt.objects.create(checkpoint=checkpoint, error=str(exc)[:2000])
            logger.warning("checkpoint %s not stamped: %s", checkpoint.pk, exc)
            failed += 1
            break
        CheckpointStamp.objects.create(
            checkpoint=checkpoint, token=stamp.response, stamped_at=stamp.at
        )
        stamped += 1
    limit = now - dt.timedelta(hours=settings.TSA_ALARM_HOURS)
    overdue = tuple(
        ChainCheckpoint.objects.filter(stamp__isnull=True, taken_at__lt=limit)
        .exclude(attempts__alarm_sent=True)
        .order_by("taken_at")
    )
    return StampRound(stamped, failed, overdue)


def checkpoints_alarm_recorded(checkpoints: Iterable[ChainCheckpoint], message: str) -> None:
    """Record that the administrators were told these checkpoints are not stamped."""
    CheckpointAttempt.objects.bulk_create(
        CheckpointAttempt(checkpoint=c, error=message[:2000], alarm_sent=True) for c in checkpoints
    )


def _record(checkpoint: ChainCheckpoint) -> dict[str, Any]:
    stamp = getattr(checkpoint, "stamp", None)
    return {
        "link": checkpoint.seq,
        "digest": checkpoint.digest,
        "taken_at": checkpoint.taken_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "reason": checkpoint.reason,
        "statement": checkpoint.statement,
        "signature": checkpoint.signature,
        "public_key": checkpoint.public_key,
        "timestamp_token": base64.b64encode(bytes(stamp.token)).decode() if stamp else None,
        "stamped_at": stamp.stamped_at.astimezone(dt.UTC).isoformat() if stamp else None,
    }


def checkpoints_document() -> dict[str, Any]:
    """Every checkpoint, for the sponsor to keep outside this installation."""
    checkpoints = ChainCheckpoint.objects.select_related("stamp").order_by("taken_at", "pk")
    return {
        "format": DOCUMENT_FORMAT,
        "made_at": timezone.now().astimezone(dt.UTC).isoformat(timespec="seconds"),
        "checkpoints": [_record(c) for c in checkpoints],
    }


@dataclass(frozen=True)
class CheckpointProblem:
    """A checkpoint that does not hold, and why, in words an auditor acts on."""

    link: int
    taken_at: str
    problem: str

    def __str__(self) -> str:
        return f"checkpoint of link {self.link} taken {self.taken_at}: {self.problem}"


def tsa_roots() -> list[x509.Certificate]:
    """The authority's root certificates (PEM file ``TSA_ROOT_CERTS``), if set."""
    path = settings.TSA_ROOT_CERTS
    if not path:
        return []
    return x509.load_pem_x509_certificates(Path(path).read_bytes())


def checkpoints_verify(
    records: Iterable[dict[str, Any]],
    *,
    public_key: str | None = None,
    roots: list[x509.Certificate] | None = None,
) -> list[CheckpointProblem]:
    """Every checkpoint record that does not hold: a signature that is not the
    installation's (``public_key``) or not of its statement, a statement that says
    another head, a stamp that is not the authority's (``roots``) or not of the
    statement, and a head the chain no longer holds at its link."""
    records = list(records)
    problems: list[CheckpointProblem] = []
    roots = tsa_roots() if roots is None else roots
    digests = dict(
        ChainLink.objects.filter(seq__in=[r["link"] for r in records]).values_list("seq", "digest")
    )
    for record in records:

        def problem(text: str, record: dict[str, Any] = record) -> None:
            problems.append(CheckpointProblem(record["link"], record["taken_at"], text))

        statement = str(record["statement"]).encode()
        if public_key is not None and record["public_key"].strip() != public_key.strip():
            problem("signed by a key that is not this installation's")
            continue
        try:
            anchor.verify_signature(
                record["public_key"], base64.b64decode(record["signature"]), statement
            )
        except (anchor.AnchorInvalid, ValueError):
            problem("its signature does not hold (the checkpoint was forged or edited)")
            continue
        said = json.loads(statement)
        if (said.get("link"), said.get("digest")) != (record["link"], record["digest"]):
            problem("its statement names another head than the checkpoint")
            continue
        if record.get("timestamp_token") and roots:
            try:
                anchor.verify_timestamp(
                    base64.b64decode(record["timestamp_token"]), statement, roots=roots
                )
            except (anchor.AnchorInvalid, ValueError):
                problem("its time stamp is not the authority's stamp of the statement")
                continue
        if record["link"] == 0 and record["digest"] == GENESIS:
            continue
        if digests.get(record["link"]) != record["digest"]:
            problem(
                "the chain no longer holds this head at its link: the trail was rewritten "
                "or cut after the checkpoint"
            )
    return problems


def database_checkpoints() -> list[dict[str, Any]]:
    return checkpoints_document()["checkpoints"]


def checkpoint_request(reason: str) -> None:
    """Have a worker checkpoint the chain once the current transaction commits (after
    an export or a lock); a broker that is down does not fail the caller."""

    def queue() -> None:
        from .tasks import audit_checkpoint_after  # noqa: PLC0415  (a service queues its task)

        audit_checkpoint_after.delay(reason)

    transaction.on_commit(queue, robust=True)
