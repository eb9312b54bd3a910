"""The legacy cache: a tenant's synced series mirrored into its own warehouse (Snowflake, or a
PostgreSQL database), for the tools that read them there.

One cache partition is ``tenant::grain::metric`` (`semsync.partitions.cache_keys.CacheKey`). A write
takes windows of the metric's series (the base series and each dimension, as the sync changed them)
from semsync's tables and makes the target's one cache table equal to them over those windows:

- **table**: ``(tenant, metric, grain, date, dimension, slice, value, synced_at)``, keyed on
  ``(tenant, metric, grain, date, dimension, slice)``; the base series has dimension and slice ``''``
  (a key column is never NULL: NULL never matches in a MERGE). Created if missing.
- **merge**: the rows are bulk-loaded into a temporary stage, then one statement merges them
  (Snowflake ``MERGE INTO … USING stage``, PostgreSQL ``INSERT … ON CONFLICT DO UPDATE … WHERE
  value IS DISTINCT FROM``): a re-run changes nothing, a restated value is updated.
- **deletes**: rows of the windows that semsync no longer has (a slice gone from the source) are
  deleted, in the same transaction: over its windows the cache mirrors semsync.
"""

from semsync.cache.service import CacheService

__all__ = ["CacheService"]
