"""claude-doctor: find and explain Claude streaming failures."""

__version__ = "0.1.0"

__all__ = ["async_recording_client", "recording_client"]


def __getattr__(name: str):
    """``claude_doctor.recording_client`` and ``async_recording_client``, imported on first use so
    that ``import claude_doctor`` (and the CLI) stays light."""
    if name in __all__:
        from .capture import transport

        return getattr(transport, name)
    raise AttributeError(f"module 'claude_doctor' has no attribute {name!r}")
