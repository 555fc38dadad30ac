"""``live`` against ``serve`` on loopback: no key means no request, a clean exchange records the exact
bytes served, a canary key never leaves the process, and failures name their step."""

from __future__ import annotations

import hashlib
import json
import socket
import ssl

import httpx
import httpx2
import pytest

from claude_doctor.capture.live import end_reason
from claude_doctor.failures import failed_step
from claude_doctor.faults import parse_faults
from claude_doctor.recording import Chunk, End, Request, open_source
from claude_doctor.serve import MockAPI, ServeOptions

CANARY_BODY = "CANARYcanary0123456789" * 4 + "x" * 5  # 93 characters
CANARY_KEY = f"sk-ant-api03-{CANARY_BODY}AA"


def serve(*faults: str) -> MockAPI:
    return MockAPI(ServeOptions(parse_faults(list(faults)), speed=float("inf")))


def test_without_a_key_reports_cd403_and_sends_nothing(cli) -> None:
    with serve() as api:
        result = cli("live", "--format", "json", env={"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": ""})
    assert result.code == 1
    assert result.codes() == ["CD403"]
    assert api.exchanges == []


def test_clean_exchange_records_exactly_the_bytes_served(cli, tmp_path) -> None:
    out = tmp_path / "live.jsonl"
    with serve() as api:
        result = cli("live", "--record", str(out), env={"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": "k"})
    assert result.code == 0, result.stdout + result.stderr
    records = list(open_source(str(out)).records)
    body = b"".join(r.data for r in records if isinstance(r, Chunk))
    assert hashlib.sha256(body).hexdigest() == api.exchanges[0].sha256
    assert [r.reason for r in records if isinstance(r, End)] == ["eof"]
    assert "model claude-haiku-4-5" in result.stdout and "output_tokens" in result.stdout
    assert "returns a Message: stop_reason=end_turn" in result.stdout
    assert "max_tokens=64" in result.stdout


@pytest.mark.parametrize(
    ("variable", "secret"),
    [("ANTHROPIC_API_KEY", CANARY_KEY), ("ANTHROPIC_AUTH_TOKEN", "tok-CANARY-not-key-shaped-0123456789")],
)
def test_the_key_never_appears_in_any_byte_written_or_printed(cli, tmp_path, variable: str, secret: str) -> None:
    out = tmp_path / "live.jsonl"
    with serve("reset") as api:
        human = cli("live", "--record", str(out), env={"ANTHROPIC_BASE_URL": api.url, variable: secret})
        machine = cli("live", "--format", "json", env={"ANTHROPIC_BASE_URL": api.url, variable: secret})
    written = out.read_bytes()
    for text in (written.decode(), human.stdout, human.stderr, machine.stdout, machine.stderr):
        assert secret not in text
        assert secret[-20:] not in text
    request = next(r for r in open_source(str(out)).records if isinstance(r, Request))
    assert dict(request.headers)["authorization"] == f"[REDACTED len={len('Bearer ') + len(secret)}]"


def test_a_stall_longer_than_the_timeout_is_cd103_and_the_sdk_verdict_says_read_timeout(cli) -> None:
    with serve("stall:2") as api:
        result = cli("live", "--timeout", "0.5", env={"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": "k"})
    assert result.code == 1
    assert "CD103" in result.stdout
    assert "raises httpx2.ReadTimeout" in result.stdout


def test_an_unreachable_api_names_the_tcp_step(cli) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    result = cli(
        "live", "--format", "json", env={"ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}", "ANTHROPIC_API_KEY": "k"}
    )
    assert result.code == 1
    finding = result.json["findings"][0]
    assert finding["code"] == "CD408" and finding["message"].startswith("TCP step failed")


def _caused(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize("http", [httpx, httpx2], ids=["httpx", "httpx2"])
@pytest.mark.parametrize(
    ("error", "step"),
    [
        (lambda h: _caused(h.ConnectError("x"), socket.gaierror(-2, "Name or service not known")), "DNS"),
        (lambda h: _caused(h.ConnectError("x"), ConnectionRefusedError(111, "Connection refused")), "TCP"),
        (lambda h: h.ConnectTimeout("timed out"), "TCP"),
        (lambda h: _caused(h.ConnectError("x"), ssl.SSLCertVerificationError("certificate verify failed")), "TLS"),
        (lambda h: h.ProxyError("407 Proxy Authentication Required"), "proxy"),
        (lambda h: h.RemoteProtocolError("Server disconnected without sending a response."), "HTTP"),
    ],
)
def test_failed_step_for_both_http_packages(http, error, step: str) -> None:
    assert failed_step(error(http)) == step


@pytest.mark.parametrize("http", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_end_reason_for_both_http_packages(http) -> None:
    assert end_reason(http.ReadTimeout("timed out")) == "timeout"
    assert end_reason(http.RemoteProtocolError("peer closed connection")) == "reset"
    assert end_reason(http.ReadError("[Errno 104] Connection reset by peer")) == "reset"
    assert end_reason(KeyboardInterrupt()) == "cancelled"
    assert end_reason(ValueError("other")) == "error"


def test_live_json_output_is_pure_json(cli) -> None:
    with serve("max-tokens") as api:
        result = cli("live", "--format", "json", env={"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": "k"})
    assert json.loads(result.stdout)["findings"][0]["code"] == "CD106"
    assert "live: POST" in result.stderr
