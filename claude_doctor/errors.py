"""Errors that end a command with exit status 2 and one line naming the file and the problem."""

from __future__ import annotations


class DoctorError(Exception):
    """Base class: its ``str()`` is the whole line the user sees."""


class UsageProblem(DoctorError):
    """A bad option value, an unknown fault name, a port in use."""


class ConfigError(DoctorError):
    """``[tool.claude-doctor]`` in pyproject.toml is malformed."""


class InputError(DoctorError):
    """An input file cannot be read or understood. ``where`` is the path (and line, if known)."""

    def __init__(self, path: str, problem: str, line: int | None = None) -> None:
        self.path = path
        self.problem = problem
        self.line = line
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {problem}")


class RecordingError(InputError):
    """A file sniffed as a recording (or an import format) is malformed."""
