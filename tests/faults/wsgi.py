"""The app's WSGI application with its URLconf (every view) imported before gunicorn forks.

Each worker of the fault tests' server then answers its first request at once, instead
of importing the whole app again under the test's deadline.
"""

from __future__ import annotations

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018  (imports every view module)
