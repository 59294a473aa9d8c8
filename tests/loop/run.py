"""Run the fault matrix on a stack: switch a batch of faults on, watch Prometheus and the receiver, switch them
off, watch everything resolve; and the healthy window. Each row's outcome is a ``Result`` (a failed
expectation is a problem in it, not an exception), so the compressed matrix asserts on them and ``make loop``
writes them to docs/loop.md.

Times are seconds on the monotonic clock, measured by polling every ``POLL`` seconds: to firing is from the fault
switched on to Prometheus reporting the alert firing, to notification from the fault on to the receiver getting
it, to resolve from the fault switched off to the resolved notification.

One notification per alert means: its firing alert reaches exactly one receiver (the one its severity routes
to), in exactly one Alertmanager group (a pager's incident key), and no notification of that group repeats an
unchanged set of firing alerts before the route's repeat_interval (after it, the repeat is Alertmanager's reminder
of a still open incident). A group may be notified again when alerts join it (Alertmanager's group_interval),
which is an update of the same incident, not a second page; a fault that does not break everything pages in one
group at most.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
import yaml

from tests.conftest import REPO_ROOT
from tests.harness import wait_until

from .matrix import EVERYTHING, HEALTHY, Row
from .stack import ALERTMANAGER, LoopStack
from .timescale import parse_duration

POLL = 0.25
RUNBOOKS = REPO_ROOT / "docs" / "runbooks"
RUNBOOK_URL = re.compile(r"^https://github\.com/workflow-exporter/workflow-exporter/blob/main/docs/runbooks/"
                         r"(?P<page>[a-z0-9_-]+\.md)#(?P<anchor>[a-z0-9-]+)$")  # fmt: skip


@dataclass
class Episode:
    """One alert from becoming active to gone, as Prometheus reported it; times on the monotonic clock."""

    labels: dict[str, str]
    annotations: dict[str, str]
    active_at: str
    first_seen: float
    firing_at: float | None = None
    gone_at: float | None = None


@dataclass
class Notice:
    """One notification the receiver got: when, for which receiver, the Alertmanager webhook payload."""

    at: float
    receiver: str
    payload: dict[str, Any]

    def alerts(self, status: str) -> list[dict[str, Any]]:
        return [alert for alert in self.payload["alerts"] if alert["status"] == status]


class Watch:
    """Polls Prometheus' active alerts and the webhook's payloads in a thread, stamping when each appears."""

    def __init__(self, stack: LoopStack) -> None:
        self.stack = stack
        self.episodes: list[Episode] = []
        self.notices: list[Notice] = []
        self._active: dict[tuple[str, str], Episode] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="loop-watch", daemon=True)

    def start(self) -> Watch:
        """Poll once before returning, so what is active already is known (not mistaken for new later)."""

        def first() -> bool:
            self.poll()
            return True

        wait_until(first, 30, "a first look at Prometheus' alerts", interval=POLL)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            # Prometheus busy or restarting: the next poll catches up.
            with contextlib.suppress(requests.RequestException, AssertionError):
                self.poll()
            self._stop.wait(POLL)

    def poll(self) -> None:
        alerts = self.stack.prometheus.api("alerts")["alerts"]
        now = time.monotonic()
        with self._lock:
            for payload in self.stack.webhook.payloads[len(self.notices) :]:
                self.notices.append(Notice(now, payload["receiver"], payload))
            seen = set()
            for alert in alerts:
                key = (repr(sorted(alert["labels"].items())), alert["activeAt"])
                seen.add(key)
                episode = self._active.get(key)
                if episode is None:
                    episode = Episode(alert["labels"], alert["annotations"], alert["activeAt"], now)
                    self._active[key] = episode
                    self.episodes.append(episode)
                if alert["state"] == "firing" and episode.firing_at is None:
                    episode.firing_at = now
                episode.annotations = alert["annotations"]
            for key in set(self._active) - seen:
                self._active.pop(key).gone_at = now

    def active(self) -> list[Episode]:
        with self._lock:
            return list(self._active.values())

    def since(self, start: float) -> tuple[list[Episode], list[Notice]]:
        """Episodes that became active and notices that arrived at or after ``start``."""
        with self._lock:
            return ([e for e in self.episodes if e.first_seen >= start],
                    [n for n in self.notices if n.at >= start])  # fmt: skip


@dataclass
class Result:
    """One row of the matrix as measured: seconds, or None when it did not happen; problems say what failed."""

    fault: str
    alertname: str
    severity: str
    receiver: str
    to_firing: float | None = None
    to_notification: float | None = None
    to_resolve: float | None = None
    first_alert: str = ""
    also: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def describe(labels: Mapping[str, str]) -> str:
    """An alert as ``Name{label=value,...}`` with the labels that say what and where (not job or instance)."""
    shown = {k: v for k, v in sorted(labels.items()) if k not in ("alertname", "job", "instance", "severity")}
    inner = ",".join(f"{k}={v}" for k, v in shown.items())
    return f"{labels.get('alertname')}{{{inner}}} ({labels.get('severity', '-')})"


def runbook_problem(url: str) -> str | None:
    """Why ``url`` does not lead to a heading of docs/runbooks/*.md (GitHub's anchor of the heading), or None."""
    match = RUNBOOK_URL.match(url)
    if not match:
        return f"runbook_url {url!r} is not a docs/runbooks/*.md#anchor link"
    page = RUNBOOKS / match["page"]
    if not page.is_file():
        return f"runbook page {page.name} does not exist"
    anchors = {heading_anchor(line.lstrip("#")) for line in page.read_text().splitlines() if line.startswith("#")}
    if match["anchor"] not in anchors:
        return f"runbook {page.name} has no heading with anchor #{match['anchor']}"
    return None


def heading_anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def repeat_interval(stack: LoopStack, receiver: str) -> float:
    """Seconds after which the stack's Alertmanager sends an unchanged group to ``receiver`` again: the
    ``repeat_interval`` of the shipped route for that receiver, at the stack's timescale."""
    route = stack.timescale.alertmanager(yaml.safe_load(ALERTMANAGER.read_text()))["route"]
    interval = route.get("repeat_interval", "4h")  # Alertmanager's default
    for child in route.get("routes", []):
        if child.get("receiver") == receiver:
            interval = child.get("repeat_interval", interval)
            break
    return parse_duration(interval)


def switch(stack: LoopStack, rows: Sequence[Row], on: bool, timeout: float) -> None:
    """Switch the rows' faults where each is served (the shop's or the storefront's), retrying while the shop
    cannot (db_connection_errors refuses half its connections)."""
    changes = {owner: {row.fault: on for row in rows if row.owner == owner} for owner in {row.owner for row in rows}}
    switches = {"shop": stack.shop.set_faults, "storefront": stack.storefront.set_faults}

    def done() -> bool:
        for owner, faults in changes.items():
            switches[owner](**faults)
        return True

    wait_until(done, timeout, f"faults switched to {changes}", interval=0.5)


@contextlib.contextmanager
def watching(stack: LoopStack) -> Iterator[Watch]:
    watch = Watch(stack).start()
    try:
        yield watch
    finally:
        watch.stop()


def wait_quiet(watch: Watch, timeout: float) -> list[str]:
    """Wait until Prometheus has no active alert (pending or firing); the alerts that were still active when
    ``timeout`` ran out, described."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not watch.active():
            return []
        time.sleep(POLL)
    return [describe(episode.labels) for episode in watch.active()]


def healthy_window(watch: Watch, seconds: float) -> Result:
    """With no fault on, for ``seconds``: nothing fires and no firing notification arrives."""
    result = Result(HEALTHY, "(none)", "-", "-")
    start = time.monotonic()
    time.sleep(seconds)
    episodes, notices = watch.since(start)
    fired = [describe(e.labels) for e in episodes if e.firing_at is not None]
    pending = sorted({describe(e.labels) for e in episodes if e.firing_at is None})
    if fired:
        result.problems.append(f"fired while healthy: {', '.join(sorted(set(fired)))}")
    # A notification still on its way for an alert that came and went before the window is not the window's.
    for notice in notices:
        names = [
            describe(a["labels"]) for a in notice.alerts("firing") if any(a["labels"] == e.labels for e in episodes)
        ]
        if names:
            result.problems.append(f"{notice.receiver} notified while healthy: {', '.join(names)}")
    result.also = [f"pending only: {name}" for name in pending]
    return result


def run_batch(watch: Watch, rows: Sequence[Row], fire_timeout: float, resolve_timeout: float) -> list[Result]:
    """Switch ``rows``' faults on together, wait for each expected alert and its notification, switch them off,
    wait for each to resolve; one Result per row."""
    stack = watch.stack
    results = {row.fault: Result(row.fault, row.alertname, row.severity, row.receiver) for row in rows}
    # What an earlier batch raised must be gone first: a journey broken by two batches in a row (checkout_errors,
    # then render_error, both fail storefront-buy) would otherwise carry the first fault's failing step into the
    # second one's alerts, and a notification of a shared group would still list the first fault's alerts.
    leftover = wait_quiet(watch, resolve_timeout)
    start = time.monotonic()
    switch(stack, rows, True, fire_timeout)

    def expected(row: Row) -> tuple[Episode | None, Notice | None]:
        episodes, notices = watch.since(start)
        episode = next((e for e in episodes if row.matches(e.labels) and e.firing_at is not None), None)
        notice = next((n for n in notices if any(row.matches(a["labels"]) for a in n.alerts("firing"))), None)
        return episode, notice

    deadline = start + fire_timeout
    while time.monotonic() < deadline and not all(all(expected(row)) for row in rows):
        time.sleep(POLL)
    off = time.monotonic()
    switch(stack, rows, False, resolve_timeout)

    def resolved(row: Row) -> bool:
        episode, notice = expected(row)
        if episode is None or notice is None:
            return True  # nothing to wait for
        _, notices = watch.since(off)
        return episode.gone_at is not None and any(
            n.receiver == notice.receiver and any(row.matches(a["labels"]) for a in n.alerts("resolved"))
            for n in notices
        )

    deadline = off + resolve_timeout
    while time.monotonic() < deadline and not all(resolved(row) for row in rows):
        time.sleep(POLL)
    end = time.monotonic()

    episodes, notices = watch.since(start)
    new = sorted((e for e in episodes if e.firing_at is not None), key=lambda e: e.firing_at or 0.0)
    first = f"{describe(new[0].labels)} after {new[0].firing_at - start:.0f}s" if new and new[0].firing_at else ""
    for row in rows:
        result = results[row.fault]
        result.first_alert = first
        _judge(row, result, watch, start, off, end)
        allowed = {describe(e.labels) for e in new if not row.matches(e.labels) and row.allows(e.labels)}
        unexplained = {describe(e.labels) for e in new if not any(other.allows(e.labels) for other in rows)}
        result.also = sorted(allowed) + [f"unexplained: {name}" for name in sorted(unexplained)]
        result.also += [f"still active from before the batch: {name}" for name in leftover]
    # Nothing pages that no row of the batch expects or allows; alerts that were active before the batch (still
    # resolving from an earlier one) are not this batch's.
    unexplained_pages = sorted({
        describe(alert["labels"])
        for notice in notices if notice.receiver == "pager"
        for alert in notice.alerts("firing")
        if any(e.labels == alert["labels"] for e in episodes) and not any(row.allows(alert["labels"]) for row in rows)
    })  # fmt: skip
    for name in unexplained_pages:
        for row in rows:
            results[row.fault].problems.append(f"paged for an alert no fault of the batch explains: {name}")
    # A fault that does not break everything pages as one incident: whatever of its alerts reach the pager (its
    # own, the journeys it breaks, a second detector of the same hole) arrive in one Alertmanager group.
    for row in rows:
        if EVERYTHING in row.breaks:
            continue
        incidents = {notice.payload["groupKey"] for notice in notices if notice.receiver == "pager"
                     for alert in notice.alerts("firing")
                     if any(e.labels == alert["labels"] for e in episodes) and row.allows(alert["labels"])}  # fmt: skip
        if len(incidents) > 1:
            results[row.fault].problems.append(f"paged {len(incidents)} times (groups {sorted(incidents)})")
    return [results[row.fault] for row in rows]


def _judge(row: Row, result: Result, watch: Watch, start: float, off: float, end: float) -> None:
    episodes, notices = watch.since(start)
    episode = next((e for e in episodes if row.matches(e.labels) and e.firing_at is not None), None)
    if episode is None or episode.firing_at is None:
        similar = sorted({describe(e.labels) for e in episodes if e.labels.get("alertname") == row.alertname})
        result.problems.append(f"{row.alertname} with {dict(row.labels)} did not fire"
                               + (f" (fired: {', '.join(similar)})" if similar else ""))  # fmt: skip
        return
    result.to_firing = episode.firing_at - start
    carrying = [(n, a) for n in notices for a in n.alerts("firing") if a["labels"] == episode.labels]
    # What the receiver was told: the description in the first notification (an alert's description is evaluated
    # again and again; once the fault is off it may tell of the recovery), else the last one Prometheus showed.
    annotations = carrying[0][1].get("annotations", {}) if carrying else episode.annotations
    description = annotations.get("description", "")
    missing = [name for name in row.names if name not in description]
    if missing:
        result.problems.append(f"description does not name {missing}: {description!r}")
    if problem := runbook_problem(annotations.get("runbook_url", "")):
        result.problems.append(problem)

    if not carrying:
        result.problems.append(f"no notification reached {row.receiver}")
        return
    result.to_notification = carrying[0][0].at - start
    receivers = sorted({n.receiver for n, _ in carrying})
    groups = {n.payload["groupKey"] for n, _ in carrying}
    if receivers != [row.receiver]:
        result.problems.append(f"notified {receivers}, expected only {row.receiver}")
    if len(groups) != 1:
        result.problems.append(f"notified in {len(groups)} groups: {sorted(groups)}")
    # The same notification again (the same alerts firing, the same resolved) is a repeat unless the route's
    # repeat_interval has passed (Alertmanager's reminder); one that says an alert of the group resolved is news.
    sent: dict[tuple[str, frozenset[tuple[str, str, str]]], float] = {}
    repeat_after = {receiver: repeat_interval(watch.stack, receiver) for receiver in receivers}
    for notice, _ in carrying:
        alerts = frozenset((repr(sorted(a["labels"].items())), a["startsAt"], a["status"])
                           for a in notice.payload["alerts"])  # fmt: skip
        key = (notice.payload["groupKey"], alerts)
        if key in sent and notice.at - sent[key] < repeat_after[notice.receiver]:
            result.problems.append(f"{notice.receiver} notified twice of the same alerts (a repeat)")
        sent[key] = notice.at

    if episode.gone_at is None:
        result.problems.append(f"{row.alertname} still active {end - off:.0f}s after the fault was switched off")
        return
    resolved = [n for n in notices if n.at >= off and n.receiver == carrying[0][0].receiver
                and any(a["labels"] == episode.labels for a in n.alerts("resolved"))]  # fmt: skip
    if not resolved:
        result.problems.append("no resolved notification arrived")
        return
    result.to_resolve = resolved[0].at - off
