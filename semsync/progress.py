"""Progress reporting from long domain calls, without knowing who listens.

A domain function that runs long (a paged fetch, a window write, a pattern range) takes an optional
`progress` callback and calls it with a short human-readable line at each step. The Temporal
activities pass one that heartbeats (so a killed worker is noticed and the step shows in the Web
UI); the CLI passes none. semsync itself never imports Temporal.
"""

from __future__ import annotations

from collections.abc import Callable

#: called with one short line, e.g. ``"page 3: 30000 rows"``
ProgressCallback = Callable[[str], None]


def no_progress(_: str) -> None:
    """The default callback: nobody listens."""


def report(progress: ProgressCallback | None, message: str) -> None:
    """Call `progress` with `message` if there is one."""
    if progress is not None:
        progress(message)
