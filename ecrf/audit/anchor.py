"""Anchors kept outside the database: the installation's signing key and a time-stamping
authority (RFC 3161).

A signature made with the installation's Ed25519 key shows who vouched for a file or a
chain head; a time-stamp token from an independent authority shows that the bytes
existed at that time. Neither can be redone by someone who can rewrite the database:
the private key lives in a file or an environment variable (``ARCHIVE_KEY_FILE`` or
``ARCHIVE_KEY``), never in the database, and the authority signs with its own key.

The token is verified offline, against the authority's root certificate: the digest
it stamps, its nonce when one was asked for, and the authority's signature.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

#: How long the authority has to answer, in seconds.
TSA_TIMEOUT = 20


class TimestampUnavailable(RuntimeError):
    """The time-stamping authority could not be reached or refused the request."""


class AnchorInvalid(ValueError):
    """A signature or a time-stamp token does not hold for the bytes it is said to cover."""


def signing_key() -> Ed25519PrivateKey:
    """The installation's private key: the PEM file ``ARCHIVE_KEY_FILE``, else the PEM
    text of ``ARCHIVE_KEY``."""
    path = settings.ARCHIVE_KEY_FILE or os.environ.get("ARCHIVE_KEY_FILE", "")
    text = settings.ARCHIVE_KEY or os.environ.get("ARCHIVE_KEY", "")
    if path:
        data = Path(path).read_bytes()
    elif text:
        data = text.encode()
    else:
        raise ImproperlyConfigured(
            "No archive signing key: set ARCHIVE_KEY_FILE to a PEM file holding an Ed25519 "
            "private key (python manage.py create_archive_key writes one)."
        )
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured("The archive signing key must be an Ed25519 private key.")
    return key


def new_signing_key_pem() -> bytes:
    """A fresh Ed25519 private key, as PEM (PKCS #8, unencrypted: keep the file private)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_pem(key: Ed25519PrivateKey | None = None) -> str:
    """The public half of the installation's key, as PEM: what a verifier is given."""
    return (
        (key or signing_key())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def installation_key() -> tuple[str, str] | None:
    """The installation's public key (PEM) and its SHA-256 fingerprint, or None when no
    key is set."""
    try:
        pem = public_key_pem()
    except ImproperlyConfigured:
        return None
    return pem, hashlib.sha256(pem.encode()).hexdigest()


def sign(data: bytes, key: Ed25519PrivateKey | None = None) -> bytes:
    """The installation's Ed25519 signature of ``data``."""
    return (key or signing_key()).sign(data)


def verify_signature(public_pem: str | bytes, signature: bytes, data: bytes) -> None:
    """Raise :class:`AnchorInvalid` unless ``signature`` is the key's signature of ``data``."""
    pem = public_pem.encode() if isinstance(public_pem, str) else public_pem
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise AnchorInvalid("the public key is not an Ed25519 key")
    try:
        key.verify(signature, data)
    except InvalidSignature as exc:
        raise AnchorInvalid("the signature does not match the data") from exc


@dataclass(frozen=True)
class Timestamp:
    """A time-stamp token as the authority answered it, and the time it states."""

    response: bytes
    at: dt.datetime


def timestamp(data: bytes, *, url: str | None = None, timeout: float = TSA_TIMEOUT) -> Timestamp:
    """Have the authority at ``url`` (setting ``TSA_URL``) stamp the SHA-256 of ``data``.

    Raises :class:`TimestampUnavailable` when it cannot be reached, answers with an HTTP
    error, or does not grant the stamp.
    """
    target = settings.TSA_URL if url is None else url
    if not target:
        raise TimestampUnavailable("no time-stamping authority is set (TSA_URL)")
    if urllib.parse.urlsplit(target).scheme not in {"http", "https"}:
        raise TimestampUnavailable("TSA_URL must be an http or https address")
    request = (
        TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    nonce = request.nonce
    http = urllib.request.Request(  # noqa: S310  (http or https, checked above)
        target,
        data=request.as_bytes(),
        headers={"Content-Type": "application/timestamp-query"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(http, timeout=timeout) as answer:  # noqa: S310  (see above)
            body = answer.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise TimestampUnavailable(f"the time-stamping authority did not answer: {exc}") from exc
    try:
        response = decode_timestamp_response(body)
    except ValueError as exc:
        raise TimestampUnavailable("the authority's answer is not a time-stamp response") from exc
    if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise TimestampUnavailable(f"the authority refused the stamp (status {response.status})")
    if response.tst_info.nonce != nonce:
        raise TimestampUnavailable("the authority answered with another request's nonce")
    return Timestamp(response=body, at=response.tst_info.gen_time)


def verify_timestamp(response: bytes, data: bytes, *, roots: list[x509.Certificate]) -> dt.datetime:
    """The time a token stamps ``data``, checked against the authority's ``roots``; raise
    :class:`AnchorInvalid` when the token is not the authority's or not of these bytes."""
    try:
        decoded = decode_timestamp_response(response)
        verifier = VerifierBuilder()
        for root in roots:
            verifier = verifier.add_root_certificate(root)
        verifier.build().verify_message(decoded, data)
    except (VerificationError, ValueError) as exc:
        raise AnchorInvalid(f"the time-stamp does not hold: {exc}") from exc
    return decoded.tst_info.gen_time


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
