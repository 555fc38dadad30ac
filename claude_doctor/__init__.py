"""claude-doctor: find and explain Claude streaming failures."""

import types

__version__ = "0.1.0"

#: Each public name → the module that holds it, imported on first use.
_LAZY = {
    "recording_client": "capture.transport",
    "async_recording_client": "capture.transport",
    "monitored_client": "monitor.client",
    "async_monitored_client": "monitor.client",
    "FlightRecorder": "monitor.flight",
}

__all__ = sorted([*_LAZY, "monitor"])


def __getattr__(name: str):
    """The recording and monitored clients, imported on first use so that ``import claude_doctor`` (and
    the CLI) stays light: no ``httpx2``, SDK or OpenTelemetry until a client is built."""
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'claude_doctor' has no attribute {name!r}")


class _CallableModule(types.ModuleType):
    """``claude_doctor.monitor`` is both the subpackage and the function: importing any of its modules
    would set the package as ``claude_doctor.monitor`` over a function of that name, so the package
    itself is made callable."""

    def __call__(self, client, **options):
        """``claude_doctor.monitor(client, ...)``: see ``claude_doctor.monitor.client.monitor``."""
        from .monitor.client import monitor as watch

        return watch(client, **options)


from . import monitor  # noqa: E402 - the subpackage's ``__init__`` is a docstring: nothing heavy

monitor.__class__ = _CallableModule
