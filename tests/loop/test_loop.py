"""`make loop`: the fault matrix with the shipped rules, routing and timings unchanged (minutes per fault), its
measurements written to docs/loop.md. Marked `loop`, so `make test` leaves it out.

``LOOP_FAULTS=fk_orphan,healthy,...`` runs only those rows (``healthy`` is the quiet run); by default every row.
A row that fails is a failed test here, and **FAIL** with its problems in the table.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tests.conftest import REPO_ROOT
from tests.harness import MariaDB
from tests.loop import report
from tests.loop.matrix import HEALTHY, Row, batches, rows, selected
from tests.loop.run import Result, Watch, healthy_window, run_batch, wait_quiet, watching
from tests.loop.stack import start_loop_stack
from tests.loop.timescale import SHIPPED

pytestmark = [pytest.mark.loop, pytest.mark.mariadb]

SELECTED = selected(os.environ.get("LOOP_FAULTS"))
PHASES: list[str | list[Row]] = [
    *([HEALTHY] if HEALTHY in SELECTED else []),
    *batches(rows(*(name for name in SELECTED if name != HEALTHY))),
]
# Shipped seconds: the longest `for:` (15m) plus three sweep intervals, and a minute of slack.
FIRE_TIMEOUT = SHIPPED.seconds(15 * 60) + 3 * SHIPPED.work_interval(60) + 60
RESOLVE_TIMEOUT = FIRE_TIMEOUT
HEALTHY_SECONDS = SHIPPED.seconds(20 * 60)  # every `for:` but the 1h budget-burn ticket's, and some
DOC = REPO_ROOT / "docs" / "loop.md"


@pytest.fixture(scope="module")
def measured() -> Iterator[list[Result]]:
    """The results of this run, written to docs/loop.md when the module ends (passed or not)."""
    results: list[Result] = []
    yield results
    if results:
        report.write(DOC, results, f"{datetime.date.today().isoformat()}, shipped timings")


@pytest.fixture(scope="module")
def watch(mariadb: MariaDB, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watch]:
    with ExitStack() as cleanup:
        stack = start_loop_stack(tmp_path_factory.mktemp("loop-shipped"), mariadb, SHIPPED, cleanup)
        with watching(stack) as watch:
            yield watch


@pytest.mark.parametrize("phase", PHASES, ids=[phase if isinstance(phase, str) else "+".join(row.fault for row in phase)
                                                for phase in PHASES])  # fmt: skip
def test_row(watch: Watch, measured: list[Result], phase: str | list[Row]) -> None:
    """The healthy run (nothing fires) or a batch of faults (each raises its alert once and resolves)."""
    if isinstance(phase, str):
        still = wait_quiet(watch, FIRE_TIMEOUT)  # the stack's start (first runs, first sweep) is not the window
        results = [healthy_window(watch, HEALTHY_SECONDS)]
        if still:
            results[0].problems.insert(0, f"still active {FIRE_TIMEOUT:.0f}s after the start: {', '.join(still)}")
    else:
        results = run_batch(watch, phase, FIRE_TIMEOUT, RESOLVE_TIMEOUT)
    measured.extend(results)
    for result in results:
        print(report.line(result, "now"))
    problems = [f"{r.fault}: {'; '.join(r.problems)}" for r in results if not r.passed]
    assert not problems, "\n".join(problems)
