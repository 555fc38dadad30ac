"""The prefilter (claude_doctor/checks/code/prefilter.py) decides from a file's text whether any CD2xx
rule can fire in it; files where none can are not parsed. Filtering must never change the findings:
the same tree checked with and without it gives exactly the same ones, every finding's rule is one the
filter said could fire, and a file that names nothing the rules need is not reported even when it does
not parse (a file that does is still parsed, and reported)."""

from __future__ import annotations

import ast
import importlib.util
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_doctor.checks.code import runner
from claude_doctor.checks.code.checker import Checker, Options
from claude_doctor.checks.code.context import Need
from claude_doctor.checks.code.prefilter import NEEDS, imports, may_hold_finding, possible_rules
from claude_doctor.findings import all_rules
from tests.conftest import ROOT
from tests.conftest import invoke_cli as run_cli  # in-process (the fast layer)

OPTIONS = Options(sdk_major=2)  # as with anthropic 2.x installed, so CD218/CD219 are checked too

# Shapes the old word list ("anthropic", "asyncio", "event-stream") let through unchecked, each with the
# finding a full check gives. Written for this test.
MISSED_BY_WORDS = {
    # Content types are compared case-insensitively.
    "upper.py": (
        "from flask import Flask, Response\n\napp = Flask(__name__)\n\n\n"
        '@app.route("/events")\ndef events():\n    return Response(generate(), mimetype="TEXT/EVENT-STREAM")\n'
    ),
    # Adjacent string literals are one constant.
    "split.py": (
        'from starlette.responses import StreamingResponse\n\nSSE = "text/event-" "stream"\n\n\n'
        "def relay(stream):\n    return StreamingResponse(stream, media_type=SSE)\n"
    ),
    # Python reads identifiers in NFKC: a fullwidth "ａ" imports asyncio.
    "wide.py": "import \uff41syncio as aio\n\nloop = aio.get_event_loop()\nloop.run_until_complete(main())\n",
}
REAL_SHAPES = {
    # Reduced from pydantic/pydantic-ai@4fda38988f2939fa6ea9cdefcf120693e10ef491:
    # pydantic_ai_slim/pydantic_ai/ui/_event_stream.py (the content type is a module constant).
    "sse_constant.py": (
        "from starlette.responses import StreamingResponse\n\nSSE_CONTENT_TYPE = 'text/event-stream'\n\n\n"
        "def streaming_response(stream):\n    return StreamingResponse(stream, media_type=SSE_CONTENT_TYPE)\n"
    ),
    # Reduced from DataDog/dd-trace-py@3bb9ecda22830e3303b18b0ffa5abe7586aef6a7: tests/wrapping/
    # test_pep695_py312.py, with a Python 2 print added: neither names anything a rule needs.
    "legacy.py": 'def f[T](x: T) -> T:\n    return x\n\nprint "done"\n',
}

# The rules the generated benchmark modules and the corpus do not hit. Written for this test.
EVERY_OTHER_RULE = """\
import asyncio

import httpx
from anthropic import Anthropic, AsyncAnthropic

client = Anthropic()
aclient = AsyncAnthropic()
slow = Anthropic(timeout=5)


async def nested():
    asyncio.run(main())


def twice():
    asyncio.run(use(aclient))
    asyncio.run(use(aclient))


def blocks():
    message = client.messages.create(model="m", max_tokens=64, messages=[])
    for text in message.text_stream:
        print(text)
    stream = client.messages.stream(model="m", max_tokens=64, messages=[])
    print(stream.text_stream)
    long = client.messages.create(model="claude-opus-4-1", max_tokens=64000, messages=[])
    client.messages.create(model="m", messages=[])
    with slow.messages.stream(model="m", max_tokens=64, messages=[]) as s:
        print(s)
    return Anthropic(http_client=httpx.Client()), long


def deltas():
    for event in client.messages.create(model="m", max_tokens=64, messages=[], stream=True):
        print(event.delta.text)
"""


