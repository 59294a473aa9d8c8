"""``make demo``'s database: a private MariaDB server, and mysqld_exporter watching it, when they are installed.

The demo runs on MariaDB when ``mariadbd`` and ``mariadb-install-db`` are on the PATH (Debian's
``mariadb-server``), as docker-compose.yml runs on MySQL: the shop migrates into it, the checkout's ``sql`` step
reads it as a read-only user, the exporter's trace finds the shop's statements in performance_schema by the
correlation ID in their comment, and mysqld_exporter (Debian's ``prometheus-mysqld-exporter``, when installed)
feeds the MySQL rules. The users and grants are deploy/mysql/init.sql's, the collector flags docker-compose.yml's.
Otherwise, or with ``DEMO_DATABASE=sqlite`` or a ``DATABASE_URL`` of your own, the demo runs on SQLite as before.

The server's files live in the demo's state directory (``mariadb/``), so a restart keeps the shop's data. It binds
127.0.0.1 only (``MARIADB_PORT``, default 3307, beside a system MySQL on 3306); its socket goes to the temporary
directory, since a socket path is limited to some 100 characters.

Run as a script, ``wait PORT [SECONDS]`` waits until the server answers on 127.0.0.1:PORT (the shop's and the
exporter's processes start with it, so their first requests find the database up) and exits 1 when it does not.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
INIT_SQL = ROOT / "deploy" / "mysql" / "init.sql"
# deploy/mysql/init.sql's users and their demo-only passwords (as docker-compose.yml uses them).
SHOP_USER = ("shop", "shop-demo-password")
READER_USER = ("shop_reader", "reader-demo-password")
EXPORTER_USER = ("exporter", "exporter-demo-password")
TRACE_USER = ("trace_reader", "trace-demo-password")
START_TIMEOUT = 60.0
"""Seconds a server start (or the first initialisation) may take before the demo gives up on it."""


@dataclass(frozen=True)
class MariaDB:
    """The demo's server: its binaries, where its files are, where it listens."""

    server: str
    install_db: str
    client: str
    datadir: Path
    port: int

    @property
    def socket(self) -> Path:
        return Path(tempfile.gettempdir()) / f"workflow-exporter-demo-mariadb-{self.port}.sock"

    def command(self) -> list[str]:
        """The server's command line: 127.0.0.1 only, performance_schema with the statement history the trace
        reads (it can only be switched on at start), as docker-compose.yml's MySQL runs."""
        return [
            self.server,
            "--no-defaults",
            f"--datadir={self.datadir}",
            *(["--user=root"] if os.geteuid() == 0 else []),
            "--bind-address=127.0.0.1",
            f"--port={self.port}",
            f"--socket={self.socket}",
            f"--pid-file={self.datadir / 'mariadbd.pid'}",
            "--skip-name-resolve",
            "--performance-schema=ON",
            "--performance-schema-consumer-events-statements-current=ON",
            "--performance-schema-consumer-events-statements-history=ON",
            "--performance-schema-consumer-events-statements-history-long=ON",
        ]

    def url(self, user: tuple[str, str], database: str = "shop") -> str:
        return f"mysql://{user[0]}:{user[1]}@127.0.0.1:{self.port}/{database}"


def find(state: Path, env: Mapping[str, str]) -> tuple[MariaDB | None, str | None]:
    """The demo's MariaDB, or None and why the demo runs on SQLite instead (None when that was asked for)."""
    choice = env.get("DEMO_DATABASE", "")
    if choice == "sqlite" or (env.get("DATABASE_URL") and choice != "mariadb"):
        return None, None
    if choice not in ("", "mariadb"):
        sys.exit(f"DEMO_DATABASE={choice!r}: expected mariadb or sqlite")
    binaries = {name: shutil.which(name) for name in ("mariadbd", "mariadb-install-db", "mariadb")}
    missing = [name for name, path in binaries.items() if not path]
    if missing:
        return None, f"no {', '.join(missing)} (sudo apt-get install mariadb-server)"
    problem = driver_problem()
    if problem:
        return None, problem
    value = env.get("MARIADB_PORT", "3307")
    if not value.isdigit() or not 0 < int(value) < 65536:
        sys.exit(f"MARIADB_PORT={value!r} is not a TCP port")
    server, install_db, client = (str(binaries[n]) for n in ("mariadbd", "mariadb-install-db", "mariadb"))
    return MariaDB(server, install_db, client, state / "mariadb", int(value)), None


