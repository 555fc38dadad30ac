"""Write ``docs/rules.md``, one section per rule, from the rule registry.

The registry is the one source of every rule's text (``rules``, ``explain`` and SARIF read it); this
page is built from the same table and the same per-rule fields ``claude-doctor rules --format
markdown`` and ``--format json`` print, so that it never says something the tool does not. Re-run
after changing a rule's text: ``python scripts/make_docs.py``. ``--check`` writes nothing and exits 1
when the committed page differs (the tests run it)."""

from __future__ import annotations

import sys
from pathlib import Path

from claude_doctor.findings import all_rules
from claude_doctor.rule_pages import markdown_table, rule_dict

OUT = Path(__file__).resolve().parent.parent / "docs" / "rules.md"

HEADER = """\
# Rules

Every rule claude-doctor reports, generated from the rule registry by `python scripts/make_docs.py`
(never edit this page by hand). `claude-doctor explain CODE` prints the same text in the terminal;
select or ignore rules as in [the command reference](commands.md#common-options).

"""

#: Optional parts of a rule, in the order a section shows them, with their headings.
SECTIONS = (("why", "Why"), ("fix", "Fix"), ("example", "Example"), ("use_instead", "Use instead"))


def render_rule(rule: dict) -> str:
    """One rule's section: heading (its code and name), area and severity, then its texts."""
    lines = [f"## {rule['code']} {rule['name']}", "", f"*{rule['area']}, {rule['severity']}*: {rule['summary']}"]
    for key, title in SECTIONS:
        text = rule.get(key)
        if not text:
            continue
        body = f"```\n{text.rstrip()}\n```" if key in ("example", "use_instead") else text  # code, bytes or shell
        lines += ["", f"**{title}.**", "", body]
    if rule.get("symptoms"):
        lines += ["", "**What you may see.**", "", *(f"- {_code_span(s)}" for s in rule["symptoms"])]
    return "\n".join(lines)


def _code_span(text: str) -> str:
    """Text as inline code; a double-backtick fence when it holds a backtick (``Invalid `timeout` ``)."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def render() -> str:
    """The whole page: the rules table (as ``rules --format markdown``), then one section per rule."""
    sections = [render_rule(rule_dict(rule)) for rule in all_rules()]
    return HEADER + markdown_table() + "\n\n" + "\n\n".join(sections) + "\n"


def main(argv: list[str]) -> int:
    page = render()
    if "--check" in argv:
        if OUT.exists() and OUT.read_text(encoding="utf-8") == page:
            return 0
        print(f"{OUT.name} is stale: run `python scripts/make_docs.py`", file=sys.stderr)
        return 1
    OUT.write_text(page, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
