import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from django.core.cache import cache
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from aiworkflow import metrics
from aiworkflow.beat import HEARTBEAT_KEY

RULES_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = RULES_DIR / "alerts.yml"
# The product specification's alerts, each with the rule that raises it.
SPEC_ALERTS = {
    "webhook failure rate over 5%": "WebhookFailureRateHigh",
    "GitHub API rate limit under 100 remaining": "GitHubRateLimitLow",
    "database connection failures": "DatabaseUnavailable",
    "processing latency over 2 s": "WebhookProcessingSlow",
    "an installation uninstall spike": "InstallationUninstallSpike",
}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool"}


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def metric_names(expression: str) -> set[str]:
    """The series an expression selects: identifiers that are neither functions, keywords,
    labels (inside braces or a by/on list) nor durations and numbers."""
    bare = re.sub(r"\{[^}]*\}", "", expression)
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", bare)
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    bare = re.sub(r'"[^"]*"', "", bare)
    names = re.findall(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", bare)
    return {name for name in names if name not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhdwy]", name)}


def test_the_rules_parse_and_every_alert_is_described():
    for rule in rules():
        assert set(rule) >= {"alert", "expr", "labels", "annotations"}, rule.get("alert")
        assert rule["labels"]["severity"] in {"page", "warning", "ticket"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_every_alert_of_the_specification_has_a_rule():
    assert set(SPEC_ALERTS.values()) <= {rule["alert"] for rule in rules()}


def test_the_metric_name_reader_finds_series_and_nothing_else():
    expression = 'sum by (le) (rate(a_total{x="b"}[5m])) / ignoring(y) b_seconds > 3 * vector(0) or absent(c_up)'
    assert metric_names(expression) == {"a_total", "b_seconds", "c_up"}


def every_metric_touched() -> None:
    """A metric is exposed once a process has written it (aiworkflow/metrics.py): write each one."""
    for metric in vars(metrics).values():
        if not isinstance(metric, MetricWrapperBase):
            continue
        labels = {name: "alert-rule-probe" for name in metric._labelnames}
        child = metric.labels(**labels) if labels else metric
        if isinstance(child, Gauge):
            child.set(1)
        elif isinstance(child, Histogram):
            child.observe(1)
        elif isinstance(child, Counter):
            child.inc(0)
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)


def test_every_expression_names_metrics_that_metrics_exposes(client, db):
    every_metric_touched()
    response = client.get("/metrics")
    exposed = {
        sample.name for family in text_string_to_metric_families(response.content.decode()) for sample in family.samples
    }

    for rule in rules():
        assert metric_names(rule["expr"]) - exposed == set(), rule["alert"]


@pytest.fixture
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool is not installed (Debian's prometheus package)")
    return path


def test_promtool_accepts_the_rules(promtool):
    result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_alert_fires_on_its_fault_and_only_then(promtool):
    result = subprocess.run(
        [promtool, "test", "rules", "alerts.test.yml"], cwd=RULES_DIR, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
