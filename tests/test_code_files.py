"""`claude-doctor code` on the files real projects hold: notebook cells whose strings end lines in
`?`, IPython syntax, Python newer than the interpreter running the check, virtualenvs, and `--fix`
on calls with several sampling keywords and on notebooks. Each case is a small reduction of a real
file's shape, cited by repository, path and commit."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from claude_doctor.checks.code.notebook import python_of_cell
from tests.code_cases.helpers import check, found, write
from tests.conftest import invoke_cli as run_cli  # in-process (the fast layer)
from tests.test_doctor import make_key

COOKBOOK = "anthropics/anthropic-cookbook@4b36a1e1f64361397f4cbe4fbc7cdace338f16f8"
COURSES = "anthropics/courses@f4dbb137d7b02dddaf3cc73e32e20a702d3b5e77"
DD_TRACE = "DataDog/dd-trace-py@3bb9ecda22830e3303b18b0ffa5abe7586aef6a7"
OPENLLMETRY = "traceloop/openllmetry@93429cfb9767e6b51db6cb35f6b70f758117669a"
HERE = f"{sys.version_info.major}.{sys.version_info.minor}"

CLIENT_CELL = "import anthropic\n\nclient = anthropic.Anthropic()\n"
NO_MAX_TOKENS = 'client.messages.create(model="claude-sonnet-4-5", messages=[{"role": "user", "content": PROMPT}])\n'


def notebook(folder: Path, cells: list[str | dict], name: str = "demo.ipynb") -> Path:
    """A notebook as nbformat writes it (indent 1, sorted keys, UTF-8, final newline); a str is a code
    cell, its source stored as a list of lines like Jupyter does."""
    document = {
        "cells": [
            cell
            if isinstance(cell, dict)
            else {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": cell.splitlines(keepends=True),
            }
            for cell in cells
        ],
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = folder / name
    path.write_text(json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def located(result) -> list[tuple[str, int | None, int]]:
    return sorted((f["code"], f["cell"], f["line"]) for f in result.json["findings"])


# -- notebooks: IPython syntax is found on tokens ---------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        # courses prompt_engineering_interactive_tutorial/Anthropic 1P/06_Precognition_Thinking_Step_by_Step.ipynb
        # cell 5 (COURSES): a prompt whose first line ends in "?"
        'PROMPT = """Is this movie review sentiment positive or negative?\n\nThis movie blew my mind."""\n',
        # same tutorial, 03_Assigning_Roles_Role_Prompting.ipynb cell 15: "?" then "2x - 3 = 9" in the string
        'PROMPT = """Is this equation solved correctly below?\n\n2x - 3 = 9\nx = 3"""\n',
        # same tutorial, 08_Avoiding_Hallucinations.ipynb cell 19: "?" then a curly apostrophe
        'PROMPT = """By what amount did Matterport\'s subscribers grow?\n\nMatterport’s platform"""\n',
        # cookbook patterns/agents/basic_workflows.ipynb cell 7 (COOKBOOK): "?" inside a dict of prompts
        'routes = {\n    "billing": """Ask: is the charge expected?\n    Input: """,\n}\nPROMPT = routes["billing"]\n',
    ],
)
def test_a_question_mark_ending_a_line_inside_a_string_is_not_ipython_help(tmp_path, prompt):
    path = notebook(tmp_path, [CLIENT_CELL, prompt + NO_MAX_TOKENS])
    result = check(path)
    assert result.code == 1, result.stderr
    last_line = prompt.count("\n") + 1
    assert located(result) == [("CD215", 2, last_line)]
    assert result.json["warnings"] == []


