"""deploy/prometheus: the scrape configuration and the alert rules are well-formed Prometheus files,
and every metric the rules name is one msnet exports (promtool is not at hand: the YAML's structure
is checked, and the names against a real /metrics answer)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

PROMETHEUS = Path(__file__).parents[2] / "deploy" / "prometheus"
RECORDED_BY_PROMETHEUS = {"up"}
SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")
DURATION = re.compile(r"^\d+[smhdw]$")


def test_the_scrape_configuration_loads_the_rules_and_scrapes_metrics() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert set(config) <= {"global", "rule_files", "scrape_configs", "alerting"}
    for rules in config["rule_files"]:
        assert (PROMETHEUS / rules).is_file()
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "msnet"
    assert job["metrics_path"] == "/metrics"
    assert job["dns_sd_configs"] or job["static_configs"]


def _rules() -> list[dict]:
    document = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    assert set(document) == {"groups"}
    rules = []
    for group in document["groups"]:
        assert set(group) == {"name", "rules"}
        rules.extend(group["rules"])
    return rules


def test_every_alert_rule_is_well_formed() -> None:
    rules = _rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, rule
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert "for" not in rule or DURATION.match(rule["for"]), rule["alert"]
        expr = rule["expr"]
        assert expr.count("(") == expr.count(")"), rule["alert"]
        assert expr.count("{") == expr.count("}"), rule["alert"]


async def test_the_rules_name_only_metrics_msnet_exports(client: AsyncTestClient) -> None:
    await client.get("/v1/organisations")
    response = await client.get("/metrics")
    families = list(text_string_to_metric_families(response.text))
    exported = {f.name for f in families} | {s.name for f in families for s in f.samples}
    for rule in _rules():
        for name in set(re.findall(r"\b(msnet_[a-z0-9_]+|up)\b", rule["expr"])) - RECORDED_BY_PROMETHEUS:
            family = next((name.removesuffix(s) for s in SUFFIXES if name.endswith(s)), name)
            assert name in exported or family in exported, f"{rule['alert']}: {name} is not exported"
