"""One context's pattern work in a worker process: the same results as analysing in process, as
store records, with the catalog's settings resolved once."""

from __future__ import annotations

import gc
import json
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta

import numpy as np
import pandas as pd

from semsync.catalog.models import MetricDef, TenantDef
from semsync.partitions import Grain
from semsync.patterns import PatternData, get_pattern, pattern_names, run_pattern
from semsync.patterns.catalog_settings import PatternSettingsTable
from semsync.patterns.context_run import ContextAnalysis, analyse_context
from semsync.patterns.store import result_record
from semsync.services import pattern_process_pool

LAST = date(2025, 7, 1)


def data() -> PatternData:
    days = pd.date_range(end=LAST, periods=500, freq="D").date
    values = 100 + 0.1 * np.arange(500) + np.random.default_rng(1).normal(0, 3, 500)
    series = pd.DataFrame({"date": days, "value": values})
    targets = pd.DataFrame({"date": pd.date_range(days[0], "2025-12-31").date, "target_value": 140.0})
    dimensional = pd.DataFrame([(d, "region", s, v * w) for d, v in zip(days, values, strict=True)
                                for s, w in (("eu", 0.3), ("us", 0.7))],
                               columns=["date", "dimension_name", "dimension_slice", "value"])
    return PatternData("churn", series=series, targets=targets, dimensional=dimensional)


def without_time(record: tuple) -> tuple:
    document = json.loads(record[-1])
    del document["evaluation_time"]
    return (*record[:-1], document)


def test_a_context_analysed_in_a_worker_process_equals_analysing_in_process():
    metric = MetricDef.model_validate({
        "id": "churn", "label": "Churn", "direction": "lower_is_better",
        "source": {"type": "sql", "table": "t", "value": "sum(x)", "time_column": "day"},
    })
    tenant = TenantDef(identifier="acme", name="Acme", patterns={"performance_status": {"threshold_ratio": 0.1}})
    table = PatternSettingsTable.build(tenant, [metric], pattern_names())
    dates = [LAST + timedelta(days=i) for i in range(-20, 1, 4)]
    job = ContextAnalysis("churn", Grain.DAY, dates, data(), {n: table.get("churn", n) for n in pattern_names()})
    with ProcessPoolExecutor(max_workers=1) as pool:
        result = pool.submit(analyse_context, job).result()
    direct = [r for n in pattern_names() for r in run_pattern(get_pattern(n), data(), dates, "day",
                                                              table.get("churn", n))]
    assert [without_time(r) for r in result.records] == [
        without_time(result_record(r)) for r in direct]
    assert len(result.records) == 6 * 5  # 6 dates × (4 series patterns + dimension_analysis of 1 dimension)
    assert set(result.seconds) == set(pattern_names()) and result.errors == {}
    statuses = [json.loads(r[-1]) for r in result.records if r[1] == "performance_status"]
    assert {s["direction"] for s in statuses} == {"lower_is_better"}


def test_pattern_processes_start_with_one_blas_thread_their_imports_frozen_and_a_lower_priority():
    with pattern_process_pool(1) as pool:
        blas = pool.submit(os.getenv, "OPENBLAS_NUM_THREADS").result()
        frozen = pool.submit(gc.get_freeze_count).result()
        niceness = pool.submit(os.nice, 0).result()
    assert blas == "1"
    # the worker's own process (workflow tasks, the syncs' event loop) goes first when the cores are busy
    assert niceness == min(os.nice(0) + 10, 19)
    # the pattern modules loaded up front: pandas, scipy and statsmodels alone build well over
    # 100,000 objects at import, all out of the collector's sight
    assert frozen > 100_000