def load_bench_code():
    spec = importlib.util.spec_from_file_location("bench_code", ROOT / "benchmarks" / "bench_code.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def varied_tree(root: Path) -> list[Path]:
    """The benchmark's tree (the installed SDK's own sources and generated modules hitting every rule),
    the real-world corpus, the tutorial cases, and the shapes above."""
    load_bench_code().build_tree(root / "bench", 40_000)
    shutil.copytree(ROOT / "tests" / "corpus" / "code", root / "corpus")
    shutil.copytree(ROOT / "tests" / "code_cases", root / "cases", ignore=shutil.ignore_patterns("__pycache__"))
    for name, text in {**MISSED_BY_WORDS, **REAL_SHAPES, "every.py": EVERY_OTHER_RULE}.items():
        (root / "shapes" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "shapes" / name).write_text(text, encoding="utf-8")
    return sorted(root.rglob("*.py"))


def findings(results: list[runner.FileResult]) -> list[tuple]:
    return [(f.path, f.code, f.line, f.column, f.message, f.fix) for r in results for f in r.findings]


def test_a_tree_checked_with_and_without_the_prefilter_gives_exactly_the_same_findings(tmp_path, monkeypatch):
    paths = varied_tree(tmp_path)
    filtered = runner.check_files(paths, OPTIONS, jobs=2)  # worker processes, as on a real tree
    with monkeypatch.context() as patch:
        patch.setattr(runner, "may_hold_finding", lambda text, project=None, codes=None: True)
        full = runner.check_files(paths, OPTIONS, jobs=1)
    assert findings(filtered) == findings(full)
    assert {f.code for r in full for f in r.findings} == set(NEEDS)  # the comparison covers every rule
    shapes = {Path(r.path).name: [f.code for f in r.findings] for r in filtered if "/shapes/" in r.path}
    assert {name: shapes[name] for name in MISSED_BY_WORDS} == {
        "upper.py": ["CD220"],
        "split.py": ["CD220"],
        "wide.py": ["CD205"],
    }
    assert shapes["sse_constant.py"] == ["CD220"]
    # Only the files no rule can fire in lose their errors: legacy.py, which does not parse.
    lost = {r.path for r in full if r.error} - {r.path for r in filtered if r.error}
    assert lost == {str(tmp_path / "shapes" / "legacy.py")}
    sdk = [path for path in paths if "/bench/sdk/" in str(path)]
    parsed = [path for path in sdk if may_hold_finding(runner.decode_source(path.read_bytes()))]
    assert len(parsed) < len(sdk) / 4, (len(parsed), len(sdk))  # most of the SDK's own modules are never parsed


def test_every_cd2xx_rule_has_a_need():
    assert set(NEEDS) == {rule.code for rule in all_rules() if rule.code.startswith("CD2")}
    assert Need() not in NEEDS.values()  # each check says what it needs; the default parses every file


# -- property: a finding's rule is always one the text allows ------------------------------------------

IMPORTS = [
    "import anthropic",
    "import anthropic as llm",
    "import os, anthropic.lib as lib, anthropic",
    "from anthropic import Anthropic, AsyncAnthropic",
    "from \\\n    anthropic import AsyncAnthropic as Client2",
    "from anthropic.lib.vertex import AnthropicVertex",
    "import asyncio",
    "import asyncio as aio",
    "from asyncio import run, get_event_loop",
    "import \uff41syncio",
    "from flask import Response",
    "from fastapi.responses import StreamingResponse",
    "import django.http",
    "from aiohttp import web",
    "import httpx",
    "x = 1; import asyncio",
    "if True: from anthropic import Anthropic",
    "from other import Anthropic, run, get_event_loop, Response",
]
STATEMENTS = [
    "client = Anthropic()",
    "client = llm.Anthropic(timeout=5)",
    "client = anthropic.AsyncAnthropic(http_client=httpx.AsyncClient())",
    "client = AsyncAnthropic()",
    "client = Client2()",
    "client = AnthropicVertex()",
    "client.messages.create(model='m', messages=[])",
    "message = client.messages.create(model='m', max_tokens=5, messages=[], temperature=0.5)",
    "stream = client.messages.stream(model='m', max_tokens=5, messages=[], stream=True)",
    "for event in client.messages.create(model='m', max_tokens=5, messages=[], stream=True).text_stream:\n    pass",
    "with client.messages.stream(model='m', max_tokens=5, messages=[]) as s:\n    pass",
    "for text in message:\n    pass",
    "with client.messages.stream(model='m', max_tokens=5, messages=[]) as s:\n    for text in s.text_stream:\n"
    "        pass",
    "print(client.messages.stream(model='m', max_tokens=5, messages=[]).text_stream)",
    "client.messages.create(model='claude-opus-4-1', max_tokens=64000, messages=[])",
    "asyncio.run(use(client))\nasyncio.run(use(client))",
    "asyncio.run(main())",
    "aio.run(main())",
    "run(main())",
    "loop = asyncio.get_event_loop()\nloop.run_until_complete(main())",
    "loop = get_event_loop()\nloop.run_forever()",
    "loop = aio.get_event_loop()\nloop.run_until_complete(main())",
    "reply = Response(gen(), mimetype='text/event-stream')",
    "reply = StreamingResponse(gen(), media_type='text/event-stream')",
    "reply = django.http.StreamingHttpResponse(gen(), content_type='text/event-stream')",
    "reply = web.StreamResponse(content_type='text/event-stream')",
    "asyncio . run(main())",
    "(asyncio  # the module\n    .run)(main())",
    "r = asyncio.\\\n    run\nr(main())",
    "from asyncio import (  # runs a loop\n    get_event_loop as gel,\n    run,\n)",
    "from asyncio import \\\n    run as go\ngo(main())",
    "loop = gel()\nloop.  run_forever()",
    "(asyncio.  # c\n    run)(main())",
]


def module(imports: list[str], statements: list[str], in_async: bool) -> str:
    body = "\n".join(statements) or "pass"
    if in_async:
        body = "async def main():\n" + "\n".join("    " + line for line in body.splitlines())
    return "\n".join(imports) + "\n" + body + "\n"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(IMPORTS), max_size=4),
    st.lists(st.sampled_from(STATEMENTS), max_size=6),
    st.booleans(),
    st.booleans(),
)
def test_every_finding_is_of_a_rule_the_text_allows(imports_, statements, in_async, notebook):
    text = module(imports_, statements, in_async)
    hits = Checker(ast.parse(text), text.encode("utf-8"), Options(sdk_major=2, notebook=notebook)).run()
    allowed = possible_rules(text)
    assert {hit.rule.code for hit in hits} <= allowed, text
    assert may_hold_finding(text) == bool(allowed)


