"""The detect-secrets plugin for Anthropic credentials (CD301).

detect-secrets 1.5.0 has no Anthropic detector and no plugin entry points: a plugin is found only by a
file path (``--plugin``, or ``"path": "file://…"`` in a baseline). ``claude-doctor secrets`` needs
neither: it runs this class in-process. :func:`register` puts it into detect-secrets' own plugin table
so that in-process detect-secrets code (``SecretsCollection``, ``transient_settings``) accepts
``{"name": "AnthropicKeyDetector"}`` with no path. For the stock CLI, pass this module's file:
``detect-secrets scan --plugin "$(python -c 'import claude_doctor.secrets_plugin as m; print(m.__file__)')"``.

Importing this module imports detect-secrets (and ``requests``, ~120 ms): the hook only does so once a
file holds something key-shaped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.settings import Settings

from claude_doctor.keys import KEY_RE, is_placeholder

#: A default line filter applied before any plugin sees a line: it drops every ``x = f(…)`` line, and
#: so the canonical ``client = Anthropic(api_key="sk-ant-…")`` (detect-secrets' own keyword plugin misses it).
INDIRECT_REFERENCE = "detect_secrets.filters.heuristic.is_indirect_reference"


class AnthropicKeyDetector(RegexBasedDetector):
    """Anthropic API keys (``sk-ant-api03-``, 108 chars), Admin keys (``sk-ant-admin01-``, 110 chars)
    and OAuth access/refresh tokens (``sk-ant-oat01-``/``sk-ant-ort01-``), in any context; typed
    placeholders (one repeated character, YOUR-KEY-HERE words, alphabet runs) are not keys."""

    #: Part of every baseline entry's identity: renaming it invalidates users' baselines.
    secret_type = "Anthropic API Key"
    denylist = (KEY_RE,)

    def analyze_string(self, string: str) -> Iterator[str]:
        """The regex's matches, minus placeholders. No ``verify``: a network check would add latency
        and, worse, detect-secrets drops a finding it verifies as dead, so a leaked revoked key would pass."""
        for secret in super().analyze_string(string):
            if not is_placeholder(secret):
                yield secret


def register() -> type[AnthropicKeyDetector]:
    """Make detect-secrets know the plugin by name, with no ``path`` in any config. The table is an
    ``lru_cache``; writing into the cached dict is the injection detect-secrets itself uses for
    ``--plugin`` (``core/plugins/initialize.from_file``)."""
    get_mapping_from_secret_type_to_class()[AnthropicKeyDetector.secret_type] = AnthropicKeyDetector
    return AnthropicKeyDetector


def detect_secrets_config() -> dict[str, Any]:
    """Settings for running detect-secrets' own scanner with only this plugin (``transient_settings``):
    the default filters minus ``is_indirect_reference``, which would hide the commonest leak."""
    register()
    filters = [{"path": path} for path in sorted(Settings().filters) if path != INDIRECT_REFERENCE]
    return {"plugins_used": [{"name": AnthropicKeyDetector.__name__}], "filters_used": filters}
