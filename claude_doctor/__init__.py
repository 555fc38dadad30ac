"""claude-doctor: find and explain Claude streaming failures."""

__version__ = "0.1.0"

#: Each public name → the module that holds it, imported on first use.
_LAZY = {
    "recording_client": "capture.transport",
    "async_recording_client": "capture.transport",
    "monitored_client": "production.client",
    "async_monitored_client": "production.client",
    "monitor": "production.client",
    "FlightRecorder": "production.flight",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    """The recording and monitored clients, imported on first use so that ``import claude_doctor`` (and
    the CLI) stays light: no ``httpx2``, SDK or OpenTelemetry until a client is built."""
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'claude_doctor' has no attribute {name!r}")
