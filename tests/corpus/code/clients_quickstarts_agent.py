# Reduced from anthropics/anthropic-quickstarts@44c2b5c97d6d91a07033691f12b3b5c5ca464c35:
# agents/agent.py. The client is `client or Anthropic(...)`: a sync client called from the
# agent's async loop blocks the event loop for every request.
import asyncio
import os

from anthropic import Anthropic


class Agent:
    def __init__(self, name, client: Anthropic | None = None, message_params=None):
        self.name = name
        self.client = client or Anthropic(api_key=os.environ.get("ANTHROPIC_API_KEY", ""))
        self.message_params = message_params or {}

    async def _agent_loop(self, user_input):
        params = {"model": "m", "max_tokens": 1024, "messages": [user_input], **self.message_params}
        while True:
            response = self.client.messages.create(**params)  # expect: CD201
            if response.stop_reason != "tool_use":
                return response

    async def run_async(self, user_input):
        return await self._agent_loop(user_input)

    def run(self, user_input):
        return asyncio.run(self.run_async(user_input))
