"""Stories: what the patterns found, as typed sentences people read (see `semsync.stories.tell`).

    rows = tell(StoryJob(...))                       # rules, lifecycle, salience, grouping, sentences
    await replace_stories(session, ..., rows=rows)   # the span's stories, idempotently
    await read_stories(session, ...)                 # newest and most salient first
"""

from __future__ import annotations

from semsync.stories.model import STORY_VERSION, Genre, Polarity, Story, StoryStatus


def current_versions() -> dict[str, str]:
    """pattern → its current version, for the patterns stories are told from."""
    from semsync.patterns import get_pattern
    from semsync.stories.rules import RULES

    return {name: get_pattern(name).version for name in RULES}


__all__ = ["STORY_VERSION", "Genre", "Polarity", "Story", "StoryStatus", "current_versions"]
