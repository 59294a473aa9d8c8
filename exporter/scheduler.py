"""Run every (workflow, target) pair on its interval, with jitter, bounded concurrency and no overlap.

A pair whose previous run is still going when it comes due is skipped for that tick (counted), never run
twice at once. Runs execute in a thread pool, each bounded by its workflow's timeout, so a hung target
holds one worker at most and never delays the other pairs.

Each run's lateness (how long after its due time it started in a worker: the scheduler's wake-up plus the wait
for a free worker) is logged at DEBUG by the ``exporter.scheduler`` logger, with ``lateness_seconds``. A run that
starts late moves its pair's next run by as much (due one interval after the late start), so runs that came due
together (every pair's first run falls within ``first_run_within`` of the start) spread out over the time the
exporter took to start them, instead of coming due together again at every interval.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from synthetic.model import Target, Workflow

logger = logging.getLogger("exporter.scheduler")

RunPair = Callable[[Workflow, Target], object]
OnSkip = Callable[[Workflow, Target], None]


@dataclass
class _Job:
    workflow: Workflow
    target: Target
    next_due: float
    running: bool = False


class Scheduler:
    def __init__(
        self,
        run_pair: RunPair,
        on_skip: OnSkip | None = None,
        max_concurrency: int = 8,
        jitter: float = 0.1,
        first_run_within: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._run_pair = run_pair
        self._on_skip = on_skip
        self._jitter = jitter
        self._first_run_within = first_run_within
        self._clock = clock
        self._rng = rng or random.Random()
        self._executor = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="workflow-run")
        self._jobs: dict[tuple[str, str], _Job] = {}
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: bool = True) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread.is_alive():
            self._thread.join()
        self._executor.shutdown(wait=wait, cancel_futures=True)

    def set_pairs(self, pairs: list[tuple[Workflow, Target]]) -> None:
        """Replace the schedule (on start and reload); pairs that stay keep their place in time."""
        now = self._clock()
        with self._wake:
            new: dict[tuple[str, str], _Job] = {}
            for workflow, target in pairs:
                key = (workflow.name, target.name)
                job = self._jobs.get(key)
                if job is None:
                    spread = min(workflow.interval, self._first_run_within)
                    job = _Job(workflow, target, now + self._rng.uniform(0, spread))
                else:
                    job.workflow, job.target = workflow, target
                new[key] = job
            self._jobs = new
            self._wake.notify_all()

    def _interval(self, workflow: Workflow) -> float:
        spread = workflow.interval * self._jitter
        return workflow.interval + self._rng.uniform(-spread, spread)

    def _loop(self) -> None:
        while True:
            with self._wake:
                if self._stopping:
                    return
                now = self._clock()
                due = [job for job in self._jobs.values() if job.next_due <= now]
                for job in due:
                    due_at, interval = job.next_due, self._interval(job.workflow)
                    job.next_due = max(due_at + interval, now)
                    if job.running:
                        if self._on_skip:
                            self._on_skip(job.workflow, job.target)
                        continue
                    job.running = True
                    self._executor.submit(self._execute, job, due_at, interval)
                upcoming = min((job.next_due for job in self._jobs.values()), default=now + 1.0)
                self._wake.wait(timeout=max(0.01, min(upcoming - self._clock(), 1.0)))

    def _execute(self, job: _Job, due_at: float, interval: float) -> None:
        started = self._clock()
        lateness = started - due_at
        if lateness > 0:
            with self._wake:
                job.next_due = max(job.next_due, started + interval)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("run of %s on %s starts %.3f s after its due time", job.workflow.name, job.target.name,
                         lateness, extra={"workflow": job.workflow.name, "target": job.target.name,
                                          "lateness_seconds": round(lateness, 4)})  # fmt: skip
        try:
            self._run_pair(job.workflow, job.target)
        except Exception:
            logger.exception("run of %s on %s crashed", job.workflow.name, job.target.name)
        finally:
            with self._wake:
                job.running = False
