"""The documentation a user reads first stays true: the README's output excerpt is what the command
prints, the rule pages are what the registry holds, every relative link opens, and the README stays
short enough to read (the details live in docs/)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT, invoke_cli

DOCUMENTS = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("*.md")])
README_LIMIT = 12 * 1024

_FENCE = re.compile(r"^```.*?^```", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.M)


def _make_docs():
    """``scripts/make_docs.py`` as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_docs", ROOT / "scripts" / "make_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _links(text: str) -> list[str]:
    """Link targets of a Markdown text, leaving out what code blocks and code spans show."""
    return _LINK.findall(_CODE_SPAN.sub("", _FENCE.sub("", text)))


def _anchors(text: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens,
    ``-1``, ``-2``, … after a repeated one."""
    slugs: set[str] = set()
    for heading in _HEADING.findall(_FENCE.sub("", text)):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        repeats = sum(1 for s in slugs if s == slug or re.fullmatch(re.escape(slug) + r"-\d+", s))
        slugs.add(f"{slug}-{repeats}" if repeats else slug)
    return slugs


def _broken(document: Path, target: str) -> str | None:
    """Why ``target``, linked from ``document``, does not open (``None`` when it does)."""
    path, _, anchor = target.partition("#")
    page = (document.parent / path).resolve() if path else document
    if not page.exists():
        return f"{target}: no such file"
    if path and ROOT.resolve() not in page.parents:
        return f"{target}: outside the repository"
    if anchor and page.suffix == ".md" and anchor not in _anchors(page.read_text(encoding="utf-8")):
        return f"{target}: no heading #{anchor} in {page.name}"
    return None


def test_readme_quick_start_output_is_what_the_command_prints():
    """The quick start's excerpt is the first thing a user compares with their screen."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    excerpt = re.search(r"Part of what it prints:\n\n```\n(.*?)\n```", readme, re.S)
    assert excerpt, "README.md lacks the quick start's output excerpt"
    shown = [line for line in excerpt.group(1).splitlines() if line.strip() and line != "…"]
    printed = invoke_cli("stream", "recordings/").stdout.splitlines()
    assert shown[-1] == printed[-1]  # the summary line
    assert [line for line in shown if line not in printed] == []


def test_rule_pages_are_what_the_registry_holds():
    page = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert page == _make_docs().render(), "docs/rules.md is stale: run `python scripts/make_docs.py`"


def test_every_rule_has_its_section_and_the_table_matches_rules_markdown():
    page = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert invoke_cli("rules", "--format", "markdown").stdout.strip() in page
    for rule in invoke_cli("rules", "--format", "json").json:
        assert f"## {rule['code']} {rule['name']}\n" in page
        assert rule["why"] in page and rule["fix"] in page


def test_make_docs_check_fails_on_a_stale_page(tmp_path, monkeypatch):
    make_docs = _make_docs()
    monkeypatch.setattr(make_docs, "OUT", tmp_path / "rules.md")
    (tmp_path / "rules.md").write_text("# Rules\n\nold text\n", encoding="utf-8")
    assert make_docs.main(["--check"]) == 1
    assert make_docs.main([]) == 0
    assert make_docs.main(["--check"]) == 0


def test_readme_is_short_and_points_to_the_docs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode("utf-8")) <= README_LIMIT
    linked = {target.partition("#")[0] for target in _links(readme)}
    assert {f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md")} <= linked
    assert {"CONTRIBUTING.md", "LICENSE"} <= linked


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_opens(document):
    relative = [t for t in _links(document.read_text(encoding="utf-8")) if not re.match(r"[a-z]+:", t)]
    assert [why for why in map(lambda t: _broken(document, t), relative) if why] == []


def test_a_broken_link_and_a_missing_anchor_are_caught(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## `stream`: recorded streams\n\n[x](missing.md) [y](#nowhere)\n")
    assert _anchors(page.read_text()) == {"title", "stream-recorded-streams"}
    assert _broken(page, "missing.md") == "missing.md: no such file"
    assert _broken(page, "#stream-recorded-streams") is None
    assert _broken(page, "#nowhere") is not None
