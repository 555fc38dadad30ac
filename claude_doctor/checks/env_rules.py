"""CD4xx rules that the ``live`` probe reports before or instead of a stream (the environment checks
of ``doctor`` own this area; these two are defined here so that ``live`` has them to report)."""

from __future__ import annotations

from ..findings import Area, Severity, define

NO_CREDENTIALS = define(
    "CD403",
    "no-credentials",
    Area.ENV,
    Severity.ERROR,
    "Neither ANTHROPIC_API_KEY nor ANTHROPIC_AUTH_TOKEN is set.",
    why="""The SDK resolves a credential only when a request is made, not when the client is built, so a
    missing key surfaces late, as `TypeError: "Could not resolve authentication method. Expected one of
    api_key, auth_token, or credentials to be set. Or for the `Authorization` header to be explicitly
    omitted"`. An empty variable (`ANTHROPIC_API_KEY=`) counts as unset.""",
    fix="""Export the key in the environment the program runs in (`export ANTHROPIC_API_KEY=sk-ant-api03-…`,
    or a `.env` file loaded at start-up and ignored by git), or pass `api_key=` to the client.""",
    symptoms=('TypeError: "Could not resolve authentication method.',),
    example="$ env | grep ANTHROPIC_                 (nothing)",
    use_instead="export ANTHROPIC_API_KEY=sk-ant-api03-…",
)

API_UNREACHABLE = define(
    "CD408",
    "api-unreachable",
    Area.ENV,
    Severity.ERROR,
    "The API could not be reached: the DNS, TCP, TLS, proxy or HTTP step failed.",
    why="""Before any stream can start, the host name must resolve (DNS), a connection must open (TCP), the
    certificate must verify (TLS), a configured proxy must accept the tunnel, and an HTTP answer must come
    back. The SDK folds all of these into `anthropic.APIConnectionError: Connection error.` (retried twice
    by default), so the step that failed is only visible in its `__cause__`.""",
    fix="""Follow the step named in the message: for DNS check the host in ANTHROPIC_BASE_URL and the
    resolver; for TCP a firewall or egress rule; for TLS a corporate proxy's CA (point SSL_CERT_FILE at
    it); for proxy the HTTPS_PROXY value and its credentials; for HTTP the server at that address.""",
    symptoms=("anthropic.APIConnectionError: Connection error.", "httpx2.ConnectError", "httpx.ConnectError"),
    example="""httpx2.ConnectError: [Errno -2] Name or service not known   (DNS step)""",
    use_instead="""ANTHROPIC_BASE_URL=https://api.anthropic.com   # a host the resolver knows""",
)

SDK_MISSING = define(
    "CD401",
    "sdk-missing",
    Area.ENV,
    Severity.WARNING,
    "The `anthropic` SDK is not installed in the target interpreter.",
    why="""The program that streams from Claude imports `anthropic`; if the interpreter it runs under does
    not have it, it fails at start-up with `ModuleNotFoundError: No module named 'anthropic'`. A common
    cause is a second virtualenv: the SDK is installed in one, the app runs in another.""",
    fix="""Install it into the interpreter that runs your app (`python -m pip install anthropic`, using that
    interpreter's `python`), or point claude-doctor at the right one with `--python .venv/bin/python`.""",
    symptoms=("ModuleNotFoundError: No module named 'anthropic'",),
    example="""\
$ .venv/bin/python -c "import anthropic"
ModuleNotFoundError: No module named 'anthropic'""",
    use_instead="$ .venv/bin/python -m pip install anthropic",
)

SDK_OUTDATED = define(
    "CD402",
    "sdk-outdated",
    Area.ENV,
    Severity.WARNING,
    "The installed SDK predates behaviour this tool's advice assumes (2.x).",
    why="""SDK 1.0 moved from `httpx` to `httpx2` and from `x-api-key` to `Authorization: Bearer`; 2.x
    yields unknown event types instead of dropping them, honours long `retry-after` values, and raises
    different classes for 5xx errors. On an older SDK, advice about mid-stream exceptions, proxies and
    retries is not what your code will see.""",
    fix="""Upgrade (`python -m pip install -U anthropic`) and read the SDK's MIGRATION.md for the 1.0 changes
    (httpx2 objects, sampling parameters through `extra_body`).""",
    example="""\
$ .venv/bin/python -m pip show anthropic
Version: 0.40.0""",
    use_instead="$ .venv/bin/python -m pip install -U anthropic",
)

