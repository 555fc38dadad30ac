"""The flight recorder: keep the recording of every monitored exchange whose findings reach a severity, in
a folder bounded by count and bytes, so that a production failure can be replayed on a laptop
(``claude-doctor stream DIR``, ``replay FILE``, ``serve FILE`` read the files as they are).

Each exchange is written as it flows (recording format v1, source ``sdk``, redacted by the writer) into a
spool of its own: in memory up to ``spool_memory`` bytes, then an unnamed temporary file in the folder,
never more than ``max_bytes``. At the end the findings decide: a kept exchange is copied into a hidden
temporary name and renamed into place (a reader never sees half a file), then the oldest files are
dropped until the folder is within its bounds; any other is discarded. Nothing here ever raises into
the app: a spool or a folder that cannot be written (a full disk) is one logged warning, and the
exchange is simply not kept.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

from ..findings import Severity
from ..recording.jsonl import RecordingWriter
from .summary import ExchangeSummary
from .watch import ChunkWindow, warn_once

MIB = 1024 * 1024
#: The names this recorder writes (and the only files it ever deletes): UTC time, process, exchange,
#: first finding's code. They sort by time, so the oldest is first.
NAME = re.compile(r"^\d{8}T\d{6}\.\d{3}Z-p\d+-x\d+-[A-Z]+\d+\.jsonl$")


class _Bounded:
    """A spool that refuses to grow past ``limit`` bytes, the way a full disk would (``EFBIG``), so that
    the recorder stops writing that exchange and never keeps more than the folder may hold."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self.size = 0

    def write(self, data: bytes) -> int:
        if self.size + len(data) > self.limit:
            raise OSError(errno.EFBIG, "larger than the flight recorder's max_bytes")
        self.size += len(data)
        return self.stream.write(data)

    def flush(self) -> None:
        """Nothing: the spool is private until it is kept, and ``keep`` reads it back whole."""


class _WindowedWriter:
    """The spool's writer: chunks that arrive back to back go in one line (a :class:`ChunkWindow`, as
    the monitor checks them), so that a fast stream costs the flight recorder a line per window rather
    than per event; everything else is the ``RecordingWriter``'s own."""

    def __init__(self, writer: RecordingWriter) -> None:
        self.writer = writer
        self.windows: dict[int, ChunkWindow] = {}

    def chunk(self, i: int, t: float, data: bytes) -> None:
        window = self.windows.get(i)
        if window is None:
            window = self.windows[i] = ChunkWindow(lambda t, data: self.writer.chunk(i, t, data))
        window.push(t, data)

    def end(self, i: int, *args: object) -> None:
        self._close(i)
        self.writer.end(i, *args)  # type: ignore[arg-type]

    def flush(self) -> None:
        for i in list(self.windows):
            self._close(i)
        self.writer.flush()

    def _close(self, i: int) -> None:
        window = self.windows.pop(i, None)
        if window is not None:
            window.close()

    def __getattr__(self, name: str) -> object:
        return getattr(self.writer, name)


class FlightExchange:
    """One exchange on its way to the flight recorder: its spool and writer, and the decision at its end."""

    def __init__(self, recorder: FlightRecorder, number: int) -> None:
        self.recorder = recorder
        self.number = number
        self.failed: str | None = None
        self.spool: IO[bytes] | None = None
        self.writer: _WindowedWriter | None = None
        try:
            self.spool = tempfile.SpooledTemporaryFile(max_size=recorder.spool_memory, dir=recorder.folder)  # noqa: SIM115
            spooled = _Bounded(self.spool, recorder.max_bytes)
            self.writer = _WindowedWriter(RecordingWriter(spooled, "sdk"))  # type: ignore[arg-type]
        except OSError as exc:
            self.stop(f"no spool: {exc.strerror or exc}")

    def stop(self, why: str) -> None:
        """The exchange cannot be kept (its spool could not be written): the ``ExchangeRecorder``'s
        ``on_failure``."""
        if self.failed is None:
            self.failed = why

    def finished(self, summary: ExchangeSummary) -> None:
        """The monitor's ``on_finished``: keep the exchange if a finding reaches the severity."""
        worst = summary.worst()
        if worst is None or worst < self.recorder.min_severity or self.spool is None:
            return
        if self.failed is not None:
            warn_once("the flight recorder", OSError(self.failed), "an exchange with findings was not kept")
        else:
            self.recorder.keep(self, summary)
        self.close()

    def close(self) -> None:
        """Discard the spool (a no-op once kept or closed): the ``ExchangeRecorder``'s ``on_end``."""
        spool, self.spool = self.spool, None
        if spool is not None:
            with contextlib.suppress(OSError):
                spool.close()


