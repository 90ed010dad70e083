"""Anchors outside the database: the installation's Ed25519 signature and a real RFC 3161
time-stamping authority on the loopback (OpenSSL's ``ts -reply``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from ecrf.audit import anchor
from tests.tsa import LoopbackTSA

MANIFEST = (
    b'{"files": {"a.csv": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}}'
)


@pytest.fixture
def key_file(tmp_path: Path, settings) -> Path:
    path = tmp_path / "archive.pem"
    path.write_bytes(anchor.new_signing_key_pem())
    settings.ARCHIVE_KEY_FILE = str(path)
    settings.ARCHIVE_KEY = ""
    return path


@pytest.fixture(scope="module")
def tsa() -> Iterator[LoopbackTSA]:
    with LoopbackTSA() as authority:
        yield authority


def test_a_signature_holds_for_its_bytes_and_for_nothing_else(key_file):
    signature = anchor.sign(MANIFEST)
    public = anchor.public_key_pem()
    anchor.verify_signature(public, signature, MANIFEST)
    with pytest.raises(anchor.AnchorInvalid):
        anchor.verify_signature(public, signature, MANIFEST.replace(b"9f", b"8f"))
    forged = bytes([signature[0] ^ 1]) + signature[1:]
    with pytest.raises(anchor.AnchorInvalid):
        anchor.verify_signature(public, forged, MANIFEST)
    other = anchor.public_key_pem(Ed25519PrivateKey.generate())
    with pytest.raises(anchor.AnchorInvalid):
        anchor.verify_signature(other, signature, MANIFEST)


def test_without_a_key_the_setting_to_give_is_named(settings, monkeypatch):
    settings.ARCHIVE_KEY_FILE = ""
    settings.ARCHIVE_KEY = ""
    monkeypatch.delenv("ARCHIVE_KEY_FILE", raising=False)
    monkeypatch.delenv("ARCHIVE_KEY", raising=False)
    with pytest.raises(ImproperlyConfigured, match="ARCHIVE_KEY_FILE"):
        anchor.signing_key()


def test_the_key_may_come_from_the_environment_as_pem_text(settings, monkeypatch):
    settings.ARCHIVE_KEY_FILE = ""
    settings.ARCHIVE_KEY = ""
    monkeypatch.delenv("ARCHIVE_KEY_FILE", raising=False)
    monkeypatch.setenv("ARCHIVE_KEY", anchor.new_signing_key_pem().decode())
    anchor.verify_signature(anchor.public_key_pem(), anchor.sign(b"x"), b"x")


def test_the_command_writes_a_private_key_only_its_owner_reads(tmp_path, settings):
    path = tmp_path / "keys" / "archive.pem"
    call_command("create_archive_key", str(path))
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    settings.ARCHIVE_KEY_FILE = str(path)
    anchor.verify_signature(anchor.public_key_pem(), anchor.sign(b"x"), b"x")
    with pytest.raises(Exception, match="exists"):
        call_command("create_archive_key", str(path))


def test_the_authority_stamps_the_bytes_and_the_token_verifies_offline(tsa):
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    stamp = anchor.timestamp(MANIFEST, url=tsa.url)
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    assert before <= stamp.at <= after
    assert anchor.verify_timestamp(stamp.response, MANIFEST, roots=[tsa.root]) == stamp.at


def test_a_token_of_other_bytes_or_another_authority_or_altered_is_refused(tsa):
    stamp = anchor.timestamp(MANIFEST, url=tsa.url)
    with pytest.raises(anchor.AnchorInvalid):
        anchor.verify_timestamp(stamp.response, MANIFEST + b" ", roots=[tsa.root])
    with LoopbackTSA() as stranger, pytest.raises(anchor.AnchorInvalid):
        anchor.verify_timestamp(stamp.response, MANIFEST, roots=[stranger.root])
    altered = bytearray(stamp.response)
    altered[-10] ^= 0xFF
    with pytest.raises(anchor.AnchorInvalid):
        anchor.verify_timestamp(bytes(altered), MANIFEST, roots=[tsa.root])


def test_an_authority_that_is_down_is_reported_not_raised_as_a_crash():
    with LoopbackTSA() as authority:
        url = authority.url
        authority.stop()
        with pytest.raises(anchor.TimestampUnavailable, match="did not answer"):
            anchor.timestamp(MANIFEST, url=url, timeout=2)
    with pytest.raises(anchor.TimestampUnavailable, match="TSA_URL"):
        anchor.timestamp(MANIFEST, url="")
