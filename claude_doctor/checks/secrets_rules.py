"""CD3xx: Anthropic credentials where they should not be. Stdlib only: ``claude-doctor rules`` imports
this module, and the scanning itself (``secrets.py``) loads detect-secrets only when a file needs it."""

from __future__ import annotations

from ..findings import Area, Severity, define

ANTHROPIC_KEY = define(
    "CD301",
    "anthropic-key",
    Area.SECRETS,
    Severity.ERROR,
    "An Anthropic API key, Admin key or OAuth token is written in a file.",
    why="""A key in a file ends up in git, and git history is forever: every clone, fork, CI cache and
    backup holds it, and public repositories are scraped for keys within minutes of a push. Anyone
    holding an API key can spend on your account and read your Workspace's data (Admin keys manage the
    whole organization). Stock detect-secrets has no Anthropic detector and misses the most common
    line, `Anthropic(api_key="sk-ant-...")`, as well as bare keys, keys in Markdown, URLs and
    `x-api-key:` headers.""",
    fix="""Revoke the key now in the Claude Console (Settings → API keys) and create a new one; load it
    from the environment (`ANTHROPIC_API_KEY`, which the SDK reads by itself) or a secrets manager
    instead of the file; if it was ever committed, purge it from history (`git filter-repo
    --replace-text`) and force-push, since revoking is what actually protects you.""",
    symptoms=("ERROR: Potential secrets about to be committed to git repo!", "sk-ant-api03-", "sk-ant-admin01-"),
)

KEY_IN_RECORDING = define(
    "CD302",
    "key-in-recording",
    Area.SECRETS,
    Severity.ERROR,
    "A recording holds an unredacted credential header or an Anthropic key in a body.",
    why="""Recordings are made to be shared: attached to issues, committed as test fixtures, pasted into
    chats. The recording format redacts `x-api-key`, `authorization`, `proxy-authorization`, `cookie`
    and `set-cookie` and any key in a body before writing (recording-format.md rule 3), so a credential
    in one means it was written by hand, imported from a HAR or cassette without redaction, or edited.""",
    fix="""Revoke the credential, then replace each value with `[REDACTED len=N]` (or re-capture with
    `claude-doctor record`/`live`, which redact before writing) before sharing or committing the file.""",
)

ENV_NOT_IGNORED = define(
    "CD303",
    "env-not-ignored",
    Area.SECRETS,
    Severity.WARNING,
    "A .env-style file with an Anthropic credential variable is not ignored by git.",
    why="""`.env` files exist to hold keys outside the code; they leak when git does not ignore them, and
    the next `git add .` or `git commit -a` takes the key with it. Template files (`.env.example`,
    `.env.sample`, `.env.template`, `.env.dist`) are meant to be committed and are not reported.""",
    fix="""Add the file to `.gitignore` (and `git rm --cached FILE` if it is already tracked, then revoke any
    key it held); commit a `.env.example` with empty values instead.""",
)
