"""Backfills: `plan` (`BackfillPlanner`: which contexts and partitions a backfill covers, in lanes and
chunks) and `ledger` (`Ledger`: what each context has been synced and analysed through)."""
