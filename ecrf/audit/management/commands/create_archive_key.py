"""Write a new Ed25519 private key for signing archives and chain checkpoints."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ecrf.audit.anchor import new_signing_key_pem, public_key_pem


class Command(BaseCommand):
    help = (
        "Write a new Ed25519 private key to PATH (readable by its owner only) for "
        "ARCHIVE_KEY_FILE, and print its public key. An existing file is never replaced."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="Where to write the private key (PEM).")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        if path.exists():
            raise CommandError(f"{path} exists; a signing key is never replaced.")
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = new_signing_key_pem()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, Ed25519PrivateKey)
        self.stdout.write(public_key_pem(key))
