"""A local eligibility service for a load run: ``promptsim serve`` in a subprocess.

:class:`LocalService` picks a free loopback port, starts the server, waits for
``/healthz`` and stops it (SIGTERM, then SIGKILL) afterwards; :func:`create_app`
runs ``promptsim apps create NAME --clock client`` against the same store.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from sim.loadtest.api import Api

_SCRIPT = Path(sys.executable).with_name("promptsim")
PROMPTSIM = [str(_SCRIPT)] if _SCRIPT.exists() else \
    [sys.executable, "-c", "import sys; from sim.cli import main; sys.exit(main())"]
"""The ``promptsim`` command of this interpreter (its console script, or the same by ``-c``)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def create_app(db: str, name: str) -> dict[str, Any]:
    """``promptsim apps create NAME --clock client --db DB``: ``{"app_id", "api_key", ...}``."""
    r = subprocess.run([*PROMPTSIM, "apps", "create", name, "--clock", "client", "--db", db],
                       capture_output=True, text=True, timeout=60, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"promptsim apps create failed ({r.returncode}): {r.stderr.strip()}")
    created: dict[str, Any] = json.loads(r.stdout)
    return created


class LocalService:
    """``promptsim serve`` on 127.0.0.1 for the duration of a ``with`` block."""

    def __init__(self, db: str, log: Path, workers: int = 1,
                 prefix: tuple[str, ...] = ()) -> None:
        self.db, self.log_path, self.workers = db, log, workers
        self.prefix = prefix
        """Command words before ``promptsim`` (a benchmark pins the server: ``taskset -c 1``)."""
        self.host, self.port = "127.0.0.1", free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the service."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> LocalService:
        """Start the server and wait until ``/healthz`` answers 200."""
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [*self.prefix, *PROMPTSIM, "serve", "--db", self.db, "--host", self.host,
             "--port", str(self.port), "--workers", str(self.workers)],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        with Api(self.url, timeout=2.0) as api:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"promptsim serve exited with {self.proc.returncode}; "
                                       f"see {self.log_path}")
                try:
                    if api.request("GET", "/healthz")[0] == 200:
                        return self
                except OSError:
                    pass
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"promptsim serve did not answer /healthz within {timeout:g} s; "
                           f"see {self.log_path}")

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it after 10 s."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalService:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
