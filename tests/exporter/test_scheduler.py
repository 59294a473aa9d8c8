"""The scheduler: runs every pair on its interval, never overlaps a pair, and a hung pair delays no other."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

from exporter.scheduler import Scheduler
from synthetic.config import parse_config
from tests.harness import wait_until

CONFIG = """
targets:
  a: {base_url: "http://127.0.0.1:9"}
  b: {base_url: "http://127.0.0.1:9"}
workflows:
  fast:
    targets: [a, b]
    interval: 50ms
    timeout: 50ms
    steps: [{name: s, http: {path: /}}]
  slow:
    targets: [a]
    interval: 50ms
    timeout: 50ms
    steps: [{name: s, http: {path: /}}]
"""


def pairs() -> list:
    return parse_config(CONFIG).pairs()


def test_runs_each_pair_repeatedly_and_never_overlaps_a_pair() -> None:
    release = threading.Event()
    running: Counter[tuple[str, str]] = Counter()
    most: Counter[tuple[str, str]] = Counter()
    runs: Counter[tuple[str, str]] = Counter()
    skipped: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()

    def run_pair(workflow, target) -> None:
        key = (workflow.name, target.name)
        with lock:
            running[key] += 1
            most[key] = max(most[key], running[key])
            runs[key] += 1
        if workflow.name == "slow":
            release.wait(5)  # far longer than its 50 ms interval
        with lock:
            running[key] -= 1

    scheduler = Scheduler(run_pair, on_skip=lambda w, t: skipped.update([(w.name, t.name)]),
                          max_concurrency=4, first_run_within=0.05)  # fmt: skip
    scheduler.set_pairs(pairs())
    scheduler.start()
    try:
        # While "slow" hangs, both "fast" pairs keep running on their own interval.
        wait_until(lambda: runs[("fast", "a")] >= 8 and runs[("fast", "b")] >= 8, 10, "fast pairs running on")
        assert runs[("slow", "a")] == 1
        assert skipped[("slow", "a")] >= 3
    finally:
        release.set()
        scheduler.stop()
    assert max(most.values()) == 1, f"a pair ran twice at once: {most}"


def test_reload_keeps_pairs_that_stay_and_drops_the_others() -> None:
    runs: Counter[str] = Counter()
    scheduler = Scheduler(lambda w, t: runs.update([f"{w.name}/{t.name}"]), first_run_within=0.05)
    scheduler.set_pairs(pairs())
    scheduler.start()
    try:
        wait_until(lambda: runs["slow/a"] >= 2, 10, "slow/a running")
        scheduler.set_pairs([p for p in pairs() if p[0].name == "fast"])
        time.sleep(0.2)  # let a run of slow/a that was already submitted finish
        before = runs["slow/a"]
        wait_until(lambda: runs["fast/a"] >= runs["slow/a"] + 5, 10, "fast/a running after the reload")
        assert runs["slow/a"] == before
    finally:
        scheduler.stop()


def test_a_crashing_run_does_not_stop_the_schedule() -> None:
    calls: list[int] = []

    def crash(workflow, target) -> None:
        calls.append(1)
        raise RuntimeError("bug in a run")

    scheduler = Scheduler(crash, first_run_within=0.05)
    scheduler.set_pairs(pairs()[:1])
    scheduler.start()
    try:
        wait_until(lambda: len(calls) >= 3, 10, "runs after a crash")
    finally:
        scheduler.stop()


def test_each_run_logs_its_lateness_at_debug(caplog) -> None:
    runs: list[str] = []
    scheduler = Scheduler(lambda w, t: runs.append(t.name), first_run_within=0.05)
    scheduler.set_pairs(pairs()[:2])
    with caplog.at_level(logging.DEBUG, logger="exporter.scheduler"):
        scheduler.start()
        try:
            wait_until(lambda: len(runs) >= 6, 10, "runs")
        finally:
            scheduler.stop()
    late = [record for record in caplog.records if hasattr(record, "lateness_seconds")]
    assert len(late) >= 6
    assert {(record.workflow, record.target) for record in late} == {("fast", "a"), ("fast", "b")}
    # Due at most 50 ms apart and nothing else running: each starts within a second of its due time.
    assert all(0 <= record.lateness_seconds < 1.0 for record in late), [r.lateness_seconds for r in late]


def test_runs_that_started_late_together_spread_out_instead_of_coming_due_together_again(caplog) -> None:
    # Eight pairs come due at once; one worker takes 30 ms a run, so the last starts ~0.2 s late. Each pair's next
    # run is due an interval after its own (late) start, so from the second round on nothing waits for a worker.
    config = "targets:\n  a: {base_url: 'http://127.0.0.1:9'}\nworkflows:\n" + "".join(
        f"  w{i}:\n    targets: [a]\n    interval: 500ms\n    timeout: 100ms\n"
        "    steps: [{name: s, http: {path: /}}]\n"
        for i in range(8)
    )
    starts: Counter[str] = Counter()

    def run_pair(workflow, target) -> None:
        starts.update([workflow.name])
        time.sleep(0.03)

    scheduler = Scheduler(run_pair, max_concurrency=1, jitter=0.0, first_run_within=0.001)
    scheduler.set_pairs(parse_config(config).pairs())
    with caplog.at_level(logging.DEBUG, logger="exporter.scheduler"):
        scheduler.start()
        try:
            wait_until(lambda: min(starts[f"w{i}"] for i in range(8)) >= 4, 10, "four rounds")
        finally:
            scheduler.stop()
    rounds: dict[str, list[float]] = {}
    for record in caplog.records:
        if hasattr(record, "lateness_seconds"):
            rounds.setdefault(record.workflow, []).append(record.lateness_seconds)
    first = [late[0] for late in rounds.values()]
    later = [value for late in rounds.values() for value in late[2:4]]
    assert max(first) >= 0.15, first  # the first round queued behind one worker
    assert max(later) < 0.1, later  # the third and fourth rounds did not