MALFORMED_KEY = define(
    "CD404",
    "malformed-key",
    Area.ENV,
    Severity.ERROR,
    "The key in the environment has whitespace, quotes, a wrong prefix or a wrong length.",
    why="""A key copied with its quotes, a trailing newline from `$(cat key.txt)`, or a truncated paste is
    sent as it is, and the API answers `401 authentication_error: invalid x-api-key` — the same answer as
    for a revoked key, so the real cause stays hidden. API keys are 108 characters starting
    `sk-ant-api03-`; Admin keys are 110 starting `sk-ant-admin01-`.""",
    fix="""Set the variable to the bare key with no quotes or spaces (`export ANTHROPIC_API_KEY=sk-ant-api03-…`),
    or create a new key in the Console if this one was truncated.""",
    symptoms=("AuthenticationError", "invalid x-api-key", "Error code: 401"),
    example="""ANTHROPIC_API_KEY="sk-ant-api03-…"     (in a .env file read literally: the quotes are sent)""",
    use_instead="ANTHROPIC_API_KEY=sk-ant-api03-…",
)

PROXY_CONFIGURED = define(
    "CD405",
    "proxy-configured",
    Area.ENV,
    Severity.INFO,
    "An HTTP(S) proxy applies to the API host.",
    why="""`HTTPS_PROXY`, `HTTP_PROXY` and `ALL_PROXY` are honoured by the SDK's HTTP client. Corporate and
    inspection proxies often buffer responses or cut idle connections, which turns a stream into one
    burst at the end (CD114) or cuts it short (CD104).""",
    fix="""If streams stall or arrive all at once, capture one through the proxy with `claude-doctor live`
    (or `claude-doctor record -- python app.py`) and check it; exempt the API host with
    `NO_PROXY=api.anthropic.com` if policy allows.""",
    example="HTTPS_PROXY=http://proxy.corp:3128",
    use_instead="""NO_PROXY=api.anthropic.com              # if policy allows; else check streams through it""",
)

BASE_URL = define(
    "CD406",
    "base-url",
    Area.ENV,
    Severity.WARNING,
    "ANTHROPIC_BASE_URL overrides the API address (plain http to another host is a warning).",
    why="""Every request, key included, goes to `ANTHROPIC_BASE_URL` when it is set. Over plain `http://` to
    a host other than this machine the key travels in clear text; any override also means a gateway or mock
    answers instead of the API, with its own buffering, timeouts and headers.""",
    fix="""Use `https://` for anything that is not on this machine, and unset the variable when you mean to
    talk to the API itself.""",
    example="ANTHROPIC_BASE_URL=http://gateway.corp:8080",
    use_instead="""ANTHROPIC_BASE_URL=https://gateway.corp  # or unset, for the API itself""",
)

HOOK_MISSING = define(
    "CD407",
    "hook-missing",
    Area.ENV,
    Severity.INFO,
    "The git repository's pre-commit config lacks the claude-doctor secrets hook.",
    why="""A committed key is the most expensive streaming mistake: it must be revoked, and it stays in git
    history. The `claude-doctor-secrets` pre-commit hook blocks a staged Anthropic key before the commit is
    made, at about the cost of `detect-secrets-hook`.""",
    fix="""Add the hook to `.pre-commit-config.yaml` (see the README's pre-commit section) and run
    `pre-commit install`.""",
    example="repos: []                               (.pre-commit-config.yaml)",
    use_instead="""\
repos:
  - repo: https://github.com/claude-doctor/claude-doctor
    rev: v0.1.0
    hooks:
      - id: claude-doctor-secrets""",
)
