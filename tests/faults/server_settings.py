"""The test settings with production's database connections, for the app server of a fault test.

``ecrf.settings.test`` closes the connection after each request; production keeps it
for a minute and checks it before reuse (``database_from_url``). A server that must
recover from a database restart by itself is run with production's behaviour.
"""

from __future__ import annotations

from ecrf.settings.base import database_from_url
from ecrf.settings.test import *  # noqa: F403
from ecrf.settings.test import DATABASE_URL

DATABASES = {"default": database_from_url(DATABASE_URL)}
