"""A small, bounded Prometheus HTTP API client for the report: one timeout per query, a cap on the answer's
size and on its series, and a count of the queries sent (the benchmark reports it)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import urllib3

MAX_ANSWER_BYTES = 8 * 1024 * 1024
MAX_SERIES = 2000
DEFAULT_QUERY_TIMEOUT = 10.0


class QueryError(Exception):
    """A query that did not answer: Prometheus down, slow (timeout), refusing it, or answering too much."""


@dataclass(frozen=True)
class Sample:
    """One series of an instant vector: its labels and value."""

    labels: dict[str, str]
    value: float


@dataclass
class PrometheusClient:
    """Instant and range queries against ``url`` (``http://host:port``); every answer is outside input."""

    url: str
    timeout: float = DEFAULT_QUERY_TIMEOUT
    max_bytes: int = MAX_ANSWER_BYTES
    max_series: int = MAX_SERIES
    queries: int = 0
    pool: urllib3.PoolManager = field(default_factory=lambda: urllib3.PoolManager(num_pools=2, retries=False))

    def instant(self, expr: str, at: float) -> list[Sample]:
        """``expr`` evaluated at unix time ``at``."""
        data = self._get("query", {"query": expr, "time": f"{at:.3f}"})
        if data.get("resultType") == "scalar":
            return [Sample({}, float(data["result"][1]))]
        return [Sample(dict(item.get("metric", {})), float(item["value"][1])) for item in data.get("result", [])]

    def series_over_time(
        self, expr: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        """``expr`` as a range query: per series its labels and (time, value) points."""
        data = self._get(
            "query_range",
            {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{max(step, 1.0):.3f}"},
        )
        return [
            (dict(item.get("metric", {})), [(float(t), float(v)) for t, v in item.get("values", [])])
            for item in data.get("result", [])
        ]

    def exemplars(self, expr: str, start: float, end: float) -> list[tuple[dict[str, str], float]]:
        """Exemplars of ``expr`` between two unix times, newest first: their labels and time."""
        data: Any = self._get("query_exemplars", {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}"})
        found = []
        for series in data if isinstance(data, list) else []:
            for exemplar in series.get("exemplars", [])[:100]:
                found.append((dict(exemplar.get("labels", {})), float(exemplar.get("timestamp", 0))))
        return sorted(found, key=lambda item: -item[1])[:100]

    def _get(self, endpoint: str, params: dict[str, str]) -> dict[str, Any]:
        self.queries += 1
        params = {**params, "timeout": f"{self.timeout:g}s"}
        url = f"{self.url.rstrip('/')}/api/v1/{endpoint}?{urlencode(params)}"
        try:
            response = self.pool.request(
                "GET",
                url,
                timeout=urllib3.Timeout(connect=min(self.timeout, 5.0), read=self.timeout),
                preload_content=False,
            )
        except urllib3.exceptions.HTTPError as error:
            raise QueryError(f"Prometheus at {self.url} did not answer: {_reason(error)}") from None
        try:
            body = response.read(self.max_bytes + 1)
        except urllib3.exceptions.HTTPError as error:
            raise QueryError(f"Prometheus at {self.url} did not answer: {_reason(error)}") from None
        finally:
            response.release_conn()
        if len(body) > self.max_bytes:
            raise QueryError(f"Prometheus answered more than {self.max_bytes} bytes")
        try:
            answer = json.loads(body)
        except ValueError:
            raise QueryError(f"Prometheus answered HTTP {response.status} with no JSON") from None
        if not isinstance(answer, dict) or answer.get("status") != "success":
            why = answer.get("error", f"HTTP {response.status}") if isinstance(answer, dict) else "not an object"
            raise QueryError(f"Prometheus refused the query: {str(why)[:300]}")
        data = answer.get("data") or {}
        if isinstance(data, list):  # query_exemplars
            if len(data) > self.max_series:
                raise QueryError(f"Prometheus answered more than {self.max_series} series")
            return data  # type: ignore[return-value]
        if isinstance(data.get("result"), list) and len(data["result"]) > self.max_series:
            raise QueryError(f"Prometheus answered more than {self.max_series} series")
        return dict(data)


def _reason(error: Exception) -> str:
    if isinstance(error, urllib3.exceptions.MaxRetryError) and error.reason is not None:
        error = error.reason
    if isinstance(error, (urllib3.exceptions.TimeoutError,)):
        return "timed out"
    return type(error).__name__ + (f": {str(error)[:200]}" if str(error) else "")
