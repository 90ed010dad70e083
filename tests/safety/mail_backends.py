"""A mail backend slow enough to kill a worker while it is sending."""

from __future__ import annotations

import os

from tests.mail_backends import SlowFileBackend


class VerySlowFileBackend(SlowFileBackend):
    """As :class:`SlowFileBackend`, pausing ``SLOW_MAIL_SECONDS`` (default 4) per message."""

    delay_seconds = float(os.environ.get("SLOW_MAIL_SECONDS", "4"))
