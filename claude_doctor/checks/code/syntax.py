"""Syntax newer than the running interpreter: a file that uses ``def f[T]``, ``type X = …``,
``t"…"`` or ``except A, B:`` is valid Python for a newer release, not an unreadable file. It is
recognised on tokens, and only claimed when the file parses once those constructs are rewritten in
older syntax, so a real syntax error is never passed off as a newer feature."""

from __future__ import annotations

import ast
import itertools
import sys
import tokenize
from dataclasses import dataclass

_T_PREFIXES = frozenset({"t", "tr", "rt"})


@dataclass(frozen=True)
class Feature:
    """A construct of a newer Python, where it is, and the same text in older syntax."""

    version: tuple[int, int]
    name: str
    start: tuple[int, int]
    end: tuple[int, int]
    older: str


def newer_syntax(text: str, flags: int = 0) -> str | None:
    """Why ``text``, which does not parse here, is still valid code, e.g. ``needs Python 3.12+ (PEP
    695 type parameters); checked with 3.11``; ``None`` when it does not parse for another reason."""
    lines = text.splitlines(keepends=True)
    features = [f for f in _features(lines) if f.version > sys.version_info[:2]]
    if not features or not _parses(_rewrite(lines, features), flags):
        return None
    version = max(f.version for f in features)
    names = sorted({f.name for f in features if f.version == version})
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    return f"needs Python {version[0]}.{version[1]}+ ({', '.join(names)}); checked with {here}"


def _features(lines: list[str]) -> list[Feature]:
    found: list[Feature] = []
    for tokens in _statements(lines):
        found += _type_parameters(tokens) + _type_alias(tokens) + _bare_except_tuple(tokens)
        found += _template_strings(tokens)
    return found


def logical_lines(lines: list[str]) -> list[list[tokenize.TokenInfo]]:
    """Tokens grouped by logical line, as far as the text tokenizes (an unterminated string or
    bracket ends the list there, as it does for IPython)."""
    grouped: list[list[tokenize.TokenInfo]] = [[]]
    depth = 0
    try:
        for token in tokenize.generate_tokens(iter(lines).__next__):
            grouped[-1].append(token)
            if token.type == tokenize.NEWLINE or (token.type == tokenize.NL and depth <= 0):
                grouped.append([])
            elif token.type == tokenize.OP and token.string in "([{":
                depth += 1
            elif token.type == tokenize.OP and token.string in ")]}" and depth > 0:
                depth -= 1
    except (tokenize.TokenError, SyntaxError):
        pass
    return [tokens for tokens in grouped if tokens]


def _statements(lines: list[str]) -> list[list[tokenize.TokenInfo]]:
    """Tokens by logical line, without the layout tokens."""
    layout = (tokenize.INDENT, tokenize.DEDENT, tokenize.NEWLINE, tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER)
    statements = ([token for token in tokens if token.type not in layout] for tokens in logical_lines(lines))
    return [tokens for tokens in statements if tokens]


def _type_parameters(tokens: list[tokenize.TokenInfo]) -> list[Feature]:
    """``def f[T](…)`` / ``class C[T]:`` (3.12, PEP 695; a default ``[T = int]`` is 3.13, PEP 696)."""
    found = []
    for index, token in enumerate(tokens[:-2]):
        named = token.string in ("def", "class") and tokens[index + 1].type == tokenize.NAME
        if named and tokens[index + 2].string == "[":
            found.append(_bracket_feature(tokens, index + 2, ""))
    return found


def _type_alias(tokens: list[tokenize.TokenInfo]) -> list[Feature]:
    """``type X = …`` and ``type X[T] = …`` (3.12, PEP 695), rewritten ``X = …``."""
    if len(tokens) < 3 or tokens[0].string != "type" or tokens[1].type != tokenize.NAME:
        return []
    if tokens[2].string not in ("=", "["):
        return []
    found = [Feature((3, 12), "PEP 695 type aliases", tokens[0].start, tokens[1].start, "")]
    if tokens[2].string == "[":
        found.append(_bracket_feature(tokens, 2, ""))
    return found


def _bracket_feature(tokens: list[tokenize.TokenInfo], open_index: int, older: str) -> Feature:
    """The type parameter list opening at ``tokens[open_index]``, up to its closing bracket."""
    depth = 0
    has_default = False
    close = tokens[-1]
    for token in tokens[open_index:]:
        if token.string in "([{" and token.type == tokenize.OP:
            depth += 1
        elif token.string in ")]}" and token.type == tokenize.OP:
            depth -= 1
            if depth == 0:
                close = token
                break
        elif token.string == "=" and depth == 1:
            has_default = True
    start = tokens[open_index].start
    if has_default:
        return Feature((3, 13), "PEP 696 type parameter defaults", start, close.end, older)
    return Feature((3, 12), "PEP 695 type parameters", start, close.end, older)


def _bare_except_tuple(tokens: list[tokenize.TokenInfo]) -> list[Feature]:
    """``except A, B:`` without brackets (3.14, PEP 758), rewritten ``except (A, B):``."""
    if not tokens or tokens[0].string != "except":
        return []
    first = 2 if len(tokens) > 1 and tokens[1].string == "*" else 1
    depth = 0
    comma = False
    for index in range(first, len(tokens)):
        token = tokens[index]
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
        elif depth == 0 and token.string == ",":
            comma = True
        elif depth == 0 and token.string in (":", "as"):
            if not comma or token.string == "as":
                return []
            end = tokens[index - 1].end
            return [Feature((3, 14), "PEP 758 except without brackets", tokens[first].start, end, "(\0)")]
    return []


def _template_strings(tokens: list[tokenize.TokenInfo]) -> list[Feature]:
    """``t"…"`` (3.14, PEP 750): read here as a name right before a string; rewritten as an f-string."""
    found = []
    for name, string in itertools.pairwise(tokens):
        prefix = name.type == tokenize.NAME and name.string.lower() in _T_PREFIXES
        if prefix and string.type == tokenize.STRING and name.end == string.start:
            older = name.string.lower().replace("t", "f")
            found.append(Feature((3, 14), "PEP 750 template strings", name.start, name.end, older))
    return found


def _rewrite(lines: list[str], features: list[Feature]) -> str:
    """The text with each feature replaced by its older spelling (``\\0`` in it: the original text)."""
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    text = "".join(lines)
    spans = sorted((starts[f.start[0] - 1] + f.start[1], starts[f.end[0] - 1] + f.end[1], f.older) for f in features)
    for start, end, older in reversed(spans):
        original = text[start:end]
        kept = "\n" * original.count("\n")  # the same lines, for the parser's line numbers
        replacement = older.replace("\0", original) if "\0" in older else older + kept
        text = text[:start] + replacement + text[end:]
    return text


def _parses(text: str, flags: int) -> bool:
    try:
        compile(text, "<newer syntax>", "exec", flags | ast.PyCF_ONLY_AST)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True
