"""Settings of the load test: ``make run``'s settings without debug, plus the bare view.

Two-factor authentication is relaxed by the load test's study setting (allowed here as
for the demo installation); production settings refuse that relaxation.
"""

from __future__ import annotations

import os
from pathlib import Path

from ecrf.settings.local import *  # noqa: F403
from ecrf.settings.local import BASE_DIR

DEBUG = False
ROOT_URLCONF = "loadtest.urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
MEDIA_ROOT = Path(os.environ.get("LOADTEST_MEDIA_ROOT") or BASE_DIR / "var" / "loadtest" / "media")
