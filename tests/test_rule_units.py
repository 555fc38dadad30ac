"""Every registered rule is a unit: it fires on its own positive fixture, is silent on its negative one,
and (for the stream rules) ``--select CODE`` runs only the checks that can report it, with the same
findings as a run of every check."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import venv
from collections.abc import Callable
from pathlib import Path

import pytest

from claude_doctor import synth
from claude_doctor.checks import env
from claude_doctor.checks.code.checker import CHECKS as CODE_CHECKS
from claude_doctor.checks.code.checker import CHECKS_BY_RULE as CODE_CHECKS_BY_RULE
from claude_doctor.checks.code.checker import Options, selected_rules
from claude_doctor.checks.code.checker import checks_for as code_checks_for
from claude_doctor.checks.code.runner import check_source as check_code
from claude_doctor.checks.code.units.delta_without_event_type import DeltaWithoutEventType
from claude_doctor.checks.code.units.removed_sampling_kwarg import RemovedSamplingKwarg
from claude_doctor.checks.code.units.sync_client_in_async import SyncClientInAsync
from claude_doctor.checks.secrets import env_findings, scan_files
from claude_doctor.checks.stream import CHECKS_BY_RULE, GrammarCheck, ToolJsonCheck, check_records, checks_for
from claude_doctor.config import Config
from claude_doctor.findings import all_rules
from claude_doctor.recording import Chunk, End, Request, Response
from tests.conftest import invoke_cli

URL = "https://api.anthropic.com/v1/messages"
SSE = [("content-type", "text/event-stream")]
JSON = [("content-type", "application/json")]
ASK = {"model": "claude-sonnet-4-6", "max_tokens": 256, "messages": [{"role": "user", "content": "hi"}]}
CLEAN = synth.text_message(["Hello", " there"])


def exchange(
    body: list[bytes],
    *,
    status: int = 200,
    headers: list | None = None,
    end: str = "eof",
    stream: bool = True,
    chunk_t: list[float] | None = None,
    end_t: float = 0.5,
) -> list:
    """One recorded exchange: the request, its response head, one chunk per body part, its end."""
    times = chunk_t or [0.2] * len(body)
    return [
        Request(0, 0.0, "POST", URL, [("x-api-key", "[redacted]")], json={**ASK, "stream": stream}),
        Response(0, 0.1, status, None, "HTTP/1.1", headers or (SSE if stream else JSON)),
        *(Chunk(0, t, part) for t, part in zip(times, body, strict=True)),
        End(0, end_t, end),
    ]


def message_json(stop_reason: str = "end_turn") -> bytes:
    return json.dumps(
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": "Hello"}],
            "stop_reason": stop_reason,
            "usage": {"input_tokens": 5, "output_tokens": 2},
        }
    ).encode()


def error_body(kind: str, message: str) -> list[bytes]:
    return [json.dumps(synth.error_payload(kind, message)).encode()]


def unanswered(reason: str, error: str | None) -> list:
    return [Request(0, 0.0, "POST", URL, [], json={**ASK, "stream": True}), End(0, 0.4, reason, error)]


CUT = [synth.message_start(), *synth.text_block(0, ["Hel"])]
TOOL = [synth.message_start(), *synth.tool_use_block(0, "get_weather", ['{"city": ', '"Paris"}'])]
BAD_TOOL = [synth.message_start(), *synth.tool_use_block(0, "get_weather", ['{"city": ', '"Paris"}}'])]
ENDING = [synth.message_delta("tool_use", 9), synth.MESSAGE_STOP]

# code → (records that must report it, records that must not)
STREAM_CASES: dict[str, tuple[list, list]] = {
    "CD101": (exchange([message_json()], stream=False), exchange(CLEAN)),
    "CD102": (exchange(CLEAN, chunk_t=[0.2] * 3 + [20.0] * (len(CLEAN) - 3), end_t=20.1), exchange(CLEAN)),
    "CD103": (exchange(CUT, end="timeout", end_t=60.0), exchange(CUT + CLEAN[-3:])),
    "CD104": (exchange(CUT), exchange(CLEAN)),
    "CD105": (
        exchange([synth.message_start(), synth.delta(1, {"type": "text_delta", "text": "x"}), *CLEAN[-2:]]),
        exchange(CLEAN),
    ),
    "CD106": (exchange(synth.text_message(["Hel"], "max_tokens")), exchange(CLEAN)),
    "CD107": (exchange(synth.text_message(["No"], "refusal")), exchange(CLEAN)),
    "CD108": (exchange([synth.message_start(), synth.error_event()]), exchange(CLEAN)),
    "CD109": (exchange(error_body("rate_limit_error", "slow down"), status=429, headers=JSON), exchange(CLEAN)),
    "CD110": (exchange(error_body("authentication_error", "bad key"), status=401, headers=JSON), exchange(CLEAN)),
    "CD111": (exchange(error_body("overloaded_error", "Overloaded"), status=529, headers=JSON), exchange(CLEAN)),
    "CD112": (exchange(error_body("invalid_request_error", "bad"), status=400, headers=JSON), exchange(CLEAN)),
    "CD113": (exchange([b'data: {"type":"ping"}\n\n', *CLEAN]), exchange(CLEAN)),
    "CD114": (exchange(CLEAN, chunk_t=[3.0] * len(CLEAN), end_t=3.1), exchange(CLEAN, end_t=3.1)),
    "CD115": (exchange([message_json()], headers=JSON), exchange([message_json()], stream=False)),
    "CD116": (exchange([synth.sse("novel_event", {"type": "novel_event"}), *CLEAN]), exchange(CLEAN)),
    "CD117": (exchange(BAD_TOOL + ENDING), exchange(TOOL + ENDING)),
    "CD408": (
        unanswered("error", "ConnectError: [Errno 111] Connection refused"),
        unanswered("cancelled", None),
    ),
}


@pytest.mark.parametrize("code", sorted(STREAM_CASES))
def test_stream_rule_fires_on_its_fixture_and_only_there(code):
    positive, negative = STREAM_CASES[code]
    found = check_records(positive, "case", Config())
    assert code in {f.code for f in found}
    assert code not in {f.code for f in check_records(negative, "case", Config())}
    alone = check_records(positive, "case", Config(select=[code]))
    assert [f for f in alone if f.code == code] == [f for f in found if f.code == code]


def test_select_runs_only_the_checks_that_can_report_the_rule():
    assert checks_for(Config(select=["CD106"])) == CHECKS_BY_RULE["CD106"]
    # CD104 reads what the tool input check found: a stream the SDK closed because it raised is no cut
    assert checks_for(Config(select=["CD104"])) == (ToolJsonCheck, GrammarCheck)
    assert checks_for(Config(select=["ALL"], ignore=["CD1", "CD408"])) == ()
    stream_codes = {r.code for r in all_rules() if r.code.startswith("CD1")} | {"CD408"}
    assert set(CHECKS_BY_RULE) == stream_codes


CODE_CASES: dict[str, tuple[str, str]] = {
    "CD201": (
        """
        from anthropic import Anthropic
        client = Anthropic()
        async def ask():
            return client.messages.create(model="m", max_tokens=64, messages=[])
        """,
        """
        from anthropic import AsyncAnthropic
        client = AsyncAnthropic()
        async def ask():
            return await client.messages.create(model="m", max_tokens=64, messages=[])
        """,
    ),
    "CD202": (
        """
        from anthropic import AsyncAnthropic
        client = AsyncAnthropic()
        async def ask():
            with client.messages.stream(model="m", max_tokens=64, messages=[]) as s:
                pass
        """,
        """
        from anthropic import AsyncAnthropic
        client = AsyncAnthropic()
        async def ask():
            async with client.messages.stream(model="m", max_tokens=64, messages=[]) as s:
                pass
        """,
    ),
    "CD203": (
        """
        from anthropic import AsyncAnthropic
        client = AsyncAnthropic()
        async def ask():
            async with client.messages.stream(model="m", max_tokens=64, messages=[]) as s:
                for text in s.text_stream:
                    print(text)
        """,
        """
        from anthropic import AsyncAnthropic
        client = AsyncAnthropic()
        async def ask():
            async with client.messages.stream(model="m", max_tokens=64, messages=[]) as s:
                async for text in s.text_stream:
                    print(text)
        """,
    ),
    "CD204": (
        """
        from anthropic import AsyncAnthropic
        client = AsyncAnthropic()
        async def ask():
            message = client.messages.create(model="m", max_tokens=64, messages=[])
            return message.content
        """,
        """
        from anthropic import AsyncAnthropic
        client = AsyncAnthropic()
        async def ask():
            message = await client.messages.create(model="m", max_tokens=64, messages=[])
            return message.content
        """,
    ),
    "CD205": (
        """
        import asyncio
        async def main():
            pass
        loop = asyncio.get_event_loop()
        loop.run_until_complete(main())
        """,
        """
        import asyncio
        async def main():
            pass
        asyncio.run(main())
        """,
    ),
    "CD206": (
        """
        import asyncio
        async def inner():
            pass
        async def outer():
            asyncio.run(inner())
        """,
        """
        import asyncio
        async def inner():
            pass
        async def outer():
            await inner()
        """,
    ),
    "CD207": (
        """
        import asyncio
        from anthropic import AsyncAnthropic
        client = AsyncAnthropic()
        async def ask():
            return await client.messages.create(model="m", max_tokens=64, messages=[])
        asyncio.run(ask())
        asyncio.run(ask())
        """,
        """
        import asyncio
        from anthropic import AsyncAnthropic
        client = AsyncAnthropic()
        async def ask():
            return await client.messages.create(model="m", max_tokens=64, messages=[])
        async def main():
            await ask()
            await ask()
        asyncio.run(main())
        """,
    ),
    "CD211": (
        """
        from anthropic import Anthropic
        client = Anthropic()
        message = client.messages.create(model="m", max_tokens=64, messages=[])
        for text in message.text_stream:
            print(text)
        """,
        """
        from anthropic import Anthropic
        client = Anthropic()
        with client.messages.stream(model="m", max_tokens=64, messages=[]) as stream:
            for text in stream.text_stream:
                print(text)
        """,
    ),
    "CD212": (
        """
        from anthropic import Anthropic
        client = Anthropic()
        stream = client.messages.create(model="m", max_tokens=64, messages=[], stream=True)
        print(stream.get_final_text())
        """,
        """
        from anthropic import Anthropic
        client = Anthropic()
        with client.messages.stream(model="m", max_tokens=64, messages=[]) as stream:
            print(stream.get_final_text())
        """,
    ),
    "CD213": (
        """
        from anthropic import Anthropic
        client = Anthropic()
        stream = client.messages.stream(model="m", max_tokens=64, messages=[])
        for text in stream.text_stream:
            print(text)
        """,
        """
        from anthropic import Anthropic
        client = Anthropic()
        with client.messages.stream(model="m", max_tokens=64, messages=[]) as stream:
            pass
        """,
    ),
    "CD214": (
        """
        from anthropic import Anthropic
        client = Anthropic()
        with client.messages.stream(model="m", max_tokens=64, messages=[], stream=True) as stream:
            pass
        """,
        """
        from anthropic import Anthropic
        client = Anthropic()
        with client.messages.stream(model="m", max_tokens=64, messages=[]) as stream:
            pass
        """,
    ),
    "CD215": (
        """
        from anthropic import Anthropic
        client = Anthropic()
        client.messages.create(model="m", messages=[])
        """,
        """
        from anthropic import Anthropic
        client = Anthropic()
        client.messages.create(model="m", max_tokens=64, messages=[])
        """,
    ),
    "CD216": (
        """
        from anthropic import Anthropic
        client = Anthropic()
        client.messages.create(model="claude-sonnet-4-5", max_tokens=32000, messages=[])
        """,
        """
        from anthropic import Anthropic
        client = Anthropic()
        with client.messages.stream(model="claude-sonnet-4-5", max_tokens=32000, messages=[]) as s:
            pass
        """,
    ),
    "CD217": (
        """
        from anthropic import Anthropic
        client = Anthropic(timeout=10)
        with client.messages.stream(model="m", max_tokens=64, messages=[]) as s:
            pass
        """,
        """
        from anthropic import Anthropic
        client = Anthropic(timeout=600)
        with client.messages.stream(model="m", max_tokens=64, messages=[]) as s:
            pass
        """,
    ),
    "CD218": (
        """
        import httpx
        from anthropic import Anthropic
        client = Anthropic(http_client=httpx.Client())
        """,
        """
        import httpx2
        from anthropic import Anthropic
        client = Anthropic(http_client=httpx2.Client())
        """,
    ),
    "CD219": (
        """
        from anthropic import Anthropic
        client = Anthropic()
        client.messages.create(model="m", max_tokens=64, messages=[], temperature=0.2)
        """,
        """
        from anthropic import Anthropic
        client = Anthropic()
        client.messages.create(model="m", max_tokens=64, messages=[], extra_body={"temperature": 0.2})
        """,
    ),
    "CD220": (
        """
        from fastapi.responses import StreamingResponse
        async def relay():
            return StreamingResponse(events(), media_type="text/event-stream")
        """,
        """
        from fastapi.responses import StreamingResponse
        async def relay():
            return StreamingResponse(
                events(),
                media_type="text/event-stream",
                headers={"X-Accel-Buffering": "no", "Cache-Control": "no-cache"},
            )
        """,
    ),
    "CD221": (
        """
        from anthropic import Anthropic
        client = Anthropic()
        stream = client.messages.create(model="m", max_tokens=64, messages=[], stream=True)
        for event in stream:
            print(event.delta.text, end="")
        """,
        """
        from anthropic import Anthropic
        client = Anthropic()
        stream = client.messages.create(model="m", max_tokens=64, messages=[], stream=True)
        for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                print(event.delta.text, end="")
        """,
    ),
}


def code_codes(source: str, **options) -> set[str]:
    return {f.code for f in check_code(textwrap.dedent(source), "app.py", Options(sdk_major=2, **options))}


@pytest.mark.parametrize("code", sorted(CODE_CASES))
def test_code_rule_fires_on_its_fixture_and_only_there(code):
    positive, negative = CODE_CASES[code]
    assert code in code_codes(positive)
    assert code not in code_codes(negative)
    assert code_codes(positive, rules=frozenset({code})) == {code}  # only its own check ran


def test_code_select_runs_only_the_checks_that_can_report_the_rule():
    assert code_checks_for(frozenset({"CD201"})) == CODE_CHECKS_BY_RULE["CD201"] == (SyncClientInAsync,)
    assert code_checks_for(selected_rules(["CD219", "CD22"], ["relay-without-anti-buffering"])) == (
        RemovedSamplingKwarg,
        DeltaWithoutEventType,
    )
    assert code_checks_for(None) == CODE_CHECKS
    assert set(CODE_CHECKS_BY_RULE) == {r.code for r in all_rules() if r.code.startswith("CD2")}


def test_code_rule_examples_show_the_problem_and_the_fix():
    """``explain CD2xx`` shows code that has the problem and the same code done right: checked, the
    example reports its rule (and nothing else) and what to use instead reports nothing."""
    for rule in all_rules():
        if rule.code.startswith("CD2"):
            assert code_codes(example_module(rule.example)) == {rule.code}, rule.code
            assert code_codes(example_module(rule.use_instead)) == set(), rule.code


def example_module(snippet: str) -> str:
    """A rule's example as a module: the imports its names need, and the client it calls unless it makes one."""
    is_async = "async " in snippet or "await " in snippet
    client = "" if "client = " in snippet else f"client = {'AsyncAnthropic' if is_async else 'Anthropic'}()\n"
    top_level_await = "await " in snippet and "async def" not in snippet
    body = "async def main():\n" + textwrap.indent(snippet, "    ") if top_level_await else snippet
    return EXAMPLE_IMPORTS + client + body + "\n"


