"""The load test: locust against gunicorn and a Celery worker (``make load``)."""
