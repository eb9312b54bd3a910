"""The demo warehouse: a seeded, deterministic multi-tenant dataset and the catalog that reads it.

`seed_warehouse(admin_url)` (re)creates the `warehouse` schema of the semsync database;
`demo_catalog()` is the matching catalog, committed as `semsync/demo_catalog.yaml`
(`python -m starter demo seed`, `python -m starter demo catalog`).

Tenants, from 2024-01-01 through `until` (default today):

========  ======================  ===============================================================
tenant    name                    character
========  ======================  ===============================================================
acme      Acme Retail             +20 %/year, weekend-heavy, yearly peak early December
globex    Globex Subscriptions    +10 %/year, weekday-heavy, peak in March, conversion improving
initech   Initech Software        +5 %/year, weekday-heavy, peak in September, big orders
========  ======================  ===============================================================

Metrics of every tenant (SQL source, filtered on `tenant`): `revenue` = sum(revenue), `orders`
= sum(orders), `visits` = sum(visits) over `warehouse.daily_facts`; `average_order_value` =
sum(revenue) / sum(orders) and `conversion_rate` = sum(orders) / sum(visits) (ratios);
`signups` = count(*) over the row-level `warehouse.signups`. Dimensions of every metric:
`region` (na, emea, apac, latam), `channel` (web, mobile, partner), `product` (basic, pro,
enterprise).

Every series has a trend, weekly and yearly seasonality and noise (log-normal per cell and per
day, Poisson and binomial counts). Planted events, for the patterns to find:

- **Level shift up**: acme `revenue` (and `average_order_value`) ×1.25 from **2025-09-01**
  (a price increase; orders and visits unchanged).
- **Level shift down**: initech `visits` ×0.85 from **2025-10-01**, and with them `orders`,
  `revenue` and `signups` (a lost reseller; conversion and order value unchanged).
- **Spike**: globex `orders` and `revenue` ×3 on **2025-11-28** only (a flash sale; visits
  unchanged, so `conversion_rate` spikes too).
- **A slice overtaking another**: acme channel `mobile` gains share steadily and overtakes `web`
  on **2025-06-01** (in expectation): web leads every month through April 2025, mobile every month
  from August 2025; visits, orders, revenue and signups alike.
- **Targets, one metric missing them**: monthly `revenue` and weekly `orders` targets for every
  tenant, monthly `conversion_rate` for globex, daily `signups` for acme (from 2025-01-01), planned
  through 2027-12-31 from the noise-free model without the events: acme at 97 % of it
  (over-performing from 2025-09), globex at 98 %, initech at 100 %, so initech `revenue` and
  `orders` run **off track (about 85 % of target) from 2025-10 on** and on track before.
- **Pattern settings overrides**: performance_status holds globex `conversion_rate` to a 2 %
  threshold and acme's daily `signups` to 15 % (instead of the default 5 %).

The content depends only on `until` and `seed`; each year is drawn from its own seed, so the
rows of a day are the same whatever `until` is (re-seeding later never rewrites the past).
"""

from devstack.demo.catalog import DEMO_CATALOG_PATH, catalog_yaml, demo_catalog, write_demo_catalog
from devstack.demo.model import EVENTS, MOBILE_OVERTAKES_WEB, START, TARGETS_THROUGH, PlantedEvent
from devstack.demo.warehouse import SCHEMA, seed_warehouse

__all__ = [
    "DEMO_CATALOG_PATH",
    "EVENTS",
    "MOBILE_OVERTAKES_WEB",
    "SCHEMA",
    "START",
    "TARGETS_THROUGH",
    "PlantedEvent",
    "catalog_yaml",
    "demo_catalog",
    "seed_warehouse",
    "write_demo_catalog",
]
