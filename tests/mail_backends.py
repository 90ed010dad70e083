"""E-mail backends for tests whose mail is sent by another process (a Celery worker)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from django.core.mail import EmailMessage
from django.core.mail.backends.filebased import EmailBackend


class SlowFileBackend(EmailBackend):
    """Each message to its own ``.eml`` file in EMAIL_FILE_PATH, after a pause.

    The pause makes a run of several messages last long enough to interrupt it
    between two messages; the file appears whole (written aside, then renamed), so a
    watching test process counts only complete messages.
    """

    delay_seconds = 0.5

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        folder = Path(self.file_path)
        count = 0
        for message in email_messages:
            time.sleep(self.delay_seconds)
            name = f"{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex}.eml"
            partial = folder / f".{name}.part"
            partial.write_bytes(message.message().as_bytes())
            os.replace(partial, folder / name)
            count += 1
        return count
