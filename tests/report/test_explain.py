"""EXPLAIN on the harness' real MariaDB: the report's read-only user explains the worst digests' examples from
performance_schema's history and, for a full scan on a filtered column no index starts with, the report
suggests the index the real EXPLAIN asks for; a digest whose example is not a single SELECT (an UPDATE, a
multi-statement text, a DELETE filed under a SELECT's digest, SELECT … FOR UPDATE) is never explained, and
the general log shows the read-only user sent nothing but EXPLAIN and SELECTs on performance_schema and
information_schema."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from exporter.report import PrometheusClient, Report, build_report
from exporter.report import _explain as explain_module
from exporter.report.rules.slow_statement import index_for
from tests.harness.mariadb import MariaDB
from tests.harness.prometheus import start_prometheus

from .series import PERIOD, Counter, Gauge, Scenario, Series, backfill, openmetrics

# The scan: shop_order by email (no index), joined to its customer; EXPLAIN names the tables by alias.
SCAN = "SELECT c.name FROM shop_customer AS c JOIN shop_order AS o ON o.customer_id = c.id WHERE o.email = %s"
UPDATE = "UPDATE shop_order SET status = 'seen' WHERE email = %s"
MULTI = "SELECT id FROM shop_order WHERE email = 'multi@example.com'; DELETE FROM shop_customer WHERE id = 0"
LOCKING = "SELECT id FROM shop_order WHERE email = %s FOR UPDATE"
# A full scan on a column an index starts with (a leading wildcard): no index to add, whatever the text says.
WILDCARD = "SELECT id, email FROM shop_order WHERE status LIKE %s"


@dataclass
class Explained:
    report: Report
    digests: dict[str, str]  # what -> its digest
    texts: dict[str, str]  # digest -> its digest text
    sent: list[str]  # every statement the read-only user sent


@pytest.fixture(scope="module")
def explained(mariadb: MariaDB, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Explained]:
    name = f"report_{uuid.uuid4().hex[:8]}"
    mariadb.query(f"CREATE DATABASE `{name}`")
    app = mariadb.connect(database=name)
    try:
        with app.cursor() as cursor:
            cursor.execute("CREATE TABLE shop_customer (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(50))")
            cursor.execute("CREATE TABLE shop_order (id INT PRIMARY KEY AUTO_INCREMENT, customer_id INT, "
                           "email VARCHAR(100), status VARCHAR(20), KEY shop_order_status (status))")  # fmt: skip
            cursor.execute("INSERT INTO shop_customer (name) SELECT CONCAT('c', seq) FROM seq_1_to_100")
            cursor.execute("INSERT INTO shop_order (customer_id, email, status) SELECT 1 + seq % 100, "
                           "CONCAT('u', seq, '@example.com'), 'new' FROM seq_1_to_5000")  # fmt: skip
            cursor.execute("ANALYZE TABLE shop_customer, shop_order")
            cursor.fetchall()
            marks = {}
            for what, sql, args in (("scan", SCAN, ("u7@example.com",)), ("update", UPDATE, ("u8@example.com",)),
                                    ("locking", LOCKING, ("u9@example.com",)), ("wildcard", WILDCARD, ("%zz%",)),
                                    ("multi", MULTI, ())):  # fmt: skip
                marks[what] = time.time()
                cursor.execute(sql, args or None)
                while cursor.nextset():
                    pass
            cursor.execute(
                "SELECT h.DIGEST, h.SQL_TEXT, s.DIGEST_TEXT, s.COUNT_STAR, s.SUM_TIMER_WAIT, s.SUM_ROWS_EXAMINED, "
                "s.SUM_ROWS_SENT, s.SUM_NO_INDEX_USED FROM performance_schema.events_statements_history_long h "
                "JOIN performance_schema.events_statements_summary_by_digest s ON s.DIGEST = h.DIGEST AND "
                "s.SCHEMA_NAME = h.CURRENT_SCHEMA WHERE h.CURRENT_SCHEMA = %s",
                (name,),
            )
            history = cursor.fetchall()
    finally:
        app.close()
    digests: dict[str, str] = {}
    for digest, sql, *_ in history:
        for what, text in (("scan", "JOIN shop_order"), ("update", "UPDATE shop_order"), ("locking", "FOR UPDATE"),
                           ("wildcard", "status LIKE"), ("multi", "; DELETE"),
                           ("delete", "DELETE FROM shop_customer WHERE id = 0")):  # fmt: skip
            if text in sql and what not in digests and not (what == "delete" and ";" in sql):
                digests[what] = digest
    assert sorted(digests) == ["delete", "locking", "multi", "scan", "update", "wildcard"], history
    # The digests as mysqld_exporter exports them (performance_schema's totals), backfilled into Prometheus;
    # per-second rates over the scenario's hour, each ranked by its place here (the scan the slowest).
    series: list[Series] = [Gauge("mysql_up", {}, 1)]
    texts: dict[str, str] = {}
    rank = ["scan", "wildcard", "update", "multi", "delete", "locking"]
    for digest, _, text, calls, _, examined, sent, no_index in {row[0]: row for row in history}.values():
        if digest not in digests.values():
            continue
        texts[digest] = str(text)
        seconds = 10.0 - rank.index(next(w for w, d in digests.items() if d == digest))
        labels = {"schema": name, "digest": digest, "digest_text": str(text).replace('"', "'")}
        metric = "mysql_perf_schema_events_statements"
        for suffix, value in (("", calls), ("_seconds", seconds), ("_rows_examined", examined),
                              ("_rows_sent", sent), ("_no_index_used", no_index)):  # fmt: skip
            series.append(Counter(f"{metric}{suffix}", labels, float(value) / PERIOD, float(value) / PERIOD))
    scenario = Scenario("explain", series)
    workdir: Path = tmp_path_factory.mktemp("report-explain")
    backfill(openmetrics([scenario], time.time()), workdir)
    prometheus = start_prometheus(workdir)
    mariadb.query("CREATE USER IF NOT EXISTS 'report_explain'@'127.0.0.1' IDENTIFIED BY 'ro-pw'")
    mariadb.query(f"GRANT SELECT ON `{name}`.* TO 'report_explain'@'127.0.0.1'")
    mariadb.query("GRANT SELECT ON performance_schema.* TO 'report_explain'@'127.0.0.1'")
    mariadb.query("SET GLOBAL log_output = 'TABLE'")
    mariadb.query("TRUNCATE TABLE mysql.general_log")
    mariadb.query("SET GLOBAL general_log = 1")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(explain_module, "MAX_EXPLAINED", 10)  # every SELECT-looking digest gets its chance
            report = build_report(
                PrometheusClient(prometheus.url, timeout=20), since=PERIOD, until=scenario.end, slo_window=PERIOD,
                explain_dsn=f"mysql://report_explain:ro-pw@{mariadb.host}:{mariadb.port}/{name}",
            )  # fmt: skip
    finally:
        mariadb.query("SET GLOBAL general_log = 0")
        prometheus.stop()
    sent = [
        str(sql.decode() if isinstance(sql, bytes) else sql)
        for (sql,) in mariadb.query(
            "SELECT argument FROM mysql.general_log WHERE user_host LIKE 'report_explain[%%' AND command_type = 'Query'"
        )
    ]
    mariadb.query("TRUNCATE TABLE mysql.general_log")
    yield Explained(report, digests, texts, sent)
    mariadb.query(f"DROP DATABASE `{name}`")
    mariadb.query("DROP USER 'report_explain'@'127.0.0.1'")


def test_full_scan_on_an_unindexed_filter_gets_the_index_the_real_explain_asks_for(explained: Explained) -> None:
    scan = next(s for s in explained.report.data.statements if s.digest == explained.digests["scan"])
    assert scan.explain is not None
    plan = {row["table"]: (row["type"], row["key"]) for row in scan.explain}
    assert plan["o"] == ("ALL", None) and plan["c"] == ("eq_ref", "PRIMARY"), scan.explain
    assert scan.index == "CREATE INDEX shop_order_email_idx ON shop_order (email)"
    # The digest text alone points at the wrong table (its FROM is the customer): EXPLAIN is what got it right.
    assert index_for(scan.text) == "CREATE INDEX shop_customer_email_idx ON shop_customer (email)"
    [finding] = [f for f in explained.report.findings if "FROM `shop_customer` AS `c` JOIN" in f.title]
    assert finding.rule == "slow_statement" and "rows examined per row sent" in finding.title, finding
    assert finding.action == (
        "add the index the filter needs: CREATE INDEX shop_order_email_idx ON shop_order (email) "
        "(EXPLAIN shows a full scan on the filtered column)"
    )
    database = next(s for s in explained.report.sections if s.key == "database")
    table = next(t for t in database.tables if t.title.startswith("EXPLAIN"))
    assert [r[1:4] + r[6:] for r in table.rows if r[0] == scan.text[:80]] == [
        ["o", "ALL", "-", "CREATE INDEX shop_order_email_idx ON shop_order (email)"],
        ["c", "eq_ref", "PRIMARY", "CREATE INDEX shop_order_email_idx ON shop_order (email)"],
    ]


def test_what_is_not_a_single_select_is_never_explained(explained: Explained) -> None:
    statements = {s.digest: s for s in explained.report.data.statements}
    digests = explained.digests
    assert explained.texts[digests["update"]].startswith("UPDATE")
    # The multi-statement text and the DELETE that follows it both sit under digests whose text is a SELECT.
    for what in ("multi", "delete", "locking"):
        assert explained.texts[digests[what]].startswith("SELECT"), (what, explained.texts[digests[what]])
    for what in ("update", "multi", "delete", "locking"):
        assert statements[digests[what]].explain is None and statements[digests[what]].index is None, what
    notes = next(s for s in explained.report.sections if s.key == "database").notes
    refused = [n for n in notes if n.endswith("is not a single complete SELECT: not explained")]
    assert len(refused) == 3, notes
    # What the read-only user sent: one EXPLAIN (the scan's example) and SELECTs on the two schemas.
    explains = [q for q in explained.sent if q.startswith("EXPLAIN")]
    assert explains == ["EXPLAIN " + SCAN % "'u7@example.com'", "EXPLAIN " + WILDCARD % "'%zz%'"], explained.sent
    allowed = re.compile(r"^(EXPLAIN SELECT |SELECT .* FROM (performance_schema|information_schema)\.|SET )")
    assert [q for q in explained.sent if not allowed.match(q)] == [], explained.sent
    assert not [q for q in explained.sent if re.search(r"\b(DELETE|UPDATE)\b", q)], explained.sent


def test_a_scan_no_new_index_would_serve_gets_no_index(explained: Explained) -> None:
    wildcard = next(s for s in explained.report.data.statements if s.digest == explained.digests["wildcard"])
    assert wildcard.explain is not None and [(r["type"], r["key"]) for r in wildcard.explain] == [("ALL", None)]
    assert wildcard.index is None
    # The digest text alone would ask for an index the table already has.
    assert (index_for(wildcard.text) or "").lower() == "create index shop_order_status_idx on shop_order (status)"
    [finding] = [f for f in explained.report.findings if " LIKE " in f.title]
    assert finding.action.startswith("its EXPLAIN (Database section) finds no unindexed filtered column"), finding
