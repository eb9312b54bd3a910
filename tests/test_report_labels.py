"""The report draws labels from the data as text: plotly renders a subset of HTML in its labels."""

from __future__ import annotations

from collections import Counter
from datetime import date

from semsync.partitions import Grain, MetricContext
from semsync.report import ReportData, render_report

LINK = '<a href="https://evil.example">x</a>'


def test_a_slice_dimension_or_shift_named_like_markup_is_drawn_as_text_not_a_link():
    data = ReportData(
        context=MetricContext(tenant="acme", metric="revenue"), grain=Grain.DAY,
        series=[(date(2025, 7, 1), 1.0), (date(2025, 7, 2), 2.0)],
        shares={LINK: [(LINK, 60.0), ("b & c", 40.0)]},
        shifts=[{"date": "2025-07-02", "kind": "level_shift", "direction": LINK, "z_score": 3.0}],
        exceptions=[(date(2025, 7, 2), {"type": LINK, "current_value": 2.0, "magnitude_percent": 5.0})],
        statuses=[(date(2025, 7, 2), LINK)],
        ledger={LINK: Counter(succeeded=1)},
    )
    page = render_report(data)
    assert "<a href" not in page and '\\u003ca href' not in page, "a label from the data became markup"
    assert "&lt;a href" in page and "b &amp; c" in page
