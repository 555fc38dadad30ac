"""The Prometheus sink: what a scrape of ``/metrics`` says for given exchanges (parsed with
prometheus_client's own parser, as Prometheus reads it), and ``record --metrics`` refusing bad values.
The sidecar against a real Prometheus server is in ``test_prometheus_e2e.py``."""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from claude_doctor.findings import Finding, get_rule
from claude_doctor.production.prometheus import PrometheusSink, status_class
from claude_doctor.production.summary import ExchangeSummary
from tests.conftest import invoke_cli

MODEL = "claude-sonnet-4-5"
URL = "http://127.0.0.1:8765/v1/messages?beta=true"


def summary(**fields) -> ExchangeSummary:
    values = {"request_model": MODEL, "streamed": True, "status": 200, "end_reason": "eof", "duration": 1.5}
    values["time_to_first_chunk"] = 0.4
    values.update(fields)
    return ExchangeSummary("POST", values.pop("url", URL), time.time(), **values)


def finding(code: str) -> Finding:
    return Finding(get_rule(code), f"{code} happened")


def exchange(sink: PrometheusSink, s: ExchangeSummary, gaps: tuple[float, ...] = ()) -> None:
    """One exchange as the monitor tells it: started, a chunk per gap after the first, finished."""
    sink.exchange_started(s)
    for gap in gaps:
        sink.output_chunk(s, gap)
    sink.exchange_finished(s)


def scrape(sink: PrometheusSink) -> dict[tuple[str, frozenset], float]:
    """Every sample of the exposition, keyed by name and labels."""
    text = sink.exposition().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float | None:
    """The one sample of ``name`` whose labels include ``labels``, summed over the others."""
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    return sum(found) if found else None


def test_findings_are_counted_by_code_severity_and_model() -> None:
    sink = PrometheusSink()
    exchange(sink, summary(findings=[finding("CD104")], chunks=3))
    exchange(sink, summary(findings=[finding("CD104"), finding("CD117")], chunks=3))
    exchange(sink, summary(request_model="claude-haiku-4-5", findings=[finding("CD108")], chunks=2))
    samples = scrape(sink)
    name = "claude_doctor_findings_total"
    assert value(samples, name, code="CD104", severity="error", gen_ai_request_model=MODEL) == 2
    assert value(samples, name, code="CD117", gen_ai_request_model=MODEL) == 1
    assert value(samples, name, code="CD108", gen_ai_request_model="claude-haiku-4-5") == 1
    assert value(samples, name, code="CD108", gen_ai_request_model=MODEL) == 0  # declared, never seen


def test_a_finding_at_another_severity_than_its_rule_is_counted_at_its_own() -> None:
    sink = PrometheusSink()
    cd101 = Finding(get_rule("CD101"), "refused by the SDK's guard", severity=get_rule("CD110").severity)
    exchange(sink, summary(findings=[cd101]))
    assert value(scrape(sink), "claude_doctor_findings_total", code="CD101", severity="error") == 1


def test_a_model_seen_for_the_first_time_has_every_stream_rule_at_zero_before_its_first_finding() -> None:
    """``increase()`` over a series that appears at 1 sees nothing: the first truncated stream of a
    model must be an increase from 0, so its series exist from the exchange's start."""
    sink = PrometheusSink()
    sink.exchange_started(summary())
    samples = scrape(sink)
    codes = {dict(ls)["code"] for (n, ls), v in samples.items() if n == "claude_doctor_findings_total" and v == 0}
    assert {"CD102", "CD104", "CD108", "CD111", "CD117"} <= codes
    assert all(code.startswith("CD1") for code in codes)
    assert value(samples, "claude_doctor_exchanges_total", gen_ai_request_model=MODEL) == 0
    assert value(samples, "claude_doctor_stream_longest_gap_seconds_count", gen_ai_request_model=MODEL) == 0


def test_exchanges_are_counted_by_status_class_end_and_error_type() -> None:
    sink = PrometheusSink()
    exchange(sink, summary(chunks=5))
    exchange(sink, summary(status=529, error_type="529", findings=[finding("CD111")]))
    exchange(sink, summary(error_type="overloaded_error", findings=[finding("CD108")], chunks=3))
    exchange(sink, summary(status=None, end_reason="error", error_type="aiohttp.ClientConnectorError"))
    samples = scrape(sink)
    name = "claude_doctor_exchanges_total"
    assert value(samples, name, status_class="2xx", end_reason="eof", error_type="") == 1
    assert value(samples, name, status_class="5xx", error_type="529") == 1
    assert value(samples, name, status_class="2xx", error_type="overloaded_error") == 1
    assert value(samples, name, status_class="none", end_reason="error") == 1
    assert value(samples, name) == 4


