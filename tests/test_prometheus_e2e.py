"""``record --metrics`` as a sidecar, end to end: the shipped alert rules through ``promtool``, the
proxy's ``/metrics`` against its own findings, and two sidecars scraped by a real Prometheus server
whose PromQL sums the findings of both and whose rules (the shipped file) fire on them."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from prometheus_client.parser import text_string_to_metric_families

from claude_doctor import serve
from claude_doctor.capture import proxy
from tests.conftest import ROOT, run_cli, start_serve

pytestmark = pytest.mark.slow

DEPLOY = ROOT / "deploy" / "prometheus"
RULES = DEPLOY / "claude-doctor.rules.yml"
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian: apt-get install prometheus)"
)
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None, reason="the prometheus server is not installed (Debian: apt-get install prometheus)"
)
MODEL = "claude-sonnet-4-5"
REQUESTS = 3  #: per app
DEADLINE = 90.0  #: seconds for anything to show up on a busy machine


@needs_promtool
def test_the_shipped_rules_pass_promtool_check() -> None:
    result = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout


@needs_promtool
def test_each_alert_fires_on_its_series_and_not_on_a_healthy_sidecar() -> None:
    test_file = DEPLOY / "claude-doctor.rules.test.yml"
    result = subprocess.run(
        [PROMTOOL, "test", "rules", test_file.name], cwd=DEPLOY, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    alerts = {line.split(":", 1)[1].strip() for line in RULES.read_text().splitlines() if "- alert:" in line}
    tested = test_file.read_text()
    assert all(f"alertname: {alert}" in tested for alert in alerts)  # fired in the trouble case
    assert all(f"alertname: {alert}, exp_alerts: []" in tested for alert in alerts)  # silent when healthy


def test_every_alert_names_its_rule_and_how_to_explain_it() -> None:
    import yaml

    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    assert len(rules) == 6
    for rule in rules:
        runbook = rule["annotations"]["runbook"]
        assert re.search(r"\bCD1\d\d\b", runbook) and "claude-doctor explain" in runbook, rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}
    explained = {code for rule in rules for code in re.findall(r"explain (CD\d+)", rule["annotations"]["runbook"])}
    assert explained == {"CD102", "CD108", "CD109", "CD111"}  # CD104, CD117: by the alert's code label


def ask(client: anthropic.Anthropic) -> str:
    """One streamed request as an app makes it; what it ended with (the SDK may raise mid-stream)."""
    try:
        with client.messages.stream(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Hello"}]
        ) as stream:
            for _ in stream.text_stream:
                pass
        return "returned"
    except anthropic.APIError as exc:
        return type(exc).__name__


def metric_samples(url: str) -> dict[tuple[str, frozenset], float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def findings_by_code(samples: dict[tuple[str, frozenset], float]) -> dict[str, float]:
    counts: dict[str, float] = {}
    for (name, labels), value in samples.items():
        if name == "claude_doctor_findings_total" and value:
            code = dict(labels)["code"]
            counts[code] = counts.get(code, 0) + value
    return counts


def test_metrics_count_exactly_the_findings_the_proxy_reports(tmp_path: Path) -> None:
    """One analysis: the findings the proxy reports and the counters it serves come from the same
    watch of each exchange."""
    with serve.running(["truncate"]) as upstream, proxy.running(upstream, tmp_path, metrics=("127.0.0.1", 0)) as p:
        client = anthropic.Anthropic(base_url=p.url, api_key="test-key", max_retries=0)
        for _ in range(REQUESTS):
            ask(client)
        wait_for(lambda: p.exchanges == REQUESTS, "the proxy to finish the exchanges")
        samples = metric_samples(p.metrics_url)
        reported = {}
        for finding in p.findings:
            reported[finding.code] = reported.get(finding.code, 0) + 1
    assert reported == {"CD104": REQUESTS}
    assert findings_by_code(samples) == reported
    total = sum(v for (n, ls), v in samples.items() if n == "claude_doctor_exchanges_total")
    assert total == REQUESTS
    if sys.platform.startswith("linux"):  # prometheus_client reads /proc for the sidecar's own health
        assert samples[("process_resident_memory_bytes", frozenset())] > 0


def test_a_metrics_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "record", "--metrics", f"127.0.0.1:{port}", "--upstream", "http://127.0.0.1:9", "--out", str(tmp_path)
        )
    assert result.code == 2
    expected = f"claude-doctor: error: cannot listen on 127.0.0.1:{port}: port in use"
    assert result.stderr.strip().splitlines() == [expected]


# -- two sidecars and a real Prometheus


def wait_for(check: Callable[[], Any], what: str, deadline: float = DEADLINE) -> Any:
    """Poll ``check`` until it returns something true; fail naming ``what`` at the deadline."""
    end = time.monotonic() + deadline
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


def sidecar(upstream: str, out: Path) -> tuple[subprocess.Popen, str, str]:
    """``claude-doctor record --metrics`` in a subprocess: returns it, its proxy URL and its metrics'
    host:port, read from the lines it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "claude_doctor", "record", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"]
        + ["--upstream", upstream, "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    proxy_url = metrics = None
    while proxy_url is None or metrics is None:
        line = process.stderr.readline()
        if not line:
            stop(process)
            pytest.fail("claude-doctor record ended before listening")
        if line.startswith("record: http://"):
            proxy_url = line.split()[1]
        elif "Prometheus metrics at" in line:
            metrics = urllib.parse.urlsplit(line.split()[-1]).netloc
    return process, proxy_url, metrics


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for process in reversed(started):
        stop(process)


def start_prometheus(tmp_path: Path, targets: list[str], started: list[subprocess.Popen]) -> str:
    """A real Prometheus on a free loopback port scraping ``targets`` every second, with the shipped
    rules evaluated every second; its storage in ``tmp_path``."""
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(RULES)],
                "scrape_configs": [{"job_name": "claude-doctor", "static_configs": [{"targets": targets}]}],
            }
        )
    )
    port = free_port()
    with (tmp_path / "prometheus.log").open("w") as log:  # the child keeps its own copy of the descriptor
        started.append(
            subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}"]
                + [f"--web.listen-address=127.0.0.1:{port}"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _get(f"{url}/-/ready") is not None, "Prometheus to be ready")
    return url


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read()
    except OSError:
        return None


