"""A pytest plugin: a run stopped by a signal still stops every component it started.

Python's default for SIGTERM and SIGHUP is to die at once, without ``finally`` blocks or fixture teardown, and
the components run in their own process groups (``ManagedProcess``), so ``timeout``, a CI runner or a closed
terminal stopping pytest left Prometheus, MariaDB, gunicorn... running, loading the next run beside them. With
this plugin (``pytest_plugins`` of ``tests/conftest.py``) the first SIGTERM or SIGHUP ends
the session as Ctrl-C does (``pytest.exit``: every fixture's teardown runs, exit status 128 + the signal's
number); a second one while that teardown runs kills pytest at once, as the signal would have. A process the
harness started outside a fixture is stopped at interpreter exit (``processes.stop_leftovers``).

Each test also gets the SIGTERM and SIGHUP handlers back as they were before it, so a command's ``main()`` run
in-process (which installs its own) does not take the plugin's place for the tests after it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _stop_session(signum: int, frame: FrameType | None) -> None:
    for each in SIGNALS:  # a second signal while fixtures tear down: die as the default action would
        signal.signal(each, signal.SIG_DFL)
    name = signal.Signals(signum).name
    pytest.exit(f"{name} received: the session stops and tears its fixtures down", returncode=128 + signum)


def pytest_configure(config: pytest.Config) -> None:
    if threading.current_thread() is threading.main_thread():
        for each in SIGNALS:
            signal.signal(each, _stop_session)


@pytest.fixture(autouse=True)
def _signal_handlers_restored() -> Iterator[None]:
    saved = {each: signal.getsignal(each) for each in SIGNALS}
    yield
    if threading.current_thread() is threading.main_thread():
        for each, handler in saved.items():
            if signal.getsignal(each) is not handler and handler is not None:
                signal.signal(each, handler)
