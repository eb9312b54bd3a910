"""The demo warehouse's generating model: tenant profiles, expected values and their noisy realisation.

Every number of the demo comes from here. `expected_cells` is the noise-free model (trend, weekly
and yearly seasonality, slice mix) that the targets are planned from; `simulate_year` draws one
calendar year of one tenant from it, adds noise and the planted events. A year is drawn whole
from its own seed and then cut at `until`, so moving `until` forward never rewrites the past.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

START = date(2024, 1, 1)
#: targets are planned through this date, so forecasts of the coming periods have targets to meet
TARGETS_THROUGH = date(2027, 12, 31)

REGIONS = ("na", "emea", "apac", "latam")
CHANNELS = ("web", "mobile", "partner")
PRODUCTS = ("basic", "pro", "enterprise")

PARTNER_SHARE = 0.15
CHANNEL_CONVERSION = np.array([1.0, 1.0, 1.4])
CHANNEL_AOV = np.array([1.0, 1.0, 1.1])
PRODUCT_SHARES = np.array([0.6, 0.3, 0.1])
PRODUCT_CONVERSION = np.array([1.1, 0.9, 0.6])
PRODUCT_AOV = np.array([0.6, 1.3, 3.5])
PRODUCT_SIGNUPS = np.array([1.4, 0.7, 0.2])
REGION_AOV = np.array([1.0, 1.05, 0.85, 0.75])

#: per-cell (day × region × channel × product) noise, and a day-wide factor shared by all cells
CELL_NOISE = 0.08
DAY_NOISE = 0.04
REVENUE_NOISE = 0.05

#: acme's mobile channel starts at 30 % of visits and reaches web's share (42.5 %) on this date
MOBILE_OVERTAKES_WEB = date(2025, 6, 1)
_ACME_MOBILE_SLOPE = (0.5 * (1 - PARTNER_SHARE) - 0.30) / ((MOBILE_OVERTAKES_WEB - START).days / 365.25)


@dataclass(frozen=True)
class PlantedEvent:
    """A factor on one driver of one tenant from `start` through `end` (None: from then on).

    Drivers feed forward: `visits` moves orders, revenue and signups too; `orders` moves revenue
    (and conversion rate, average order value stays); `revenue` is price only (and so moves AOV).
    """

    tenant: str
    driver: str
    start: date
    end: date | None
    factor: float
    description: str

    def mask(self, days: np.ndarray) -> np.ndarray:
        after = days >= np.datetime64(self.start)
        return after if self.end is None else after & (days <= np.datetime64(self.end))


EVENTS = (
    PlantedEvent("acme", "revenue", date(2025, 9, 1), None, 1.25,
                 "price increase: revenue and average order value +25 % from 2025-09-01 (level shift up)"),
    PlantedEvent("globex", "orders", date(2025, 11, 28), date(2025, 11, 28), 3.0,
                 "flash sale: orders and revenue x3 on 2025-11-28 only (spike), visits unchanged"),
    PlantedEvent("initech", "visits", date(2025, 10, 1), None, 0.85,
                 "lost reseller: visits, orders, revenue, signups -15 % from 2025-10-01 (level shift down); "
                 "targets planned without it, so revenue and orders run off track from then on"),
)


@dataclass(frozen=True)
class TenantProfile:
    identifier: str
    name: str
    visits: float  # visits per day on START, all slices together, before seasonality
    growth: float  # yearly
    weekly: tuple[float, ...]  # Monday .. Sunday, normalised to a mean of 1
    yearly_amplitude: float
    yearly_peak: int  # day of the year
    conversion: float  # orders per visit
    conversion_growth: float  # yearly
    aov: float  # revenue per order
    price_growth: float  # yearly
    signup_rate: float  # signups per visit
    region_shares: tuple[float, float, float, float]
    region_growth: tuple[float, float, float, float]  # yearly, on top of `growth`
    mobile_share: float  # share of visits on START
    mobile_slope: float  # change of that share per year
    target_plan: float  # targets = expected value x plan


PROFILES = (
    TenantProfile(
        "acme", "Acme Retail", visits=30_000, growth=0.20, weekly=(0.95, 0.93, 0.95, 0.98, 1.05, 1.12, 1.02),
        yearly_amplitude=0.20, yearly_peak=340, conversion=0.030, conversion_growth=0.0, aov=80.0, price_growth=0.03,
        signup_rate=0.0015,
        region_shares=(0.45, 0.30, 0.15, 0.10), region_growth=(0.0, 0.05, 0.20, -0.05),
        mobile_share=0.30, mobile_slope=_ACME_MOBILE_SLOPE, target_plan=0.97,
    ),
    TenantProfile(
        "globex", "Globex Subscriptions", visits=20_000, growth=0.10, weekly=(1.10, 1.12, 1.10, 1.05, 0.98, 0.80, 0.85),
        yearly_amplitude=0.10, yearly_peak=75, conversion=0.045, conversion_growth=0.06, aov=120.0, price_growth=0.02,
        signup_rate=0.0015,
        region_shares=(0.35, 0.35, 0.20, 0.10), region_growth=(0.02, 0.0, 0.10, 0.05),
        mobile_share=0.30, mobile_slope=0.02, target_plan=0.98,
    ),
    TenantProfile(
        "initech", "Initech Software", visits=12_000, growth=0.05, weekly=(1.15, 1.15, 1.12, 1.08, 1.0, 0.75, 0.75),
        yearly_amplitude=0.15, yearly_peak=258, conversion=0.020, conversion_growth=-0.03, aov=450.0, price_growth=0.04,
        signup_rate=0.0015,
        region_shares=(0.50, 0.25, 0.15, 0.10), region_growth=(0.0, 0.03, 0.08, 0.0),
        mobile_share=0.20, mobile_slope=0.01, target_plan=1.00,
    ),
)


def day_range(first: date, last: date) -> np.ndarray:
    """Days `first` .. `last` inclusive as datetime64[D]."""
    return np.arange(np.datetime64(first), np.datetime64(last) + 1, dtype="datetime64[D]")


def channel_shares(profile: TenantProfile, years: np.ndarray) -> np.ndarray:
    """(days, channel) shares of visits: partner fixed, mobile drifting, web the rest."""
    mobile = np.clip(profile.mobile_share + profile.mobile_slope * years, 0.05, 0.70)
    web = (1 - PARTNER_SHARE) - mobile
    return np.stack([web, mobile, np.full_like(mobile, PARTNER_SHARE)], axis=1)


@dataclass
class Cells:
    """Values per (day, region, channel, product); `days` is datetime64[D]."""

    days: np.ndarray
    visits: np.ndarray
    orders: np.ndarray
    revenue: np.ndarray
    signups: np.ndarray


def _rates(profile: TenantProfile, years: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per day: conversion (channel, product), order value (region, channel, product); signups per visit (product)."""
    conversion = (profile.conversion * (1 + profile.conversion_growth) ** years[:, None, None]
                  * np.outer(CHANNEL_CONVERSION, PRODUCT_CONVERSION)[None])
    aov = (profile.aov * (1 + profile.price_growth) ** years[:, None, None, None]
           * REGION_AOV[None, :, None, None] * np.outer(CHANNEL_AOV, PRODUCT_AOV)[None, None])
    signups = profile.signup_rate * PRODUCT_SIGNUPS
    return conversion, aov, signups