EXAMPLE_IMPORTS = """import asyncio
import httpx
import httpx2
from anthropic import Anthropic, AsyncAnthropic
from fastapi.responses import StreamingResponse
"""


def fake_key() -> str:
    """A key of the right shape, made at run time so that no key is written in this file."""
    body = hashlib.sha512(b"claude-doctor rule units").hexdigest()[:91]
    return "sk-ant-" + "api03-" + body + "XYAA"


def git_repo(path: Path) -> Path:
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def secrets_codes(folder: Path) -> set[str]:
    """What ``secrets`` finds in the files of ``folder``, a git repository (whose ignore rules count)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts)
    found, _ = scan_files(files)
    return {f.code for f in found + env_findings(files)}


def recording(folder: Path, key_header: str) -> None:
    meta = {"k": "meta", "format": "claude-doctor/recording", "v": 1, "source": "test", "redacted": []}
    request = {"k": "request", "i": 0, "t": 0.0, "method": "POST", "url": URL, "headers": [["x-api-key", key_header]]}
    (folder / "run.jsonl").write_text(json.dumps(meta) + "\n" + json.dumps(request) + "\n")


# code → (what makes the repository hold the problem, what is written instead)
SECRETS_CASES: dict[str, tuple[Callable[[Path], None], Callable[[Path], None]]] = {
    "CD301": (
        lambda repo: (repo / "settings.py").write_text(f'API_KEY = "{fake_key()}"\n'),
        lambda repo: (repo / "settings.py").write_text('API_KEY = os.environ["ANTHROPIC_API_KEY"]\n'),
    ),
    "CD302": (
        lambda repo: recording(repo, fake_key()),
        lambda repo: recording(repo, "[REDACTED len=108]"),
    ),
    "CD303": (
        lambda repo: (repo / ".env").write_text("ANTHROPIC_API_KEY=\n"),
        lambda repo: [(repo / ".env").write_text("ANTHROPIC_API_KEY=\n"), (repo / ".gitignore").write_text(".env\n")],
    ),
}


@pytest.mark.parametrize("code", sorted(SECRETS_CASES))
def test_secrets_rule_fires_on_its_fixture_and_only_there(code, tmp_path, monkeypatch):
    for case, write in zip(("positive", "negative"), SECRETS_CASES[code], strict=True):
        repo = git_repo(tmp_path / case)
        write(repo)
        monkeypatch.chdir(repo)  # git answers which files it ignores from inside the repository
        assert (code in secrets_codes(repo)) is (case == "positive")


def fake_sdk(folder: Path, version: str) -> Path:
    """A folder that makes ``anthropic`` look installed at ``version`` to the interpreter that has it on
    its path: what an old virtualenv looks like to ``importlib.metadata``."""
    info = folder / f"anthropic-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: anthropic\nVersion: {version}\n")
    return folder


def env_codes(
    tmp_path: Path, monkeypatch, variables: dict[str, str] | None = None, sdk: str | None = "2.1.0", hook: bool = True
) -> set[str]:
    """The environment findings for a project in a git repository (with the secrets hook unless not
    ``hook``), an interpreter with anthropic ``sdk`` (none if ``None``) and ``variables`` (``KEY`` in a
    value stands for a well-formed key; by default that key alone)."""
    variables = {"ANTHROPIC_API_KEY": "KEY"} if variables is None else variables
    variables = {name: value.replace("KEY", fake_key()) for name, value in variables.items()}
    python = sys.executable
    if sdk is None:  # a new virtualenv: an interpreter without the SDK
        venv.create(tmp_path / "venv", with_pip=False)
        python = str(tmp_path / "venv" / "bin" / "python")
    else:
        monkeypatch.setenv("PYTHONPATH", str(fake_sdk(tmp_path / "site", sdk)))
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    if hook:
        (root / ".pre-commit-config.yaml").write_text("repos: [{hooks: [{id: claude-doctor-secrets}]}]\n")
    found, _ = env.check_environment(root, python, variables)
    return {f.code for f in found}


# code → how the environment differs from a sound one (a well-formed key, anthropic 2.1, the hook)
ENV_CASES: dict[str, dict] = {
    "CD401": {"sdk": None},
    "CD402": {"sdk": "0.40.0"},
    "CD403": {"variables": {}},
    "CD404": {"variables": {"ANTHROPIC_API_KEY": '"KEY"'}},
    "CD405": {"variables": {"ANTHROPIC_API_KEY": "KEY", "HTTPS_PROXY": "http://proxy.internal:3128"}},
    "CD406": {"variables": {"ANTHROPIC_API_KEY": "KEY", "ANTHROPIC_BASE_URL": "http://gateway.internal"}},
    "CD407": {"hook": False},
}


@pytest.mark.parametrize("code", sorted(ENV_CASES))
def test_environment_rule_fires_on_its_fixture_and_only_there(code, tmp_path, monkeypatch):
    assert code in env_codes(tmp_path / "positive", monkeypatch, **ENV_CASES[code])
    assert env_codes(tmp_path / "negative", monkeypatch) == set()


def test_every_registered_rule_has_its_fixtures():
    covered = set(STREAM_CASES) | set(CODE_CASES) | set(SECRETS_CASES) | set(ENV_CASES)
    assert covered == {rule.code for rule in all_rules()}
    assert set(env.CHECKS_BY_RULE) == set(ENV_CASES)


@pytest.mark.slow
def test_doctor_reports_an_old_sdk_in_the_target_interpreter(tmp_path):
    """CD402 through the real CLI: ``doctor --python`` asks that interpreter for its SDK's version; here a
    virtualenv-like path holding anthropic 0.40's metadata."""
    site = fake_sdk(tmp_path / "site", "0.40.0")
    project = tmp_path / "project"
    project.mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "claude_doctor", "doctor", str(project), "--python", sys.executable, "--format", "json"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site), "ANTHROPIC_API_KEY": fake_key()},
        timeout=120,
    )
    findings = json.loads(run.stdout)["findings"]
    outdated = [f for f in findings if f["code"] == "CD402"]
    assert len(outdated) == 1 and "anthropic 0.40.0 is installed" in outdated[0]["message"]
    assert run.returncode == 1


def test_explain_shows_the_example_and_what_to_use_instead():
    for rule in all_rules():
        assert rule.example and rule.use_instead, rule.code
    page = invoke_cli("explain", "CD104").stdout
    example = page.index("\nExample\n  event: content_block_delta\n")
    assert example < page.index("\nUse instead\n  message = stream.get_final_message()\n") < page.index("What you may")
    shown = invoke_cli("explain", "sdk-outdated", "--format", "json").json
    assert shown["use_instead"] == "$ .venv/bin/python -m pip install -U anthropic"
