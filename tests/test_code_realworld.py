"""CD201, CD204, CD205 and CD219 on shapes reduced from public repositories (tests/corpus/code, each
file citing its source repository, path and commit). Every finding must be one marked
``# expect: CDxxx`` on its line, and every mark must be found: a false alarm fails the test as
surely as a miss."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.code_cases.helpers import check

CORPUS = Path(__file__).resolve().parent / "corpus" / "code"
EXPECT = re.compile(r"# expect: (CD\d{3})")


def expected(root: Path) -> list[tuple[str, str, int]]:
    marks = []
    for path in sorted(root.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            marks += [(path.relative_to(root).as_posix(), code, number) for code in EXPECT.findall(line)]
    return sorted(marks)


def test_real_shapes_give_exactly_the_findings_a_reviewer_would_defend(tmp_path):
    root = tmp_path / "corpus"
    shutil.copytree(CORPUS, root)
    result = check(root)
    assert result.code == 1, result.stderr
    assert result.json["errors"] == []
    found = sorted(
        (Path(f["path"]).relative_to(root).as_posix(), f["code"], f["line"]) for f in result.json["findings"]
    )
    assert found == expected(root)
    assert len(found) == 9


def test_a_factory_in_another_module_is_followed(tmp_path):
    """The microtutor shape with its caller made ``async def``: the sync client it gets from the
    other module blocks the loop, though the caller never mentions the SDK."""
    root = tmp_path / "corpus"
    shutil.copytree(CORPUS / "factory_microtutor", root)
    tutor = root / "app" / "ai" / "tutor.py"
    tutor.write_text(tutor.read_text(encoding="utf-8").replace("def chat(", "async def chat("), encoding="utf-8")
    result = check(root)
    assert [(f["code"], f["line"]) for f in result.json["findings"]] == [("CD201", 8)]
    message = result.json["findings"][0]["message"]
    assert "sync `Anthropic` client calls `messages.create(...)` inside `async def chat`" in message
