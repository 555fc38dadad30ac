# Reduced from anthropics/anthropic-cookbook@4b36a1e1f64361397f4cbe4fbc7cdace338f16f8:
# skills/contextual-embeddings/guide.ipynb (the ContextualVectorDB cell). The beta prompt-caching
# namespace takes the same keywords as `messages.create`.
import anthropic


class ContextualVectorDB:
    def __init__(self, name, anthropic_api_key=None):
        self.name = name
        self.anthropic_client = anthropic.Anthropic(api_key=anthropic_api_key)

    def situate_context(self, doc, chunk):
        response = self.anthropic_client.beta.prompt_caching.messages.create(  # expect: CD219
            model="claude-3-haiku-20240307",
            max_tokens=1000,
            temperature=0.0,
            messages=[{"role": "user", "content": [{"type": "text", "text": doc + chunk}]}],
            extra_headers={"anthropic-beta": "prompt-caching-2024-07-31"},
        )
        return response
