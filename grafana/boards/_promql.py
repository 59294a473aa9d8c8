"""PromQL building blocks shared by every dashboard: selectors filtered by the ``job`` and ``instance``
variables, rates over ``$__rate_interval``, histogram quantiles and means, and the zero series that keeps a
panel of not-yet-seen counters from showing "No data"."""

from __future__ import annotations

JOB = 'job=~"$job"'
INSTANCE = 'instance=~"$instance"'
WORKFLOW = ('workflow=~"$workflow"', 'target=~"$target"')
FAILED = 'result="failure"'
DEGRADED = 'result="degraded"'  # passed, with a step over its max_duration budget
SERVER_ERROR = 'status_class="5xx"'
RATE = "$__rate_interval"
RANGE = "$__range"
SLO_OBJECTIVE = 0.99
# Divisions by a count of events: a zero count gives a ratio of 0 instead of NaN (no events, nothing failed).
TINY = "1e-9"


def sel(metric: str, *matchers: str) -> str:
    """``metric`` filtered by the dashboard's job and instance variables, plus ``matchers``."""
    return f"{metric}{{{', '.join([JOB, INSTANCE, *matchers])}}}"


def rate(metric: str, *matchers: str, window: str = RATE, fn: str = "rate") -> str:
    return f"{fn}({sel(metric, *matchers)}[{window}])"


def increase(metric: str, *matchers: str, window: str = RATE) -> str:
    return rate(metric, *matchers, window=window, fn="increase")


def quantile(q: float, histogram: str, by: str, *matchers: str) -> str:
    """The ``q`` quantile of a classic histogram, aggregated ``by`` the given labels."""
    return f"histogram_quantile({q}, sum by ({by}, le) ({rate(histogram + '_bucket', *matchers)}))"


def zero(label: str | None = None, value: str = "none") -> str:
    """A zero series for sums of counters that only exist after their first event: ``x or on() zero()`` is
    ``x`` when it has series, else one zero series (labelled ``label="none"``), never "No data"."""
    if label is None:
        return "vector(0)"
    return f'label_replace(vector(0), "{label}", "{value}", "", "")'


def mean(histogram: str, by: str, *matchers: str) -> str:
    """Mean of a histogram's observations over the rate interval, ``by`` the given labels."""
    return (
        f"sum by ({by}) ({rate(histogram + '_sum', *matchers)})\n"
        f"/\nsum by ({by}) ({rate(histogram + '_count', *matchers)})"
    )
