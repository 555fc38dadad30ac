"""CD3xx: Anthropic credentials where they should not be. Stdlib only: ``claude-doctor rules`` imports
this module, and the scanning itself (``secrets.py``) loads detect-secrets only when a file needs it."""

from __future__ import annotations

from ..findings import Area, Severity, define
from ..keys import kind_of

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
    fix="""Revoke the credential now and make a new one (an API key in the Claude Console under Settings →
    API keys, an Admin key under Settings → Admin keys, an OAuth token by signing out of your Claude
    account's sessions); load its replacement from the environment or a secrets manager instead of the
    file; if it was ever committed, purge it from history (`git filter-repo --replace-text`) and
    force-push, since revoking is what actually protects you.""",
    symptoms=("ERROR: Potential secrets about to be committed to git repo!", "sk-ant-api03-", "sk-ant-admin01-"),
    example="""client = Anthropic(api_key="sk-ant-api03-…")""",
    use_instead="""client = Anthropic()  # reads ANTHROPIC_API_KEY from the environment""",
)

KEY_IN_RECORDING = define(
    "CD302",
    "key-in-recording",
    Area.SECRETS,
    Severity.ERROR,
    "A recording holds an unredacted credential header or an Anthropic key in a body.",
    why="""Recordings are made to be shared: attached to issues, committed as test fixtures, pasted into
    chats. The recording format redacts `x-api-key`, `authorization`, `proxy-authorization`, `cookie`
    and `set-cookie` and any key in a body before writing (docs/recording-format.md, rule 3), so a credential
    in one means it was written by hand, imported from a HAR or cassette without redaction, or edited.""",
    fix="""Revoke the credential, then replace each value with `[REDACTED len=N]` (or re-capture with
    `claude-doctor record`/`live`, which redact before writing) before sharing or committing the file.""",
    example="""{"k":"request",…,"headers":[["x-api-key","sk-ant-api03-…"]],…}""",
    use_instead="""{"k":"request",…,"headers":[["x-api-key","[REDACTED len=108]"]],…}""",
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
    example="""$ git check-ignore .env        (no output: .env, which sets ANTHROPIC_API_KEY, is not ignored)""",
    use_instead="""$ echo .env >> .gitignore      # and commit a .env.example with ANTHROPIC_API_KEY=""",
)

#: What to do about each kind of credential: where to revoke it and where its replacement belongs.
_REVOKE = {
    "api03": """Revoke the key now in the Claude Console (Settings → API keys) and create a new one; load it
    from the environment (`ANTHROPIC_API_KEY`, which the SDK reads by itself) or a secrets manager instead
    of the file.""",
    "admin01": """Revoke the Admin key now in the Claude Console (Settings → Admin keys; only organization
    admins can) and check the organization's members, workspaces and API keys for changes, since an Admin
    key manages them all. Application code never needs one (it cannot call the Messages API): keep a new
    one in a secrets manager, read only by the admin tooling that uses it.""",
    "oat01": """This OAuth access token logs in as your Claude (Pro/Max) account, e.g. one `claude
    setup-token` printed (valid for a year): sign out of all sessions in your claude.ai account settings,
    mint a new token with `claude setup-token` and pass it in the `CLAUDE_CODE_OAUTH_TOKEN` environment
    variable (a CI secret), never in a file.""",
    "ort01": """This OAuth refresh token mints new access tokens for your Claude account until it is revoked:
    sign out of all sessions in your claude.ai account settings, log in to Claude Code again (`/login`),
    and leave the token in Claude Code's own credential store (the keychain or `~/.claude/`), out of the
    project.""",
}
_PURGE = """If it was ever committed, purge it from history (`git filter-repo --replace-text`) and force-push;
revoking is what actually protects you."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def key_fix(secret: str) -> str:
    """CD301's fix for this credential's kind (the rule's own fix covers every kind at once)."""
    advice = _REVOKE.get(kind_of(secret))
    return _one_line(f"{advice} {_PURGE}") if advice else _one_line(ANTHROPIC_KEY.fix)


def recording_fix(secret: str) -> str | None:
    """CD302's fix for a key of a known kind: its own revoke advice, then the redaction; None (the
    rule's fix) for other credential values."""
    advice = _REVOKE.get(kind_of(secret))
    if advice is None:
        return None
    return _one_line(
        f"{advice} Then replace it in the recording with `[REDACTED len=N]` (or re-capture with "
        "`claude-doctor record`/`live`, which redact before writing) before sharing or committing the file."
    )
