"""The pytest plugin (entry point ``pytest11``): a ``claude_api`` fixture and a ``claude_faults`` marker.

``claude_api`` is the mock Messages API (``serve``) on a free loopback port for one test, with
``ANTHROPIC_BASE_URL`` pointing at it and a dummy ``ANTHROPIC_API_KEY`` (any key works; a real one never
leaves the test). ``@pytest.mark.claude_faults("truncate", "error-event:overloaded_error")`` runs the
test once per fault (the test id is the fault's name), with the fault on the first request only, as
in ``drill``: a transient failure, so the code under test can retry its way out
(``every_request=True`` puts it on every request).

pytest loads this module in every run of a project that has claude-doctor installed, so it imports
nothing heavy at the top: the server and aiohttp load when a test asks for ``claude_api``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .serve import Exchange

MARKER = "claude_faults"
DUMMY_KEY = "test-no-real-key"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*faults, every_request=False): run the test once per fault (serve's NAME[:ARG], "
        "joined with + to combine), with the claude_api fixture injecting it",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per fault of the marker, named after it."""
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None:
        return
    from .drill.plan import parse_drill
    from .errors import DoctorError

    if not marker.args:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: @pytest.mark.{MARKER}() names no fault")
    if "claude_api" not in metafunc.fixturenames:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: @pytest.mark.{MARKER} needs the claude_api fixture")
    for spec in marker.args:
        try:
            parse_drill(str(spec))
        except DoctorError as exc:
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: {exc}") from None
    metafunc.parametrize(
        "claude_fault", [str(s) for s in marker.args], ids=[str(s) for s in marker.args], indirect=True
    )


@dataclass
class ClaudeAPI:
    """What a test gets from ``claude_api``: the base URL, the fault it injects (None: a clean API) and
    every request the API answered so far (``serve``'s :class:`~claude_doctor.serve.Exchange`: status,
    outcome, the request ``body``, whether it got the fault)."""

    url: str
    fault: str | None
    requests: list[Exchange] = field(default_factory=list)


@pytest.fixture
def claude_fault(request: pytest.FixtureRequest) -> str | None:
    """The fault of this test's ``claude_faults`` case, or None."""
    return getattr(request, "param", None)


@pytest.fixture
def claude_api(
    claude_fault: str | None, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ClaudeAPI]:
    """The mock Messages API for this test, with the marker's fault if any; see the module's docs."""
    from .drill.plan import parse_drill
    from .faults import Faults
    from .serve import MockAPI, ServeOptions

    faults = parse_drill(claude_fault).faults if claude_fault is not None else Faults()
    marker = request.node.get_closest_marker(MARKER)
    every = bool(marker is not None and marker.kwargs.get("every_request"))
    options = ServeOptions(faults, speed=math.inf, faulty_requests=None if every else 1)
    with MockAPI(options) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", DUMMY_KEY)
        monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
        yield ClaudeAPI(api.url, claude_fault, api.exchanges)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> None:
    """A failing test under a fault says which fault it was, next to the assertion."""
    fault = getattr(item, "callspec", None) and item.callspec.params.get("claude_fault")
    if fault and call.when == "call" and call.excinfo is not None:
        marker = item.get_closest_marker(MARKER)
        where = "every request" if marker is not None and marker.kwargs.get("every_request") else "the first request"
        item.add_report_section("call", "claude-doctor", f"injected fault: {fault} (on {where})")
