"""The data organiser: read what a pattern needs for one metric from the database.

Everything is read inside the tenant's scope (row-level security), in one transaction, as pandas
DataFrames in the shapes of `PatternData`. `read_for` asks the pattern for the range its analysis
dates need (`Pattern.data_range`), so a backfill over a year of dates reads each row once, and
`read_for_patterns` serves several patterns from one read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.db.session import driver_connection, tenant_scope
from semsync.errors import InvalidInputError
from semsync.partitions import Grain
from semsync.patterns.base import DataNeed, Pattern, PatternData

SERIES_COLUMNS = ["date", "value"]
TARGET_COLUMNS = ["date", "target_value", "target_upper_bound", "target_lower_bound", "yellow_buffer", "red_buffer"]
DIMENSIONAL_COLUMNS = ["date", "dimension_name", "dimension_slice", "value"]


class PatternDataOrganiser:
    """Reads series, targets and dimensional series for (tenant, metric, grain, date range)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory

    async def read(
        self,
        tenant_id: int,
        metric_id: str,
        grain: Grain | str,
        needs: Iterable[DataNeed],
        start: date,
        end: date,
        *,
        targets_end: date | None = None,
        dimension_name: str | None = None,
    ) -> PatternData:
        """The data for `needs` between `start` and `end` (targets up to `targets_end`, default `end`)."""
        grain, needs = Grain(grain), set(needs)
        if start > end:
            raise InvalidInputError(f"reversed date range {start}..{end}", part="range")
        series = targets = dimensional = None
        async with tenant_scope(self._session_factory, tenant_id) as session:
            if needs & {DataNeed.SERIES, DataNeed.SERIES_WITH_TARGETS}:
                series = await self._series(session, tenant_id, metric_id, grain, start, end)
            if needs & {DataNeed.SERIES_WITH_TARGETS, DataNeed.FUTURE_TARGETS}:
                targets = await self._targets(session, tenant_id, metric_id, grain, start, targets_end or end)
            if DataNeed.DIMENSIONAL_SERIES in needs:
                dimensional = await self._dimensional(session, tenant_id, metric_id, grain, start, end, dimension_name)
        return PatternData(metric_id, series=series, targets=targets, dimensional=dimensional,
                           dimension_name=dimension_name)

    async def read_for(
        self,
        pattern: Pattern,
        tenant_id: int,
        metric_id: str,
        grain: Grain | str,
        analysis_dates: Iterable[date],
        settings: Mapping[str, Any] | None = None,
        *,
        dimension_name: str | None = None,
    ) -> PatternData:
        """What `pattern` needs to analyse every date of `analysis_dates`, read once."""
        return await self.read_for_patterns([(pattern, settings)], tenant_id, metric_id, grain, analysis_dates,
                                            dimension_name=dimension_name)

    async def read_for_patterns(
        self,
        patterns: Iterable[tuple[Pattern, Mapping[str, Any] | None]],
        tenant_id: int,
        metric_id: str,
        grain: Grain | str,
        analysis_dates: Iterable[date],
        *,
        dimension_name: str | None = None,
    ) -> PatternData:
        """One read covering every (pattern, settings overrides) pair: the union of needs and ranges."""
        dates = list(analysis_dates)
        needs: set[DataNeed] = set()
        ranges = []
        for pattern, settings in patterns:
            needs |= pattern.needs
            ranges.append(pattern.data_range(dates, grain, settings))
        if not ranges:
            raise InvalidInputError("no patterns to read data for", part="patterns")
        start = min(r[0] for r in ranges)
        end = max(r[1] for r in ranges)
        targets_end = max(r[2] for r in ranges)
        return await self.read(tenant_id, metric_id, grain, needs, start, end, targets_end=targets_end,
                               dimension_name=dimension_name)

    @staticmethod
    async def _series(session, tenant_id, metric_id, grain, start, end) -> pd.DataFrame:
        rows = await _fetch(session, "SELECT date, value FROM metric_time_series WHERE tenant_id = $1 "
                            "AND metric_id = $2 AND grain = $3 AND date BETWEEN $4 AND $5 ORDER BY date",
                            tenant_id, metric_id, grain.value, start, end)
        return pd.DataFrame(rows, columns=SERIES_COLUMNS)

    @staticmethod
    async def _targets(session, tenant_id, metric_id, grain, start, end) -> pd.DataFrame:
        rows = await _fetch(session, "SELECT target_date, target_value, target_upper_bound, target_lower_bound, "
                            "yellow_buffer, red_buffer FROM metric_targets WHERE tenant_id = $1 AND metric_id = $2 "
                            "AND grain = $3 AND target_date BETWEEN $4 AND $5 ORDER BY target_date",
                            tenant_id, metric_id, grain.value, start, end)
        return pd.DataFrame(rows, columns=TARGET_COLUMNS)

    @staticmethod
    async def _dimensional(session, tenant_id, metric_id, grain, start, end, dimension_name) -> pd.DataFrame:
        rows = await _fetch(session, "SELECT date, dimension_name, dimension_slice, value "
                            "FROM metric_dimensional_time_series WHERE tenant_id = $1 AND metric_id = $2 "
                            "AND grain = $3 AND date BETWEEN $4 AND $5 AND ($6::text IS NULL OR dimension_name = $6) "
                            "ORDER BY dimension_name, date, dimension_slice",
                            tenant_id, metric_id, grain.value, start, end, dimension_name)
        return pd.DataFrame(rows, columns=DIMENSIONAL_COLUMNS)


async def _fetch(session: AsyncSession, query: str, *args: Any) -> list[Any]:
    """Rows of `query` as the driver returns them (tuples): a year of dimensional rows reads without
    building a SQLAlchemy row for each."""
    return await (await driver_connection(session)).fetch(query, *args)
