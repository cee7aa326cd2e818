"""Attachments on the wire: which protocol takes which file, and the base64 forms they travel in.

What each protocol accepts (its own docs): OpenAI Chat Completions takes images (an
``image_url`` part: a ``data:`` URL or a URL) and PDFs (a ``file`` part with ``file_data``;
Chat Completions takes no file URL); Anthropic Messages takes images and PDFs, as base64 or as
a URL it fetches (``image`` and ``document`` blocks); Ollama's ``/api/chat`` takes images only,
as base64 (``images`` on the message). The mock and function providers take anything.

The engine asks ``refusal`` before a call, so an attachment a provider cannot take fails the
step without a request; the wire functions ask it again (``check``) for callers that build
requests themselves.
"""

from __future__ import annotations

from collections.abc import Iterable

from agnoctl.errors import BadRequest
from agnoctl.providers.base import Attachment
from agnoctl.spec.attachments import refused_by


def refusal(protocol: str, attachment: Attachment) -> str | None:
    """Why a provider of ``protocol`` cannot take ``attachment``, or None (the table is the
    language's, ``agnoctl.spec.attachments``, so that validate can warn of it too)."""
    return refused_by(protocol, attachment.media_type, url=attachment.url is not None)


def check(protocol: str, attachments: Iterable[Attachment], model: str) -> None:
    """Raise ``BadRequest`` (permanent) for the first attachment ``protocol`` cannot take."""
    for attachment in attachments:
        problem = refusal(protocol, attachment)
        if problem is not None:
            raise BadRequest(f"{attachment.name}: {problem}", provider=protocol, model=model)


def data_url(attachment: Attachment) -> str:
    """The file as an RFC 2397 ``data:`` URL (OpenAI's inline images and files)."""
    return f"data:{attachment.media_type};base64,{attachment.data_base64}"


def file_name(attachment: Attachment) -> str:
    """The last part of the attachment's name: what a provider is told the file is called."""
    return attachment.name.rstrip("/").rsplit("/", 1)[-1] or attachment.name


def described(media_type: str, size: int) -> str:
    """The line that stands for a file a message cannot carry (an image in an OpenAI tool
    message, an MCP server's audio): ``[image: image/png, 1234 bytes]``."""
    return f"[{media_type.partition('/')[0]}: {media_type}, {size} bytes]"
