"""The stream checks on the shapes real recordings have: our own minimal reductions (in
tests/corpus/streams/) of public cassettes, each checked through the real CLI. Every case names the
file it reduces, with its repository and commit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

CORPUS = ROOT / "tests" / "corpus" / "streams"

# file in tests/corpus/streams → the codes it must give, in report order
EXPECTED = {
    # pydantic/pydantic-ai@4fda389 tests/models/cassettes/test_anthropic/test_anthropic_mcp_servers_stream.yaml:
    # client.beta.messages marks the call with ?beta=true only (no anthropic-beta header in the cassette);
    # mcp_tool_use and mcp_tool_result are beta block types, so nothing is unknown
    "pydantic-ai-mcp-servers-stream.yaml": [],
    # pydantic-ai@4fda389 .../test_anthropic_compaction_usage_with_cache_streaming.yaml: compaction block and
    # compaction_delta, ?beta=true only
    "pydantic-ai-compaction-stream.yaml": [],
    # the same stream as a recorder that drops the header and the query keeps it: the beta-only body field
    # context_management is what is left to tell
    "pydantic-ai-compaction-stream-body-only.yaml": [],
    # the same stream's body alone (curl -N output): no request, so a beta call cannot be ruled out
    "pydantic-ai-compaction-stream-no-request.sse": [],
    # pydantic-ai@4fda389 .../test_anthropic_advisor_tool_stream.yaml: advisor_tool_result, ?beta=true only
    "pydantic-ai-advisor-tool-stream.yaml": [],
    # DataDog/dd-trace-py@3bb9ecd tests/contrib/botocore/bedrock_cassettes/anthropic_message_invoke.yaml: Bedrock's
    # InvokeModel, not streamed; the model id is in the URL path, not the body
    "dd-trace-py-bedrock-invoke.yaml": ["CD101"],
    # the same shape with the Claude Opus 4 Bedrock id and max_tokens 10000, which the SDK refuses unstreamed
    "dd-trace-py-bedrock-invoke-opus-4.yaml": ["CD101"],
}


@pytest.fixture(scope="module")
def checked() -> dict[str, list[dict]]:
    """One CLI run over the whole folder: findings by file name."""
    result = run_cli("stream", str(CORPUS), "--format", "json")
    assert result.code == 1, result.stdout + result.stderr  # the Opus 4 case is an error
    assert "Traceback" not in result.stderr
    found: dict[str, list[dict]] = {}
    for finding in result.json["findings"]:
        found.setdefault(Path(finding["path"]).name, []).append(finding)
    return found


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.iterdir()))
def test_real_stream_shape_gives_exactly_its_codes(checked, name):
    assert [f["code"] for f in checked.get(name, [])] == EXPECTED[name], checked.get(name)


def test_bedrock_requests_are_judged_by_the_model_id_in_their_url(checked):
    (plain,) = checked["dd-trace-py-bedrock-invoke.yaml"]
    (opus,) = checked["dd-trace-py-bedrock-invoke-opus-4.yaml"]
    assert "(model us.anthropic.claude-3-sonnet-20240229-v1:0, max_tokens 50)" in plain["message"]
    assert plain["severity"] == "warning"
    assert opus["severity"] == "error" and "Streaming is required" in opus["message"]
