"""Settings of the Celery workers started by test_export_worker.py.

The test settings, with the export files in the test's own folder and a slow stand-in
for the audit-trail CSV writer (:mod:`tests.exports.slow_worker`), so that a worker can
be killed in the middle of an export.
"""

from __future__ import annotations

import os
from pathlib import Path

from ecrf.settings.test import *  # noqa: F403

MEDIA_ROOT = Path(os.environ["EXPORT_TEST_MEDIA_ROOT"])
CELERY_INCLUDE = ["tests.exports.slow_worker"]
