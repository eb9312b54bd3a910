"""The pattern run service: one `tenant::metric::pattern` context over one partition or a range.

Reads what the pattern needs once for every analysis date of the range (the data organiser),
evaluates each date (`analyze_many`, off the event loop), and upserts the results on their natural
key, so a re-run replaces and never duplicates. Pattern settings from the catalog override the
pattern's defaults: the tenant's first, then the metric's. The analysis date of a partition is the
day after it ends: its window ends with that partition, the last complete period.

A batch skips a pattern whose last success on every partition of the span stood on the same
fingerprint (its version, its effective settings, and the metric's stored data up to the span's
end: rows' count and latest write, with the slices and targets): nothing it would read changed, so
its results would be the same. The outcome says ``skipped``; ``force`` analyses anyway.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import Counter
from concurrent.futures import Executor
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from semsync.catalog.models import MetricDef, TenantDef
from semsync.catalog.store import StoredTenant, find_tenant, find_tenant_and_metric, get_metric
from semsync.contracts import (
    PatternBatchRequest,
    PatternBatchResponse,
    PatternOutcome,
    PatternRunRequest,
    PatternRunResponse,
)
from semsync.db.session import tenant_scope
from semsync.errors import InvalidInputError, SemsyncError
from semsync.patterns import analysis_date_for, get_pattern, pattern_names
from semsync.patterns.base import Pattern, PatternSettings
from semsync.patterns.catalog_settings import pattern_overrides, stored_settings_error
from semsync.patterns.context_run import ContextAnalysis, ContextAnalysisResult, analyse_context
from semsync.patterns.data import PatternDataOrganiser
from semsync.patterns.store import store_records
from semsync.progress import ProgressCallback, report

__all__ = ["PatternBatchRequest", "PatternBatchResponse", "PatternRunRequest", "PatternRunResponse",
           "PatternRunService"]


def fingerprint(version: str, settings: PatternSettings, data_version: str) -> str:
    """What a pattern's results over a span stand on: its version, its effective settings and the
    data's version, hashed."""
    text_form = f"{version}|{settings.model_dump_json()}|{data_version}"
    return hashlib.sha256(text_form.encode()).hexdigest()[:32]