def test_the_gen_ai_histograms_carry_the_otel_names_and_attributes() -> None:
    sink = PrometheusSink()
    answered = summary(chunks=3, longest_gap=12.0, duration=14.0, response_model="claude-sonnet-4-5-20250929")
    exchange(sink, answered, gaps=(0.02, 12.0))
    samples = scrape(sink)
    gen_ai = {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "anthropic", "gen_ai_request_model": MODEL}
    where = {"server_address": "127.0.0.1", "server_port": "8765"}
    assert value(samples, "gen_ai_client_operation_duration_seconds_count", **gen_ai, **where, error_type="") == 1
    assert value(samples, "gen_ai_client_operation_duration_seconds_sum", **gen_ai) == 14.0
    assert value(samples, "gen_ai_client_operation_time_to_first_chunk_seconds_sum", **gen_ai) == 0.4
    assert value(samples, "gen_ai_client_operation_time_per_output_chunk_seconds_count", **gen_ai) == 2
    assert value(samples, "gen_ai_client_operation_time_per_output_chunk_seconds_bucket", le="0.02") == 1
    # the gap alert reads "longest gap over 10 s" as _count minus the le="10.0" bucket
    gap = "claude_doctor_stream_longest_gap_seconds"
    assert value(samples, f"{gap}_count", **gen_ai) == 1
    assert value(samples, f"{gap}_bucket", le="10.0") == 0
    assert value(samples, f"{gap}_bucket", le="12.5") == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"status": None, "end_reason": "error", "time_to_first_chunk": None},  # no answer at all
        {"status": 529, "error_type": "529", "chunks": 1},  # an error's JSON body is no stream
        {"streamed": False, "chunks": 2},  # a whole JSON message
    ],
)
def test_only_streamed_answers_add_chunk_metrics_but_every_exchange_adds_its_duration(fields: dict) -> None:
    """As the OpenTelemetry sink counts them, so both exporters give the same numbers."""
    sink = PrometheusSink()
    exchange(sink, summary(**fields), gaps=(0.5,) if fields.get("chunks") else ())
    samples = scrape(sink)
    assert value(samples, "claude_doctor_stream_longest_gap_seconds_count") == 0
    assert value(samples, "gen_ai_client_operation_time_to_first_chunk_seconds_count") == 0
    assert value(samples, "gen_ai_client_operation_time_per_output_chunk_seconds_count") == 0
    assert value(samples, "gen_ai_client_operation_duration_seconds_count") == 1


def test_labels_from_the_wire_stay_bounded() -> None:
    """A client (or a hostile upstream) choosing model names and error types cannot grow the series
    without bound: past the limit they read ``other``."""
    sink = PrometheusSink(max_label_values=5)
    for n in range(40):
        exchange(sink, summary(request_model=f"model-{n}", error_type=f"weird_{n}", findings=[finding("CD108")]))
    samples = scrape(sink)
    models = {dict(ls).get("gen_ai_request_model") for (n, ls) in samples if n == "claude_doctor_findings_total"}
    errors = {dict(ls).get("error_type") for (n, ls) in samples if n == "claude_doctor_exchanges_total"}
    assert len(models) == 6 and "other" in models
    assert len(errors - {""}) == 6 and "other" in errors  # "": the exchanges without an error
    assert value(samples, "claude_doctor_findings_total", code="CD108") == 40


def test_no_url_path_query_or_id_becomes_a_label() -> None:
    sink = PrometheusSink()
    exchange(sink, summary(response_id="msg_01SECRETIDXYZ", url="http://127.0.0.1:8765/v1/messages?key=abc123"))
    text = sink.exposition().decode()
    assert "msg_01SECRETIDXYZ" not in text and "abc123" not in text and "/v1/messages" not in text


def test_a_key_sent_as_the_model_name_is_not_served() -> None:
    key = "sk-ant-api03-" + "x7Kq" * 23 + "AA"
    sink = PrometheusSink()
    exchange(sink, summary(request_model=key, error_type=f"bad {key}", findings=[finding("CD112")]))
    text = sink.exposition().decode()
    assert key not in text and key[:30] not in text
    assert value(scrape(sink), "claude_doctor_findings_total", code="CD112") == 1


def test_two_sinks_do_not_share_a_registry() -> None:
    first, second = PrometheusSink(), PrometheusSink()
    exchange(first, summary(findings=[finding("CD104")]))
    assert value(scrape(first), "claude_doctor_findings_total", code="CD104") == 1
    assert value(scrape(second), "claude_doctor_findings_total", code="CD104") is None


@pytest.mark.parametrize("status, cls", [(200, "2xx"), (429, "4xx"), (529, "5xx"), (None, "none"), (999, "none")])
def test_status_class(status: int | None, cls: str) -> None:
    assert status_class(status) == cls


@pytest.mark.parametrize("bad", ["abc:xyz", "127.0.0.1:99999", "a:b:c", "", " ", "[::1]:x", "127.0.0.1:-1"])
def test_a_bad_metrics_address_is_a_usage_error(bad: str) -> None:
    result = invoke_cli("record", "--metrics", bad, "--upstream", "http://127.0.0.1:9")
    assert result.code == 2
    assert "--metrics" in result.stderr and repr(bad.strip() or bad)[1:-1] in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def _connect_error(kind: str, cause: OSError):
    import aiohttp
    from aiohttp.client_reqrep import ConnectionKey

    key = ConnectionKey("api.example", 443, True, True, None, None, None)
    return getattr(aiohttp, kind)(key, cause)


@pytest.mark.parametrize(
    "kind, cause, step",
    [
        ("ClientConnectorError", ConnectionRefusedError(111, "Connect call failed"), "TCP"),
        ("ClientConnectorDNSError", OSError(-2, "Name or service not known"), "DNS"),
        ("ClientConnectorCertificateError", OSError(1, "certificate verify failed"), "TLS"),
        ("ClientProxyConnectionError", ConnectionRefusedError(111, "Connect call failed"), "proxy"),
    ],
)
def test_the_sidecar_names_the_step_that_failed_by_aiohttp_s_error_class(kind: str, cause: OSError, step: str) -> None:
    """aiohttp's messages say ``ssl:default`` even for plain TCP; its classes say which step failed, and
    ``failures.failed_step`` (the one place that decides) reads them, wrapped or not."""
    from claude_doctor.failures import failed_step

    error = _connect_error(kind, cause)
    assert failed_step(error) == step
    try:
        raise RuntimeError("forwarding failed") from error
    except RuntimeError as wrapped:
        assert failed_step(wrapped) == step
