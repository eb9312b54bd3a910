"""What an HTTP answer's status means for the caller: done, worth trying again, or final.

One classification for every HTTP service semsync calls (the catalog services, Cube, the Slack and
webhook receivers), so that they agree on what a retry can fix:

- `SUCCESS`: 2xx.
- `REDIRECT`: 3xx. semsync follows no redirects; what a caller makes of one is its own (a signed
  webhook body goes to the host it was configured for, or nowhere).
- `TRANSIENT`: the receiver is down, slow, rate-limiting or not ready yet: 5xx, 408 Request Timeout,
  425 Too Early, 429 Too Many Requests. Trying again later may succeed.
- `FINAL`: every other 4xx (and anything stranger): the request itself is refused, and only a change
  of configuration or input fixes it.
"""

from __future__ import annotations

from enum import Enum

#: 4xx statuses that say "not now" rather than "no"
TRANSIENT_4XX = frozenset({408, 425, 429})


class StatusClass(Enum):
    SUCCESS = "success"
    REDIRECT = "redirect"
    TRANSIENT = "transient"
    FINAL = "final"


def classify_status(status: int) -> StatusClass:
    """The class of HTTP status `status` (see the module docstring)."""
    if 200 <= status < 300:
        return StatusClass.SUCCESS
    if 300 <= status < 400:
        return StatusClass.REDIRECT
    if status >= 500 or status in TRANSIENT_4XX:
        return StatusClass.TRANSIENT
    return StatusClass.FINAL


def is_transient(status: int) -> bool:
    """True when trying the request again later may succeed (5xx, 408, 425, 429)."""
    return classify_status(status) is StatusClass.TRANSIENT
