"""The report draws labels from the data as text: plotly renders a subset of HTML in its labels."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime

from semsync.partitions import Grain, MetricContext
from semsync.stories.report import ReportData, render_report

LINK = '<a href="https://evil.example">x</a>'


def test_a_slice_dimension_or_shift_named_like_markup_is_drawn_as_text_not_a_link():
    data = ReportData(
        context=MetricContext(tenant="acme", metric="revenue"), grain=Grain.DAY,
        series=[(date(2025, 7, 1), 1.0), (date(2025, 7, 2), 2.0)],
        shares={LINK: [(LINK, 60.0), ("b & c", 40.0)]},
        shifts=[{"date": "2025-07-02", "kind": "level_shift", "direction": LINK, "z_score": 3.0}],
        exceptions=[(date(2025, 7, 2), {"type": LINK, "current_value": 2.0, "magnitude_percent": 5.0})],
        statuses=[(date(2025, 7, 2), LINK)],
        ledger={LINK: Counter(succeeded=1)}, generated_at=datetime(2025, 7, 3, 8, 0),
    )
    page = render_report(data)  # plotly.js itself holds "<a href" in its code: look at the labels
    labels = page.count("evil.example")
    assert labels >= 6, "not every label was drawn"
    assert len(re.findall(r"&lt;a href=[^<>]{0,30}evil\.example", page)) == labels, \
        "a label from the data reaches plotly as markup"
    assert "b &amp; c" in page
