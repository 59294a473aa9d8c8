"""``/metrics`` from cached lines (exporter/exposition.py) is byte for byte what prometheus_client writes.

Every comparison is against prometheus_client's own encoders (``generate_latest`` for the text format,
``openmetrics.exposition.generate_latest`` for OpenMetrics, ``make_wsgi_app`` for what is served), on the same
registry or on a bare prometheus_client registry fed the same runs: exemplars, ``_created`` samples, escaping,
the order of families and series, runs finishing while scrapes are assembled, and a reload that removes a pair.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from prometheus_client import (
    CollectorRegistry,
    Gauge,
    disable_created_metrics,
    enable_created_metrics,
    generate_latest,
    make_wsgi_app,
)
from prometheus_client import metrics as client_metrics
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as openmetrics_exposition
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.parser import text_string_to_metric_families as text_families
from prometheus_client.samples import Exemplar, Timestamp

import exporter.metrics as exporter_metrics
from exporter import exposition
from exporter.exposition import (
    OPENMETRICS,
    TEXT,
    CachedCounter,
    CachedGauge,
    CachedHistogram,
    CachedSummary,
    Format,
    generate,
)
from exporter.metrics import COUNTED_REASONS, WorkflowMetrics
from exporter.sections import SECTIONS
from exporter.service import Exporter
from synthetic.config import load_config
from synthetic.result import PHASES, RunResult, ServerTiming, StepResult
from tests.exporter.test_metrics_lifecycle import BASE
from tests.harness import require_binary

# The two-workflow, two-target config the series lifecycle tests use.
CONFIG = BASE
STEPS = {name: [step["name"] for step in workflow["steps"]] for name, workflow in CONFIG["workflows"].items()}
PAIRS = [(workflow, target) for workflow in STEPS for target in ("a", "b")]
ENCODERS: dict[Format, Callable[..., bytes]] = {
    TEXT: generate_latest,
    OPENMETRICS: openmetrics_exposition.generate_latest,
}
# What Prometheus 2.42 sends (scrape.go's acceptHeader) and the other requests prometheus_client negotiates.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
ACCEPTS = [
    PROMETHEUS_ACCEPT,
    "application/openmetrics-text; version=1.0.0",
    "application/openmetrics-text",
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8",
    "text/plain;version=1.0.0;escaping=underscores",
    "text/plain;version=0.0.4",
    "",
]


@pytest.fixture(params=[False, True], ids=["no _created", "_created"])
def created(request: pytest.FixtureRequest) -> Iterator[bool]:
    """prometheus_client's global ``_created`` switch (the service turns it off), restored afterwards."""
    before = client_metrics._use_created
    (enable_created_metrics if request.param else disable_created_metrics)()
    yield request.param
    (enable_created_metrics if before else disable_created_metrics)()


def _run(workflow: str, target: str, rng: random.Random, number: int) -> RunResult:
    """A finished run with varied durations (every bucket, +Inf too), server timing on some steps only (so
    series are created by later runs, after other pairs'), HTTP phases, a certificate expiry, exemplars, and
    now and then a failure with one of the counted reasons."""
    run = RunResult(workflow=workflow, target=target, correlation_id=f"run-{workflow}-{target}-{number:05d}",
                    started_at=1_700_000_000.0 + number, duration=rng.choice([0.02, 0.3, 4.0, 75.0]))  # fmt: skip
    failing = rng.randrange(len(STEPS[workflow])) if rng.random() < 0.3 else None
    for index, name in enumerate(STEPS[workflow]):
        if failing is not None and index > failing:
            run.steps.append(StepResult(name, "http", status="skipped", reason="skipped"))
            continue
        server = ServerTiming(app_seconds=rng.uniform(0, 3), db_seconds=rng.uniform(0, 0.2), queries=rng.randrange(9))
        step = StepResult(name, "http", duration=rng.choice([0.001, 0.07, 0.6, 12.0]),
                          server=server if rng.random() < 0.6 else ServerTiming(),
                          phases={phase: rng.uniform(0, 0.1) for phase in PHASES}, http_status=200,
                          tls_cert_expires_at=2_000_000_000.0 + rng.randrange(1000))  # fmt: skip
        if index == failing:
            step.status = "failed"
            step.reason = rng.choice([r for r in COUNTED_REASONS if r != "circuit_open" or index == 0])
        run.steps.append(step)
    return run


