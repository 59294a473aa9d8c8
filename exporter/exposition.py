"""``/metrics`` from cached text: each series' exposition lines are rendered when the series changes, and a scrape
joins the kept lines instead of encoding every sample again.

prometheus_client encodes every sample on every scrape (about 11 µs a sample in OpenMetrics), so a scrape of
1000 pairs x 10 steps (~580 000 samples) cost ~10 s of CPU under the GIL the runs share. The samples of the
scheduled-run families change only when a run finishes, so this module keeps, on each series (each child of a
labelled family), the bytes of its lines in each exposition format that has been asked for, renders them again
when the series changes (``inc``, ``observe``, ``set``: in the run's own thread, when ``record()`` counts it), and
at a scrape only joins them.

The output is byte-for-byte what prometheus_client's ``generate_latest`` (text 0.0.4 and 1.0.0) and
``openmetrics.exposition.generate_latest`` write for the same registry state:

- families come in the registry's order (``registry.collect()``), each under one HELP/TYPE header (the headers
  are prometheus_client's own output for the family);
- the series of a family come in the order of its children dict (prometheus_client's order: the order the
  series were created in); a series removed (``remove()``, the prune on reload) is simply no longer there;
- labels are sorted by name, values escaped and formatted (``floatToGoString``) as prometheus_client does;
  OpenMetrics carries the exemplars, and ``_created`` samples (when prometheus_client's global switch has them)
  go inline in OpenMetrics and into a ``<name>_created`` gauge after the family in the text format.

Only the families built from the classes here (``CachedCounter``, ``CachedGauge``, ``CachedHistogram``,
``CachedSummary``) are served from the cache; every other collector on the registry (the exporter's own
``workflow_exporter_*`` metrics, ``target_info``) is encoded by prometheus_client at each scrape as before, in
its place in the registry's order. The same objects still work everywhere prometheus_client does
(``generate_latest(registry)``, ``registry.get_sample_value``): ``collect()`` yields a ``Metric`` whose samples
are built when read.

A series' cached lines are valid for one version of it: every mutation takes a new version from a process-wide
counter *after* it changed the values, and lines rendered from a version that is no longer current are rendered
again at the scrape, so a run finishing while a scrape is assembled never leaves stale lines behind. A family
whose metric or label names would be escaped (not ``[a-zA-Z_][a-zA-Z0-9_]*``) and the name escaping schemes
``dots`` and ``values`` (where prometheus_client rewrites names) are encoded by prometheus_client instead.

``make_metrics_app`` serves it as prometheus_client's ``make_wsgi_app`` does (the same negotiation, headers and,
unzipped, bytes), with gzip at level 1 of ISA-L (``isal``; zlib without it) fed family by family. Measurements,
and what was tried: docs/performance.md, "Exporter", section 3.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import threading
import zlib
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from operator import attrgetter
from typing import Any, Literal, cast
from urllib.parse import parse_qs
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from prometheus_client import Counter, Gauge, Histogram, Summary
from prometheus_client import exposition as text_exposition
from prometheus_client import metrics as client_metrics
from prometheus_client import values as client_values
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as openmetrics_exposition
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar, Sample
from prometheus_client.utils import floatToGoString

_isal_zlib: Any
try:
    from isal import isal_zlib as _isal_zlib
except ImportError:  # an exporter installed without its extra's isal: zlib, slower
    _isal_zlib = None

Format = Literal["text", "openmetrics"]
TEXT: Format = "text"
OPENMETRICS: Format = "openmetrics"
# gzip level 1 of ISA-L (isal, the exporter extra's): about a fifth of zlib level 1's CPU on this text and a
# hundredth of prometheus_client's level 9, for ~1.3x level 9's bytes (4.0 MB instead of 3.0 MB at 1000 pairs
# x 10 steps); without isal, zlib level 1 (~5x isal's CPU, 4.3 MB). Prometheus reads any of them, and on a
# local network the bytes cost nothing next to the CPU (docs/performance.md).
GZIP_LEVEL = 1
# Escaping schemes under which a plain name is written as is: the cache serves them.
_PLAIN_ESCAPINGS = (openmetrics_exposition.UNDERSCORES, openmetrics_exposition.ALLOWUTF8)
_PLAIN_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_VERSIONS = itertools.count(1)


# What _read_any() reads of a sample: (line up to the value, value, timestamp, exemplar, a text-format
# _created line)
_Sample = tuple[str, float, Any, Exemplar | None, bool]
_INF = float("inf")
# prometheus_client's own sample builders of the four types: a class that overrides one is read through it.
_KNOWN_SAMPLES = {Counter._child_samples, Gauge._child_samples, Histogram._child_samples, Summary._child_samples}


def _go(value: float) -> str:
    """``floatToGoString``: Python's repr but for infinities, NaN and Go's exponent from 1e6 on."""
    if type(value) is float and -_INF < value < 1e6:
        return repr(value)
    return floatToGoString(value)


def escape_label_value(value: str) -> str:
    """A label value as both formats write it (prometheus_client's ``_escape`` for ``allow-utf-8``)."""
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def _exemplar_text(exemplar: Exemplar) -> str:
    """The `` # {labels} value [timestamp]`` suffix OpenMetrics writes after a sample with an exemplar."""
    labels = ",".join(f'{name}="{escape_label_value(value)}"' for name, value in sorted(exemplar.labels.items()))
    if exemplar.timestamp is not None:
        return f" # {{{labels}}} {_go(exemplar.value)} {exemplar.timestamp}"
    return f" # {{{labels}}} {_go(exemplar.value)}"


class FixedCollector:
    """A collector of fixed metrics, to hand a few families to prometheus_client's encoders."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self.metrics = list(metrics)

    def collect(self) -> Iterable[Metric]:
        return self.metrics


class _Family:
    """What a family's series share for rendering: names, the sorted label order, headers, the formats wanted.

    One object per family, held by the parent and each child (passed to children through prometheus_client's
    ``_kwargs``, as ``buckets`` is).
    """

    def __init__(self, metric: MetricWrapperBase, fast: bool | None = None) -> None:
        self.name: str = metric._name
        self.type: str = metric._type or "unknown"
        self.documentation: str = metric._documentation
        self.unit: str = metric._unit
        labelnames: tuple[str, ...] = tuple(metric._labelnames)
        # (name, position in the label values), in the order both formats write labels: sorted by name
        self.sorted_labels = sorted((name, index) for index, name in enumerate(labelnames))
        names = [name for name, _ in self.sorted_labels]
        # The four types whose samples are read here directly; anything else through _child_samples().
        direct = client_values.ValueClass is client_values.MutexValue  # not the multiprocess mode's values
        if fast is None:
            fast = direct and type(metric)._child_samples in _KNOWN_SAMPLES and _fast_reads_agree()
        self.kind = self.type if fast else None
        self.le_at = bisect.bisect_left(names, "le")
        bounds = getattr(metric, "_upper_bounds", ())
        self.le_parts = [f'le="{floatToGoString(bound)}"' for bound in bounds]
        self.cacheable = bool(_PLAIN_NAME.fullmatch(self.name)) and all(
            _PLAIN_NAME.fullmatch(name) and not name.startswith("__") for name in labelnames
        )
        # Formats kept up to date on every change; OpenMetrics (what Prometheus asks for) from the start, the
        # text format once a scrape asked for it. Replaced, never mutated, so readers need no lock.
        self.wanted: tuple[Format, ...] = (OPENMETRICS,)
        self._headers: dict[Format, tuple[bytes, bytes]] = {}
        # Guards the kept lines of every series of the family against a render that lost a race.
        self.lock = threading.Lock()
        # prometheus_client's _created switch the kept lines were rendered under.
        self.created: bool = client_metrics._use_created

    def forget(self, parent: _CachedSeries, created: bool) -> None:
        """Drop every kept line of the family, now to be rendered with ``_created`` samples ``created``."""
        with self.lock:
            self.created = created
            for series in parent._series():
                series._openmetrics = series._text = None

    def want(self, fmt: Format) -> None:
        if fmt not in self.wanted:
            self.wanted = (*self.wanted, fmt)

    def headers(self, fmt: Format) -> tuple[bytes, bytes]:
        """The family's HELP/TYPE(/UNIT) lines in ``fmt`` and, for the text format, those of its ``_created``
        gauge: prometheus_client's own output for a family without samples."""
        headers = self._headers.get(fmt)
        if headers is None:
            metric = Metric(self.name, self.documentation, self.type, self.unit)
            if fmt == TEXT:
                metric.add_sample(self.name + "_created", {}, 0.0)
                lines = text_exposition.generate_latest(FixedCollector([metric])).splitlines(keepends=True)
                headers = (b"".join(lines[:2]), b"".join(lines[2:4]))
            else:
                body = openmetrics_exposition.generate_latest(FixedCollector([metric]))
                headers = (body.removesuffix(b"# EOF\n"), b"")
            self._headers[fmt] = headers
        return headers

    def render(self, series: MetricWrapperBase, formats: Sequence[Format]) -> dict[Format, tuple[bytes, bytes]]:
        """The lines of one series in each of ``formats``: (sample lines, text-format ``_created`` lines)."""
        values = series._labelvalues
        parts = [f'{name}="{escape_label_value(values[index])}"' for name, index in self.sorted_labels]
        rendered: dict[Format, tuple[bytes, bytes]] = {}
        if not self.kind or getattr(series, "_volatile", False):
            samples = self._read_any(series, parts)
            if OPENMETRICS in formats:
                om_lines = []
                for head, value, stamp, exemplar, _ in samples:
                    suffix = "" if stamp is None else f" {stamp}"
                    om_lines.append(f"{head}{_go(value)}{suffix}{_exemplar_text(exemplar) if exemplar else ''}\n")
                rendered[OPENMETRICS] = ("".join(om_lines).encode(), b"")
            if TEXT in formats:
                text_lines: list[str] = []
                created_lines: list[str] = []
                for head, value, stamp, _, created in samples:
                    suffix = "" if stamp is None else f" {int(float(stamp) * 1000):d}"
                    (created_lines if created else text_lines).append(f"{head}{_go(value)}{suffix}\n")
                rendered[TEXT] = ("".join(text_lines).encode(), "".join(created_lines).encode())
            return rendered
        lines, exemplars, created_line = self._read(series, parts)
        plain = b""
        if TEXT in formats or not (exemplars or created_line):
            plain = ("\n".join(lines) + "\n").encode()
        if OPENMETRICS in formats:
            om = plain  # the same bytes as the text format's when there is neither exemplar nor _created
            if exemplars or created_line:
                with_exemplars = lines.copy()
                for index, exemplar in exemplars:
                    with_exemplars[index] += _exemplar_text(exemplar)
                if created_line:
                    with_exemplars.append(created_line)
                om = ("\n".join(with_exemplars) + "\n").encode()
            rendered[OPENMETRICS] = (om, b"")
        if TEXT in formats:
            rendered[TEXT] = (plain, (created_line + "\n").encode() if created_line else b"")
        return rendered

    def _read(self, series: Any, parts: list[str]) -> tuple[list[str], list[tuple[int, Exemplar]], str | None]:
        """The sample lines (without exemplars, timestamps or newlines) of a series of one of the four types, the
        exemplars by line, and its ``_created`` line: the samples ``_child_samples()`` computes, in its order,
        without building ``Sample`` tuples and label dicts. The values are read from prometheus_client's
        ``MutexValue`` objects without their lock (a float read is atomic; a change racing the read is caught by
        the version, see ``_CachedSeries._render``)."""
        name = self.name
        labels = "{" + ",".join(parts) + "}" if parts else ""
        exemplars: list[tuple[int, Exemplar]] = []
        if self.kind == "gauge":
            return [f"{name}{labels} {_go(series._value._value)}"], exemplars, None
        if self.kind == "counter":
            value = series._value
            lines = [f"{name}_total{labels} {_go(value._value)}"]
            if value._exemplar:
                exemplars.append((0, value._exemplar))
        elif self.kind == "summary":
            lines = [
                f"{name}_count{labels} {_go(series._count._value)}",
                f"{name}_sum{labels} {_go(series._sum._value)}",
            ]
        else:  # histogram: cumulative buckets, le among the labels in name order
            left, right = ",".join(parts[: self.le_at]), ",".join(parts[self.le_at :])
            before = f"{name}_bucket{{{left}," if left else f"{name}_bucket{{"
            after = f",{right}}} " if right else "} "
            lines = []
            total = 0.0
            for le, bucket in zip(self.le_parts, series._buckets, strict=True):
                total += bucket._value
                lines.append(f"{before}{le}{after}{repr(total) if total < 1e6 else floatToGoString(total)}")
                if bucket._exemplar:
                    exemplars.append((len(lines) - 1, bucket._exemplar))
            lines.append(f"{name}_count{labels} {_go(total)}")
            if series._upper_bounds[0] >= 0:
                lines.append(f"{name}_sum{labels} {_go(series._sum._value)}")
        created = f"{name}_created{labels} {_go(series._created)}" if client_metrics._use_created else None
        return lines, exemplars, created

    def _read_any(self, series: MetricWrapperBase, parts: list[str]) -> list[_Sample]:
        """The samples of any series, from prometheus_client's ``_child_samples()`` (a ``set_function`` gauge)."""
        labels = "{" + ",".join(parts) + "}" if parts else ""
        samples: list[_Sample] = []
        for suffix, sample_labels, value, timestamp, exemplar, _ in series._child_samples():
            if not sample_labels:
                head = f"{self.name}{suffix}{labels} "
            else:
                merged = dict(zip(series._labelnames, series._labelvalues, strict=True))
                merged.update(sample_labels)
                pairs = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in sorted(merged.items()))
                head = f"{self.name}{suffix}{{{pairs}}} "
            created = suffix in ("_created", "_gsum", "_gcount")
            samples.append((head, value, timestamp, exemplar, created))
        return samples


