"""What sniffing sees of an input: its first bytes and, for a JSON or YAML document, the document
read whole. Streamed formats (curl output, raw SSE) are told by their head; HAR files and cassettes
only by their parsed content, which is read once, by the first format that asks."""

from __future__ import annotations

import functools
import json
import re
from typing import IO

from ...errors import RecordingError
from .common import MAX_WHOLE_FILE, NotARecording

_BLANK = b"\xef\xbb\xbf \t\r\n"  # a byte-order mark and white space, before the content proper


class Peek:
    """An input being sniffed: ``raw`` is its head as read, ``text`` the same without a leading BOM
    and white space, ``stream`` the rest of it."""

    def __init__(self, stream: IO[bytes], raw: bytes, path: str) -> None:
        self.stream = stream
        self.raw = raw
        self.path = path
        self.text = raw.lstrip(_BLANK)

    @functools.cached_property
    def data(self) -> bytes | None:
        """The whole input when it looks like a document (a JSON object, or YAML with a top-level
        ``interactions:``), else ``None``, and nothing is read."""
        if not (self.text.startswith(b"{") or re.search(rb"^interactions:", self.raw, re.MULTILINE)):
            return None
        rest = self.stream.read(MAX_WHOLE_FILE)
        if len(self.raw) + len(rest) >= MAX_WHOLE_FILE and self.stream.read(1):
            raise RecordingError(
                self.path, f"larger than {MAX_WHOLE_FILE // 2**20} MiB; HAR and cassette files are read whole"
            )
        return self.raw + rest

    @functools.cached_property
    def document(self) -> dict | None:
        """The parsed document (see :attr:`data`), or ``None`` when the input is no document. Raises
        :class:`NotARecording` for JSON or YAML that is not an object."""
        data = self.data
        if data is None:
            return None
        doc = _load_json(data, self.path) if data.lstrip(_BLANK).startswith(b"{") else _load_yaml(data, self.path)
        if not isinstance(doc, dict):
            raise NotARecording(self.path, "not a recording, HAR file or vcrpy cassette (the JSON is not an object)")
        return doc


def _load_json(data: bytes, path: str) -> object:
    try:
        return json.loads(data)
    except RecursionError:
        raise RecordingError(path, "JSON nested too deeply to read") from None
    except (ValueError, UnicodeDecodeError):
        first = data.split(b"\n", 1)[0]
        try:
            json.loads(first)
        except (ValueError, UnicodeDecodeError):
            raise NotARecording(path, "not valid JSON") from None
        raise NotARecording(path, "JSON Lines whose first line is not a claude-doctor recording meta line") from None


def _load_yaml(data: bytes, path: str) -> object:
    import yaml  # only cassettes need it

    try:
        return yaml.load(data, Loader=_cassette_loader())  # a SafeLoader: no object is built
    except RecursionError:
        raise RecordingError(path, "YAML nested too deeply to read") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        if isinstance(exc, yaml.constructor.ConstructorError) and exc.problem:
            raise RecordingError(path, f"cannot read the YAML{where}: {exc.problem}") from None  # a tag
        raise RecordingError(path, f"not valid YAML{where}") from None


@functools.cache
def _cassette_loader() -> type:
    """``yaml.SafeLoader`` that also reads the ``!!python/…`` tags older vcrpy cassettes carry as the
    plain string they wrap: aiohttp's header names (``!!python/object/apply:multidict._multidict.istr
    [Accept]``) and Python 2's ``!!python/unicode``. Nothing is imported or called; any other Python
    tag is an error."""
    import yaml

    def plain_value(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
        if suffix in ("unicode", "str") and isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if suffix.startswith("object/apply:multidict.") and isinstance(node, yaml.SequenceNode):
            items = loader.construct_sequence(node, deep=True)
            if len(items) == 1 and isinstance(items[0], str):
                return items[0]
        raise yaml.constructor.ConstructorError(None, None, f"unsupported tag !!python/{suffix}", node.start_mark)

    class CassetteLoader(yaml.SafeLoader):
        pass

    CassetteLoader.add_multi_constructor("tag:yaml.org,2002:python/", plain_value)
    return CassetteLoader
