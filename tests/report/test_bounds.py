"""What keeps the report safe and bounded: only a single complete SELECT is ever EXPLAINed, Prometheus' answers
have a size and series bound, and a comparison with a week before that has no data says so."""

from __future__ import annotations

import pytest

from exporter.report import PrometheusClient, QueryError, build_report
from exporter.report._explain import filtered_columns, single_select
from tests.harness.prometheus import Prometheus

from .series import PERIOD, Scenario


@pytest.mark.parametrize("sql,explained", [
    ("SELECT `id` FROM `shop_order` WHERE `email` = 'a@b.c'", True),
    ("/* request_id='abc' */ SELECT id FROM shop_product WHERE price > 3 LIMIT 21", True),
    ("DELETE FROM shop_order WHERE id = 1", False),
    ("UPDATE shop_order SET email = '' WHERE id = 1", False),
    ("SELECT 1; DROP TABLE shop_order", False),
    ("SELECT * FROM shop_order INTO OUTFILE '/tmp/orders'", False),
    ("SELECT * FROM shop_order WHERE id = 1 FOR UPDATE", False),
    ("SELECT id FROM shop_order WHERE email = 'a@b.", False),  # an example cut short in a string
    ("INSERT INTO shop_order (email) SELECT email FROM shop_user", False),
])  # fmt: skip
def test_only_a_single_complete_select_is_explained(sql: str, explained: bool) -> None:
    assert (single_select(sql) is not None) is explained


def test_filtered_columns_of_the_scanned_table() -> None:
    select = single_select("SELECT o.id FROM shop_order o JOIN shop_user u ON u.id = o.user_id "
                           "WHERE o.email = 'x' AND u.is_active = 1")  # fmt: skip
    assert filtered_columns(select, "shop_order") == ["email"]
    assert filtered_columns(select, "shop_user") == ["is_active"]


@pytest.mark.parametrize("bound,message", [
    ({"max_bytes": 200}, "Prometheus answered more than 200 bytes"),
    ({"max_series": 1}, "Prometheus answered more than 1 series"),
])  # fmt: skip
def test_answers_are_bounded(report_prometheus: tuple[Prometheus, dict[str, Scenario]], bound: dict[str, int],
                             message: str) -> None:  # fmt: skip
    prometheus, cases = report_prometheus
    client = PrometheusClient(prometheus.url, **bound)  # type: ignore[arg-type]
    with pytest.raises(QueryError, match=message):
        client.instant("count by (__name__) ({__name__=~'.+'})", cases["full"].end)
    report = build_report(client, since=PERIOD, until=cases["full"].end, slo_window=PERIOD)
    assert any(s.status == "error" and s.message == message for s in report.sections)


def test_compare_with_a_week_before_without_data(
    report_prometheus: tuple[Prometheus, dict[str, Scenario]], client: PrometheusClient
) -> None:
    _, cases = report_prometheus
    report = build_report(client, since=PERIOD, until=cases["full"].end, compare="7d", slo_window=PERIOD)
    assert report.previous_end == cases["full"].end - 7 * 86400
    journey = report.data.journeys[0]
    assert journey.previous_success_ratio is None and journey.success_ratio == pytest.approx(0.8)
    table = next(s for s in report.sections if s.key == "journeys").tables[0]
    assert table.rows[0][4] == "new"  # nothing to compare with: the journey is new to the report
    assert "journey_regression" in {f.rule for f in report.findings}  # burning its budget still counts
    with pytest.raises(ValueError, match="compare"):
        build_report(client, since=PERIOD, compare="1d")
