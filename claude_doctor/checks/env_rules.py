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
)
