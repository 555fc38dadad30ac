# Reduced from spachunuru/microtutor@3b9ee28f4eeda60d986d4ddd93ba6e9fc0ff3221: app/ai/client.py.
# A lazily built module-level client behind a factory whose return annotation names the class.
import anthropic

_client: anthropic.Anthropic | None = None


def get_client() -> anthropic.Anthropic:
    global _client
    if _client is None:
        _client = anthropic.Anthropic()
    return _client