#: A cell, and the Python that stands in for it: IPython's syntax becomes `pass` (or `None` as a value),
#: line for line; the same text inside strings and comments, or continuing a bracket, is left as it is.
IPYTHON_CELLS = {
    "!pip install anthropic\nimport anthropic\n": "pass\nimport anthropic\n",
    "%time f()\nobj?\nobj.attr??\n": "pass\npass\npass\n",
    "files = !ls\nenv = %env HOME\nif ok:\n    !ls\n": "files = None\nenv = None\nif ok:\n    pass\n",
    "!ls \\\n  -la\nx = 1\n": "pass\n\nx = 1\n",
    "print('what?')\n# why?\nok = a != b\n": "print('what?')\n# why?\nok = a != b\n",
    's = """\nWhy?\n%not a magic\n!not a shell\n"""\nhelp?\n': 's = """\nWhy?\n%not a magic\n!not a shell\n"""\npass\n',
    "f(a,  # really?\n  b)\n": "f(a,  # really?\n  b)\n",
    "%%time\nx = 1\n": "pass\nx = 1\n",
    "%%bash\necho hi\n": None,
}


def test_ipython_syntax_is_replaced_only_where_ipython_reads_it():
    # IPython 9's own TransformerManager turns exactly these lines into calls; this mirrors it (on tokens,
    # one construct at a time) without depending on IPython.
    assert {cell: python_of_cell(cell) for cell in IPYTHON_CELLS} == IPYTHON_CELLS


def test_cells_not_checked_are_named_in_normal_output_and_json_warnings(tmp_path):
    cells = [
        CLIENT_CELL,
        # courses tool_use/01_tool_use_overview.ipynb cell 14 (COURSES): JSON with curly quotes in a code cell
        '{\n  "symbol”: “GM”,\n  "price”: 43.09\n}\n',
        "%%bash\necho not python\n",
        'client.messages.create(model="m", max_tokens=8, messages=[])\n',
    ]
    path = notebook(tmp_path, cells)
    result = check(path)
    assert result.code == 0, result.stderr
    assert result.json["warnings"] == [
        f"{path}: cell 2: not valid Python (unterminated string literal (detected at line 2)): not checked",
        f"{path}: cell 3: a %%bash cell, not Python: not checked",
    ]
    human = run_cli("code", str(path))
    assert human.code == 0
    assert f"claude-doctor: warning: {path}: cell 2: not valid Python" in human.stderr
    assert f"claude-doctor: warning: {path}: cell 3: a %%bash cell" in human.stderr
    assert "All clear" not in human.stdout
    assert "no problems found, but see the 2 warnings above" in human.stdout


# -- Python newer than the interpreter ------------------------------------------------------------

NEWER = [
    # dd-trace-py tests/wrapping/test_pep695_py312.py (DD_TRACE): generic functions, methods and classes
    ("def f[T](x: T) -> T:\n    return x\n\n\nclass C[T]:\n    pass\n", (3, 12), "PEP 695 type parameters"),
    ("type Vector = list[float]\n", (3, 12), "PEP 695 type aliases"),
    ("class Box[T = int]:\n    pass\n", (3, 13), "PEP 696 type parameter defaults"),
    ("name = 'x'\ngreeting = t'Hello {name}'\n", (3, 14), "PEP 750 template strings"),
    ("try:\n    pass\nexcept ValueError, TypeError:\n    pass\n", (3, 14), "PEP 758 except without brackets"),
]


