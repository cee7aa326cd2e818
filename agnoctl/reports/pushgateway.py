"""How a push reaches a Prometheus Pushgateway (``--metrics-push``): prometheus-client's
``handler``, sending the push as its own default does, but for redirects.

urllib follows a 301, 302 or 303 as a GET without the body, which a gateway answers 200: a
moved gateway (an ``http://`` one sent to ``https://``, a renamed host) lost every push of the
run without a word. Like a provider's, a webhook's or an OTLP collector's, a redirect is not
followed: the push fails, naming where the gateway sent it. Imported by a push only.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from email.message import Message
from typing import IO


def send(
    url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
) -> Callable[[], None]:
    """What prometheus-client calls to send one push; raises an OSError when it fails (urllib's
    HTTPError for an answer other than 2xx, which is one)."""

    def push() -> None:
        request = urllib.request.Request(url, data=data, method=method, headers=dict(headers))
        urllib.request.build_opener(_RefuseRedirects).open(request, timeout=timeout).close()

    return push


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        raise OSError(
            f"it answered HTTP {code}, a redirect to {newurl!r} (not followed: give the "
            "Pushgateway's own URL)"
        )