class PatternRunService:
    """Runs patterns; the CPU work goes to `executor` (a process pool in the worker), else a thread."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], executor: Executor | None = None) -> None:
        self.session_factory = session_factory
        self.organiser = PatternDataOrganiser(session_factory)
        self.executor = executor

    async def active_patterns(self, tenant: str, metric_id: str) -> list[str]:
        """The metric's active pattern contexts as discovery recorded them; every registered pattern
        while discovery has recorded none for the metric."""
        tenant_id = (await find_tenant(self.session_factory, tenant)).id
        await get_metric(self.session_factory, tenant_id, metric_id)  # UnknownMetricError
        return await self._active(tenant_id, metric_id)

    async def _active(self, tenant_id: int, metric_id: str) -> list[str]:
        async with tenant_scope(self.session_factory, tenant_id) as session:
            rows = (await session.execute(
                text("SELECT pattern, is_active FROM metric_pattern_contexts "
                     "WHERE tenant_id = :t AND metric_id = :m ORDER BY pattern"),
                {"t": tenant_id, "m": metric_id},
            )).all()
        if not rows:
            return pattern_names()
        known = set(pattern_names())
        return [row.pattern for row in rows if row.is_active and row.pattern in known]

    async def synced_periods(self, request: PatternRunRequest) -> int:
        """How many periods of the request's grain are synced for its metric, up to the range's end."""
        tenant_id = (await find_tenant(self.session_factory, request.tenant)).id
        async with tenant_scope(self.session_factory, tenant_id) as session:
            return await session.scalar(
                text("SELECT count(*) FROM metric_time_series WHERE tenant_id = :t AND metric_id = :m "
                     "AND grain = :g AND date <= :end"),
                {"t": tenant_id, "m": request.metric_id, "g": request.grain.value,
                 "end": request.partitions()[-1].end})

    async def run_batch(self, request: PatternBatchRequest,
                        progress: ProgressCallback | None = None) -> PatternBatchResponse:
        """Several patterns of one metric context as one run: the catalog read once, one read of the
        data they all need, one job for the executor, one store. A pattern whose settings are invalid
        or whose analysis raises fails alone (its outcome carries the error, none of its results are
        stored); a failure to read or store fails the batch."""
        began = time.perf_counter()
        partitions = request.partitions()
        # one connection, nothing decrypted (no fetch here)
        tenant, metric = await find_tenant_and_metric(self.session_factory, request.tenant, request.metric_id)
        tenant_id = tenant.id
        names = request.patterns if request.patterns is not None else await self._active(tenant_id, metric.id)
        settings, failed = {}, {}
        for name in names:
            try:
                pattern = get_pattern(name)
                settings[name] = self._settings(pattern, tenant, metric)
            except SemsyncError as exc:
                failed[name] = f"{type(exc).__name__}: {exc}"
        dates = [analysis_date_for(p) for p in partitions]
        stored: Counter[str] = Counter()
        with_error: Counter[str] = Counter()
        fingerprints: dict[str, str] = {}
        skipped: set[str] = set()
        if settings:
            data_version = await self._data_version(tenant_id, metric.id, request.grain.value, partitions[-1].end)
            fingerprints = {name: fingerprint(get_pattern(name).version, s, data_version)
                            for name, s in settings.items()}
            if not request.force:
                skipped = await self._unchanged(tenant_id, metric.id, request.grain.value,
                                                [p.key for p in partitions], fingerprints)
                settings = {name: s for name, s in settings.items() if name not in skipped}
        if settings:
            report(progress, f"{', '.join(settings)}: reading data for {len(dates)} analysis dates")
            data = await self.organiser.read_for_patterns([(get_pattern(n), s) for n, s in settings.items()],
                                                          tenant_id, metric.id, request.grain, dates)
            report(progress, f"analysing {len(dates)} dates")
            analysed = await self._analyse(ContextAnalysis(metric.id, request.grain, dates, data, settings,
                                                           isolate_failures=True))
            failed |= analysed.failures
            report(progress, f"storing {len(analysed.records)} results")
            await store_records(self.session_factory, tenant_id, analysed.records)
            stored.update(record.pattern for record in analysed.records)  # one per date (and dimension)
            with_error.update({name: len(typed) for name, typed in analysed.errors.items()})
        outcomes = [PatternOutcome(pattern=name, succeeded=name not in failed, error=failed.get(name),
                                   results_stored=stored[name], results_with_error=with_error[name],
                                   skipped=name in skipped,
                                   fingerprint=fingerprints.get(name) if name not in failed else None)
                    for name in names]
        return PatternBatchResponse(tenant=request.tenant, tenant_id=tenant_id, metric_id=metric.id,
                                    grain=request.grain, partitions=[p.key for p in partitions], outcomes=outcomes,
                                    duration_s=time.perf_counter() - began)

    async def _data_version(self, tenant_id: int, metric_id: str, grain: str, through: date) -> str:
        """What the metric's stored data up to `through` looks like to a pattern, in one string: the
        rows' count and latest write, of the series, its slices and its targets (a value restated,
        added or removed changes it; values of later dates do not)."""
        async with tenant_scope(self.session_factory, tenant_id) as session:
            row = (await session.execute(text(
                "SELECT (SELECT count(*) || '/' || coalesce(max(updated_at)::text, '') FROM metric_time_series "
                "        WHERE tenant_id = :t AND metric_id = :m AND grain = :g AND date <= :d) AS base, "
                "       (SELECT count(*) || '/' || coalesce(max(updated_at)::text, '') "
                "        FROM metric_dimensional_time_series "
                "        WHERE tenant_id = :t AND metric_id = :m AND grain = :g AND date <= :d) AS sliced, "
                "       (SELECT count(*) || '/' || coalesce(max(updated_at)::text, '') FROM metric_targets "
                "        WHERE tenant_id = :t AND metric_id = :m) AS targets"),
                {"t": tenant_id, "m": metric_id, "g": grain, "d": through})).one()
        return f"{row.base}|{row.sliced}|{row.targets}"

    async def _unchanged(self, tenant_id: int, metric_id: str, grain: str, keys: list[str],
                         fingerprints: dict[str, str]) -> set[str]:
        """The patterns whose last success on every partition of `keys` stood on the same fingerprint."""
        async with tenant_scope(self.session_factory, tenant_id) as session:
            rows = (await session.execute(text(
                "SELECT kind, count(*) AS n FROM partition_ledger WHERE tenant_id = :t AND metric_id = :m "
                "AND grain = :g AND partition_key = ANY(CAST(:keys AS text[])) AND kind = ANY(CAST(:kinds AS text[])) "
                "AND status = 'succeeded' AND fingerprint = (CAST(:prints AS jsonb) ->> kind) GROUP BY kind"),
                {"t": tenant_id, "m": metric_id, "g": grain, "keys": keys, "kinds": list(fingerprints),
                 "prints": json.dumps(fingerprints)})).all()
        return {row.kind for row in rows if row.n == len(keys)}

    @staticmethod
    def _settings(pattern: Pattern, tenant: TenantDef | StoredTenant, metric: MetricDef) -> PatternSettings:
        """The pattern's defaults, then the tenant's overrides, then the metric's, and its direction."""
        overrides = pattern_overrides(tenant, metric, pattern.name)
        try:
            return pattern.settings(overrides)  # invalid catalog settings fail here, before any read
        except InvalidInputError as exc:
            # `catalog load` refuses such settings; a catalog stored before it did gets one line too
            raise stored_settings_error(tenant, metric, pattern.name) or exc from None

    async def _analyse(self, job: ContextAnalysis) -> ContextAnalysisResult:
        # the analysis and the serialising of its results run off the event loop (a process pool in
        # the worker): only compact store records come back
        if self.executor is None:
            return await asyncio.to_thread(analyse_context, job)
        return await asyncio.get_running_loop().run_in_executor(self.executor, analyse_context, job)

    async def run(self, request: PatternRunRequest, progress: ProgressCallback | None = None) -> PatternRunResponse:
        began = time.perf_counter()
        partitions = request.partitions()
        pattern = get_pattern(request.pattern)
        tenant, metric = await find_tenant_and_metric(self.session_factory, request.tenant, request.metric_id)
        tenant_id = tenant.id
        settings = self._settings(pattern, tenant, metric)
        dates = [analysis_date_for(p) for p in partitions]
        report(progress, f"{pattern.name}: reading data for {len(dates)} analysis dates")
        data = await self.organiser.read_for(pattern, tenant_id, metric.id, request.grain, dates, settings)
        report(progress, f"{pattern.name}: analysing {len(dates)} dates")
        analysed = await self._analyse(ContextAnalysis(metric.id, request.grain, dates, data, {pattern.name: settings}))
        report(progress, f"{pattern.name}: storing {len(analysed.records)} results")
        stored = await store_records(self.session_factory, tenant_id, analysed.records)
        errors = analysed.errors.get(pattern.name, {})
        return PatternRunResponse(
            tenant=request.tenant, tenant_id=tenant_id, metric_id=metric.id, pattern=pattern.name,
            version=pattern.version, grain=request.grain, partitions=[p.key for p in partitions],
            first_analysis_date=dates[0], last_analysis_date=dates[-1], results_stored=stored, errors=errors,
            duration_s=time.perf_counter() - began,
        )
