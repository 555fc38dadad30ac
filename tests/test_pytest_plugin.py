"""The pytest plugin, through real pytest runs of user-style test files (``pytester``): the ``claude_api``
fixture, the ``claude_faults`` marker, what a failing run under a fault reports, and what it refuses."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.slow

CLIENT = """
import anthropic
import pytest

def ask(**options):
    client = anthropic.Anthropic(**options)
    with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "Say hello"}]
    ) as stream:
        return stream.get_final_message()
"""


def test_claude_api_points_the_sdk_at_a_mock_and_records_what_it_received(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        CLIENT
        + """
import os

def test_clean(claude_api):
    assert os.environ["ANTHROPIC_BASE_URL"] == claude_api.url
    assert ask().stop_reason == "end_turn"
    assert [r.status for r in claude_api.requests] == [200]
    assert claude_api.requests[0].body["messages"][0]["content"] == "Say hello"
    assert claude_api.fault is None

def test_environment_is_put_back():
    assert "ANTHROPIC_BASE_URL" not in os.environ
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_the_marker_runs_the_test_once_per_fault_and_a_failure_names_the_fault(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        CLIENT
        + """
@pytest.mark.claude_faults("truncate", "status:529", "error-event:overloaded_error")
def test_complete_answer(claude_api):
    assert ask().stop_reason == "end_turn"
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "--strict-markers")
    result.assert_outcomes(passed=1, failed=2)  # the SDK retries a 529 itself; nothing else
    result.stdout.fnmatch_lines(
        [
            "*test_complete_answer?truncate? FAILED*",
            "*test_complete_answer?status:529? PASSED*",
            "*test_complete_answer?error-event:overloaded_error? FAILED*",
        ]
    )
    result.stdout.fnmatch_lines(["*injected fault: truncate (on the first request)*"])
    result.stdout.fnmatch_lines(["*FAILED*test_complete_answer?truncate?*"])


def test_the_fault_hits_the_first_request_so_a_retry_can_succeed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        CLIENT
        + """
@pytest.mark.claude_faults("reset")
def test_retry_once(claude_api):
    import httpx2
    with pytest.raises(httpx2.TransportError):
        ask(max_retries=0)
    assert ask(max_retries=0).stop_reason == "end_turn"
    assert [r.faulted for r in claude_api.requests] == [True, False]

@pytest.mark.claude_faults("status:529", every_request=True)
def test_persistent_overload(claude_api):
    import anthropic
    with pytest.raises(anthropic.OverloadedError):
        ask(max_retries=1)
    assert len(claude_api.requests) == 2
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("marker", "says"),
    [
        ('@pytest.mark.claude_faults("nope")\ndef test_x(claude_api):', "unknown fault 'nope'"),
        ("@pytest.mark.claude_faults()\ndef test_x(claude_api):", "names no fault"),
        ('@pytest.mark.claude_faults("truncate")\ndef test_x():', "needs the claude_api fixture"),
    ],
    ids=["unknown fault", "no fault", "no fixture"],
)
def test_a_marker_that_cannot_work_is_an_error_naming_the_test(
    pytester: pytest.Pytester, marker: str, says: str
) -> None:
    pytester.makepyfile(f"import pytest\n\n{marker}\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    assert says in result.stdout.str() + result.stderr.str()
    assert "test_x" in result.stdout.str() + result.stderr.str()


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.claude_faults(*faults, every_request=False): run the test once*"])


def test_loading_the_plugin_imports_no_server_and_no_sdk() -> None:
    code = (
        "import sys, claude_doctor.pytest_plugin; print(sorted({'aiohttp', 'anthropic', 'httpx2'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
