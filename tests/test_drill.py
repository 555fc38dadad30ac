"""``drill``, fast layer: the verdict on observations built by hand, the plan, the three report formats
and the options it refuses. The real runs of real apps are in test_drill_e2e.py."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from claude_doctor.commands.drill import parse_fail_on
from claude_doctor.drill import Result, baseline_problem
from claude_doctor.drill.plan import STALL_MARGIN, default_specs, parse_drill, plan
from claude_doctor.drill.report import render
from claude_doctor.drill.run import OUTPUT_LIMIT, Observation, Output, Request, last_exception
from claude_doctor.drill.verdict import DEFAULT_FAIL_ON, HUNG, LOUD, NOT_EXERCISED, RECOVERED, SILENT, judge
from claude_doctor.errors import UsageProblem
from tests.conftest import invoke_cli

ANSWER = b"Hello from the mock\n"
TIMEOUT = 10.0
TRACEBACK = """Traceback (most recent call last):
  File "app.py", line 9, in <module>
    blocks[event.index] += event.delta.text
IndexError: list index out of range
"""


def output(data: bytes = b"") -> Output:
    out = Output()
    out.add(data)
    return out


def seen(
    exit_code: int | None = 0,
    stdout: bytes = ANSWER,
    stderr: bytes = b"",
    requests: tuple[tuple[int, str, bool, float], ...] = ((200, "complete", True, 0.1),),
) -> Observation:
    """An observation of one run: ``requests`` as (status, outcome, faulted, at)."""
    return Observation("x", exit_code, 1.0, output(stdout), output(stderr), [Request(*r) for r in requests])


BASELINE = seen(requests=((200, "complete", False, 0.1),))
CUT_THEN_CLEAN = ((200, "complete", True, 0.1), (200, "complete", False, 0.6))


def verdict_of(fault: str, observation: Observation):
    return judge(parse_drill(fault), observation, BASELINE, TIMEOUT)


# -- verdicts ---------------------------------------------------------------------------------------


def test_exit_0_after_a_truncated_stream_without_a_retry_is_a_silent_wrong_result() -> None:
    verdict = verdict_of("truncate", seen(stdout=b"Hel\n"))
    assert verdict.kind == SILENT
    assert "with no retry" in verdict.reason and "output differs" in verdict.reason
    assert verdict.rule == "CD104" and "stop_reason" in verdict.fix


def test_max_tokens_ignored_is_silent_even_when_the_text_looks_the_same() -> None:
    verdict = verdict_of("max-tokens", seen())
    assert verdict.kind == SILENT
    assert "stop_reason max_tokens" in verdict.reason and verdict.rule == "CD106"


def test_a_retry_that_gets_a_complete_answer_is_recovered_and_says_after_how_long() -> None:
    verdict = verdict_of("error-event:overloaded_error", seen(requests=CUT_THEN_CLEAN))
    assert verdict.kind == RECOVERED
    assert "retried 0.5 s after an error event" in verdict.reason


def test_a_harmless_fault_with_the_clean_runs_output_is_recovered() -> None:
    verdict = verdict_of("split:1", seen())
    assert verdict.kind == RECOVERED
    assert "output as in the clean run" in verdict.reason


def test_a_harmless_fault_that_changes_the_output_is_a_silent_wrong_result() -> None:
    """An app that decodes each chunk on its own mangles a character split across chunks: exit 0, wrong text."""
    verdict = verdict_of("split:1", seen(stdout=b"caf\xef\xbf\xbd\n"))
    assert verdict.kind == SILENT
    assert "output differs from the clean run's" in verdict.reason


def test_a_traceback_is_a_loud_failure_named_by_explains_matcher_with_the_retry_advice() -> None:
    verdict = verdict_of("reorder", seen(exit_code=1, stderr=TRACEBACK.encode()))
    assert verdict.kind == LOUD
    assert "IndexError: list index out of range" in verdict.reason
    assert verdict.rule == "CD105"
    assert verdict.retry_helps is False and "a retry would not have saved it" in verdict.reason


def test_a_loud_failure_of_a_transient_fault_says_a_retry_would_have_saved_it() -> None:
    stderr = b'Traceback (most recent call last):\n  File "x"\nhttpx2.ReadError: [Errno 104] Connection reset by peer\n'
    verdict = verdict_of("reset", seen(exit_code=1, stderr=stderr))
    assert verdict.kind == LOUD and verdict.retry_helps is True
    assert "a retry would have saved it" in verdict.reason and verdict.rule == "CD104"


def test_retries_and_their_spacing_are_in_the_reason() -> None:
    requests = ((500, "complete", True, 0.0), (500, "complete", True, 0.5), (500, "complete", True, 1.5))
    verdict = verdict_of("status:500", seen(exit_code=1, requests=requests))
    assert "(3 requests, 0.5, 1.0 s apart)" in verdict.reason


def test_still_running_at_the_timeout_is_hung_whatever_else_was_seen() -> None:
    verdict = verdict_of(f"stall:{TIMEOUT + STALL_MARGIN:g}", seen(exit_code=None, requests=()))
    assert verdict.kind == HUNG
    assert verdict.reason.startswith("still running 10 s after a stall") and verdict.rule == "CD103"


def test_no_request_that_got_the_fault_is_not_exercised() -> None:
    assert verdict_of("truncate", seen(requests=())).kind == NOT_EXERCISED


def test_a_permanent_status_is_never_worth_a_retry() -> None:
    verdict = verdict_of("status:403", seen(exit_code=1))
    assert verdict.retry_helps is False and verdict.rule == "CD110"


def test_a_combination_means_what_its_most_damaging_fault_means() -> None:
    verdict = verdict_of("split:3+truncate:6", seen(stdout=b"Hel\n"))
    assert verdict.kind == SILENT and "a stream cut before message_stop" in verdict.reason


# -- the clean run ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "says"),
    [
        (seen(exit_code=None), "was still running after 10 s"),
        (seen(exit_code=1, stderr=TRACEBACK.encode()), "exited 1 (IndexError: list index out of range)"),
        (seen(requests=()), "made no request to the mock API"),
    ],
    ids=["hung", "failed", "no request"],
)
def test_a_clean_run_that_cannot_be_drilled_says_why(baseline: Observation, says: str) -> None:
    problem = baseline_problem(baseline, TIMEOUT)
    assert problem is not None and says in problem[1]


def test_an_app_that_went_to_another_host_is_told_it_ignored_the_base_url() -> None:
    baseline = seen(exit_code=1, requests=())
    baseline.hosts = ["api.anthropic.com:443", "api.anthropic.com:443"]
    short, line = baseline_problem(baseline, TIMEOUT)
    assert short == "the app ignored ANTHROPIC_BASE_URL"
    assert "it tried to reach api.anthropic.com:443 instead" in line and "nothing left this machine" in line


def test_a_good_clean_run_is_no_problem() -> None:
    assert baseline_problem(BASELINE, TIMEOUT) is None


# -- plan -------------------------------------------------------------------------------------------


def test_the_default_stall_outlasts_the_timeout() -> None:
    assert f"stall:{30 + STALL_MARGIN:g}" in default_specs(30)
    assert [d.name for d in plan((), 30)] == default_specs(30)


def test_faults_joined_with_plus_are_one_run() -> None:
    drill = parse_drill("split:3+truncate:6")
    assert drill.faults.split == 3 and drill.faults.truncate == 6


@pytest.mark.parametrize(
    ("specs", "says"),
    [(["nope"], "unknown fault 'nope'"), (["truncate", "truncate"], "given twice"), (["split:1+"], "empty name")],
)
def test_a_bad_fault_is_refused(specs: list[str], says: str) -> None:
    with pytest.raises(UsageProblem, match=says):
        plan(specs, TIMEOUT)


# -- observing --------------------------------------------------------------------------------------


def test_output_keeps_both_ends_and_compares_all_of_it() -> None:
    big = b"a" * OUTPUT_LIMIT + b"b" * OUTPUT_LIMIT + b"c" * OUTPUT_LIMIT
    out = output(big)
    assert out.size == len(big) and len(out.head) == len(out.tail) == OUTPUT_LIMIT
    assert "[…]" in out.text() and out.text().endswith("c")
    assert out.digest != output(big[:-1] + b"d").digest


def test_output_in_small_pieces_is_the_same_as_in_one() -> None:
    big = bytes(range(256)) * 1000
    pieces = Output()
    for start in range(0, len(big), 777):
        pieces.add(big[start : start + 777])
    whole = output(big)
    assert (pieces.head, pieces.tail, pieces.digest) == (whole.head, whole.tail, whole.digest)


def test_the_exception_is_the_one_finally_raised() -> None:
    chained = (
        TRACEBACK
        + "\nDuring handling of the above exception, another exception occurred:\n\n"
        + TRACEBACK.replace("IndexError: list index out of range", "RuntimeError: gave up")
    )
    assert last_exception(chained) == "RuntimeError: gave up"
    assert last_exception("no traceback here") is None


def test_a_key_printed_by_the_app_never_reaches_the_report() -> None:
    key = "sk-ant-api03-" + "A" * 93 + "AA"
    result = _result([("truncate", seen(stdout=key.encode()))])
    for fmt in ("human", "json", "junit"):
        assert key not in render(result, fmt, DEFAULT_FAIL_ON)


# -- reports ----------------------------------------------------------------------------------------


def _result(runs: list[tuple[str, Observation]]) -> Result:
    drills = [(parse_drill(name), obs, verdict_of(name, obs)) for name, obs in runs]
    return Result(["python", "app.py"], TIMEOUT, BASELINE, drills)


MIXED = [
    ("truncate", seen(stdout=b"Hel\n")),
    ("reorder", seen(exit_code=1, stderr=TRACEBACK.encode())),
    ("status:529", seen(requests=CUT_THEN_CLEAN)),
    ("stall:15", seen(exit_code=None, stdout=b"\x1b[1mHel\x00")),
    ("buffer", seen(requests=())),
]


def test_the_table_has_a_row_per_fault_the_fixes_and_a_summary() -> None:
    text = render(_result(MIXED), "human", DEFAULT_FAIL_ON)
    rows = {line.split()[0]: line for line in text.splitlines() if line.split() and ":" not in line.split()[0][:-1]}
    assert "silent wrong result" in rows["truncate"] and "failed loudly" in rows["reorder"]
    assert text.splitlines()[0] == "claude-doctor drill: python app.py (clean run: exit 0, 1 request, 1.0 s)"
    assert "fix for truncate (CD104 truncated-stream):" in text
    assert "fix for status:529" not in text  # recovered: nothing to fix
    assert (
        text.splitlines()[-1]
        == "5 faults: 1 recovered, 1 failed loudly, 1 silent wrong result, 1 hung, 1 not exercised."
    )


def test_json_has_a_verdict_reason_fix_and_the_run_for_each_fault() -> None:
    document = json.loads(render(_result(MIXED), "json", DEFAULT_FAIL_ON))
    assert document["version"] == 1 and document["command"] == ["python", "app.py"]
    assert [f["verdict"] for f in document["faults"]] == [SILENT, LOUD, RECOVERED, HUNG, NOT_EXERCISED]
    assert document["failing"] == ["truncate", "stall:15"]
    loud = document["faults"][1]
    assert loud["rule"] == "CD105" and loud["retry_would_help"] is False and loud["fix"]
    assert loud["run"]["exception"] == "IndexError: list index out of range"
    assert document["faults"][2]["run"]["retry_gaps"] == [0.5]
    assert document["faults"][3]["run"]["exit"] is None and document["faults"][3]["run"]["hung"] is True


def test_junit_has_a_testcase_per_fault_failures_for_fail_on_and_skips_for_not_exercised() -> None:
    root = ET.fromstring(render(_result(MIXED), "junit", DEFAULT_FAIL_ON))
    suite = root.find("testsuite")
    assert suite.get("tests") == "5" and suite.get("failures") == "2" and suite.get("skipped") == "1"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert list(cases) == ["truncate", "reorder", "status:529", "stall:15", "buffer"]
    assert cases["truncate"].find("failure").get("type") == SILENT
    assert cases["stall:15"].find("failure").get("message").startswith("hung: still running")
    assert cases["reorder"].find("failure") is None  # failed loudly: acceptable by default
    assert cases["buffer"].find("skipped") is not None
    assert "fix (CD104 truncated-stream)" in cases["truncate"].find("failure").text


def test_junit_follows_fail_on() -> None:
    root = ET.fromstring(render(_result(MIXED), "junit", (LOUD,)))
    failed = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None]
    assert failed == ["reorder"]


# -- options ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "means"),
    [("silent,hung", (SILENT, HUNG)), ("loud", (LOUD,)), ("none", ()), (" Hung , silent", (HUNG, SILENT))],
)
def test_fail_on_takes_verdict_words_or_none(given: str, means: tuple[str, ...]) -> None:
    assert parse_fail_on(None, None, given) == means


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), "drill needs the app's command after --"),
        (("--", "no-such-command-xyz"), "cannot run 'no-such-command-xyz': no such command"),
        (("--fault", "nope", "--", "python"), "unknown fault 'nope'"),
        (("--fault", "stall", "--", "python"), "fault 'stall' needs an argument"),
        (("--fail-on", "sometimes", "--", "python"), "'sometimes': expected a comma-separated list"),
        (("--jobs", "0", "--", "python"), "0 is not in the range"),
        (("--timeout", "-1", "--", "python"), "-1.0 is not in the range"),
    ],
    ids=["no command", "no such command", "unknown fault", "fault argument", "fail-on", "jobs", "timeout"],
)
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], says: str) -> None:
    result = invoke_cli("drill", *args)
    assert result.code == 2, result
    assert says in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
