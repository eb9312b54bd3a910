"""The signature of a webhook delivery, and how a receiver checks it.

Every webhook request carries two headers besides ``Idempotency-Key``:

- ``X-Semsync-Timestamp``: the send time, in Unix seconds;
- ``X-Semsync-Signature``: ``v1=<hex HMAC-SHA256(secret, f"{timestamp}." + body)>``, over the raw
  body bytes exactly as received (compact JSON, keys sorted, UTF-8).

Signing the timestamp with the body lets a receiver refuse a replayed request: `verify` refuses a
timestamp more than `tolerance_s` (five minutes) away from its own clock. A retry of the same delivery
is signed anew (a new timestamp) but keeps its ``Idempotency-Key``, by which the receiver drops the
one duplicate a crash between send and record can cause.

A receiver, with this module or its dozen lines copied::

    from semsync.notify.signing import verify

    def handle(request):  # any framework: the headers and the raw body bytes
        body = request.body  # before any JSON parsing: the signature is over these bytes
        if not verify(
            SECRET,
            request.headers.get("X-Semsync-Timestamp", ""),
            request.headers.get("X-Semsync-Signature", ""),
            body,
        ):
            return 401
        key = request.headers["Idempotency-Key"]
        if already_seen(key):  # the one duplicate a crash between send and record can cause
            return 200
        process(json.loads(body))
        return 200
"""

from __future__ import annotations

import hashlib
import hmac
import time

SCHEME = "v1"
TIMESTAMP_HEADER = "X-Semsync-Timestamp"
SIGNATURE_HEADER = "X-Semsync-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Semsync-Signature`` value of `body` sent at `timestamp`: ``v1=<hex>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def verify(
    secret: str,
    timestamp_header: str,
    signature_header: str,
    body: bytes,
    *,
    tolerance_s: int = 300,
    now: float | None = None,
) -> bool:
    """Whether `body` was signed with `secret` at a time within `tolerance_s` of `now`.

    The headers are taken as received; a malformed one is a refusal, never an exception. The
    signature header may carry several comma-separated ``v1=…`` values (a receiver rotating its
    secret checks each); any match is enough. Comparison is constant-time.
    """
    try:
        timestamp = int(timestamp_header.strip())
    except (AttributeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body)
    candidates = [part.strip() for part in (signature_header or "").split(",")]
    # every candidate compared, so the time taken does not tell which one matched
    matches = [hmac.compare_digest(expected.encode(), c.encode()) for c in candidates if c.startswith(f"{SCHEME}=")]
    return any(matches)