def _feed(metrics: WorkflowMetrics, runs: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    for number in range(runs):
        metrics.record(_run(*rng.choice(PAIRS), rng, number))
        if number % 7 == 0:
            metrics.count_skipped(*rng.choice(PAIRS), "overlap")
            metrics.set_circuit_open(rng.choice("ab"), rng.random() < 0.5)


def _exporter(tmp_path: Path, config: dict[str, Any] = CONFIG) -> tuple[Exporter, CollectorRegistry, Path]:
    path = tmp_path / "workflows.yml"
    path.write_text(yaml.safe_dump(config))
    registry = CollectorRegistry()
    return Exporter(path, registry), registry, path


def _same(ours: bytes, theirs: bytes) -> None:
    """Equal bytes; on a difference, the first differing line (the whole bodies are too long to read)."""
    if ours != theirs:
        mine, reference = ours.decode().splitlines(), theirs.decode().splitlines()
        first = next((i for i, (a, b) in enumerate(zip(mine, reference, strict=False)) if a != b), None)
        where = "the lengths" if first is None else f"line {first}: {mine[first]!r} != {reference[first]!r}"
        pytest.fail(f"cached exposition differs from prometheus_client's at {where} ({len(mine)}/{len(reference)})")


@pytest.mark.parametrize("fmt", [OPENMETRICS, TEXT])
@pytest.mark.parametrize("escaping", ["underscores", "allow-utf-8"])
def test_the_cache_writes_what_prometheus_client_writes(tmp_path: Path, fmt: Format, escaping: str,
                                                        created: bool) -> None:  # fmt: skip
    """Before any run (every series created at zero), after runs (lines rendered as the runs recorded them) and
    after more runs following a scrape (lines rendered again on change), in both formats."""
    exporter, registry, _ = _exporter(tmp_path)
    for seed, runs in enumerate((0, 60, 60)):
        _feed(exporter.metrics, runs, seed=seed)
        ours = generate(registry, fmt, escaping=escaping)
        _same(ours, ENCODERS[fmt](registry, escaping=escaping))
        assert generate(registry, fmt, escaping=escaping) == ours, "a second scrape of the same state differs"
    if fmt == OPENMETRICS:
        assert b' # {correlation_id="run-' in ours, "no exemplar in the OpenMetrics exposition"
        assert ours.endswith(b"# EOF\n") and ours.count(b"# EOF") == 1
    families = [line.split()[2] for line in ours.decode().splitlines() if line.startswith("# TYPE ")]
    assert len(families) == len(set(families)), "a family's samples are not under one header"


def test_the_cached_families_equal_a_bare_prometheus_client_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cached classes change nothing of the state: a WorkflowMetrics built from prometheus_client's own
    classes, fed the same runs at the same (frozen) time, encodes to the same bytes as ours serves."""
    monkeypatch.setattr(time, "time", lambda: 1_700_000_123.25)
    path = tmp_path / "workflows.yml"
    path.write_text(yaml.safe_dump(CONFIG))
    config = load_config(path, sections=SECTIONS)

    def metrics(cached: bool) -> WorkflowMetrics:
        with contextlib.nullcontext() if cached else exporter_metrics.prometheus_client_families():
            built = WorkflowMetrics(CollectorRegistry())
        built.configure(config, PAIRS)
        _feed(built, 150)
        built.configure(config, PAIRS[1:])  # a reload that drops a pair
        _feed(built, 20, seed=2)
        return built

    ours, bare = metrics(cached=True), metrics(cached=False)
    assert not any(isinstance(m, exposition._CachedSeries) for m in bare.families())
    assert all(isinstance(m, exposition._CachedSeries) for m in (ours.runs, ours.step_duration, ours.last_failure))
    for fmt in (OPENMETRICS, TEXT):
        _same(generate(ours.registry, fmt), ENCODERS[fmt](bare.registry))


@pytest.mark.parametrize("reads", ["direct", "through _child_samples"])
def test_every_type_label_escape_and_value_form(created: bool, reads: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The four cached types, labelled and not, with label values to escape, label names sorting before and
    after ``le``, values Go writes with an exponent, infinities and NaN, exemplars with and without their own
    timestamp, a negative first bucket (no ``_sum``), a reset, a removed and re-created series, and a
    ``set_function`` gauge (rendered at every scrape); the values read directly (what the installed
    prometheus_client allows) and through ``_child_samples()`` (what a release with other insides gets)."""
    assert exposition._fast_reads_agree(), "the installed prometheus_client is not read directly"
    if reads != "direct":
        monkeypatch.setattr(exposition, "_fast_reads_agree", lambda: False)
    registry = CollectorRegistry()
    odd = ['quote " here', "back\\slash", "new\nline", "ünïcödé ✓", ""]
    counter = CachedCounter("things", "Help with \\ and \"quotes\"\nand a newline.", ["b", "a1", "a"],
                            registry=registry)  # fmt: skip
    histogram = CachedHistogram("latency_seconds", "h", ["component", "step", "zone"], buckets=(-1.0, 0.5, 2e6),
                                registry=registry)  # fmt: skip
    gauge = CachedGauge("level", "g", ["where"], registry=registry)
    summary = CachedSummary("sizes_bytes", "s", ["kind"], unit="bytes", registry=registry)
    lone = CachedCounter("lone", "no labels", registry=registry)
    lone_histogram = CachedHistogram("lone_seconds", "no labels", registry=registry)
    Gauge("plain_gauge", "not cached", registry=registry).set(3)
    for index, value in enumerate(odd):
        counter.labels(value, "x", "y").inc(index + 0.5, exemplar={"correlation_id": f"id-{index}", "z": value})
        histogram.labels("app", value, "z").observe(index - 1.5, exemplar={"correlation_id": "x"})
        histogram.labels("db", value, "z").observe(3e6)
        gauge.labels(value).set([1e6, 123456789.0, float("inf"), float("-inf"), float("nan")][index])
        summary.labels(value).observe(1e-7 * index)
    counter.labels("reset", "x", "y").inc(5)
    counter.labels("reset", "x", "y").reset()
    lone.inc(1e21)
    lone_histogram.observe(0.01)
    gauge.labels("moved").set(-0.0)
    gauge.remove("moved")
    gauge.labels("moved").set(2)
    level = [7.0]
    gauge.labels("function").set_function(lambda: level[0])
    histogram.labels("cdn", "s", "z")._buckets[1].set_exemplar(
        Exemplar({"correlation_id": "with-time"}, 0.25, Timestamp(1_700_000_000, 5))
    )
    histogram.labels("cdn", "s", "z").observe(0.1)  # rendered again with the exemplar set behind its back
    for reading in (7.0, 8.5):  # the set_function gauge is read at every scrape, never kept
        level[0] = reading
        for fmt in (OPENMETRICS, TEXT):
            ours = generate(registry, fmt)
            _same(ours, ENCODERS[fmt](registry))
        assert f'level{{where="function"}} {reading}\n'.encode() in ours


def test_a_render_that_loses_a_race_with_a_newer_change_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """A change that lands after a render read the values but before it kept its lines: the stale lines are
    dropped (the newer change keeps its own), and the scrape shows the newer value."""
    registry = CollectorRegistry()
    counter = CachedCounter("races", "r", ["pair"], registry=registry)
    series = counter.labels("p")
    render = exposition._Family.render
    raced: list[str] = []

    def racing(family: exposition._Family, metric: Any, formats: Any) -> Any:
        lines = render(family, metric, formats)  # the values are read
        if not raced:
            raced.append("once")
            other = threading.Thread(target=series.inc, args=(2,))  # a run finishing in another thread
            other.start()
            other.join()
        return lines

    monkeypatch.setattr(exposition._Family, "render", racing)
    series.inc(1)  # renders 1.0; the racing change makes it 3.0 and renders that
    assert series._openmetrics is not None
    assert series._openmetrics.startswith(b'races_total{pair="p"} 3.0\n')  # then _created, when it is on
    _same(generate(registry, OPENMETRICS), openmetrics_exposition.generate_latest(registry))


@pytest.mark.parametrize("on_change", ["rendered", "dropped only"])
def test_runs_finishing_while_scrapes_are_assembled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    on_change: str) -> None:  # fmt: skip
    """Runs recorded from 4 threads while scrapes in both formats are assembled: every scrape parses, no
    counter and no histogram count goes back from one scrape to the next (a stale line kept would), and once
    the runs stop the scrape equals prometheus_client's. "dropped only": a change drops the lines without
    rendering them, so every changed series is rendered by the scrape, racing the runs that change it (the
    race itself, made certain, is the test above)."""
    if on_change == "dropped only":

        def drop(series: exposition._CachedSeries) -> None:
            with series._family.lock:
                series._version = next(exposition._VERSIONS)
                series._openmetrics = series._text = None

        monkeypatch.setattr(exposition._CachedSeries, "_changed", drop)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so renders interleave with changes
    try:
        exporter, registry, _ = _exporter(tmp_path)
        metrics = exporter.metrics

        stop = threading.Event()
        recorded = [0] * 4

        def runs(seed: int) -> None:
            rng = random.Random(seed)
            while not stop.is_set():
                metrics.record(_run(*rng.choice(PAIRS), rng, recorded[seed]))
                recorded[seed] += 1
                if recorded[seed] % 5 == 0:
                    metrics.count_skipped(*rng.choice(PAIRS), "overlap")

        threads = [threading.Thread(target=runs, args=(seed,)) for seed in range(4)]
        for thread in threads:
            thread.start()
        try:
            for scrape in range(10):
                fmt = (OPENMETRICS, TEXT)[scrape % 2]
                with metrics._lock:  # between runs: every change so far complete, lines included
                    lowest = _counts(registry.collect())  # the scrape must show at least these: no stale line
                body = generate(registry, fmt).decode()
                highest = _counts(registry.collect())
                parse = text_string_to_metric_families if fmt == OPENMETRICS else text_families
                scraped = _counts(parse(body))
                assert lowest.keys() <= scraped.keys() <= highest.keys()
                wrong = {key: (lowest.get(key, 0.0), value, highest[key]) for key, value in scraped.items()
                         if not lowest.get(key, 0.0) <= value <= highest[key]}  # fmt: skip
                assert not wrong, f"scrape {scrape}: (before, scraped, after) {wrong}"
                for key, value in scraped.items():
                    if key[0].endswith("_count") and (key[0].removesuffix("_count") + "_bucket", ()) != ():
                        inf = (key[0].removesuffix("_count") + "_bucket", tuple(sorted((*key[1], ("le", "+Inf")))))
                        assert scraped.get(inf, value) == value, f"{key}: +Inf bucket and count differ"
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert min(recorded) > 0, f"runs recorded per thread during the scrapes: {recorded}"
    for fmt in (OPENMETRICS, TEXT):
        _same(generate(registry, fmt), ENCODERS[fmt](registry))


