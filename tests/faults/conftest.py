"""Real processes for the fault tests: the app under gunicorn, a PostgreSQL of the test's own.

Every process started here runs in its own process group and is killed at the end of
the test whatever happened; ports are chosen by the operating system.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from psycopg import sql

from ..conftest import BASE_DIR, database_url, subprocess_env
from ..safety.conftest import investigator_a, participant, randomized, safety_desk  # noqa: F401

GUNICORN = Path(sys.executable).with_name("gunicorn")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "faults: the test kills or stops real processes (web server, database, broker)"
    )


def wait_until(
    condition: Callable[[], Any],
    *,
    what: str,
    timeout: float = 30,
    log: Callable[[], str] = str,
) -> Any:
    """Poll ``condition`` until it answers something true; fail naming ``what`` if it never
    does, with the text ``log`` answers then (a server's log, say)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout:.0f} s waiting for {what}.\n{log()}")
        time.sleep(0.05)


def free_port() -> int:
    """A loopback port nobody listens on right now (for a server that binds it itself)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process started with ``start_new_session`` and everything it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


# -- the app under gunicorn ------------------------------------------------------------


@dataclass
class AppServer:
    """gunicorn serving the app on a loopback socket the test owns (so a restart keeps it)."""

    listener: socket.socket
    log: Path
    env: dict[str, str]
    workers: int
    process: subprocess.Popen[bytes] | None = None
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.listener.getsockname()
        return f"http://{host}:{port}"

    def start(self) -> AppServer:
        fd = self.listener.fileno()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    str(GUNICORN),
                    "tests.faults.wsgi",
                    f"--bind=fd://{fd}",
                    f"--workers={self.workers}",
                    "--worker-class=sync",
                    "--timeout=120",
                    "--graceful-timeout=5",
                    # The app imported once, before the workers fork: a quicker start.
                    "--preload",
                    # No control socket shared with any other gunicorn on the machine.
                    "--no-control-socket",
                ],
                cwd=BASE_DIR,
                env=self.env,
                pass_fds=(fd,),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(self.process)
        wait_until(self._answers, what="gunicorn to serve", timeout=120, log=self.log_text)
        return self

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.log_text()}")
        try:
            requests.get(f"{self.url}/healthz", timeout=30)
        except requests.RequestException:
            return False
        return True

    def kill(self) -> None:
        """SIGKILL the master and its workers at once: no graceful anything."""
        assert self.process is not None
        kill_group(self.process)

    def worker_pids(self) -> set[int]:
        import psutil

        assert self.process is not None
        return {child.pid for child in psutil.Process(self.process.pid).children()}

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def app_server(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., AppServer]]:
    """Start the app under gunicorn on the test database (``env`` overrides, e.g. another
    DATABASE_URL or a broker that is down); every server is killed at the end."""
    servers: list[AppServer] = []

    def start(*, workers: int = 2, **env: str) -> AppServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        server = AppServer(
            listener=listener,
            log=tmp_path / f"gunicorn-{len(servers) + 1}.log",
            env=subprocess_env(**env),
            workers=workers,
        )
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        for process in server.started:
            kill_group(process)
        server.listener.close()


# -- a PostgreSQL of the test's own ----------------------------------------------------


def _pg_bin(name: str) -> str:
    """A PostgreSQL program shipped inside the ``pgserver`` package (not imported: its
    import starts looking for a shared runtime folder this test has no use for)."""
    spec = importlib.util.find_spec("pgserver")
    assert spec is not None and spec.submodule_search_locations, "pgserver is not installed"
    return str(Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / name)


#: Column options a patched PostgreSQL build keeps for itself (``pg_attver``), which a
#: stock server refuses: left out of a dump restored on this test's own server.
SERVER_ONLY_OPTIONS = re.compile(rb"^ALTER TABLE ONLY .* SET \(pg_attver=\d+\);\n", re.MULTILINE)


@dataclass
class OwnPostgres:
    """A PostgreSQL cluster in a temporary folder on a free loopback port, from the
    binaries of the ``pgserver`` package; it may be stopped and started at will."""

    folder: Path
    port: int
    user: str | None

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            list(args), user=self.user, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            pytest.fail(f"{args[0]} failed:\n{result.stdout}\n{result.stderr}\n{log}")

    def init(self) -> None:
        self._run(
            _pg_bin("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off "
            "-c max_connections=40"
        )
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        result = subprocess.run(
            [_pg_bin("pg_ctl"), "-D", str(self.data), "status"],
            user=self.user,
            capture_output=True,
            text=True,
        )
        return result.returncode == 0

    def create_database(self, name: str, copy_of: str | None = None) -> str:
        """A database ``name``, empty or a copy of the database at URL ``copy_of`` (on
        another server: dumped and restored); answers its URL."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        if copy_of is not None:
            dump = subprocess.run(
                [_pg_bin("pg_dump"), "--no-owner", "--no-privileges", copy_of],
                capture_output=True,
                timeout=120,
            )
            restore = subprocess.run(
                [_pg_bin("psql"), "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url(name)],
                input=SERVER_ONLY_OPTIONS.sub(b"", dump.stdout),
                capture_output=True,
                timeout=120,
            )
            if dump.returncode or restore.returncode:
                pytest.fail(
                    f"Copying {copy_of} failed:\n{dump.stderr.decode()}\n{restore.stderr.decode()}"
                )
        return self.url(name)


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    """A running PostgreSQL of this test alone, removed at the end.

    As root, PostgreSQL runs as the ``pgserver`` system user, as the pgserver package
    itself does (PostgreSQL refuses to run as root).
    """
    user = None
    if os.geteuid() == 0:
        user = "pgserver"
        try:
            pwd.getpwnam(user)
        except KeyError:
            useradd = shutil.which("useradd") or "/usr/sbin/useradd"
            subprocess.run([useradd, "--system", "--no-create-home", user], check=True)
    folder = Path(tempfile.mkdtemp(prefix="ecrf-pg-"))
    if user is not None:
        shutil.chown(folder, user=user, group=user)
    server = OwnPostgres(folder=folder, port=free_port(), user=user)
    try:
        server.init()
        server.start()
        yield server
    finally:
        if (server.data / "postmaster.pid").exists() and server.running():
            server.stop(mode="immediate")
        shutil.rmtree(folder, ignore_errors=True)


# -- a broker of the test's own -------------------------------------------------------


@dataclass
class OwnRedis:
    """A Redis server on a free loopback port: refusing connections until started (a broker
    that is down), or made to hang them (a broker host that does not answer)."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None
    hanging: list[socket.socket] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def hang(self) -> None:
        """Listen on the port and accept nothing, the queue of pending connections full:
        a new connection gets no answer at all, as from a host that is unreachable."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(0)
        self.hanging.append(listener)
        for _ in range(4):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", self.port))
            self.hanging.append(filler)

    def refuse(self) -> None:
        """Stop hanging: connections are refused again."""
        for sock in self.hanging:
            sock.close()
        self.hanging.clear()

    def start(self) -> None:
        self.refuse()
        redis_server = shutil.which("redis-server") or "/usr/bin/redis-server"
        with (self.folder / "redis.log").open("ab") as out:
            self.process = subprocess.Popen(
                [
                    redis_server,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.folder),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._answers, what="Redis to answer")

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        self.refuse()
        if self.process is not None:
            kill_group(self.process)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """A Redis of this test alone, not running yet; killed at the end if it was started."""
    folder = tmp_path / "redis"
    folder.mkdir()
    server = OwnRedis(port=free_port(), folder=folder)
    try:
        yield server
    finally:
        server.stop()


# -- the database the app writes to ----------------------------------------------------


def blocked_backends(conn: psycopg.Connection[Any], *, blocker_pid: int) -> list[tuple[int, str]]:
    """The (pid, statement) of every session waiting for a lock ``blocker_pid`` holds."""
    rows = conn.execute(
        "SELECT pid, query FROM pg_stat_activity "
        "WHERE datname = current_database() AND %s = ANY(pg_blocking_pids(pid))",
        [blocker_pid],
    ).fetchall()
    return [(int(pid), str(query)) for pid, query in rows]


def backend_alive(conn: psycopg.Connection[Any], pid: int) -> bool:
    row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    return bool(row and row[0])


@pytest.fixture
def lock_holder() -> Iterator[psycopg.Connection[Any]]:
    """A second session on the test database, for holding locks the app has to wait for."""
    with psycopg.connect(database_url()) as conn:
        yield conn
        conn.rollback()


@pytest.fixture
def observer() -> Iterator[psycopg.Connection[Any]]:
    """An autocommit session on the test database that watches the others."""
    with psycopg.connect(database_url(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def notification_queue() -> Iterator[str]:
    """A queue of the broker for this test's SAE notifications, removed at the end (its
    messages and kombu's bindings: kombu's own ``queue_delete`` only forgets bindings its
    connection declared)."""
    import redis
    from django.conf import settings

    from ecrf.celery import app

    name = f"test-faults-{uuid.uuid4().hex[:12]}"
    yield name
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(name)
        return
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    for pattern in (f"{name}*", f"_kombu.binding*.{name}"):
        for key in broker.scan_iter(match=pattern):
            broker.delete(key)
