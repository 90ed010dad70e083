"""The test settings with the peer comparison's models and django-simple-history."""

from ecrf.settings.test import *  # noqa: F403
from ecrf.settings.test import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "simple_history", "peers"]
