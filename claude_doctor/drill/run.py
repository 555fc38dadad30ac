"""Running the app once per fault and observing what a user would: its exit status, what it printed, the
exception in its traceback, the requests the mock API received (and how far apart), and whether it
was still running after ``--timeout``.

Each run gets its own mock API on a free loopback port, answering the first request with the fault and
later ones cleanly (a transient failure, so a retry can succeed). The app runs in a session of its own
so that a hang, or a helper process it started, is killed as a whole (the process group): nothing is
left behind. Its environment points ``ANTHROPIC_BASE_URL`` at the mock, puts a dummy key in place of
any real one, and sends every other HTTP(S) request to a proxy here that refuses it and notes the host:
an app that ignores ``ANTHROPIC_BASE_URL`` is caught, and nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import math
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import UsageProblem
from ..faults import Faults
from ..keys import redact_text
from ..tracebacks import diagnose
from .plan import Drill

if TYPE_CHECKING:
    from ..serve import MockAPI

OUTPUT_LIMIT = 64 * 1024  #: bytes of stdout and of stderr kept at each end
DUMMY_KEY = "drill-no-real-key"  #: what the app gets as ANTHROPIC_API_KEY: the mock takes any key
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
LOOPBACK = "127.0.0.1,localhost,::1"
FAULTY_REQUESTS = 1  #: requests answered with the fault: a transient failure, so a retry can succeed
POLL = 0.05  #: seconds between looks at whether the app has exited
READ_GRACE = 2.0  #: seconds to drain the pipes after the process group is gone


class Output:
    """One stream of the app's output, bounded: the first and last ``OUTPUT_LIMIT`` bytes, the size and a
    digest of all of it (two runs printed the same thing when their digests match)."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.size = 0
        self._digest = hashlib.sha256()

    def add(self, data: bytes) -> None:
        self.size += len(data)
        self._digest.update(data)
        room = OUTPUT_LIMIT - len(self.head)
        self.head += data[:room]
        self.tail += data[room:] if room > 0 else data
        del self.tail[: max(0, len(self.tail) - OUTPUT_LIMIT)]

    @property
    def digest(self) -> str:
        return self._digest.hexdigest()

    def text(self) -> str:
        """What was kept, decoded, with a marker where the middle was left out; keys redacted."""
        gap = "\n[…]\n" if self.size > len(self.head) + len(self.tail) else ""
        raw = self.head.decode("utf-8", "replace") + gap + self.tail.decode("utf-8", "replace")
        return redact_text(raw)

    async def read_from(self, stream: asyncio.StreamReader) -> None:
        while data := await stream.read(65536):
            self.add(data)


@dataclass(frozen=True)
class Request:
    """One request the mock API answered: its status, how its answer ended, whether it got the fault,
    and when it came in (seconds from the start of the run)."""

    status: int
    outcome: str
    faulted: bool
    at: float

    @property
    def complete(self) -> bool:
        return self.status < 300 and self.outcome == "complete"


@dataclass
class Observation:
    """Everything seen of one run of the app."""

    name: str
    exit_code: int | None  #: None when it hung and was killed
    seconds: float
    stdout: Output
    stderr: Output
    requests: list[Request] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)  #: hosts it tried to reach through the proxy
    url: str = ""  #: the base URL of the run's own mock API

    @property
    def hung(self) -> bool:
        return self.exit_code is None

    @property
    def exception(self) -> str | None:
        """The exception line of the last traceback on stderr (keys redacted), if there is one."""
        return last_exception(self.stderr.text())

    @property
    def rule(self) -> str | None:
        """The rule ``explain`` names for what stderr shows."""
        matches = diagnose(self.stderr.text()) if self.stderr.size else []
        return matches[0].rule.code if matches else None

    def retry_gaps(self) -> list[float]:
        """Seconds between one request and the next."""
        times = [r.at for r in self.requests]
        return [later - earlier for earlier, later in itertools.pairwise(times)]


_TRACEBACK = re.compile(r"^Traceback \(most recent call last\):$", re.MULTILINE)


def last_exception(text: str) -> str | None:
    """The first unindented line after the last ``Traceback`` header: the exception finally raised."""
    heads = list(_TRACEBACK.finditer(text))
    if not heads:
        return None
    for line in text[heads[-1].end() :].splitlines():
        if line.strip() and not line.startswith((" ", "\t")):
            return line.strip()[:200]
    return None