@pytest.mark.parametrize(("source", "version", "feature"), NEWER)
def test_newer_syntax_is_skipped_with_the_python_it_needs_and_exit_follows_findings(tmp_path, source, version, feature):
    if sys.version_info >= version:
        pytest.skip(f"Python {HERE} parses this")
    newer = write(tmp_path, "import anthropic\n" + source, name="generic.py")  # could hold a finding: parsed
    write(tmp_path, "import anthropic\n\nanthropic.Anthropic().messages.create(model='m', messages=[])\n")
    result = check(tmp_path)
    assert result.code == 1, result.stderr  # the finding in app.py, not 2 for generic.py
    assert found(result) == [("CD215", 3)]
    needs = f"{version[0]}.{version[1]}+"
    assert result.json["warnings"] == [f"{newer}: needs Python {needs} ({feature}); checked with {HERE}: skipped"]
    assert result.json["errors"] == []
    assert result.json["summary"]["files"] == 1
    alone = run_cli("code", str(newer))
    assert alone.code == 0
    assert f"needs Python {needs} ({feature}); checked with {HERE}: skipped" in alone.stderr
    assert "All clear" not in alone.stdout


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="type parameters parse here")
def test_newer_syntax_in_a_notebook_cell_is_named_and_a_real_error_is_still_an_error(tmp_path):
    path = notebook(tmp_path, [CLIENT_CELL, "def first[T](items: list[T]) -> T:\n    return items[0]\n"])
    result = check(path)
    assert result.code == 0
    assert result.json["warnings"] == [
        f"{path}: cell 2: needs Python 3.12+ (PEP 695 type parameters); checked with {HERE}: skipped"
    ]
    broken = write(tmp_path, "def first[T](items: list[T] -> T:\n    import anthropic\n", name="broken.py")
    result = run_cli("code", str(broken))
    assert result.code == 2
    assert f"{broken}: syntax error on line 1" in result.stderr


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="type parameters parse here")
def test_doctor_names_a_file_written_for_a_newer_python_instead_of_counting_it_checked(tmp_path):
    # dd-trace-py tests/wrapping/test_pep695_py312.py (DD_TRACE), naming the SDK so that it is parsed
    write(tmp_path, "import anthropic\n" + NEWER[0][0], name="generic.py")
    write(tmp_path, "import anthropic\n")
    result = run_cli("doctor", ".", cwd=tmp_path, env={"ANTHROPIC_API_KEY": make_key()})
    assert "(1 Python file; could not check generic.py)" in result.stdout
    assert (
        f"generic.py: not checked (needs Python 3.12+ (PEP 695 type parameters); checked with {HERE}: skipped)"
        in result.stdout
    )


# -- virtualenvs -------------------------------------------------------------------------------------


def test_pyvenv_cfg_alone_is_not_a_virtualenv_and_a_skipped_virtualenv_is_noted(tmp_path):
    # A real virtualenv has its interpreter next to pyvenv.cfg; a folder with only the file (a template,
    # a fixture of a venv tool) holds the project's own code.
    source = "import anthropic\n\nanthropic.Anthropic().messages.create(model='m', messages=[])\n"
    write(tmp_path, source, name="app.py")
    write(tmp_path, source, name="env/lib/python3.11/site-packages/pkg.py")
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tmp_path / "env" / "bin").mkdir()
    (tmp_path / "env" / "bin" / "python").symlink_to("/nonexistent/python3")  # dangling: base gone
    write(tmp_path, source, name="template/tool.py")
    (tmp_path / "template" / "pyvenv.cfg").write_text("home = {{ python }}\n")
    result = check(tmp_path, cwd=tmp_path)
    assert {f["path"] for f in result.json["findings"]} == {
        str(tmp_path / "app.py"),
        str(tmp_path / "template" / "tool.py"),
    }
    note = f"skipped 1 virtualenv (pyvenv.cfg and an interpreter): {tmp_path / 'env'}/"
    assert result.json["warnings"] == [note]
    human = run_cli("code", str(tmp_path), cwd=tmp_path)
    assert f"claude-doctor: note: {note}" in human.stderr


# -- --fix ---------------------------------------------------------------------------------------------


