"""semsync's Temporal workflows: they orchestrate; activities adapt; `semsync/` does the work.

- `SyncWorkflow` (`workflows.sync`): one context, grain and span; starts its `PatternWorkflow`.
- `PatternWorkflow` (`workflows.patterns`): every active pattern of one context over a span.
- `BackfillWorkflow` (`workflows.backfill`): child syncs over ranges, a bounded sliding window.
"""