def test_a_pair_removed_by_a_reload_disappears(tmp_path: Path) -> None:
    """Every series of a pair the reload drops (and of its workflow, no longer run anywhere) leaves the cached
    exposition as it leaves prometheus_client's; the series of pairs that stay keep their values."""
    exporter, registry, path = _exporter(tmp_path)
    _feed(exporter.metrics, 80)
    before = generate(registry, OPENMETRICS).decode()
    assert 'workflow="browse"' in before and 'target="b"' in before
    config = yaml.safe_load(yaml.safe_dump(CONFIG))
    del config["workflows"]["browse"]
    config["workflows"]["shop"]["targets"] = ["a"]
    path.write_text(yaml.safe_dump(config))
    assert exporter.reload().ok
    for fmt in (OPENMETRICS, TEXT):
        after = generate(registry, fmt)
        _same(after, ENCODERS[fmt](registry))
        scoped = [line for line in after.decode().splitlines() if 'workflow="' in line]
        assert scoped and not [line for line in scoped if 'workflow="browse"' in line or 'target="b",w' in line]
    kept = [
        line
        for line in before.splitlines()
        if line.startswith("workflow_runs_total{") and 'target="a",workflow="shop"' in line
    ]
    assert kept and all(line in generate(registry, OPENMETRICS).decode().splitlines() for line in kept)