@functools.cache
def _fast_reads_agree() -> bool:
    """Whether ``_Family._read`` (the values read from prometheus_client's insides) writes what its
    ``_child_samples()`` gives, in the prometheus_client installed: checked once, on series of its own four
    classes. If a release changed their insides, every family is read through ``_child_samples()``: slower to
    render, still the same bytes."""
    try:
        counter = Counter("probe_counter", "c", ["a"], registry=None)
        counter.labels("x").inc(2, exemplar={"id": "1"})
        gauge = Gauge("probe_gauge", "g", ["a"], registry=None)
        gauge.labels("x").set(1e7)
        summary = Summary("probe_summary", "s", ["a"], registry=None)
        summary.labels("x").observe(1.5)
        histograms = [Histogram(f"probe_histogram_{n}", "h", ["a"], buckets=buckets, registry=None)
                      for n, buckets in enumerate([(0.1, 2e6), (-1.0, 0.5)])]  # fmt: skip
        for histogram in histograms:
            histogram.labels("x").observe(0.05, exemplar={"id": "2"})
            histogram.labels("x").observe(3e6)
        probes: list[MetricWrapperBase] = [counter, gauge, summary, *histograms]
        for metric in probes:
            fast, generic = _Family(metric, fast=True), _Family(metric, fast=False)
            for series in metric._metrics.values():
                if fast.render(series, (OPENMETRICS, TEXT)) != generic.render(series, (OPENMETRICS, TEXT)):
                    return False
    except Exception:  # an attribute gone, a value of another type: not the insides _read knows
        return False
    return True


