"""Process lifecycle shared by every component: start, wait until ready, stop by pid, show the log on failure."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

# Debian package that provides each binary; named in skip/fail messages.
PACKAGES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
    "mariadbd": "mariadb-server",
    "mariadb-install-db": "mariadb-server",
    "prometheus-mysqld-exporter": "prometheus-mysqld-exporter",
}

DEFAULT_READY_TIMEOUT = 30.0


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_binary(name: str) -> str:
    """Path of ``name``; skip (locally) or fail (CI=true) with the install command when it is missing."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if path:
        return path
    package = PACKAGES.get(name, name)
    message = f"{name} is not installed: run `make test` (installs it) or `sudo apt-get install {package}`"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as error:  # a component that is still starting answers with errors
            last_error = error
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout:.0f}s (last error: {last_error!r})")
        time.sleep(interval)


_STARTED: set[ManagedProcess] = set()  # started and not yet stopped


@atexit.register
def stop_leftovers() -> None:
    """Stop every ``ManagedProcess`` still running when the interpreter exits (one a test started outside a
    fixture and lost on an error path, or one whose fixture's teardown was cut short): they run in their own
    process groups, so nothing else would."""
    for process in list(_STARTED):
        with contextlib.suppress(Exception):
            process.stop(timeout=5.0)


class ManagedProcess:
    """One child process in its own process group, with its output in a log file."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.args = list(args)
        self.log_path = log_path
        self._log = log_path.open("ab")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.popen = subprocess.Popen(
            self.args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
        )
        _STARTED.add(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, check: Callable[[], object], timeout: float = DEFAULT_READY_TIMEOUT) -> None:
        """Wait until ``check`` passes; if the process dies or time runs out, stop it and show its log."""

        def ready() -> bool:
            if not self.running():
                raise ProcessLookupError(f"{self.name} exited with code {self.popen.returncode}")
            return bool(check())

        try:
            wait_until(ready, timeout, f"{self.name} ready")
        except (TimeoutError, ProcessLookupError) as error:
            self.stop()
            raise RuntimeError(f"{error}\n--- {self.name} log ---\n{self.log_tail()}") from None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it if it has not gone after ``timeout`` seconds."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self._log.close()
        _STARTED.discard(self)
