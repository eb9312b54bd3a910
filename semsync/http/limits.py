"""HTTP answers with bounds: a byte limit on the body and a deadline on the whole request.

httpx's timeout applies to each read, so a server that trickles a byte every few seconds, or streams
an endless body, holds a worker forever and grows its memory. `bounded_request` reads the body as a
stream, refuses it past `max_bytes` (`ResponseTooLargeError`, counted after decompression: what
the worker holds), and gives up on the whole request — connect, headers and body — after
`deadline_s` (`RequestDeadlineError`). The answer comes back as an ordinary, fully read
`httpx.Response`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

#: headers that describe the body as sent, not as read (decompressed) here
_BODY_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


class ResponseTooLargeError(Exception):
    """The answer's body passed the byte limit."""


class RequestDeadlineError(TimeoutError):
    """The whole request took longer than its deadline."""


async def bounded_request(client: httpx.AsyncClient, method: str, url: str, *, max_bytes: int, deadline_s: float,
                          **kwargs: Any) -> httpx.Response:
    """`client.request(method, url, **kwargs)`, its body at most `max_bytes` and all of it within `deadline_s`."""
    try:
        async with asyncio.timeout(deadline_s):
            async with client.stream(method, url, **kwargs) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise ResponseTooLargeError(
                            f"the answer is larger than {_size(max_bytes)} (still reading at {_size(len(body))})")
    except TimeoutError as exc:
        if isinstance(exc, httpx.TimeoutException):
            raise
        raise RequestDeadlineError(f"no complete answer within {deadline_s:g}s") from None
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _BODY_HEADERS]
    return httpx.Response(response.status_code, headers=headers, content=bytes(body), request=response.request)


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB"
