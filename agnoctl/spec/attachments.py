"""What an entry of `attachments:` means: a URL, a glob or a path, and the file types sent.

An entry is a template (rendered in the step's context); what it renders to is read as:

- an ``http://`` or ``https://`` URL, sent for the provider to fetch (``scheme://`` of any
  other scheme is refused: ``file://`` would name a local file past every check);
- a glob when it holds ``*``, ``?`` or ``[`` (expanded when the step runs, sorted);
- otherwise a path. Relative paths resolve against the directory agnoctl runs in, as every
  run-time path does (SPEC "Values").

The type comes from the extension (of the path, or of the URL's path): images png, jpeg/jpg,
gif, webp, and pdf documents. At run time the first bytes must agree (``sniff``), so a file
renamed to ``.png`` is refused before a provider answers it with a 400.
"""

from __future__ import annotations

import itertools
import re
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import urlsplit

MEDIA_TYPES: dict[str, str] = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
}
IMAGE_TYPES = frozenset(t for t in MEDIA_TYPES.values() if t.startswith("image/"))
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
"""An attachment's largest size unless its agent says otherwise: 20 MiB, the smallest of the
providers' own per-file limits (OpenAI's images); a bigger file is refused before it is sent."""
MAX_ATTACHMENTS = 100
"""Files one task may attach: a glob that matches more is a mistake (Anthropic's own cap per
request is 100 images)."""

SNIFF_BYTES = 1024
_ALL = frozenset(MEDIA_TYPES.values())
_IMAGES_AND_PDF = IMAGE_TYPES | {"application/pdf"}
# What each protocol takes (its own docs): protocol -> (types sent inline, types sent as a
# URL the provider fetches). OpenAI Chat Completions takes images and PDFs inline, images
# only by URL; Anthropic Messages both, both ways; Ollama's /api/chat images inline only.
# Other protocols (mock, function) take anything.
_ACCEPTED: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "openai": (_IMAGES_AND_PDF, IMAGE_TYPES),
    "anthropic": (_IMAGES_AND_PDF, _IMAGES_AND_PDF),
    "ollama": (IMAGE_TYPES, frozenset()),
}

Kind = Literal["url", "glob", "path"]
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
GLOB_CHARS = frozenset("*?[")
"""What makes an entry a glob."""
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


def kind_of(entry: str) -> Kind:
    """What a rendered entry names: a URL, a glob or a path."""
    if _SCHEME.match(entry):
        return "url"
    return "glob" if GLOB_CHARS & set(entry) else "path"


def climbs_after_wildcard(pattern: str) -> bool:
    """Whether a glob holds a `..` after its first wildcard (`*/../../**/*.png`): its walk
    can leave any folder it starts in, so it is refused before it walks."""
    wild = itertools.dropwhile(lambda part: not (GLOB_CHARS & set(part)), pattern.split("/"))
    return ".." in wild


def is_templated(entry: str) -> bool:
    """Whether an entry is known only when its step runs (it holds a template)."""
    return "{{" in entry or "{%" in entry


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be attached, or None."""
    scheme = url.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        return f"only http and https URLs can be attached, not {scheme}://"
    control = next((c for c in url if ord(c) < 0x20 or ord(c) == 0x7F), None)
    if control is not None:
        # A URL holds none raw (RFC 3986 percent-encodes them); urlsplit drops a tab or a
        # newline unseen, and a provider would be asked to fetch a URL that is not the one read.
        return f"a URL may not contain control characters ({control!r}): percent-encode it"
    try:
        host = urlsplit(url).hostname
    except ValueError as exc:  # `http://[::1/x.png`: a bracket left open
        return f"the URL cannot be read ({exc})"
    return None if host else "the URL names no host"


def media_type(name: str) -> str | None:
    """The media type of a path or URL by its extension, or None when it is not supported."""
    try:
        path = urlsplit(name).path if kind_of(name) == "url" else name
    except ValueError:  # a URL that cannot be read has no type (url_problem says why)
        return None
    return MEDIA_TYPES.get(PurePosixPath(path).suffix.lower())


def refused_by(protocol: str, media: str, *, url: bool) -> str | None:
    """Why a provider of ``protocol`` cannot take a file of type ``media`` (given as a URL, or
    inline), or None."""
    inline, by_url = _ACCEPTED.get(protocol, (_ALL, _ALL))
    kind = "PDFs" if media == "application/pdf" else media
    if media in (by_url if url else inline):
        return None
    if url and media in inline:
        return f"{protocol} providers cannot fetch {kind} from a URL: attach a local file"
    if protocol == "ollama":
        return "ollama providers take images only (png, jpeg, gif, webp), not PDFs"
    return f"{protocol} providers do not take {kind} attachments"


def supported_extensions() -> str:
    """The extensions that can be attached, for messages."""
    return ", ".join(ext.lstrip(".") for ext in MEDIA_TYPES)


def sniff(head: bytes, media: str) -> bool:
    """Whether a file's first bytes (``SNIFF_BYTES`` of them) are those of ``media``."""
    if media == "image/webp":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    if media == "application/pdf":  # readers accept a header within the first kilobyte
        return b"%PDF-" in head[:1024]
    return head.startswith(_MAGIC[media])


__all__ = [
    "DEFAULT_MAX_BYTES",
    "GLOB_CHARS",
    "IMAGE_TYPES",
    "MAX_ATTACHMENTS",
    "MEDIA_TYPES",
    "SNIFF_BYTES",
    "climbs_after_wildcard",
    "is_templated",
    "kind_of",
    "media_type",
    "refused_by",
    "sniff",
    "supported_extensions",
    "url_problem",
]
