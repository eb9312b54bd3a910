"""The row a time series is written from, as every source yields it and the window replace stores it."""

from __future__ import annotations

from datetime import date

#: (period start date, dimension slice or None for the base series, value)
SourceRow = tuple[date, str | None, float]

NULL_SLICE = "(null)"
"""The slice of the rows whose dimension value is null: one explicit slice, stored and analysed like
any other, so that the slices of a dimension sum to the base series. A source that returns both a
real ``(null)`` value and a null for the same period has two values for one slice: the write refuses
them as duplicates rather than merge them."""
