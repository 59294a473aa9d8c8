"""A real MariaDB server (performance_schema on) in a temp datadir, with helpers to make databases and users."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import MySQLdb

from .processes import ManagedProcess, free_port, require_binary


@dataclass
class MariaDB:
    process: ManagedProcess
    host: str
    port: int
    datadir: Path

    def connect(self, user: str = "root", password: str = "", database: str | None = None) -> Any:
        kwargs: dict[str, Any] = {"host": self.host, "port": self.port, "user": user, "password": password}
        if database:
            kwargs["database"] = database
        return MySQLdb.connect(**kwargs, connect_timeout=2, autocommit=True)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params or None)
                return list(cursor.fetchall())
        finally:
            connection.close()

    def create_database(self, name: str, user: str, password: str) -> str:
        """A fresh database owned by a fresh user; returns its DATABASE_URL."""
        self.query(f"DROP DATABASE IF EXISTS `{name}`")
        self.query(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        self.query(f"CREATE USER IF NOT EXISTS '{user}'@'127.0.0.1' IDENTIFIED BY %s", (password,))
        # Django's test runner creates test_<name> databases, hence the wildcard.
        self.query(f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'127.0.0.1'")
        self.query(f"GRANT ALL PRIVILEGES ON `test\\_{name}`.* TO '{user}'@'127.0.0.1'")
        return f"mysql://{user}:{password}@{self.host}:{self.port}/{name}"

    def create_monitoring_user(self, user: str, password: str) -> str:
        """The user mysqld_exporter needs (SLAVE MONITOR too on MariaDB); returns its DATA_SOURCE_NAME."""
        self.query(
            f"CREATE USER IF NOT EXISTS '{user}'@'127.0.0.1' IDENTIFIED BY %s WITH MAX_USER_CONNECTIONS 3", (password,)
        )
        self.query(f"GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.* TO '{user}'@'127.0.0.1'")
        return f"{user}:{password}@({self.host}:{self.port})/"

    def stop(self) -> None:
        self.process.stop(timeout=20)


def start_mariadb(workdir: Path) -> MariaDB:
    install_db = require_binary("mariadb-install-db")
    server = require_binary("mariadbd")
    datadir = workdir / "data"
    workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            install_db,
            "--no-defaults",
            f"--datadir={datadir}",
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    process = ManagedProcess(
        "mariadb",
        [
            server,
            "--no-defaults",
            f"--datadir={datadir}",
            "--user=root",
            "--bind-address=127.0.0.1",
            f"--port={port}",
            f"--socket={workdir / 'mysqld.sock'}",
            f"--pid-file={workdir / 'mysqld.pid'}",
            "--performance-schema=ON",  # can only be switched on at start
            # MariaDB keeps no statement history by default; these make SQL comments visible after the fact.
            "--performance-schema-consumer-events-statements-current=ON",
            "--performance-schema-consumer-events-statements-history=ON",
            "--performance-schema-consumer-events-statements-history-long=ON",
            "--skip-name-resolve",
            "--max-connections=2000",  # one server for the whole session: many shops, workers and pools at once
        ],
        workdir / "mariadb.log",
    )
    db = MariaDB(process=process, host="127.0.0.1", port=port, datadir=datadir)
    process.wait_ready(lambda: db.query("SELECT 1"))
    return db
