"""The run history is bounded in bytes as well as in count (issue: memory is bounded by count, not size).

Rows are runs of very different weights — empty, ordinary, and ones carrying megabytes of heads, bodies,
messages and extracted values in each place a run can hold text — added many times; the history's weight stays
under its byte bound whatever the mix, and the newest run always stays.
"""

from __future__ import annotations

import pytest

from exporter.history import RunHistory, run_size
from synthetic.result import AssertionResult, Exchange, RunResult, StepResult

MB = 1024 * 1024


def _run(index: int, where: str, size: int) -> RunResult:
    big = "x" * size
    step = StepResult(name="s", kind="http")
    if where == "response_headers":
        step.exchange = Exchange(response_headers={f"X-H-{i}": big[: size // 95] for i in range(95)})
    elif where == "response_body":
        step.exchange = Exchange(response_body=big)
    elif where == "message":
        step.message = big
    elif where == "assertion":
        step.assertions.append(AssertionResult("json", False, big))
    elif where == "extracted":
        step.extracted["value"] = {"nested": [big]}
    return RunResult(workflow="w", target="t", correlation_id=f"run-{index}-{where}", started_at=0.0, steps=[step])


@pytest.mark.parametrize(
    ("where", "size"),
    [
        ("nothing", 0),
        ("response_headers", 95 * 60 * 1024),  # the observed case: 95 headers of 60 KB
        ("response_body", 2 * MB),
        ("message", 2 * MB),
        ("assertion", 2 * MB),
        ("extracted", 2 * MB),
    ],
)
def test_history_weight_stays_under_its_byte_bound(where: str, size: int) -> None:
    history = RunHistory(limit=200, max_bytes=8 * MB)
    for index in range(200):
        history.add(_run(index, where, size))
        assert history.size_bytes <= 8 * MB or len(history) == 1
        assert history.get(f"run-{index}-{where}") is not None, "the newest run always stays"
    assert history.size_bytes == sum(run_size(run) for run in history.recent())
    if size == 0:
        assert len(history) == 200  # light runs: the count is what bounds them
    else:
        assert len(history) == max(1, (8 * MB) // run_size(_run(0, where, size)))


def test_weight_counts_every_string_a_run_holds() -> None:
    light, heavy = _run(0, "nothing", 0), _run(0, "response_headers", 95 * 60 * 1024)
    assert run_size(heavy) - run_size(light) >= 95 * 60 * 1024 - 95
    history = RunHistory(limit=10, max_bytes=10 * MB)
    history.add(heavy)
    history.add(heavy)  # the same run again replaces itself: its weight is not counted twice
    assert history.size_bytes == run_size(heavy)
