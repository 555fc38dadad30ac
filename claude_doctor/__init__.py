"""claude-doctor: find and explain Claude streaming failures."""

__version__ = "0.1.0"
