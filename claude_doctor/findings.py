"""Findings, severities and the one rule registry.

Every rule is defined next to the check that emits it (``checks/stream.py``, ``checks/code/``, …) by
calling :func:`define`. ``rules``, ``explain``, SARIF, ``--select`` and docs/rules.md all read the
registry, so a rule's code, name, explanation and fix live in exactly one place.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace


class Severity(enum.IntEnum):
    """Ordered so that ``finding.severity >= fail_on`` is the exit-status test."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def letter(self) -> str:
        return self.name[0]

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (use error, warning or info)") from None


class Area(enum.StrEnum):
    STREAM = "stream"
    CODE = "code"
    SECRETS = "secrets"
    ENV = "env"

    @property
    def title(self) -> str:
        return {"stream": "Streams", "code": "Code", "secrets": "Secrets", "env": "Environment"}[self.value]


@dataclass(frozen=True)
class Rule:
    """A rule as ``rules`` and ``explain`` show it. ``why`` is one paragraph; ``symptoms`` are the
    exception texts or behaviour a user actually sees, so that searching for an error finds the rule;
    ``example`` shows the problem as it looks (code, bytes on the wire, a setting) and ``use_instead``
    the same thing done right, verbatim (``explain`` prints them as they are written)."""

    code: str
    name: str
    area: Area
    severity: Severity
    summary: str
    why: str
    fix: str
    symptoms: tuple[str, ...] = ()
    example: str = ""
    use_instead: str = ""


_RULES: dict[str, Rule] = {}

# Modules whose import defines rules. Kept import-light (no SDK, no detect-secrets at import time).
_RULE_MODULES = (
    "claude_doctor.checks.stream_rules",
    "claude_doctor.checks.code.rules",
    "claude_doctor.checks.secrets_rules",
    "claude_doctor.checks.env_rules",
)


def define(
    code: str,
    name: str,
    area: Area,
    severity: Severity,
    summary: str,
    *,
    why: str,
    fix: str,
    symptoms: tuple[str, ...] = (),
    example: str = "",
    use_instead: str = "",
) -> Rule:
    """Register a rule; called at import time by the module that implements it."""
    if code in _RULES and _RULES[code].name != name:
        raise ValueError(f"rule code {code} defined twice")
    why, fix = " ".join(why.split()), " ".join(fix.split())
    rule = Rule(code, name, area, severity, summary, why, fix, symptoms, example.strip("\n"), use_instead.strip("\n"))
    _RULES[code] = rule
    return rule


def _load_all() -> None:
    for module in _RULE_MODULES:
        importlib.import_module(module)


def all_rules() -> list[Rule]:
    """Every registered rule, sorted by code."""
    _load_all()
    return sorted(_RULES.values(), key=lambda r: r.code)


def get_rule(code_or_name: str) -> Rule | None:
    """Look a rule up by code (``CD104``) or name (``truncated-stream``)."""
    _load_all()
    key = code_or_name.strip()
    rule = _RULES.get(key.upper())
    if rule is not None:
        return rule
    return next((r for r in _RULES.values() if r.name == key.lower()), None)


@dataclass(frozen=True)
class Finding:
    """One problem found. Location fields that do not apply stay ``None``."""

    rule: Rule
    message: str
    path: str | None = None
    line: int | None = None
    column: int | None = None
    cell: int | None = None
    event: int | None = None
    t: float | None = None
    exchange: int | None = None
    fix: str | None = None
    severity: Severity | None = None
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def code(self) -> str:
        return self.rule.code

    @property
    def level(self) -> Severity:
        return self.severity if self.severity is not None else self.rule.severity

    @property
    def fix_text(self) -> str:
        return self.fix or self.rule.fix

    def at(self, **location: object) -> Finding:
        return replace(self, **location)  # type: ignore[arg-type]


def matches(code: str, selectors: Iterator[str] | list[str] | tuple[str, ...]) -> bool:
    """Ruff-style selection: ``CD1`` matches every CD1xx code, ``ALL`` matches everything,
    and a rule name matches its own code."""
    for selector in selectors:
        s = selector.strip()
        if not s:
            continue
        if s.upper() == "ALL" or code.startswith(s.upper()):
            return True
        rule = _RULES.get(code)
        if rule is not None and rule.name == s.lower():
            return True
    return False


def is_known_selector(selector: str) -> bool:
    """Whether ``selector`` selects at least one registered rule; one that selects none is a typo that
    would silently turn a check off in CI."""
    return any(matches(rule.code, [selector]) for rule in all_rules())


def unknown_selector(selectors: list[str]) -> str | None:
    """Why ``selectors`` (from ``--select``, ``--ignore`` or the config file) cannot be used, or
    ``None``. The one check every place that reads selectors calls."""
    bad = next((s for s in selectors if s.strip() and not is_known_selector(s)), None)
    return None if bad is None else unknown_rule(bad.strip())


def unknown_rule(word: str) -> str:
    """The message for a code or name that is no rule, naming the nearest ones when a typo is likely."""
    near = closest_rules(word)
    hint = f"; did you mean {_one_of(near)}?" if near else ""
    return f"unknown rule {word!r}{hint} (run `claude-doctor rules` for the list)"


def closest_rules(word: str) -> list[str]:
    """The codes or names nearest to ``word`` (``CD14`` → CD104, CD114): all that tie for nearest,
    when they are few and near enough to be what was meant; else none. Among equally similar ones,
    those sharing the longest start with ``word`` win (a typo is more often late than early)."""
    rules = all_rules()
    candidates = [(word.upper(), r.code) for r in rules] + [(word.lower(), r.name) for r in rules]
    scored = [(_likeness(typed, known), _shared_start(typed, known), known) for typed, known in candidates]
    best = max(scored)[:2]
    near = [known for *score, known in scored if tuple(score) == best]
    return near if best[0] >= 0.8 and len(near) <= 3 else []


def _one_of(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _shared_start(a: str, b: str) -> int:
    return next((at for at, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def _likeness(a: str, b: str) -> float:
    import difflib  # only when a selector is mistyped: start-up matters

    return difflib.SequenceMatcher(None, a, b).ratio()
