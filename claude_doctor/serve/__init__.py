"""A local Messages API with faults injected: ``claude-doctor serve`` and the :func:`running` test helper.

The real SDK, curl and the user's own client talk to it unchanged through ``ANTHROPIC_BASE_URL``, so a
failure seen once in production (a stall, a reset, a proxy that buffers) can be reproduced on demand.
It answers from a synthetic stream built from the request, or replays a recording at its recorded pace.
Import it lazily (the CLI does): it imports aiohttp.

Every answer is planned first (:mod:`.replies`: a :class:`~.replies.Reply` whose body is a list of
pieces, bytes and the wait before them; synthetic streams come from :mod:`claude_doctor.synth`), then
faults rewrite the plan (:mod:`.faults`), then :class:`~.sender.Sender` writes it out with pings
filling long waits. :mod:`.app` holds the server that ties them together.
"""

from .app import Exchange, MockAPI, ServeOptions, running
from .replies import RecordedExchange, load_exchanges

__all__ = ["Exchange", "MockAPI", "RecordedExchange", "ServeOptions", "load_exchanges", "running"]
