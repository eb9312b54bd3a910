"""Numbers as the stories write them, per unit."""

from __future__ import annotations

import pytest

from semsync.stories.numbers import UnitFormat, compact, day, ordinal, percent, points, when


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (0.5, "0.5"), (8.456, "8.46"), (84.56, "84.6"), (845, "845"), (999.4, "999"), (999.6, "1K"),
    (4_123, "4.12K"), (41_234, "41.2K"), (412_345, "412K"), (999_950, "1M"), (1_234_567, "1.23M"),
    (2_500_000_000, "2.5B"), (-41_234, "41.2K"),
])
def test_compact_has_three_significant_digits_and_a_scale(value, text):
    assert compact(value) == text


def test_values_and_changes_per_unit():
    usd, eur, chf = UnitFormat("USD"), UnitFormat("EUR"), UnitFormat("CHF")
    assert (usd.value(412_345), usd.value(-1_200), usd.change(38_000), usd.change(-38_000)) == \
        ("$412K", "−$1.2K", "+$38K", "−$38K")
    assert (eur.value(1_234_567), chf.value(980)) == ("€1.23M", "CHF 980")
    count, plain = UnitFormat("count"), UnitFormat(None)
    assert (count.value(3902), plain.value(3902), plain.change(-12.5)) == ("3.9K", "3.9K", "−12.5")
    rate = UnitFormat("percent")  # values are fractions
    assert (rate.value(0.0312), rate.value(0.456), rate.change(-0.0021)) == ("3.1 %", "45.6 %", "−0.2 pp")
    assert (usd.value(None), usd.value(float("nan"))) == ("n/a", "n/a")


def test_percentages_points_dates_and_ordinals():
    assert (percent(-8.444), percent(-8.444, signed=True), percent(8.444, signed=True), percent(249.3)) == \
        ("−8.4 %", "−8.4 %", "+8.4 %", "249 %")
    assert (points(-7.0), points(5.1), points(-7.0, signed=False)) == ("−7.0 pp", "+5.1 pp", "−7.0 pp")
    assert day("2025-11-28") == "28 Nov 2025"
    assert (when("day", "2025-11-28"), when("week", "2025-11-24"), when("month", "2025-11-01")) == \
        ("on 28 Nov 2025", "in the week of 24 Nov 2025", "in Nov 2025")
    assert [ordinal(n) for n in (2, 3, 10, 11, 12, 21, 22, 113)] == \
        ["second", "third", "tenth", "11th", "12th", "21st", "22nd", "113th"]
