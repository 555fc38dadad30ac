"""One module per code rule (CD2xx): the :class:`~..context.Check` that reports it, beside nothing else.
Each rule's text is in ``../rules.py`` (kept import-light for ``rules`` and ``explain``), its check
here, and ``../checker.py`` lists them all in ``CHECKS``, the one table that maps a code to its check."""
