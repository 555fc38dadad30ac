"""`claude-doctor code` as a tool: suppression, config, notebooks, bad input, folder walks,
`--fix`, output formats and `explain`."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.code_cases.helpers import check, found, write
from tests.conftest import invoke_cli as run_cli  # in-process (the fast layer)

ASYNC_WITH = """
    from anthropic import AsyncAnthropic

    client = AsyncAnthropic()


    async def main():
        with client.messages.stream(model="m", max_tokens=64, messages=[]) as stream:
            for text in stream.text_stream:
                print(text)
"""


def test_noqa_silences_the_named_rule_on_its_line_only(tmp_path):
    path = write(
        tmp_path,
        """
        import asyncio
        from anthropic import Anthropic

        client = Anthropic()
        loop = asyncio.get_event_loop()  # noqa: CD205
        loop2 = asyncio.get_event_loop()  # noqa: get-event-loop
        loop3 = asyncio.get_event_loop()  # noqa
        loop4 = asyncio.get_event_loop()  # noqa: CD201


        async def handler():
            return client.messages.create(model="m", messages=[])  # noqa: CD215


        loop.run_forever()
        loop2.run_forever()
        loop3.run_forever()
        loop4.run_forever()
        """,
    )
    assert found(check(path)) == [("CD201", 12), ("CD205", 8)]


def test_select_ignore_and_pyproject_per_file_ignores(tmp_path):
    path = write(tmp_path, ASYNC_WITH)
    assert found(check(path)) == [("CD202", 7), ("CD203", 8)]
    assert found(check(path, "--select", "CD203")) == [("CD203", 8)]
    assert found(check(path, "--ignore", "async-stream-sync-with")) == [("CD203", 8)]
    (tmp_path / "pyproject.toml").write_text('[tool.claude-doctor]\nper-file-ignores = {"app.py" = ["CD203"]}\n')
    assert found(check(path)) == [("CD202", 7)]


def test_human_output_is_ruff_like_and_exit_status_follows_fail_on(tmp_path):
    path = write(tmp_path, ASYNC_WITH)
    result = run_cli("code", str(path))
    assert result.code == 1
    assert f"{path}:7:5: CD202 [E] " in result.stdout
    assert "fix: `async with client.messages.stream(" in result.stdout
    clean = write(tmp_path, "import anthropic\n", name="clean.py")
    assert run_cli("code", str(clean)).code == 0


def test_sarif_output_names_each_rule(tmp_path):
    result = run_cli("code", str(write(tmp_path, ASYNC_WITH)), "--format", "sarif")
    sarif = json.loads(result.stdout)
    results = sarif["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["CD202", "CD203"]
    assert results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 7


def test_notebook_findings_carry_cell_and_line_and_magics_are_skipped(tmp_path):
    cells = [
        {"cell_type": "markdown", "source": ["# Demo\n"]},
        {
            "cell_type": "code",
            "source": [
                "%pip install anthropic\n",
                "import asyncio\n",
                "from anthropic import Anthropic, AsyncAnthropic\n",
                "client = AsyncAnthropic()",
            ],
        },
        {
            "cell_type": "code",
            "source": [
                "!ls\n",
                "async def main():\n",
                "    with client.messages.stream(\n",
                "        model='m', max_tokens=5, messages=[]) as s:\n",
                "        pass\n",
                "files = !ls\n",
                "asyncio.run(main())\n",
            ],
        },
        {"cell_type": "code", "source": "%%bash\necho not python\n"},
        {"cell_type": "code", "source": "await main()\nasyncio.run(main())  # noqa: CD206\n"},
        {"cell_type": "code", "source": "def broken(:\n"},
    ]
    path = tmp_path / "demo.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    result = check(path)
    assert result.code == 1, result.stderr
    located = [(f["code"], f["cell"], f["line"]) for f in result.json["findings"]]
    assert located == [("CD202", 3, 3), ("CD206", 3, 7)]
    human = run_cli("code", str(path))
    assert f"{path}:cell 3:3:5: CD202" in human.stdout


def test_syntax_errors_and_undecodable_files_are_one_line_and_others_still_checked(tmp_path):
    write(tmp_path, ASYNC_WITH, name="good.py")
    write(tmp_path, "def broken(:\n    import anthropic\n", name="bad.py")  # could hold a finding: parsed
    (tmp_path / "latin.py").write_bytes(b"x = '\xff\xfe'\n")
    result = check(tmp_path)
    assert result.code == 2  # the findings are reported, and the files that could not be checked make it 2
    assert found(result) == [("CD202", 7), ("CD203", 8)]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert any("bad.py: syntax error on line 1" in line for line in lines)
    assert any("latin.py: not UTF-8 text (byte 0xff at offset 5)" in line for line in lines)
    assert "Traceback" not in result.stderr


def test_exit_2_when_nothing_could_be_checked(tmp_path):
    bad = write(tmp_path, "def broken(:\n    import anthropic\n", name="bad.py")
    result = run_cli("code", str(bad))
    assert result.code == 2
    assert result.stderr.strip() == f"claude-doctor: error: {bad}: syntax error on line 1: invalid syntax"
    missing = run_cli("code", str(tmp_path / "nope.py"))
    assert missing.code == 2 and "nope.py: no such file or folder" in missing.stderr


def test_folder_walk_honours_gitignore_and_skips_virtualenvs(tmp_path):
    write(tmp_path, ASYNC_WITH, name="src/app.py")
    write(tmp_path, ASYNC_WITH, name="generated/out.py")
    write(tmp_path, ASYNC_WITH, name=".venv/lib/site-packages/pkg/mod.py")
    write(tmp_path, ASYNC_WITH, name="legacy/old.py")
    (tmp_path / ".gitignore").write_text("generated/\n")
    (tmp_path / "pyproject.toml").write_text('[tool.claude-doctor]\nexclude = ["legacy"]\n')
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    result = check(tmp_path, cwd=tmp_path)
    assert {f["path"] for f in result.json["findings"]} == {str(tmp_path / "src" / "app.py")}
    assert result.json["summary"]["files"] == 1


def test_folder_walk_outside_git_skips_virtualenvs(tmp_path):
    write(tmp_path, ASYNC_WITH, name="app.py")
    write(tmp_path, ASYNC_WITH, name="venv/lib/python3.11/site-packages/x.py")
    write(tmp_path, ASYNC_WITH, name="env/lib/x.py")
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    write(tmp_path, "", name="env/bin/python3")  # a virtualenv has its interpreter next to pyvenv.cfg
    result = check(tmp_path, cwd=tmp_path)
    assert {f["path"] for f in result.json["findings"]} == {str(tmp_path / "app.py")}


def test_fix_rewrites_keeping_comments_and_formatting(tmp_path):
    path = write(
        tmp_path,
        """
        from anthropic import AsyncAnthropic

        client = AsyncAnthropic()  # shared client


        async def main():
            # stream the answer
            with client.messages.stream(
                model="m",
                max_tokens=64,
                stream=True,  # not allowed here
                temperature=0.3,
                messages=[],
            ) as stream:
                for text in stream.text_stream:  # print as it comes
                    print(text)
            await client.messages.create(model="m", max_tokens=8, messages=[], top_k=3, extra_body={"x": 1})
            await client.messages.create(model="m", max_tokens=8, messages=[], stream=False, top_p=0.5)
        """,
    )
    result = check(path, "--fix")
    assert result.code == 0, result.stdout
    assert path.read_text() == (
        "from anthropic import AsyncAnthropic\n"
        "\n"
        "client = AsyncAnthropic()  # shared client\n"
        "\n"
        "\n"
        "async def main():\n"
        "    # stream the answer\n"
        "    async with client.messages.stream(\n"
        '        model="m",\n'
        "        max_tokens=64,\n"
        '        extra_body={"temperature": 0.3},\n'
        "        messages=[],\n"
        "    ) as stream:\n"
        "        async for text in stream.text_stream:  # print as it comes\n"
        "            print(text)\n"
        '    await client.messages.create(model="m", max_tokens=8, messages=[], extra_body={"x": 1, "top_k": 3})\n'
        '    await client.messages.create(model="m", max_tokens=8, messages=[], stream=False, '
        'extra_body={"top_p": 0.5})\n'
    )


def test_fix_leaves_unfixable_findings_reported(tmp_path):
    source = """
        from anthropic import AsyncAnthropic

        client = AsyncAnthropic()
        with client.messages.stream(model="m", max_tokens=64, messages=[]) as stream:
            pass
    """
    path = write(tmp_path, source)
    before = path.read_text()
    result = check(path, "--fix")
    assert found(result) == [("CD202", 4)]
    assert path.read_text() == before


@pytest.mark.parametrize(
    "code", ["CD201", "CD202", "CD203", "CD204", "CD211", "CD212", "CD213", "CD214", "CD215", "CD216", "CD218", "CD219"]
)
def test_explain_quotes_the_error_users_see(code):
    result = run_cli("explain", code)
    assert result.code == 0
    assert "Error" in result.stdout or "error" in result.stdout


def test_explain_is_found_by_the_exception_text():
    result = run_cli("explain", "CD202")
    assert "'AsyncMessageStreamManager' object does not support the context manager protocol" in result.stdout


def test_hardcoded_key_is_reported_by_code_too(tmp_path):
    pytest.importorskip("claude_doctor.checks.secrets")
    key = "sk-ant-api03-" + "Xy7Qz" * 18 + "Abc" + "AA"  # built at run time: no key in this repository
    path = write(tmp_path, f'from anthropic import Anthropic\n\nclient = Anthropic(api_key="{key}")\n')
    result = check(path)
    assert found(result) == [("CD301", 3)]
    assert key not in result.stdout