def promql(prometheus: str, query: str) -> list[dict]:
    body = _get(f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': query})}")
    return json.loads(body)["data"]["result"] if body else []


def by_code(prometheus: str) -> dict[str, float]:
    """``sum by (code) (claude_doctor_findings_total)`` over both sidecars, the codes found."""
    result = promql(prometheus, "sum by (code) (claude_doctor_findings_total)")
    return {r["metric"]["code"]: float(r["value"][1]) for r in result if float(r["value"][1])}


def firing(prometheus: str) -> set[tuple[str, str]]:
    body = _get(f"{prometheus}/api/v1/alerts")
    alerts = json.loads(body)["data"]["alerts"] if body else []
    return {(a["labels"]["alertname"], a["labels"].get("code", "")) for a in alerts if a["state"] == "firing"}


@needs_prometheus
def test_two_sidecars_scraped_by_prometheus_sum_to_the_faults_injected(
    tmp_path: Path, processes: list[subprocess.Popen]
) -> None:
    faults = {"truncate": "CD104", "error-event": "CD108"}
    apps = []
    targets = []
    for fault in faults:
        upstream, url, _ = start_serve("--fault", fault, "--speed", "max")
        processes.append(upstream)
        process, proxy_url, metrics = sidecar(url, tmp_path / fault)
        processes.append(process)
        apps.append(anthropic.Anthropic(base_url=proxy_url, api_key="test-key", max_retries=0))
        targets.append(metrics)
    prometheus = start_prometheus(tmp_path, targets, processes)
    wait_for(lambda: len(promql(prometheus, "up == 1")) == 2, "Prometheus to scrape both sidecars")

    # one request each, scraped, then the rest: the alerts see the counters increase
    outcomes = [ask(app) for app in apps]
    wait_for(lambda: by_code(prometheus) == {code: 1.0 for code in faults.values()}, "the first findings")
    outcomes += [ask(app) for app in apps for _ in range(REQUESTS - 1)]

    expected = {code: float(REQUESTS) for code in faults.values()}
    wait_for(lambda: by_code(prometheus) == expected, f"sum by (code) to reach {expected}")
    assert "APIStatusError" in outcomes  # the error event reached the app as the SDK raises it
    wanted = {("ClaudeStreamTruncated", "CD104"), ("ClaudeStreamErrorEvents", "")}
    wait_for(lambda: wanted <= firing(prometheus), f"the alerts {wanted} to fire")
