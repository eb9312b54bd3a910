"""Strict parsing of partition keys: ``2025-07-01`` (day), ``2025-W27`` (week), ``2025-07`` (month).

Only the exact, zero-padded formats are accepted: no whitespace, no extra characters, ASCII digits.
A malformed key raises `PartitionKeyError` whose ``part`` names the bad piece (``"format"``,
``"year"``, ``"month"``, ``"day"``, ``"week number"``, ``"weekday"``) and whose ``value`` is the key.

Week keys are ``%Y-W%W`` of the week's Monday (see `semsync.partitions.grains`):

- ``YYYY-W00`` is rejected: ``%W`` = 00 only labels the days before the year's first Monday, which
  belong to the previous year's last week, so it names no week.
- A week number past the year's last Monday (``2025-W53``, ``2025-W60``) is rejected.
- A Monday's date (``2025-07-07``) is accepted and normalised to its week (``2025-W27``); any other
  date is an error that names its weekday.

So every accepted week key round-trips and names exactly one week.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from semsync.errors import PartitionKeyError
from semsync.partitions.grains import Grain, Partition, as_grain, first_monday, weeks_in_year

# Loose shapes: they split a key into its pieces so that an error can name the bad piece.
_DAY_SHAPE = re.compile(r"(?P<year>[^-]*)-(?P<month>[^-]*)-(?P<day>[^-]*)")
_WEEK_SHAPE = re.compile(r"(?P<year>[^-]*)-W(?P<week>[^-]*)")
_MONTH_SHAPE = re.compile(r"(?P<year>[^-]*)-(?P<month>[^-]*)")

_FORMATS = {Grain.DAY: "YYYY-MM-DD", Grain.WEEK: "YYYY-Www or a Monday's YYYY-MM-DD", Grain.MONTH: "YYYY-MM"}


def parse_partition(grain: Grain | str, key: str) -> Partition:
    """The partition of `grain` named by `key`; raises `PartitionKeyError` if `key` is malformed."""
    grain = as_grain(grain)
    if not isinstance(key, str):
        raise PartitionKeyError(
            f"{grain} key must be a string, not {type(key).__name__}", part="format", value=key
        )
    if any(ch.isspace() for ch in key):
        raise PartitionKeyError(f"{grain} key {key!r} contains whitespace", part="format", value=key)
    if "|" in key:
        raise PartitionKeyError(
            f"{grain} key {key!r} contains '|': a time context key (partition|context) is not a key",
            part="format",
            value=key,
        )
    if grain is Grain.DAY:
        return Partition(Grain.DAY, _parse_date(grain, key))
    if grain is Grain.WEEK:
        return _parse_week(key)
    return _parse_month(key)


def _digits(grain: Grain, key: str, part: str, text: str, width: int) -> int:
    """`text` as an int if it is exactly `width` ASCII digits, else an error naming `part`."""
    if len(text) != width or not (text.isascii() and text.isdigit()):
        raise PartitionKeyError(
            f"{grain} key {key!r}: {part} {text!r} must be exactly {width} digits ({_FORMATS[grain]})",
            part=part,
            value=key,
        )
    return int(text)


def _shape_error(grain: Grain, key: str) -> PartitionKeyError:
    return PartitionKeyError(
        f"{grain} key {key!r} is not in the form {_FORMATS[grain]}", part="format", value=key
    )


def _year(grain: Grain, key: str, text: str) -> int:
    year = _digits(grain, key, "year", text, 4)
    if year < 1:
        raise PartitionKeyError(f"{grain} key {key!r}: year {text} does not exist", part="year", value=key)
    return year


def _month(grain: Grain, key: str, text: str) -> int:
    month = _digits(grain, key, "month", text, 2)
    if not 1 <= month <= 12:
        raise PartitionKeyError(
            f"{grain} key {key!r}: month {text} is not between 01 and 12", part="month", value=key
        )
    return month


def _parse_date(grain: Grain, key: str) -> date:
    shape = _DAY_SHAPE.fullmatch(key)
    if shape is None:
        raise _shape_error(grain, key)
    year = _year(grain, key, shape["year"])
    month = _month(grain, key, shape["month"])
    day = _digits(grain, key, "day", shape["day"], 2)
    days_in_month = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days_in_month:
        raise PartitionKeyError(
            f"{grain} key {key!r}: day {shape['day']} does not exist in "
            f"{calendar.month_name[month]} {year} (days 01..{days_in_month})",
            part="day",
            value=key,
        )
    return date(year, month, day)


def _parse_week(key: str) -> Partition:
    if _DAY_SHAPE.fullmatch(key):
        monday = _parse_date(Grain.WEEK, key)
        if monday.weekday() != 0:
            week_start = monday - timedelta(days=monday.weekday())
            raise PartitionKeyError(
                f"week key {key!r} is a {monday:%A}: a week is named by its Monday's date "
                f"(this one's is {week_start.isoformat()}) or its key "
                f"({Partition(Grain.WEEK, week_start).key})",
                part="weekday",
                value=key,
            )
        return Partition(Grain.WEEK, monday)

    shape = _WEEK_SHAPE.fullmatch(key)
    if shape is None:
        raise _shape_error(Grain.WEEK, key)
    year = _year(Grain.WEEK, key, shape["year"])
    week = _digits(Grain.WEEK, key, "week number", shape["week"], 2)
    if week == 0:
        monday = first_monday(year)
        owner = ""
        if year > 1:
            previous_week = Partition(Grain.WEEK, monday - timedelta(weeks=1))
            owner = f", which belong to the last week of {year - 1:04d} ({previous_week.key})"
        raise PartitionKeyError(
            f"week key {key!r}: week number 00 names no week: %W=00 only labels the days before "
            f"{year:04d}'s first Monday ({monday.isoformat()}){owner}",
            part="week number",
            value=key,
        )
    last_week = weeks_in_year(year)
    if week > last_week:
        raise PartitionKeyError(
            f"week key {key!r}: week number {week} is past the last week of {year} (W{last_week})",
            part="week number",
            value=key,
        )
    return Partition(Grain.WEEK, first_monday(year) + timedelta(weeks=week - 1))


def _parse_month(key: str) -> Partition:
    shape = _MONTH_SHAPE.fullmatch(key)
    if shape is None:
        raise _shape_error(Grain.MONTH, key)
    year = _year(Grain.MONTH, key, shape["year"])
    month = _month(Grain.MONTH, key, shape["month"])
    return Partition(Grain.MONTH, date(year, month, 1))
