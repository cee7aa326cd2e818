"""Text safe to print: control characters shown, never obeyed.

What a step prints, a model replies, a tool returns or a workflow file holds reaches the
terminal, CI logs and GitHub annotations. A terminal obeys escape sequences in it: a step's
stderr ``ESC]0;title BEL ESC[32mPASSED`` would retitle the window and paint a failure green,
and a CI log could be spoofed. ``printable`` replaces every control character with its visible
escape (``\\x1b``), so the reader sees what was there and the terminal sees plain text.

Kept: newline and tab, which the places that print keep or flatten themselves (a one-line
context flattens whitespace; GitHub annotations encode newlines). Replaced: the other C0
controls and DEL, the C1 controls (``\\x9b`` is an escape on its own in some terminals), and
the bidirectional overrides and isolates, which reorder what is shown ("Trojan Source").
"""

from __future__ import annotations

_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
_CONTROLS = [c for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if chr(c) not in "\n\t"]
_VISIBLE = {c: f"\\x{c:02x}" for c in _CONTROLS} | {c: f"\\u{c:04x}" for c in _BIDI}


def printable(text: str) -> str:
    """``text`` with every control character but newline and tab replaced by its escape."""
    return text.translate(_VISIBLE)


__all__ = ["printable"]