class FlightRecorder:
    """Keep every exchange whose worst finding is at least ``min_severity`` (``"error"``, ``"warning"``,
    ``"info"``) in ``folder``, as a recording of its own, holding at most ``max_files`` files and
    ``max_bytes`` bytes (oldest dropped first; an exchange larger than ``max_bytes`` is not kept).
    ``spool_memory`` is what one exchange may hold in memory before its spool moves to a temporary file,
    so memory per stream is bounded whatever its length. Share one among clients and threads."""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        min_severity: str | Severity = "warning",
        max_files: int = 100,
        max_bytes: int = 50 * MIB,
        spool_memory: int = 256 * 1024,
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.min_severity = min_severity if isinstance(min_severity, Severity) else Severity.parse(min_severity)
        if max_files < 1 or max_bytes < 1:
            raise ValueError("max_files and max_bytes must be at least 1")
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.spool_memory = spool_memory
        self.lock = threading.Lock()
        self._numbers = itertools.count()

    def exchange(self) -> FlightExchange:
        """A spool for the next exchange (the monitor's client asks for one per request)."""
        return FlightExchange(self, next(self._numbers))

    def keep(self, exchange: FlightExchange, summary: ExchangeSummary) -> Path | None:
        """Write the exchange's recording into the folder under its own name, then prune the folder."""
        spool, writer = exchange.spool, exchange.writer
        if spool is None or writer is None:
            return None
        target = self.folder / self.name(exchange.number, summary)
        part: str | None = None
        try:
            writer.flush()
            spool.seek(0)
            with tempfile.NamedTemporaryFile(dir=self.folder, prefix=".", suffix=".part", delete=False) as out:
                part = out.name
                shutil.copyfileobj(spool, out)
            os.replace(part, target)
        except OSError as exc:
            if part is not None:
                _remove(part)
            warn_once("the flight recorder", exc, "an exchange with findings was not kept")
            return None
        self.prune()
        return target

    def name(self, number: int, summary: ExchangeSummary) -> str:
        """UTC time it is kept, process, exchange number and first finding's code: never a key."""
        now = time.time()
        started = time.gmtime(now)
        millis = int(now * 1000) % 1000
        code = summary.findings[0].code if summary.findings else "CD000"
        return f"{time.strftime('%Y%m%dT%H%M%S', started)}.{millis:03d}Z-p{os.getpid()}-x{number}-{code}.jsonl"

    def files(self) -> list[tuple[Path, int]]:
        """The recordings this recorder (in any process) keeps in the folder, oldest first, with sizes."""
        found = []
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if NAME.match(entry.name):
                    try:
                        found.append((Path(entry.path), entry.stat().st_size))
                    except OSError:
                        continue  # removed meanwhile
        return sorted(found)

    def prune(self) -> None:
        """Drop the oldest recordings until the folder holds at most ``max_files`` and ``max_bytes``."""
        with self.lock:
            try:
                files = self.files()
            except OSError as exc:
                warn_once("the flight recorder", exc, "its folder could not be pruned")
                return
            total = sum(size for _, size in files)
            while files and (len(files) > self.max_files or total > self.max_bytes):
                path, size = files.pop(0)
                _remove(str(path))
                total -= size


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