class _CachedSeries(MetricWrapperBase):
    """A family (the parent) or one of its series (a child) whose exposition lines are kept.

    Mixed in before a prometheus_client metric class; every mutator of that class calls ``_changed()`` after
    the values changed. ``_openmetrics`` and ``_text`` hold the series' current lines in each format, or None
    when they must be rendered (never yet, changed since, or a render lost a race with a newer change).
    """

    _family: _Family
    _version: int
    _volatile: bool
    _openmetrics: bytes | None
    _text: tuple[bytes, bytes] | None  # (sample lines, _created lines)

    def __init__(self, *args: Any, _family: _Family | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._family = _family or _Family(self)
        self._kwargs["_family"] = self._family  # children get it through labels()
        self._version = next(_VERSIONS)
        self._volatile = False  # a set_function gauge: rendered at every scrape, never kept
        self._openmetrics = None
        self._text = None

    def collect(self) -> Iterable[Metric]:
        return [_FamilyMetric(self)]

    def _changed(self) -> None:
        """Drop the kept lines (after the values changed) and render those of the formats being served."""
        family = self._family
        with family.lock:
            self._version = next(_VERSIONS)
            self._openmetrics = self._text = None
        if family.cacheable and not self._volatile:
            self._render(family.wanted)

    def _render(self, formats: Sequence[Format]) -> dict[Format, tuple[bytes, bytes]]:
        """Render the lines in ``formats``, and keep them unless the series changed meanwhile (a newer change
        renders its own) or ``_created`` was switched since the family's lines were kept."""
        family = self._family
        version = self._version  # read before the values: a change racing this render makes the render stale
        created = client_metrics._use_created
        rendered = family.render(self, formats)
        with family.lock:
            if self._version == version and family.created is created and not self._volatile:
                for fmt, (lines, created_lines) in rendered.items():
                    if fmt == OPENMETRICS:
                        self._openmetrics = lines
                    else:
                        self._text = (lines, created_lines)
        return rendered

    def _exposition(self, fmt: Format) -> bytes:
        """The family's header and the current lines of every series, in prometheus_client's order."""
        family = self._family
        family.want(fmt)
        header, created_header = family.headers(fmt)
        created = client_metrics._use_created
        if family.created is not created:  # prometheus_client's switch changed: every kept line is wrong
            family.forget(self, created)
        children = self._series()
        if fmt == OPENMETRICS:
            lines: list[bytes | None] = list(map(_KEPT_OPENMETRICS, children))
            if None in lines:
                for index, child in enumerate(children):
                    if lines[index] is None:
                        lines[index] = child._render(family.wanted)[OPENMETRICS][0]
            lines.insert(0, header)
            return b"".join(cast(list[bytes], lines))
        kept: list[tuple[bytes, bytes] | None] = list(map(_KEPT_TEXT, children))
        if None in kept:
            for index, child in enumerate(children):
                if kept[index] is None:  # both formats at once when both are served: they share bytes
                    kept[index] = child._render(family.wanted)[TEXT]
        pairs = cast(list[tuple[bytes, bytes]], kept)
        parts = [header, *[lines for lines, _ in pairs]]
        if created and any(created_lines for _, created_lines in pairs):
            parts.append(created_header)
            parts.extend([created_lines for _, created_lines in pairs])
        return b"".join(parts)

    def _series(self) -> list[_CachedSeries]:
        """The family's series in prometheus_client's order (its children dict), or itself without labels."""
        if self._is_parent():
            with self._lock:
                return list(cast(dict[Any, _CachedSeries], self._metrics).values())
        return [self]


_KEPT_OPENMETRICS = attrgetter("_openmetrics")
_KEPT_TEXT = attrgetter("_text")


class _FamilyMetric(Metric):
    """What a cached family's ``collect()`` yields: a ``Metric`` whose samples are built only when read, so a
    cached scrape walks the registry without building them and every other reader sees prometheus_client's."""

    def __init__(self, family: _CachedSeries) -> None:
        self.family = family
        super().__init__(family._name, family._documentation, family._type or "unknown", family._unit)
        self._built: list[Sample] | None = None  # Metric.__init__ assigned [] through the setter

    @property
    def samples(self) -> list[Sample]:
        if self._built is None:
            metrics = list(MetricWrapperBase.collect(self.family))
            self._built = metrics[0].samples
        return self._built

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        self._built = value


class CachedCounter(_CachedSeries, Counter):
    """``prometheus_client.Counter`` whose exposition lines are kept (this module's docstring)."""

    def inc(self, amount: float = 1, exemplar: dict[str, str] | None = None) -> None:
        super().inc(amount, exemplar)
        self._changed()

    def reset(self) -> None:
        super().reset()
        self._changed()


class CachedGauge(_CachedSeries, Gauge):
    """``prometheus_client.Gauge`` whose exposition lines are kept; a ``set_function`` series is rendered at
    every scrape instead."""

    def inc(self, amount: float = 1) -> None:
        super().inc(amount)
        self._changed()

    def dec(self, amount: float = 1) -> None:
        super().dec(amount)
        self._changed()

    def set(self, value: float) -> None:
        super().set(value)
        self._changed()

    def set_function(self, f: Callable[[], float]) -> None:
        super().set_function(f)
        self._volatile = True
        self._changed()


class CachedHistogram(_CachedSeries, Histogram):
    """``prometheus_client.Histogram`` whose exposition lines are kept (this module's docstring)."""

    def observe(self, amount: float, exemplar: dict[str, str] | None = None) -> None:
        super().observe(amount, exemplar)
        self._changed()


class CachedSummary(_CachedSeries, Summary):
    """``prometheus_client.Summary`` (``_sum`` and ``_count``) whose exposition lines are kept."""

    def observe(self, amount: float) -> None:
        super().observe(amount)
        self._changed()


# ---------------------------------------------------------------------------------------------- encoding


def generate_chunks(registry: Collector, fmt: Format, escaping: str = openmetrics_exposition.UNDERSCORES,
                    version: str = "1.0.0") -> list[bytes]:  # fmt: skip
    """The registry in ``fmt`` as consecutive chunks (a cached family each, and what prometheus_client encoded
    between them): what its encoder writes, the cached families from their cache.

    ``escaping`` and ``version`` are prometheus_client's parameters (``version`` for OpenMetrics only); a scheme
    that rewrites plain names (``dots``, ``values``) is left to prometheus_client entirely.
    """
    openmetrics = fmt == OPENMETRICS
    encode: Callable[[Collector], bytes]
    if openmetrics:
        encode = partial(openmetrics_exposition.generate_latest, escaping=escaping, version=version)
    else:
        encode = partial(text_exposition.generate_latest, escaping=escaping)
    if escaping not in _PLAIN_ESCAPINGS:
        return [encode(registry)]
    chunks: list[bytes] = []
    plain: list[Metric] = []

    def encode_plain() -> None:
        if plain:
            body = encode(FixedCollector(plain))
            chunks.append(body.removesuffix(b"# EOF\n") if openmetrics else body)
            plain.clear()

    for metric in registry.collect():
        if isinstance(metric, _FamilyMetric) and metric.family._family.cacheable:
            encode_plain()
            chunks.append(metric.family._exposition(fmt))
        else:
            plain.append(metric)
    encode_plain()
    if openmetrics:
        chunks.append(b"# EOF\n")
    return chunks


def generate(registry: Collector, fmt: Format, escaping: str = openmetrics_exposition.UNDERSCORES,
             version: str = "1.0.0") -> bytes:  # fmt: skip
    """The registry in ``fmt``, as prometheus_client's encoder writes it (``generate_chunks`` joined)."""
    return b"".join(generate_chunks(registry, fmt, escaping, version))


def negotiate(accept: str | None) -> tuple[Callable[[Collector], list[bytes]], str]:
    """The encoder (into chunks) and content type for an ``Accept`` header: prometheus_client's choice
    (``choose_encoder``), with its two encoders replaced by ``generate_chunks`` with the same parameters."""
    encoder, content_type = text_exposition.choose_encoder(accept or "")
    function = getattr(encoder, "func", encoder)
    keywords: dict[str, str] = dict(getattr(encoder, "keywords", {}))
    escaping = keywords.pop("escaping", openmetrics_exposition.UNDERSCORES)
    if function is openmetrics_exposition.generate_latest and set(keywords) <= {"version"}:
        version = keywords.get("version", "1.0.0")
        return partial(generate_chunks, fmt=OPENMETRICS, escaping=escaping, version=version), content_type
    if function is text_exposition.generate_latest and not keywords:
        return partial(generate_chunks, fmt=TEXT, escaping=escaping), content_type
    return lambda registry: [encoder(registry)], content_type  # one this module does not know: prometheus_client's


def compress(chunks: Iterable[bytes], level: int = GZIP_LEVEL) -> bytes:
    """The chunks, concatenated, as one gzip member: ISA-L's deflate when isal is installed, else zlib's. Fed
    chunk by chunk, so the whole uncompressed body is never joined (a scrape's largest allocation)."""
    if _isal_zlib is not None:
        compressor = _isal_zlib.compressobj(min(level, 3), _isal_zlib.DEFLATED, 31)  # wbits 16 + 15: gzip
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    out = [compressor.compress(chunk) for chunk in chunks]
    out.append(compressor.flush())
    return b"".join(out)


def make_metrics_app(registry: Collector, gzip_level: int = GZIP_LEVEL) -> WSGIApplication:
    """prometheus_client's ``make_wsgi_app(registry)`` with the cached encoders and gzip at ``gzip_level``.

    A plain ``GET`` (what Prometheus sends) is answered here; ``OPTIONS``, other methods and ``?name[]=``
    filters go to prometheus_client's app unchanged.
    """
    fallback = text_exposition.make_wsgi_app(registry)

    def metrics_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or "name[]" in parse_qs(environ.get("QUERY_STRING", "")):
            return cast(Iterable[bytes], fallback(environ, start_response))
        encoder, content_type = negotiate(environ.get("HTTP_ACCEPT"))
        chunks = encoder(registry)
        headers = [("Content-Type", content_type)]
        if text_exposition.gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
            body = compress(chunks, gzip_level)
            headers.append(("Content-Encoding", "gzip"))
        else:
            body = b"".join(chunks)
        start_response("200 OK", headers)
        return [body]

    return metrics_app