class RefusingProxy:
    """An HTTP proxy on loopback that forwards nothing: it notes the host each request or CONNECT was
    for and answers 403, so an app that ignores ``ANTHROPIC_BASE_URL`` fails fast and is named."""

    def __init__(self) -> None:
        self.hosts: list[str] = []
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        port = self._server.sockets[0].getsockname()[1] if self._server else 0
        return f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._refuse, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    async def _refuse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            line = await asyncio.wait_for(reader.readline(), 5)
            parts = line.decode("latin-1").split()
            if len(parts) >= 2:
                target = parts[1]
                self.hosts.append(target if parts[0].upper() == "CONNECT" else urlsplit(target).netloc or target)
            writer.write(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            await writer.drain()
        writer.close()


def child_environment(base_url: str, proxy_url: str) -> dict[str, str]:
    """The user's environment, pointed at the mock API, with a dummy key and every other host refused."""
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_AUTH_TOKEN", "NO_PROXY", "no_proxy")}
    env.update({"ANTHROPIC_BASE_URL": base_url, "ANTHROPIC_API_KEY": DUMMY_KEY, "PYTHONUNBUFFERED": "1"})
    env.update(dict.fromkeys(PROXY_VARIABLES, proxy_url))
    env.update({"NO_PROXY": LOOPBACK, "no_proxy": LOOPBACK})
    return env


async def observe(command: list[str], drill: Drill | None, timeout: float, proxy: RefusingProxy) -> Observation:
    """Run the app once against its own mock API (``drill`` None: the clean baseline run)."""
    from ..serve import MockAPI, ServeOptions

    faults = drill.faults if drill is not None else Faults()
    api = MockAPI(ServeOptions(faults, speed=math.inf, faulty_requests=FAULTY_REQUESTS))
    await api.start()
    seen = len(proxy.hosts)
    started = time.monotonic()
    try:
        exit_code, stdout, stderr = await _run(command, child_environment(api.url, proxy.url), timeout)
        seconds = time.monotonic() - started
    finally:
        await api.stop()
    requests = _requests(api, started)
    name = drill.name if drill is not None else "(clean run)"
    return Observation(name, exit_code, seconds, stdout, stderr, requests, proxy.hosts[seen:], api.url)


def _requests(api: MockAPI, started: float) -> list[Request]:
    """Every request the mock API received, in order; one still unanswered when the run ended (a stall
    the app was killed in) has status 0 and outcome ``unfinished``."""
    answered = {e.started: e for e in api.exchanges}
    requests = []
    for number, arrival in enumerate(api.arrivals):
        at = max(0.0, arrival - started)
        exchange = answered.get(arrival)
        if exchange is None:
            requests.append(Request(0, "unfinished", number < FAULTY_REQUESTS, at))
        else:
            requests.append(Request(exchange.status, exchange.outcome, exchange.faulted, at))
    return requests


async def _run(command: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, Output, Output]:
    """Run ``command`` in a session of its own; kill the whole group at ``timeout`` (exit None), and in
    any case once the app has exited, so no helper it started outlives the run."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *command,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise UsageProblem(f"cannot run {command[0]!r}: {exc.strerror or exc}") from None
    stdout, stderr = Output(), Output()
    readers = [
        asyncio.ensure_future(out.read_from(pipe)) for out, pipe in ((stdout, proc.stdout), (stderr, proc.stderr))
    ]
    try:
        code = await _exited(proc, timeout)
    finally:
        _kill_group(proc)
    _, pending = await asyncio.wait(readers, timeout=READ_GRACE)
    for reader in pending:  # a helper that left the group still holds the pipes
        reader.cancel()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), READ_GRACE)
    return (None if code is None else _shell_status(code)), stdout, stderr


async def _exited(proc: asyncio.subprocess.Process, timeout: float) -> int | None:
    """The exit status once the app itself has exited, or None at ``timeout``. Polled: ``wait()`` also
    waits for the pipes to close, which a helper process the app left running keeps open."""
    deadline = time.monotonic() + timeout
    while proc.returncode is None:
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(POLL)
    return proc.returncode


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the app's process group (its session: the app and every helper it started); where there
    are no process groups (Windows), the app alone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        elif proc.returncode is None:
            proc.kill()


def _shell_status(code: int) -> int:
    """128+N when signal N ended it, as a shell says."""
    return 128 - code if code < 0 else code


@dataclass
class Runs:
    """The baseline and one observation per drill, in plan order."""

    baseline: Observation
    observations: list[Observation]


async def run_all(
    command: list[str],
    drills: list[Drill],
    timeout: float,
    jobs: int,
    on_baseline: Callable[[Observation], bool],
    on_done: Callable[[Observation], None] = lambda o: None,
) -> Runs:
    """The clean run first; ``on_baseline`` says whether to go on. Then every drill, ``jobs`` at a time."""
    proxy = RefusingProxy()
    await proxy.start()
    try:
        baseline = await observe(command, None, timeout, proxy)
        if not on_baseline(baseline):
            return Runs(baseline, [])
        gate = asyncio.Semaphore(jobs)

        async def one(drill: Drill) -> Observation:
            async with gate:
                observation = await observe(command, drill, timeout, proxy)
            on_done(observation)
            return observation

        observations = await asyncio.gather(*(one(drill) for drill in drills))
        return Runs(baseline, list(observations))
    finally:
        await proxy.stop()
