"""Text that is safe to print into a terminal or a CI log: one line, no control characters.

jitpim echoes what it was given (a scope, a profile name, a ticket, a field of a stored record) in errors,
progress lines and annotations. A value holding a line break could start a new log line of its own, and a
GitHub Actions runner reads a line starting with `::` as a workflow command (`::warning::`, `::add-mask::`,
`::stop-commands::`); an ESC sequence can rewrite what a terminal shows. `neutralise` writes every such
character as a visible escape (`\\n`, `\\x1b`, `\\u202e`), so the value still reads as itself but can
neither break the line nor hide anything, and `control_characters` lets validators refuse them outright.

This module imports nothing from jitpim: every layer, down to `jitpim.errors`, may use it.
"""

from __future__ import annotations

import unicodedata

__all__ = ["control_characters", "neutralise"]

# Unicode categories that break a line or act on the display: C0/C1 controls and DEL (Cc), the line and
# paragraph separators (Zl, Zp).
_BREAKING = frozenset({"Cc", "Zl", "Zp"})
# Format characters that reorder or hide text (bidi embeddings, overrides and isolates: "Trojan Source").
_BIDI = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C))
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _is_control(char: str) -> bool:
    return char in _BIDI or unicodedata.category(char) in _BREAKING


def control_characters(text: str) -> list[str]:
    """The distinct control characters in `text`, each written as its escape (`\\n`, `\\x1b`), in order."""
    found: list[str] = []
    for char in text:
        if _is_control(char):
            escaped = _escape(char)
            if escaped not in found:
                found.append(escaped)
    return found


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def neutralise(text: str) -> str:
    """`text` with every control character written as a visible escape, and a leading `::` (which a
    GitHub runner would read as a workflow command when the value starts a line) broken up as `\\x3a:`.

    Printable text, including non-ASCII letters, passes unchanged; a backslash is left alone, so the result is
    for reading, not for decoding back.
    """
    if text.isprintable() and not text.lstrip().startswith("::"):
        return text  # the common case, without building a new string
    out = "".join(_escape(char) if _is_control(char) else char for char in text)
    stripped = out.lstrip()
    if stripped.startswith("::"):
        indent = len(out) - len(stripped)
        out = out[:indent] + "\\x3a" + stripped[1:]
    return out