@pytest.mark.parametrize("statement", [s for s in STATEMENTS if "run" in s and "loop" not in s])
def test_every_spelling_of_asyncio_run_is_seen(statement):
    text = module(["import asyncio", "import asyncio as aio", "from asyncio import run"], [statement], in_async=True)
    hits = Checker(ast.parse(text), text.encode("utf-8"), OPTIONS).run()
    assert "CD206" in {hit.rule.code for hit in hits} and "CD206" in possible_rules(text)


NAMES = st.sampled_from(["anthropic", "asyncio", "os", "flask", "anthropic_tools", "my.anthropic", "sub"])
SPACE = st.sampled_from([" ", "  ", "\t", " \\\n  ", " \\\r\n", "\f "])


@st.composite
def import_statements(draw) -> str:
    names = draw(st.lists(st.tuples(NAMES, st.sampled_from(["", ".lib", ".types.beta"]), st.booleans()), min_size=1))
    prefix = draw(st.sampled_from(["", "x = 1; ", "if x:\n    ", "try:\n    ", "    "]))
    if draw(st.booleans()):
        name, tail, _ = names[0]
        return f"{prefix}from{draw(SPACE)}{name}{tail}{draw(SPACE)}import y"
    parts = [f"{name}{tail}" + (f" as alias{i}" if aliased else "") for i, (name, tail, aliased) in enumerate(names)]
    return f"{prefix}import{draw(SPACE)}" + f",{draw(SPACE)}".join(parts)


@given(import_statements(), st.sampled_from(["anthropic", "asyncio", "flask"]))
def test_an_import_python_sees_is_always_seen_by_the_prefilter(statement, module_name):
    try:
        tree = ast.parse(statement)
    except SyntaxError:
        return
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level:
            roots.add(node.module.split(".")[0])
    if module_name in roots:
        assert imports(statement, module_name), statement


# -- what a user sees: files that cannot hold a finding are not parsed ----------------------------------


@pytest.mark.parametrize(
    ("broken", "status"),
    [("print 'hello'\n", 2), ("def f[T](x: T) -> T:\n    return x\n", 1)],  # an error; a newer Python's syntax
)
def test_a_broken_file_that_names_nothing_a_rule_needs_is_not_reported_but_one_that_does_is(tmp_path, broken, status):
    (tmp_path / "legacy.py").write_text(broken, encoding="utf-8")
    (tmp_path / "app.py").write_text("import anthropic\n\nanthropic.Anthropic().messages.create(model='m')\n")
    result = run_cli("code", ".", cwd=tmp_path)
    assert result.code == 1, result.stdout + result.stderr
    assert "app.py:3:1: CD215" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "Found 1 problem in 2 files: 1 error."
    assert result.stderr == ""
    (tmp_path / "client.py").write_text("import anthropic\n\n" + broken, encoding="utf-8")
    result = run_cli("code", ".", "--format", "json", cwd=tmp_path)
    assert result.code == status
    assert [line.split(": ", 1)[0] for line in result.json["errors"] + result.json["warnings"]] == ["client.py"]
    assert result.json["summary"]["files"] == 2


def test_only_the_selected_rules_needs_decide_which_files_are_parsed(tmp_path):
    """With rules selected, a file none of them can fire in is not parsed (as a file no rule can fire in
    is not), so its syntax error is not reported; the selected rules' findings stay the same."""
    (tmp_path / "client.py").write_text("import anthropic\n\nprint 'hello'\n", encoding="utf-8")
    (tmp_path / "web.py").write_text(
        "from fastapi.responses import StreamingResponse\n\n"
        "def relay():\n    return StreamingResponse(iter([]), media_type='text/event-stream')\n",
        encoding="utf-8",
    )
    paths = sorted(tmp_path.glob("*.py"))
    every = runner.check_files(paths, OPTIONS)
    relay_only = runner.check_files(paths, Options(sdk_major=2, rules=frozenset({"CD220"})))
    assert every[0].error.startswith(f"{paths[0]}: syntax error on line 3")
    assert [r.error for r in relay_only] == [None, None]
    assert [f[:3] for f in findings(relay_only)] == [(str(paths[1]), "CD220", 4)]
    assert findings(relay_only) == findings(every)
