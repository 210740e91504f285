"""Text from data on its way out (captions, ids, paths, messages quoting them): Vitrine's SafeText
rule (Sources/SafeText/SafeText.swift), so no byte of data reaches a terminal as a control sequence.

Unsafe: C0 controls, DEL, C1 controls (U+0080-009F), U+2028/2029, the bidirectional controls
(U+061C, U+200E, U+200F, U+202A-202E, U+2066-2069), U+FFF9-FFFB and the tag characters
U+E0000-E007F.
"""

from __future__ import annotations

import json
import math

_BIDI = {0x061C, 0x200E, 0x200F, 0x2028, 0x2029}


def is_unsafe(ch: str) -> bool:
    v = ord(ch)
    if v < 0x20 or 0x7F <= v <= 0x9F:
        return True
    if v < 0x61C:
        return False
    return (v in _BIDI or 0x202A <= v <= 0x202E or 0x2066 <= v <= 0x2069 or 0xFFF9 <= v <= 0xFFFB
            or 0xE0000 <= v <= 0xE007F)


def _json_escape(ch: str) -> str:
    v = ord(ch)
    if v > 0xFFFF:
        v -= 0x10000
        return "\\u%04x\\u%04x" % (0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF))
    return "\\u%04x" % v


_TERMINAL_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_JSON_NAMED = {'"': '\\"', "\\": "\\\\", **_TERMINAL_NAMED, "\b": "\\b", "\f": "\\f"}


def _escaped(text: str, named: dict, unsafe) -> str:
    """Each character of `text` as `named` spells it, else `unsafe(c)` when it is unsafe, else itself."""
    return "".join(named[c] if c in named else unsafe(c) if is_unsafe(c) else c for c in text)


def terminal(text: str) -> str:
    """`text` for a terminal line: \\n, \\r, \\t as such, other unsafe characters as \\u{XX}."""
    if not any(is_unsafe(c) for c in text):
        return text
    return _escaped(text, _TERMINAL_NAMED, lambda c: "\\u{%x}" % ord(c))


def quoted(text: str, limit: int = 40) -> str:
    """'text' escaped as by `terminal`, cut to `limit` characters with an ellipsis."""
    body = text if len(text) <= limit else text[:limit]
    return "'" + terminal(body) + ("…" if len(text) > limit else "") + "'"


def json_quoted(text: str) -> str:
    """A JSON string literal as SafeText.jsonQuoted writes it (the safetensors header's strings)."""
    return '"' + _escaped(text, _JSON_NAMED, _json_escape) + '"'


def escaping_controls_in_json(text: str) -> str:
    """JSON text with every unsafe character (inside strings) escaped as \\uXXXX."""
    if not any(is_unsafe(c) and c not in "\n\r\t" for c in text):
        return text
    return "".join(_json_escape(c) if (is_unsafe(c) and c not in "\n\r\t") else c for c in text)


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def json_line(obj) -> str:
    """One line of JSON, keys sorted, no spaces, non-finite numbers as "nan"/"inf"/"-inf",
    unsafe characters escaped: what `vitrine train --json` prints."""
    text = json.dumps(_finite(obj), ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return escaping_controls_in_json(text)
