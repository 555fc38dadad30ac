"""A rule's text as the commands show it: ``rules`` (the table, as text, JSON or markdown) and
``explain`` (one rule's page, also after a traceback). Built from the one rule registry only."""

from __future__ import annotations

import textwrap

from .findings import Rule, all_rules


def markdown_table() -> str:
    """The rule table docs/rules.md embeds (a test keeps the two in sync)."""
    rows = ["| code | name | area | severity | what it finds |", "|---|---|---|---|---|"]
    for r in all_rules():
        summary = r.summary.replace("|", "\\|")
        rows.append(f"| {r.code} | {r.name} | {r.area.value} | {r.severity.label} | {summary} |")
    return "\n".join(rows)


def rule_dict(rule: Rule) -> dict:
    """A rule as ``rules --format json`` and ``explain CODE --format json`` give it."""
    return {
        "code": rule.code,
        "name": rule.name,
        "area": rule.area.value,
        "severity": rule.severity.label,
        "summary": rule.summary,
        "why": rule.why,
        "fix": rule.fix,
        "symptoms": list(rule.symptoms),
        **{key: text for key, text in (("example", rule.example), ("use_instead", rule.use_instead)) if text},
    }


def rule_page(rule: Rule) -> str:
    """A rule's full text, as ``explain`` prints it (like ``ruff rule``)."""
    wrap = lambda text: textwrap.fill(text, width=88, initial_indent="  ", subsequent_indent="  ")  # noqa: E731
    parts = [
        f"{rule.code} {rule.name} ({rule.area.title}, {rule.severity.label})",
        "",
        rule.summary,
        "",
        "Why",
        wrap(rule.why),
        "",
        "Fix",
        wrap(rule.fix),
    ]
    for title, text in (("Example", rule.example), ("Use instead", rule.use_instead)):
        parts += ["", title, textwrap.indent(text, "  ")] if text else []
    if rule.symptoms:
        parts += ["", "What you may see", *(f"  {s}" for s in rule.symptoms)]
    return "\n".join(parts)
