"""The demo storefront (Next.js) as users run it: its dependencies from the lockfile, built once
(``scripts/storefront.py``: reused while its sources are unchanged), served by ``next start`` on a free port
against a demo shop. Node.js 20.9+ is required (Next.js 16): a missing or older one skips locally and fails under
``CI=true``."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from .processes import ManagedProcess, free_port, in_ci
from .scripts import load_script

REPO_ROOT = Path(__file__).resolve().parents[2]
STOREFRONT = REPO_ROOT / "demo_shop" / "storefront"
NODE_ENV = {"NEXT_TELEMETRY_DISABLED": "1", "npm_config_update_notifier": "false"}


def require_node() -> None:
    """Node.js 20.9 or newer (with npm); skip locally, fail under CI=true."""
    problem = load_script("storefront").node_problem()
    if problem:
        if in_ci():
            pytest.fail(problem, pytrace=False)
        pytest.skip(problem)


def build_storefront() -> Path:
    """``scripts/storefront.py build``: what changed is installed and built, the rest reused."""
    require_node()
    result = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "storefront.py"), "build"],
                            capture_output=True, text=True, timeout=1800)  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"building the storefront failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return STOREFRONT


@dataclass
class StorefrontServer:
    process: ManagedProcess
    url: str

    def set_faults(self, **faults: bool) -> None:
        requests.put(f"{self.url}/api/faults", json=faults, timeout=10).raise_for_status()

    def stop(self) -> None:
        self.process.stop()


def start_storefront(workdir: Path, shop_url: str, port: int | None = None, **env: str) -> StorefrontServer:
    """``next start`` of the built storefront on 127.0.0.1, talking to the shop at ``shop_url``."""
    build_storefront()
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    process = ManagedProcess(
        "storefront",
        [str(STOREFRONT / "node_modules" / ".bin" / "next"), "start", "-H", "127.0.0.1", "-p", str(port)],
        workdir / "storefront.log",
        env={**NODE_ENV, "SHOP_URL": shop_url, "STOREFRONT_FAULTS_ENABLED": "1", **env},
        cwd=STOREFRONT,
    )
    url = f"http://127.0.0.1:{port}"
    process.wait_ready(lambda: requests.get(f"{url}/api/faults", timeout=2).status_code == 200, timeout=60)
    return StorefrontServer(process=process, url=url)