def _years(days: np.ndarray) -> np.ndarray:
    return (days - np.datetime64(START)).astype(np.int64) / 365.25


def expected_cells(profile: TenantProfile, days: np.ndarray) -> Cells:
    """The noise-free model without planted events: what a planner would forecast."""
    years = _years(days)
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    day_of_year = (days - days.astype("datetime64[Y]")).astype(np.int64) + 1
    weekly = np.asarray(profile.weekly) / np.mean(profile.weekly)
    yearly = 1 + profile.yearly_amplitude * np.cos(2 * np.pi * (day_of_year - profile.yearly_peak) / 365.25)
    level = profile.visits * (1 + profile.growth) ** years * weekly[weekday] * yearly
    regions = np.asarray(profile.region_shares) * (1 + np.asarray(profile.region_growth)) ** years[:, None]
    channels = channel_shares(profile, years)
    visits = (level[:, None, None, None] * regions[:, :, None, None] * channels[:, None, :, None]
              * PRODUCT_SHARES[None, None, None, :])
    conversion, aov, signup_rate = _rates(profile, years)
    orders = visits * conversion[:, None]
    return Cells(days, visits, orders, orders * aov, visits * signup_rate)


def _noise(rng: np.random.Generator, sigma: float, shape: tuple[int, ...]) -> np.ndarray:
    """Multiplicative log-normal noise with mean 1."""
    return np.exp(rng.normal(-sigma * sigma / 2, sigma, size=shape))


def _factor(profile: TenantProfile, driver: str, days: np.ndarray) -> np.ndarray:
    factor = np.ones(len(days))
    for event in EVENTS:
        if event.tenant == profile.identifier and event.driver == driver:
            factor[event.mask(days)] *= event.factor
    return factor[:, None, None, None]


def simulate_year(profile: TenantProfile, year: int, seed: int) -> Cells:
    """One whole calendar year (from START) of one tenant, drawn from its own seed."""
    days = day_range(max(START, date(year, 1, 1)), date(year, 12, 31))
    tenant_index = next(i for i, p in enumerate(PROFILES) if p.identifier == profile.identifier)
    rng = np.random.default_rng([seed, tenant_index, year])
    expected = expected_cells(profile, days)
    shape = expected.visits.shape
    mean_visits = (expected.visits * _factor(profile, "visits", days)
                   * _noise(rng, DAY_NOISE, (shape[0], 1, 1, 1)) * _noise(rng, CELL_NOISE, shape))
    visits = rng.poisson(mean_visits)
    conversion, aov, signup_rate = _rates(profile, _years(days))
    orders = rng.binomial(visits, np.broadcast_to(conversion[:, None], shape))
    orders = np.rint(orders * _factor(profile, "orders", days)).astype(np.int64)
    revenue = orders * aov * _noise(rng, REVENUE_NOISE, shape) * _factor(profile, "revenue", days)
    signups = rng.poisson(visits * signup_rate)
    return Cells(days, visits, orders, np.round(revenue, 2), signups)


def cut(cells: Cells, until: date) -> Cells:
    """The days of `cells` up to and including `until`."""
    keep = cells.days <= np.datetime64(until)
    return Cells(cells.days[keep], cells.visits[keep], cells.orders[keep], cells.revenue[keep], cells.signups[keep])
