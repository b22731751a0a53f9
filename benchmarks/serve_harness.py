"""Harness of the service benchmarks and tests: a real `genrec serve` process, a throw-away PostgreSQL server.

PostgreSQL comes from Debian's `postgresql` package (`make test` installs it when missing and
running as root); the server is initialised into a temporary directory and started on a free
loopback port, as the `postgres` user when running as root (PostgreSQL refuses root).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]

#: The tiny synthetic marketplace and loop every service test uses (trained once per test session, 1-3 minutes;
#: the text generator gets enough epochs that created items pass the checks while some drafts are blocked).
SERVE_DATA = {"n_users": 200, "n_items": 150, "n_categories": 4, "n_brands": 8}
SERVE_FAST = [
    "recommender.epochs=4",
    "recommender.dim=32",
    "recommender.sid.codebook_size=8",
    "recommender.threads=1",
    "textgen.epochs=80",
    "textgen.lr=0.003",
    "textgen.dim=64",
    "textgen.layers=2",
    "textgen.heads=2",
    "textgen.vocab_size=600",
    "textgen.threads=1",
    "textgen.batch_size=32",
]


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bin() -> Path | None:
    """The folder of Debian's PostgreSQL server binaries (the newest version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


class PostgresMissing(RuntimeError):
    """Debian's PostgreSQL server binaries are not installed."""


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a throw-away PostgreSQL server; yields its URL; stops it and removes its files."""
    bindir = pg_bin()
    if bindir is None:
        raise PostgresMissing("PostgreSQL server binaries not installed (apt-get install -y postgresql)")
    root = Path(tempfile.mkdtemp(prefix="genrec-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    port = free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "genrec", "--auth=trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
        env=env,
    )
    options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=on"
    subprocess.run(
        _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
        env=env,
    )
    try:
        yield f"postgresql://genrec@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
            env=env,
        )
        shutil.rmtree(root, ignore_errors=True)


def fresh_pg_database(url: str, name: str) -> str:
    """A new empty database on the server at ``url``; returns its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


class ServerProcess:
    """A `genrec serve` process on a free loopback port (killed by ``stop`` / ``kill9``)."""

    def __init__(self, home: Path, *args: str, env: dict[str, str] | None = None, log_dir: Path | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (log_dir or home) / f"serve-{self.port}.log"
        cmd = [sys.executable, "-m", "genrec.cli.main", "serve", "--port", str(self.port), *args]
        full_env = {
            **os.environ,
            "GENREC_HOME": str(home),
            "GENREC_WATERMARK_KEY": "test-key",
            "OMP_NUM_THREADS": "1",
            **(env or {}),
        }
        self._log = open(self.log, "w")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=full_env, cwd=REPO)

    def wait_ready(self, timeout: float = 900.0) -> dict[str, Any]:
        """Wait until /v1/ready says ready; fails with the server log when it exits or times out."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()[-4000:]}")
            try:
                r = httpx.get(self.url + "/v1/ready", timeout=5)
                if r.status_code == 200:
                    return dict(r.json())
            except httpx.HTTPError:
                pass
            else:
                if r.json().get("stage") == "failed":  # loading failed: the server never gets ready
                    raise AssertionError(f"loading failed: {r.json().get('error')}\n{self.log.read_text()[-4000:]}")
            time.sleep(0.5)
        raise AssertionError(f"server not ready after {timeout}s:\n{self.log.read_text()[-4000:]}")

    def admin_key(self) -> str:
        """The bootstrap admin key the server printed on its first start."""
        for line in self.log.read_text().splitlines():
            if "admin key:" in line:
                return line.split("admin key:", 1)[1].strip().split()[0]
        raise AssertionError("no bootstrap admin key in the server log")

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far."""
        import psutil

        t = psutil.Process(self.proc.pid).cpu_times()
        return float(t.user + t.system)

    def rss_mb(self) -> float:
        """The server's resident memory now (MiB)."""
        import psutil

        return float(psutil.Process(self.proc.pid).memory_info().rss) / 2**20

    def kill9(self) -> None:
        """SIGKILL: no shutdown code runs."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._log.close()

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 30 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self._log.close()


def serve_args(*extra: str) -> list[str]:
    """Command-line arguments for the tiny test configuration."""
    args: list[str] = []
    for key, value in SERVE_DATA.items():
        args += ["--opt", f"{key}={value}"]
    for item in SERVE_FAST:
        args += ["--set", item]
    return [*args, *extra]


def bearer(key: str) -> dict[str, str]:
    """The Authorization header for an API key."""
    return {"Authorization": f"Bearer {key}"}
