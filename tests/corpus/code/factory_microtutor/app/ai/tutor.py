# Reduced from spachunuru/microtutor@3b9ee28f4eeda60d986d4ddd93ba6e9fc0ff3221: app/ai/tutor.py.
# The factory comes from another module of the project; called from sync code it is fine.
from app.ai.client import get_client


def chat(messages, system=""):
    client = get_client()
    response = client.messages.create(model="m", max_tokens=2048, system=system, messages=messages)
    return response.content[0].text.strip()
