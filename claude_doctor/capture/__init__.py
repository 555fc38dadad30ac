"""Capture paths that write recording format v1: the live probe (``live``)."""
