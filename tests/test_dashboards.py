"""deploy/grafana-dashboard.json and deploy/prometheus-alerts.yml: the rules pass promtool (syntax and a unit
test per alert), and every metric either of them names, with the labels it selects on, is in a real /metrics
scrape of `soap-gateway serve` after ordinary calls.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import zeep
from prometheus_client.parser import text_string_to_metric_families

from serving import free_port, serve_process

ROOT = Path(__file__).parent.parent
RULES = ROOT / "deploy" / "prometheus-alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana-dashboard.json"
SELECTOR = re.compile(r"\b(soap_gateway_[a-z_]+)\b(?:\{([^}]*)\})?")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')
Samples = dict[str, list[dict[str, str]]]  # sample name -> the label sets it has


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    queries += [v["definition"] for v in dashboard["templating"]["list"] if v.get("definition")]
    return queries


def rule_queries() -> list[str]:
    """Each rule's expr: on its line, or the block after ``expr: |`` (the lines indented deeper)."""
    queries: list[str] = []
    lines = RULES.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        key, _, rest = line.strip().partition("expr:")
        if key or not _:
            continue
        if rest.strip() != "|":
            queries.append(rest.strip())
            continue
        indent = len(line) - len(line.lstrip())
        block = []
        for following in lines[i + 1:]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            block.append(following.strip())
        queries.append(" ".join(block))
    return queries


def test_the_rules_pass_promtool(tool: Any) -> None:
    promtool = tool("promtool")
    checked = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 4 rules found" in checked.stdout
    tested = subprocess.run([promtool, "test", "rules", "alerts-test.yml"], capture_output=True, text=True,
                            timeout=120, cwd=ROOT / "tests" / "data")
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr


def test_the_dashboard_shows_what_an_operator_looks_for() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    titles = " | ".join(p["title"] for p in dashboard["panels"]).lower()
    for subject in ("calls by operation", "faults by operation", "latency", "billing calls", "circuit breaker",
                    "journaled writes by state", "unknown outcome"):
        assert subject in titles, subject
    assert all(t["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"] for t in p.get("targets", []))
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


@pytest.fixture(scope="module")
def scraped(billing_settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Samples]:
    """Sample name -> label sets, from /metrics of `soap-gateway serve` (2 workers) after ordinary calls."""
    workdir = tmp_path_factory.mktemp("scraped")
    port = free_port()
    config = workdir / "gateway.toml"
    # no not_found patterns: the unknown subscriber below is a Server fault, which the dashboards count
    config.write_text('[server]\nworkers = 2\nthreads = 2\n[auth]\nmode = "none"\n'
                      '[billing.error_patterns]\nnot_found = []\n', encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(workdir),
           "SOAP_GATEWAY_BILLING_URL": billing_settings.url, "SOAP_GATEWAY_BILLING_CERT": billing_settings.cert,
           "SOAP_GATEWAY_BILLING_CERT_PASSWORD": "", "SOAP_GATEWAY_BILLING_CA": billing_settings.ca,
           "SOAP_GATEWAY_BILLING_SERVER_NAME": billing_settings.server_name,
           "SOAP_GATEWAY_BILLING_LOGIN": billing_settings.login,
           "SOAP_GATEWAY_BILLING_PASSWORD": billing_settings.password, "SOAP_GATEWAY_LISTEN": f"127.0.0.1:{port}"}
    with serve_process(config, port, workdir / "serve.log", env, cwd=workdir):
        url = f"http://127.0.0.1:{port}"
        client = zeep.Client(f"{url}/soap?wsdl", settings=zeep.Settings(force_https=False))
        service = client.create_service("{urn:soap-gateway:billing}BillingGateway", f"{url}/soap")
        service.CLN_USR_GET(SELECT_ID=101)
        service.CLN_FIN_OPER_ADD(USER_ID=101, OP_DATE=dt.datetime(2024, 5, 1, 10, 0), SUMMA=decimal.Decimal("1.00"),
                                 DESCR="dashboard", NUMBER="D-1", IDEMPOTENCY_KEY=str(uuid.uuid4()))
        with pytest.raises(zeep.exceptions.Fault):
            service.CLN_USR_GET(SELECT_ID=999999)
        assert requests.get(f"{url}/readyz", timeout=30).status_code == 200
        text = requests.get(f"{url}/metrics", timeout=30).text
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(dict(sample.labels))
    yield samples


@pytest.mark.parametrize("source", ["dashboard", "alert rules"])
def test_every_metric_used_is_in_a_real_scrape(scraped: Samples, source: str) -> None:
    queries = dashboard_queries() if source == "dashboard" else rule_queries()
    used = [m for query in queries for m in SELECTOR.finditer(query)]
    assert len(queries) >= 4 and used
    for found in used:
        name, matchers = found[1], found[2] or ""
        assert name in scraped, f"{source} uses {name}, which /metrics does not have"
        for label, op, value in MATCHER.findall(matchers):
            if label == "instance":  # added by Prometheus when it scrapes
                continue
            values = {labels.get(label) for labels in scraped[name]}
            assert values - {None}, f"{source}: {name} has no label {label!r}"
            if op == "=":
                assert value in values, f"{source}: {name}{{{label}={value!r}}} is not in /metrics ({values})"
            elif op == "=~":
                assert any(re.fullmatch(value, v or "") for v in values), (source, name, label, value, values)
