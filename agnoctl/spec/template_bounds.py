"""What a template fails with, and the cap of what it may render.

Below both ``agnoctl.spec.templates`` (which renders, importing Jinja2 only on first use) and
``agnoctl.spec.sandbox`` (Jinja2's sandbox, which measures every value against the cap), so
neither imports the other to name them. ``templates`` re-exports both for its callers.
"""

from __future__ import annotations

from agnoctl.errors import AgnoctlError

MAX_RENDER_CHARS = 2_000_000
"""The longest text a render may produce, or any value a template builds on the way."""


class TemplateError(AgnoctlError):
    """A template or expression failed to compile or render."""

    def __init__(self, message: str, *, lineno: int | None = None, near: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.lineno = lineno  # 1-based line inside the template, when known
        self.near = near  # the text on that line the problem is at, when known


__all__ = ["MAX_RENDER_CHARS", "TemplateError"]
