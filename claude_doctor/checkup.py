"""The doctor's four areas, each checked into a ``Section`` (its findings, what it looked at, the files
it could not check): the environment (CD4xx), the code (CD2xx), the files for keys (CD3xx) and the
recordings (CD1xx), plus the optional live request. Data only: the ``doctor`` command prints them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .findings import Area
from .report.doctor import Section, Unchecked
from .report.human import plural

if TYPE_CHECKING:
    from .config import Config


def environment(path: Path, python: str | None) -> Section:
    """CD4xx: the SDK, credential and endpoint the project would run with (``--python``: that interpreter's)."""
    from .checks.env import check_environment

    findings, facts = check_environment(path, python)
    note = " · ".join(
        part
        for part in (
            f"anthropic {facts.sdk_version}" if facts.sdk_version else "no anthropic SDK",
            facts.credential or "no key",
            facts.base_url,
        )
        if part
    )
    return Section(findings, note)


def code(path: Path, config: Config) -> Section:
    """CD2xx over the Python files and notebooks under ``path``; a file that cannot be parsed is unchecked."""
    from .checks.code.checker import Options, selected_rules
    from .checks.code.runner import check_files, sdk_major
    from .checks.code.walk import collect_files
    from .files import WalkNotes

    notes = WalkNotes()
    files, walk_errors = collect_files([path], config.exclude, config.root, notes)
    rules = selected_rules(config.select, config.ignore)
    results = check_files(files, Options(min_timeout=config.min_timeout, sdk_major=sdk_major(), rules=rules))
    findings = [f for result in results for f in result.findings]
    unchecked = [Unchecked.parse(error) for error in walk_errors]
    unchecked += [Unchecked(r.path, r.error.removeprefix(f"{r.path}: ")) for r in results if r.error]
    unchecked += [Unchecked.parse(warning) for r in results for warning in r.warnings]  # cells, newer Python
    unchecked += [Unchecked(where, "not a regular file") for where in notes.irregular]
    checked = [Path(result.path) for result in results if not result.error and not result.skipped]
    notebooks = sum(1 for p in checked if p.suffix == ".ipynb")
    note = plural(len(checked) - notebooks, "Python file")
    if notebooks:
        note += f", {plural(notebooks, 'notebook')}"
    return Section(findings, note, unchecked)


def secrets(path: Path) -> tuple[Section, int]:
    """CD3xx over every project file; the file count is the report's (code and recordings are among them)."""
    from .checks import secrets as scan
    from .files import WalkNotes, project_files

    notes = WalkNotes()
    files = project_files(path, notes=notes)
    skipped: list[str] = []
    findings, scan_errors = scan.scan_files(files, skipped)
    findings += scan.env_findings(files)
    note = f"{plural(len(files) - len(skipped), 'file')} scanned for keys"
    problems = notes.unreadable + scan_errors + skipped + [f"{where}: not a regular file" for where in notes.irregular]
    return Section(findings, note, [Unchecked.parse(problem) for problem in problems]), len(files)


def streams(path: Path, config: Config) -> Section:
    """CD1xx over the recordings in ``path/recordings``, if there is such a folder."""
    folder = path / "recordings"
    if not folder.is_dir():
        return Section([], "no recordings/ folder")
    from .streams import check_paths

    findings, count, stream_errors, _ = check_paths([str(folder)], config)
    return Section(findings, plural(count, "recording"), [Unchecked.parse(error) for error in stream_errors])


def add_live_probe(sections: dict[Area, Section], config: Config) -> None:
    """One real streaming request: a failure to reach the API belongs to the environment, what the
    stream itself showed to the streams; the Streams line says whether the request was sent at all."""
    from .probe import credential, probe_findings

    found = probe_findings(config)
    env, streams = sections[Area.ENV], sections[Area.STREAM]
    env.findings += [f for f in found if f.rule.area is Area.ENV]
    streams.findings += [f for f in found if f.rule.area is Area.STREAM]
    failed = sorted({f.code for f in found if f.rule.area is Area.ENV})
    if credential() is None:
        streams.note += "; live request not sent: no ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN"
    elif failed:
        streams.note += f"; live request failed: {', '.join(failed)}"
    else:
        streams.note += " + the live request"
