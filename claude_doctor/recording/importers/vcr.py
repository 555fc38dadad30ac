"""vcrpy (and pytest-recording) cassettes, YAML or JSON: ``interactions``, each a whole request and
response, the body as vcrpy writes it or as a ``parsed_body``, perhaps compressed, perhaps a Bedrock
event stream (see :mod:`.aws_eventstream`); and one interaction alone, as dd-trace-py's test agent
keeps it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from ...errors import RecordingError
from ..encoding import BodyDecoder, codings
from ..model import Headers, Meta, Record, Request, Response, Source
from .aws_eventstream import as_event_stream
from .common import as_dict, body_records, guarded, json_or_none, status_code
from .peek import Peek


def sniff(peek: Peek) -> bool:
    return peek.document is not None and "interactions" in peek.document


def read(peek: Peek) -> Source:
    return import_vcr(peek.document or {}, peek.path)


def sniff_exchange(peek: Peek) -> bool:
    """One exchange alone, as ddapm-test-agent (dd-trace-py's) stores it: ``request`` and ``response``."""
    doc = peek.document or {}
    return isinstance(doc.get("request"), dict) and isinstance(doc.get("response"), dict)


def read_exchange(peek: Peek) -> Source:
    return import_vcr({"interactions": [peek.document]}, peek.path)


def import_vcr(doc: dict, path: str) -> Source:
    """A vcrpy (or pytest-recording) cassette. An interaction whose response cannot be read is left
    out with a warning naming it: it is never checked as an empty stream."""
    interactions = doc.get("interactions")
    if not isinstance(interactions, list):
        raise RecordingError(path, "cassette has no interactions list")
    warnings: list[str] = []

    def records() -> Iterator[Record]:
        for i, interaction in enumerate(interactions):
            yield from _vcr_interaction(i, interaction, path, warnings)

    return Source(path, "vcr", Meta(source="import:vcr"), guarded(records(), path, "vcrpy cassette"), warnings)


#: a header value a recorder masked (langchain's cassettes say ``**REDACTED**`` for every header)
_MASKED = re.compile(r"^\W*(?:redacted|filtered|scrubbed)\W*$", re.IGNORECASE)


def _vcr_headers(obj: Any) -> Headers:
    """A cassette's dict of lists as pairs. A masked value says nothing about the header, so the header
    is left out, as if not recorded: a masked content-type must not read as a gateway's answer."""
    if not isinstance(obj, dict):
        return []
    pairs: Headers = []
    for name, values in obj.items():
        for value in values if isinstance(values, list) else [values]:
            if not _MASKED.match(str(value)):
                pairs.append((str(name), str(value)))
    return pairs


def _as_bytes(value: Any) -> bytes | None:
    """A cassette body as bytes: a string, ``!!binary`` bytes, or vcrpy's ``{string: …}``; ``None``
    when the body is of no known shape."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, dict) and "string" in value:
        return _as_bytes(value["string"])
    return None


def _vcr_body(side: dict) -> bytes | None:
    """The body of a cassette's request or response: ``body`` as vcrpy writes it, or ``parsed_body``
    (a JSON body stored as a YAML object, as pydantic-ai's cassettes keep it); ``None`` when there is
    none that can be read."""
    if "parsed_body" in side:
        return json.dumps(side["parsed_body"], ensure_ascii=False).encode("utf-8")
    body = side.get("body")
    return b"" if body is None and "body" in side else _as_bytes(body)


def _decompress(data: bytes, headers: Headers) -> bytes:
    """Undo each ``Content-Encoding``, last applied first (the recorders' own decoder). A recorder that
    decoded the body but kept the header (vcrpy's ``decode_compressed_response``, test agents) or masked
    its value (langchain writes ``**REDACTED**`` for every header) leaves text that does not decompress:
    that text is the body. Raises ``ValueError`` for a binary body that cannot be decoded."""
    value = ",".join(v for k, v in headers if k.lower() == "content-encoding")
    if not codings(value) and data[:2] == b"\x1f\x8b":
        value = "gzip"  # a gzip body whose header a recorder dropped
    decoder = BodyDecoder(value)
    body = decoder.whole(data)
    if decoder.problem is None:
        return body
    if _is_text(data):
        return data
    raise ValueError(f"its body has {decoder.problem}")


def _is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _vcr_interaction(i: int, interaction: Any, path: str, warnings: list[str]) -> Iterator[Record]:
    problem = _vcr_problem(interaction)
    if problem is None:
        resp = interaction["response"]
        headers = _vcr_headers(resp.get("headers"))
        try:
            body, headers = as_event_stream(_decompress(_vcr_body(resp) or b"", headers), headers)
        except ValueError as exc:
            problem = str(exc)
    if problem is not None:
        warnings.append(f"{path}: exchange {i} (interaction {i + 1}) was not checked: {problem}")
        return
    req = as_dict(interaction.get("request"))
    req_body = _vcr_body(req) or b""
    req_json = json_or_none(req_body) if req_body else None
    yield Request(
        i,
        None,
        str(req.get("method") or "POST"),
        str(req.get("uri") or req.get("url") or ""),
        _vcr_headers(req.get("headers")),
        json=req_json,
        body=req_body if req_body and req_json is None else None,
    )
    status = as_dict(resp.get("status"))
    yield Response(i, None, status_code(status.get("code")), status.get("message"), None, headers)
    yield from body_records(i, body)


def _vcr_problem(interaction: Any) -> str | None:
    """Why an interaction holds no response that can be checked, or ``None``."""
    if not isinstance(interaction, dict):
        return f"it is not a mapping (got {type(interaction).__name__})"
    resp = interaction.get("response")
    if not isinstance(resp, dict):
        return "it has no response"
    if _vcr_body(resp) is None:
        return "its response has neither a body string nor a parsed_body"
    return None
