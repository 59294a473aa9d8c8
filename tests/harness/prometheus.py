"""A real Prometheus with exemplar storage, a fast rule/alert cadence and the HTTP API wrapped for tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from .processes import ManagedProcess, free_port, require_binary, wait_until

# Discovery ticks every 5 s, so the first scrape lands ~6 s after start whatever the interval.
FIRST_SCRAPE_TIMEOUT = 30.0


@dataclass
class Prometheus:
    process: ManagedProcess
    url: str
    config_path: Path

    def api(self, path: str, **params: Any) -> Any:
        response = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"Prometheus {path} {params}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    def targets(self) -> list[dict[str, Any]]:
        active: list[dict[str, Any]] = self.api("targets")["activeTargets"]
        return active

    def wait_for_target_up(self, job: str, timeout: float = FIRST_SCRAPE_TIMEOUT) -> dict[str, Any]:
        def up() -> dict[str, Any] | None:
            for target in self.targets():
                if target["labels"].get("job") == job and target["health"] == "up":
                    return target
            return None

        return wait_until(up, timeout, f"Prometheus scraping job {job!r}", interval=0.25)

    def wait_for_series(self, expr: str, timeout: float = FIRST_SCRAPE_TIMEOUT) -> list[dict[str, Any]]:
        return wait_until(lambda: self.query(expr), timeout, f"series for {expr!r}", interval=0.25)

    def stop(self) -> None:
        self.process.stop()


def start_prometheus(
    workdir: Path,
    scrape_configs: Sequence[dict[str, Any]] = (),
    rule_files: Sequence[Path] = (),
    alertmanager_urls: Sequence[str] = (),
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
) -> Prometheus:
    binary = require_binary("prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval},
        "scrape_configs": list(scrape_configs),
        "rule_files": [str(path) for path in rule_files],
    }
    if alertmanager_urls:
        config["alerting"] = {
            "alertmanagers": [
                {"static_configs": [{"targets": [url.removeprefix("http://") for url in alertmanager_urls]}]}
            ]
        }
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    process = ManagedProcess(
        "prometheus",
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
            "--enable-feature=exemplar-storage",
            # Without this an alert that fires before Alertmanager is discovered is resent a minute later.
            "--rules.alert.resend-delay=1s",
        ],
        workdir / "prometheus.log",
    )
    url = f"http://127.0.0.1:{port}"
    process.wait_ready(lambda: requests.get(f"{url}/-/ready", timeout=1).status_code == 200)
    return Prometheus(process=process, url=url, config_path=config_path)