def driver_problem() -> str | None:
    """Why Django cannot talk to MariaDB from this virtualenv, after installing the project's ``mysql`` extra
    (mysqlclient, built against libmariadb-dev with pkg-config) when it is missing; None when it can."""
    if importlib.util.find_spec("MySQLdb") is not None:
        return None
    print("make demo: installing the mysql extra (mysqlclient) for the MariaDB demo", flush=True)
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[demo,mysql]"],
                            capture_output=True, text=True)  # fmt: skip
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["pip failed"])[-1]
        return f"mysqlclient did not install ({last}; sudo apt-get install libmariadb-dev pkg-config)"
    return None


def initialize(db: MariaDB) -> None:
    """Create the data directory's system tables the first time (``mariadb-install-db``); later starts keep it."""
    if (db.datadir / "mysql").is_dir():
        return
    db.datadir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [db.install_db, "--no-defaults", f"--datadir={db.datadir}", *(["--user=root"] if os.geteuid() == 0 else []),
         "--auth-root-authentication-method=normal", "--skip-test-db"],
        check=True, capture_output=True, timeout=START_TIMEOUT,
    )  # fmt: skip


@contextlib.contextmanager
def running(db: MariaDB, log: Path) -> Iterator[None]:
    """The server running for as long as the block lasts (the demo's migrations and seed data), then stopped."""
    with log.open("ab") as output:
        process = subprocess.Popen(db.command(), stdout=output, stderr=subprocess.STDOUT)
    try:
        if not wait(db.port, START_TIMEOUT, process):
            sys.exit(f"MariaDB did not start on 127.0.0.1:{db.port} within {START_TIMEOUT:.0f}s; see {log}")
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def create_users(db: MariaDB) -> None:
    """deploy/mysql/init.sql as root over the socket: the shop's database and the users docker-compose.yml has
    (IF NOT EXISTS throughout, so every start may run it)."""
    subprocess.run([db.client, "--no-defaults", "--user=root", f"--socket={db.socket}"],
                   input=INIT_SQL.read_bytes(), check=True, capture_output=True, timeout=START_TIMEOUT)  # fmt: skip


def wait(port: int, seconds: float, process: subprocess.Popen[bytes] | None = None) -> bool:
    """Whether the server answers a MySQL greeting on 127.0.0.1:``port`` within ``seconds`` (False as soon as
    ``process``, when given, has exited)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.settimeout(2)
            if sock.recv(1):  # the server's handshake packet: it accepts connections
                return True
        time.sleep(0.2)
    return False


def environment(db: MariaDB) -> dict[str, str]:
    """What the shop and the exporter read: the shop's database, the checkout's read-only user, the trace's
    performance_schema reader (docker-compose.yml's variables)."""
    return {
        "DATABASE_URL": db.url(SHOP_USER),
        "SHOP_DATABASE_URL": db.url(READER_USER),
        "TRACE_DATABASE_URL": db.url(TRACE_USER, "performance_schema"),
    }


def mysqld_exporter_config(db: MariaDB) -> str:
    """mysqld_exporter's ``--config.my-cnf`` (deploy/mysqld-exporter/my.cnf, pointed at the demo's server)."""
    user, password = EXPORTER_USER
    return f"[client]\nuser = {user}\npassword = {password}\nhost = 127.0.0.1\nport = {db.port}\n"


def mysqld_exporter_flags() -> list[str]:
    """The collector flags docker-compose.yml gives mysqld_exporter."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return [flag for flag in compose["services"]["mysqld-exporter"]["command"] if flag.startswith("--collect.")]


def main(argv: list[str]) -> int:
    if len(argv) in (2, 3) and argv[0] == "wait" and argv[1].isdigit():
        return 0 if wait(int(argv[1]), float(argv[2]) if len(argv) == 3 else START_TIMEOUT) else 1
    print("usage: demo_database.py wait PORT [SECONDS]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
