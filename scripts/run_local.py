"""``make run``: the app, a Celery worker and beat, on the embedded PostgreSQL.

Starts (or joins) the embedded server under ``var/pgdata``, migrates, sets up the
tacrolimus study with demo sites and users, then serves http://127.0.0.1:$PORT
beside a real worker and beat whose broker is the same PostgreSQL (kombu's
SQLAlchemy transport), so nothing else has to be installed. Ctrl-C stops every
process and then the database; the data stays for the next run. With
DATABASE_URL and CELERY_BROKER_URL set, those servers are used instead.

Migrations and the set-up run as the database's owner (the embedded server's
superuser, or the user of DATABASE_URL). The web server, the worker and beat connect
as the app's role (``ECRF_APP_ROLE``, default ``ecrf_app``), which owns nothing and may
only add to the audit trail: ``create_app_role`` grants it after every migrate, with a
new random password each run. The web server is gunicorn with a fixed number of sync
workers (``WEB_CONCURRENCY``, default 3), each holding at most one database connection,
so a burst of requests queues for a worker instead of opening a connection each.
``ECRF_VAR_DIR`` (default ``var/``) holds the embedded database, beat's schedule and the
installation's signing key (``archive-key.pem``, made on the first run unless
``ARCHIVE_KEY_FILE`` names one).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

#: The sync workers of gunicorn: each serves one request at a time on one connection.
WEB_WORKERS = int(os.environ.get("WEB_CONCURRENCY", "3"))
#: The Celery worker's processes.
WORKER_CONCURRENCY = 2


def role_url(url: str, role: str, password: str) -> str:
    """``url`` (a PostgreSQL URL) with ``role`` and ``password`` as its user."""
    parts = urlsplit(url)
    server = parts.netloc.rpartition("@")[2]
    credentials = f"{quote(role, safe='')}:{quote(password, safe='')}"
    return parts._replace(netloc=f"{credentials}@{server}").geturl()


def broker_tables_create(owner_url: str) -> None:
    """Create the tables of kombu's SQLAlchemy transport as the owner: the transport
    creates them on first use, which the app's role, allowed to create nothing, cannot."""
    from kombu import Connection

    from ecrf.settings.base import sqlalchemy_broker_url

    with Connection(sqlalchemy_broker_url(owner_url)) as connection:
        channel = connection.default_channel
        channel.queue_declare(queue="celery")
        # The owner's session would otherwise stay open, idle in a transaction, all run long.
        channel.session.close()
        channel.session.get_bind().dispose()


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecrf.settings.local")
    var_dir = Path(os.environ.get("ECRF_VAR_DIR") or BASE_DIR / "var")
    var_dir.mkdir(parents=True, exist_ok=True)
    server = None
    owner_url = os.environ.get("DATABASE_URL")
    if not owner_url:
        import pgserver

        data_dir = var_dir / "pgdata"
        data_dir.mkdir(exist_ok=True)
        server = pgserver.get_server(data_dir, cleanup_mode="stop")
        from ecrf.settings.embedded import embedded_postgres_url

        owner_url = embedded_postgres_url("ecrf", data_dir)
        print(f"Embedded PostgreSQL running with its data in {data_dir}", flush=True)
    port = os.environ.get("PORT", "8000")
    python = sys.executable
    manage = [python, str(BASE_DIR / "manage.py")]
    app_role = os.environ.get("ECRF_APP_ROLE", "ecrf_app")
    app_password = secrets.token_urlsafe(24)
    owner_env = {**os.environ, "DATABASE_URL": owner_url}
    # The installation's signing key for checkpoints and archives, outside the database.
    key_file = Path(os.environ.get("ARCHIVE_KEY_FILE") or var_dir / "archive-key.pem")
    if not key_file.exists():
        subprocess.run(
            [*manage, "create_archive_key", str(key_file)], check=True, cwd=BASE_DIR, env=owner_env
        )
    os.environ["ARCHIVE_KEY_FILE"] = str(key_file)
    app_env = {**os.environ, "DATABASE_URL": role_url(owner_url, app_role, app_password)}

    for step in (["migrate", "--no-input"], ["setup_trial"], ["seed_demo"]):
        subprocess.run([*manage, *step], check=True, cwd=BASE_DIR, env=owner_env)
    if not os.environ.get("CELERY_BROKER_URL"):
        broker_tables_create(owner_url)
    subprocess.run(
        [*manage, "create_app_role", app_role, "--password-env", "ECRF_APP_ROLE_PASSWORD"],
        check=True,
        cwd=BASE_DIR,
        env={**owner_env, "ECRF_APP_ROLE_PASSWORD": app_password},
    )

    celery = [python, "-m", "celery", "-A", "ecrf"]
    processes = {
        "web": subprocess.Popen(
            [
                str(Path(python).with_name("gunicorn")),
                "ecrf.wsgi",
                f"--bind=127.0.0.1:{port}",
                f"--workers={WEB_WORKERS}",
                "--worker-class=sync",
                "--timeout=60",
                "--graceful-timeout=10",
                # No control socket shared with any other gunicorn of this user.
                "--no-control-socket",
            ],
            cwd=BASE_DIR,
            env=app_env,
        ),
        "worker": subprocess.Popen(
            [*celery, "worker", "--loglevel=INFO", f"--concurrency={WORKER_CONCURRENCY}"],
            cwd=BASE_DIR,
            env=app_env,
        ),
        "beat": subprocess.Popen(
            [*celery, "beat", "--loglevel=INFO", "-s", str(var_dir / "celerybeat-schedule")],
            cwd=BASE_DIR,
            env=app_env,
        ),
    }
    print(f"\nServing http://127.0.0.1:{port}/ (Ctrl-C stops everything)\n", flush=True)

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    try:
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with status {process.returncode}; stopping.", flush=True)
                    exit_code = process.returncode or 1
                    stopping = True
            time.sleep(0.5)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        if server is not None:
            server.cleanup()
        print(f"Stopped. The data is kept in {var_dir} for the next run.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
