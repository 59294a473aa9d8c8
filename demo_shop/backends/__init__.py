"""Database backends of the demo shop: Django's own, plus the ``db_connection_errors`` fault.

With ``DEMO_FAULTS_ENABLED=1`` the shop's ``ENGINE`` is ``demo_shop.backends.mysql`` or
``demo_shop.backends.sqlite3``: Django's backend unchanged until the fault is on. Then every connection is closed
at the end of its request (as with ``CONN_MAX_AGE = 0``), and every second attempt to open one, in any thread of the
process, is refused for real: a MySQL/MariaDB connection goes to a local port that is bound but never listens (the
server answers with a reset: client error 2002/2003), a SQLite connection to a file in a directory that does not
exist ("unable to open database file"). The request that needed it answers 500; the integration counts it in
``django_db_connection_errors_total{error_class="refused"}``.
"""

from __future__ import annotations

import itertools
import socket
import threading
from typing import Any

_attempts = itertools.count()
_refusing: socket.socket | None = None
_lock = threading.Lock()
MISSING_SQLITE_FILE = "/nonexistent-directory-of-the-db-connection-errors-fault/shop.sqlite3"


def refuse_this_attempt() -> bool:
    """True for every second connection attempt while ``db_connection_errors`` is on."""
    from demo_shop.faults import faults

    return faults.is_active("db_connection_errors") and next(_attempts) % 2 == 1


def refusing_port() -> int:
    """A port on 127.0.0.1 that refuses connections: bound for the life of the process, never listening."""
    global _refusing
    with _lock:
        if _refusing is None:
            _refusing = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            _refusing.bind(("127.0.0.1", 0))
        return int(_refusing.getsockname()[1])


def closes_after_each_request() -> bool:
    from demo_shop.faults import faults

    return faults.is_active("db_connection_errors")


def refused_mysql(params: dict[str, Any]) -> dict[str, Any]:
    refused = {key: value for key, value in params.items() if key != "unix_socket"}
    return {**refused, "host": "127.0.0.1", "port": refusing_port()}
