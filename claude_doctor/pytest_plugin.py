"""The pytest plugin (entry point ``pytest11``): a ``claude_api`` fixture and a ``claude_faults`` marker."""
