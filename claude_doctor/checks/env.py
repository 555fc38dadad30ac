"""Environment checks (CD401–CD407): what the program that streams will run with. Nothing here
imports the SDK or prints a credential; keys appear only as fingerprints."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..findings import Finding, Severity
from ..keys import FIXED_LENGTH, fingerprint
from ..web import environment_proxy, is_loopback
from .env_rules import (
    BASE_URL,
    HOOK_MISSING,
    MALFORMED_KEY,
    NO_CREDENTIALS,
    PROXY_CONFIGURED,
    SDK_MISSING,
    SDK_OUTDATED,
)

DEFAULT_BASE_URL = "https://api.anthropic.com"
MIN_SDK_MAJOR = 2
KEY_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")


@dataclass
class EnvFacts:
    """What the environment section of the report states even when nothing is wrong."""

    sdk_version: str | None = None
    interpreter: str = sys.executable
    credential: str | None = None  # "ANTHROPIC_API_KEY (sk-ant-api03-…XYAA, 108 chars)"
    base_url: str = DEFAULT_BASE_URL


def check_environment(
    root: Path, python: str | None = None, env: Mapping[str, str] | None = None
) -> tuple[list[Finding], EnvFacts]:
    """Every environment finding for a project at ``root`` run by ``python`` (default: this one)."""
    env = dict(os.environ if env is None else env)  # a copy: check_proxy swaps os.environ for it
    facts = EnvFacts(interpreter=python or sys.executable)
    findings = [
        *check_sdk(facts, python),
        *check_credentials(facts, env),
        *check_base_url(facts, env),
        *check_proxy(facts, env),
        *check_hook(root),
    ]
    return findings, facts


def sdk_version(python: str | None) -> str | None:
    """The installed ``anthropic`` version, read from package metadata (never imported): in this
    interpreter, or by asking another one in a subprocess."""
    if python is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("anthropic")
        except PackageNotFoundError:
            return None
    code = "import importlib.metadata as m\ntry: print(m.version('anthropic'))\nexcept m.PackageNotFoundError: pass"
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ValueError(f"{python}: cannot run this interpreter ({exc})") from None
    if out.returncode != 0:
        raise ValueError(f"{python}: not a working Python interpreter (exit {out.returncode})")
    return out.stdout.strip() or None


def check_sdk(facts: EnvFacts, python: str | None) -> list[Finding]:
    facts.sdk_version = sdk_version(python)
    where = facts.interpreter
    if facts.sdk_version is None:
        return [Finding(SDK_MISSING, f"`anthropic` is not installed for {where}.")]
    major = _major(facts.sdk_version)
    if major is not None and major < MIN_SDK_MAJOR:
        return [
            Finding(
                SDK_OUTDATED,
                f"anthropic {facts.sdk_version} is installed for {where}; this tool's advice "
                f"describes {MIN_SDK_MAJOR}.x (httpx2 errors mid-stream, Authorization: Bearer, unknown "
                "events yielded).",
            )
        ]
    return []


def _major(version: str) -> int | None:
    head = version.split(".")[0]
    return int(head) if head.isdigit() else None


def check_credentials(facts: EnvFacts, env: Mapping[str, str]) -> list[Finding]:
    present = [(name, env[name]) for name in KEY_VARIABLES if env.get(name)]
    if not present:
        return [
            Finding(
                NO_CREDENTIALS,
                "Neither ANTHROPIC_API_KEY nor ANTHROPIC_AUTH_TOKEN is set (an empty value counts as unset).",
            )
        ]
    name, value = present[0]
    shown = f"{name} ({fingerprint(value.strip().strip(chr(34) + chr(39)))})"
    facts.credential = shown
    problems = key_problems(name, value)
    return [Finding(MALFORMED_KEY, f"{shown} {'; '.join(problems)}.")] if problems else []


def key_problems(name: str, value: str) -> list[str]:
    """What is wrong with a key's shape, in words that never include the key."""
    problems = []
    if value != value.strip() or any(c.isspace() for c in value.strip()):
        problems.append("contains whitespace (a stray newline or space is sent as part of the key)")
    if value.strip()[:1] in "\"'" or value.strip()[-1:] in "\"'":
        problems.append("is wrapped in quotes (they became part of the value)")
    bare = value.strip().strip("\"'")
    if name == "ANTHROPIC_API_KEY" and not bare.startswith("sk-ant-"):
        problems.append("does not start with sk-ant- (is it another provider's key?)")
    for kind, length in FIXED_LENGTH.items():
        if bare.startswith(f"sk-ant-{kind}-") and len(bare) != length:
            article = "an" if kind[0] in "aeiou" else "a"
            problems.append(f"is {len(bare)} characters where {article} {kind} key has {length} (truncated or joined?)")
    return problems


def check_base_url(facts: EnvFacts, env: Mapping[str, str]) -> list[Finding]:
    url = env.get("ANTHROPIC_BASE_URL", "").strip()
    if not url:
        return []
    facts.base_url = url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "http" and not is_loopback(host):
        return [
            Finding(BASE_URL, f"ANTHROPIC_BASE_URL is {url}: plain http to {host}, so the key travels in clear text.")
        ]
    return [
        Finding(
            BASE_URL,
            f"ANTHROPIC_BASE_URL is {url}: requests go there instead of {DEFAULT_BASE_URL}.",
            severity=Severity.INFO,
        )
    ]


def check_proxy(facts: EnvFacts, env: Mapping[str, str]) -> list[Finding]:
    proxy = environment_proxy(facts.base_url, env)
    if proxy is None:
        return []
    parts = urlsplit(facts.base_url)
    host, scheme = parts.hostname or "", parts.scheme or "https"
    shown = _without_credentials(proxy)
    return [
        Finding(
            PROXY_CONFIGURED, f"Requests to {host} go through the proxy {shown} ({scheme.upper()}_PROXY or ALL_PROXY)."
        )
    ]


def _without_credentials(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.username or parts.password:
        return f"{parts.scheme}://[credentials hidden]@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return url


def check_hook(root: Path) -> list[Finding]:
    repo = _git_root(root)
    if repo is None:
        return []
    config = repo / ".pre-commit-config.yaml"
    if config.is_file() and "claude-doctor-secrets" in config.read_text(encoding="utf-8", errors="replace"):
        return []
    what = "has no .pre-commit-config.yaml" if not config.is_file() else "has a .pre-commit-config.yaml without it"
    return [
        Finding(
            HOOK_MISSING,
            f"The git repository at {repo} {what}: nothing stops a key being committed.",
            path=str(config) if config.is_file() else None,
        )
    ]


def _git_root(root: Path) -> Path | None:
    for folder in [root.resolve(), *root.resolve().parents]:
        if (folder / ".git").exists():
            return folder
    return None


#: Each environment rule's code → the function that reports it (CD408, a request that got no answer, is
#: the stream checks' ``UnreachableCheck``). All of them run whatever is selected: they also gather the
#: facts the report states when nothing is wrong, and take milliseconds.
CHECKS_BY_RULE: dict[str, Callable[..., list[Finding]]] = {
    SDK_MISSING.code: check_sdk,
    SDK_OUTDATED.code: check_sdk,
    NO_CREDENTIALS.code: check_credentials,
    MALFORMED_KEY.code: check_credentials,
    BASE_URL.code: check_base_url,
    PROXY_CONFIGURED.code: check_proxy,
    HOOK_MISSING.code: check_hook,
}
