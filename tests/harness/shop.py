"""The demo shop as users run it: migrated, seeded, served by gunicorn on a free port."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from .processes import ManagedProcess, free_port

PROBE_USER = "probe"
PROBE_PASSWORD = "probe-password-for-tests"


@dataclass
class ShopServer:
    process: ManagedProcess
    url: str
    env: dict[str, str]
    workdir: Path
    users: dict[str, str] = field(default_factory=dict)

    def manage(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run a management command against this shop's database."""
        return run_manage(self.workdir, {**self.env, **(env or {})}, *args)

    def add_user(self, username: str, password: str, staff: bool = False) -> None:
        self.manage(
            "seed_shop",
            "--username",
            username,
            "--password-env",
            "SEED_PASSWORD",
            *(["--staff"] if staff else []),
            env={"SEED_PASSWORD": password},
        )
        self.users[username] = password

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(f"{self.url}{path}", timeout=10, **kwargs)

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines the shop has written so far (gunicorn's own lines are not JSON)."""
        lines = []
        for line in self.process.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def lines_of(self, correlation_id: str) -> list[dict[str, Any]]:
        return [line for line in self.log_lines() if line.get("correlation_id") == correlation_id]

    def set_faults(self, **faults: bool) -> None:
        response = requests.put(f"{self.url}/_demo/faults", json=faults, timeout=10)
        response.raise_for_status()

    def stop(self) -> None:
        self.process.stop()


def run_manage(workdir: Path, env: Mapping[str, str], *args: str) -> str:
    import os

    result = subprocess.run(
        [sys.executable, "-m", "demo_shop", *args],
        env={**os.environ, **env},
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"demo_shop {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def start_shop(workdir: Path, database_url: str, extra_env: Mapping[str, str] | None = None) -> ShopServer:
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        "DATABASE_URL": database_url,
        "DEMO_FAULTS_ENABLED": "1",
        "DEMO_PROBE_PASSWORD": PROBE_PASSWORD,
        "DEMO_SLOW_SECONDS": "1.1",
        **(extra_env or {}),
    }
    run_manage(workdir, env, "migrate", "--no-input", "-v0")
    run_manage(workdir, env, "seed_shop")
    port = free_port()
    process = ManagedProcess(
        "demo-shop",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "demo_shop.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            # One process so run-time fault switches apply to every request; threads for concurrency.
            "--workers",
            "1",
            "--threads",
            "8",
            "--graceful-timeout",
            "5",
        ],
        workdir / "shop.log",
        env=env,
        cwd=workdir,
    )
    url = f"http://127.0.0.1:{port}"
    process.wait_ready(lambda: requests.get(f"{url}/api/auth/csrf/", timeout=2).status_code == 200)
    shop = ShopServer(process=process, url=url, env=env, workdir=workdir)
    shop.users[PROBE_USER] = PROBE_PASSWORD
    return shop