def _counts(families: Iterable[Metric]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every counter, histogram bucket and count sample (values that only grow) by name and sorted labels."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in families for sample in family.samples
            if sample.name.endswith(("_total", "_count", "_bucket"))}  # fmt: skip


def _wsgi(app: Callable[..., Any], accept: str, encoding: str) -> tuple[str, dict[str, str], bytes]:
    """Call a WSGI app in-process as a scrape would: status, headers, body (gunzipped when it was)."""
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer.update(status=status, headers=dict(headers))

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "QUERY_STRING": "", "HTTP_ACCEPT": accept,
               "HTTP_ACCEPT_ENCODING": encoding, "wsgi.input": io.BytesIO()}  # fmt: skip
    body = b"".join(app(environ, start_response))
    if answer["headers"].get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return answer["status"], answer["headers"], body


@pytest.mark.parametrize("accept", ACCEPTS, ids=lambda accept: accept[:48] or "no Accept")
def test_the_app_answers_what_make_wsgi_app_answers(tmp_path: Path, accept: str) -> None:
    """The same status, Content-Type and (gunzipped) body as prometheus_client's ``make_wsgi_app`` for every
    Accept header it negotiates, gzip or not; other methods and ``name[]`` filters are its app's answers."""
    exporter, registry, _ = _exporter(tmp_path)
    _feed(exporter.metrics, 40)
    ours, theirs = exposition.make_metrics_app(registry), make_wsgi_app(registry)
    for encoding in ("gzip", ""):
        status, headers, body = _wsgi(ours, accept, encoding)
        assert (status, headers, body) == _wsgi(theirs, accept, encoding)
        assert ("Content-Encoding" in headers) == (encoding == "gzip")
    for method, query in (("OPTIONS", ""), ("POST", ""), ("GET", "name[]=workflow_runs_total")):
        environ = {"REQUEST_METHOD": method, "PATH_INFO": "/metrics", "QUERY_STRING": query, "wsgi.input": io.BytesIO()}
        answers = []
        for app in (ours, theirs):
            started: list[Any] = []
            body = b"".join(app(dict(environ), lambda s, h, e=None, started=started: started.append((s, h))))
            answers.append((body, started))
        assert answers[0] == answers[1]