def test_fix_moves_every_sampling_keyword_of_one_call_into_one_extra_body(tmp_path):
    path = write(
        tmp_path,
        """
        from anthropic import Anthropic

        client = Anthropic()
        a = client.messages.create(model="m", max_tokens=8, messages=[], temperature=0.3, top_p=0.5, top_k=3)
        b = client.messages.create(model="m", max_tokens=8, extra_body={"x": 1}, temperature=0.3, top_k=3)
        c = client.messages.create(
            max_tokens=1024,
            model="claude-haiku-4-5",
            temperature=0.7,  # creative
            top_p=0.9,
        )
        """,
    )
    result = check(path, "--fix")
    assert result.code == 0, result.stdout + result.stderr
    assert result.json["warnings"] == []
    assert path.read_text() == (
        "from anthropic import Anthropic\n"
        "\n"
        "client = Anthropic()\n"
        'a = client.messages.create(model="m", max_tokens=8, messages=[], '
        'extra_body={"temperature": 0.3, "top_p": 0.5, "top_k": 3})\n'
        'b = client.messages.create(model="m", max_tokens=8, extra_body={"x": 1, "temperature": 0.3, "top_k": 3})\n'
        "c = client.messages.create(\n"
        "    max_tokens=1024,\n"
        '    model="claude-haiku-4-5",\n'
        '    extra_body={"temperature": 0.7, "top_p": 0.9},\n'
        ")\n"
    )


def test_fix_says_which_findings_it_left_alone_and_why(tmp_path):
    path = write(
        tmp_path,
        """
        from anthropic import Anthropic

        client = Anthropic()
        body = {"metadata": {}}
        client.messages.create(model="m", max_tokens=8, messages=[], extra_body=body, temperature=0.3)
        client.messages.create(model="m", max_tokens=8, messages=[], top_k=3, **options)
        """,
    )
    before = path.read_text()
    result = check(path, "--fix")
    assert path.read_text() == before
    assert found(result) == [("CD219", 5), ("CD219", 6)]
    assert result.json["warnings"] == [
        f"{path}:{line}:1: CD219 not fixed: no safe automatic edit for this form: change it by hand" for line in (5, 6)
    ]
    human = run_cli("code", str(path), "--fix")
    assert f"claude-doctor: warning: {path}:5:1: CD219 not fixed" in human.stderr


def test_fix_edits_notebook_cells_and_keeps_the_rest_of_the_file_byte_for_byte(tmp_path):
    # openllmetry packages/sample-app/sample_app/async_anthropic_joke_streaming.py (OPENLLMETRY): top_p in the
    # call, here in a notebook cell after a magic, as the cookbook's notebooks start (`%pip install anthropic`).
    call = (
        "%pip install anthropic\n"
        "response = client.messages.create(\n"
        "    max_tokens=1024,\n"
        "    model='claude-haiku-4-5',\n"
        "    messages=[],\n"
        "    top_p=0.9, temperature=0.2)"
    )
    path = notebook(tmp_path, [{"cell_type": "markdown", "metadata": {}, "source": ["# Jokes"]}, CLIENT_CELL, call])
    before = path.read_text(encoding="utf-8")
    result = check(path, "--fix")
    assert result.code == 0, result.stdout + result.stderr
    fixed_call = call.replace("    top_p=0.9, temperature=0.2)", '    extra_body={"top_p": 0.9, "temperature": 0.2})')
    expected = notebook(
        tmp_path,
        [{"cell_type": "markdown", "metadata": {}, "source": ["# Jokes"]}, CLIENT_CELL, fixed_call],
        name="expected.ipynb",
    )
    assert path.read_text(encoding="utf-8") == expected.read_text(encoding="utf-8")
    assert path.read_text(encoding="utf-8") != before


def test_fix_leaves_a_notebook_it_cannot_write_back_in_its_own_layout_and_says_so(tmp_path):
    path = notebook(tmp_path, [CLIENT_CELL, "client.messages.create(model='m', max_tokens=8, messages=[], top_k=3)\n"])
    odd = path.read_text(encoding="utf-8").replace('"nbformat": 4,', '"nbformat":   4,')  # hand-edited spacing
    path.write_text(odd, encoding="utf-8")
    result = check(path, "--fix")
    assert path.read_text(encoding="utf-8") == odd
    assert located(result) == [("CD219", 2, 1)]
    assert result.json["warnings"] == [
        f"{path}:cell 2:1:1: CD219 not fixed: the notebook's JSON layout could not be kept, so it is not rewritten: "
        "fix it by hand"
    ]
