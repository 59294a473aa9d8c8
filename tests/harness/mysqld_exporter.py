"""A real mysqld_exporter pointed at a harness MariaDB."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from .mariadb import MariaDB
from .processes import ManagedProcess, free_port, require_binary


@dataclass
class MysqldExporter:
    process: ManagedProcess
    url: str

    def metrics(self) -> str:
        return requests.get(f"{self.url}/metrics", timeout=10).text

    def stop(self) -> None:
        self.process.stop()


def start_mysqld_exporter(workdir: Path, mariadb: MariaDB, flags: Sequence[str] = ()) -> MysqldExporter:
    binary = require_binary("prometheus-mysqld-exporter")
    workdir.mkdir(parents=True, exist_ok=True)
    dsn = mariadb.create_monitoring_user("exporter", "exporter-password")
    port = free_port()
    process = ManagedProcess(
        "mysqld_exporter",
        [binary, f"--web.listen-address=127.0.0.1:{port}", *flags],
        workdir / "mysqld_exporter.log",
        env={"DATA_SOURCE_NAME": dsn},  # 0.14 reads the DSN from here; newer ones want --config.my-cnf
    )
    url = f"http://127.0.0.1:{port}"
    process.wait_ready(lambda: "mysql_up 1" in requests.get(f"{url}/metrics", timeout=5).text)
    return MysqldExporter(process=process, url=url)