@pytest.mark.parametrize("isal", [True, False], ids=["isal", "zlib"])
def test_gzip_with_and_without_isal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isal: bool) -> None:
    """ISA-L's gzip when isal is installed (the exporter extra has it), zlib's without: either unpacks to the
    exposition, as one gzip member."""
    exporter, registry, _ = _exporter(tmp_path)
    _feed(exporter.metrics, 20)
    if isal:
        assert exposition._isal_zlib is not None, "isal is not installed"
    else:
        monkeypatch.setattr(exposition, "_isal_zlib", None)
    status, headers, body = _wsgi(exposition.make_metrics_app(registry), PROMETHEUS_ACCEPT, "gzip")
    assert status == "200 OK" and headers["Content-Encoding"] == "gzip"
    _same(body, openmetrics_exposition.generate_latest(registry))


def test_served_metrics_pass_promtool_and_the_openmetrics_parser(serve_exporter, target) -> None:
    """Over HTTP, as Prometheus asks (OpenMetrics, gzip): prometheus_client's OpenMetrics parser reads it with
    its exemplars and it equals prometheus_client's encoding of the registry; the text format passes
    ``promtool check metrics`` without a warning."""
    promtool = require_binary("promtool")
    running = serve_exporter(yaml.safe_dump(CONFIG))
    _feed(running.exporter.metrics, 40)
    with requests.Session() as session:  # one kept connection: workflow_exporter_http_connections stays 1
        served = session.get(f"{running.url}/metrics", headers={"Accept": PROMETHEUS_ACCEPT}, timeout=30)
        assert served.headers["Content-Encoding"] == "gzip"  # requests asked for it and undid it
        assert served.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
        _same(served.content, openmetrics_exposition.generate_latest(running.registry))
        families = {family.name: family for family in text_string_to_metric_families(served.text)}
        exemplars = [s.exemplar for s in families["workflow_step_duration_seconds"].samples if s.exemplar]
        assert exemplars and all(e.labels["correlation_id"].startswith("run-") for e in exemplars)
        text = session.get(f"{running.url}/metrics", timeout=30).text
    assert "workflow_step_failures_total{" in text
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr
