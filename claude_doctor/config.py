"""``[tool.claude-doctor]`` in pyproject.toml: ruff-shaped keys, found by walking up from the target."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .findings import Severity, unknown_selector

KNOWN_KEYS = {
    "select",
    "ignore",
    "extend-select",
    "per-file-ignores",
    "exclude",
    "extend-exclude",
    "idle-gap",
    "min-timeout",
    "fail-on",
}


@dataclass
class Config:
    select: list[str] = field(default_factory=lambda: ["ALL"])
    ignore: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    idle_gap: float = 15.0  #: seconds of silence the API's ping cadence never leaves (CD102)
    min_timeout: float = 60.0  #: a streaming read timeout below this is CD217
    fail_on: Severity = Severity.WARNING
    root: Path | None = None  #: the folder holding the pyproject.toml it came from

    def ignored_for(self, path: str | None) -> list[str]:
        """Codes ignored for ``path`` by ``per-file-ignores`` (glob patterns, relative to the root)."""
        if not path or not self.per_file_ignores:
            return []
        rel = _relative(Path(path), self.root)
        out: list[str] = []
        for pattern, codes in self.per_file_ignores.items():
            if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(Path(rel).name, pattern):
                out.extend(codes)
        return out


def _relative(path: Path, root: Path | None) -> str:
    try:
        return path.resolve().relative_to(root).as_posix() if root else path.as_posix()
    except ValueError:
        return path.as_posix()


def find_pyproject(start: Path) -> Path | None:
    start = Path(os.path.realpath(start))  # unlike Path.resolve, never raises on a symlink loop
    for folder in [start, *start.parents] if os.path.isdir(start) else [start.parent, *start.parent.parents]:
        candidate = folder / "pyproject.toml"
        if os.path.isfile(candidate):  # False, not PermissionError, in a folder that cannot be read
            return candidate
    return None


def load_config(start: Path | None = None) -> Config:
    """Read the nearest pyproject.toml's ``[tool.claude-doctor]``; defaults when there is none."""
    pyproject = find_pyproject(start or Path.cwd())
    if pyproject is None:
        return Config()
    import tomllib  # only when there is a file to read: most runs in a temp folder or a checkout have none

    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{pyproject}: cannot read ({exc})") from None
    table = data.get("tool", {}).get("claude-doctor")
    if table is None:
        return Config(root=pyproject.parent)
    return _from_table(table, pyproject)


def _from_table(table: dict, pyproject: Path) -> Config:
    where = f"{pyproject}: [tool.claude-doctor]"
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(KNOWN_KEYS))})")
    config = Config(root=pyproject.parent)
    try:
        if "select" in table:
            config.select = _codes(table["select"], "select")
        config.select += _codes(table.get("extend-select", []), "extend-select")
        config.ignore = _codes(table.get("ignore", []), "ignore")
        pfi = table.get("per-file-ignores", {})
        if not isinstance(pfi, dict):
            raise ValueError("per-file-ignores must be a table of glob = [codes]")
        config.per_file_ignores = {str(k): _codes(v, f'per-file-ignores."{k}"') for k, v in pfi.items()}
        config.exclude = _strings(table.get("exclude", []), "exclude") + _strings(
            table.get("extend-exclude", []), "extend-exclude"
        )
        config.idle_gap = _seconds(table.get("idle-gap", config.idle_gap), "idle-gap")
        config.min_timeout = _seconds(table.get("min-timeout", config.min_timeout), "min-timeout")
        if "fail-on" in table:
            config.fail_on = Severity.parse(str(table["fail-on"]))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return config


def _strings(value: object, key: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of strings")
    return list(value)


def _codes(value: object, key: str) -> list[str]:
    """Rule selectors, checked against the registry like ``--select``: a typo must not switch a rule off."""
    codes = [v.strip() for v in _strings(value, key) if v.strip()]
    problem = unknown_selector(codes)
    if problem:
        raise ValueError(f"{key}: {problem}")
    return codes


def _seconds(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{key} must be a positive number of seconds, got {value!r}")
    return float(value)
