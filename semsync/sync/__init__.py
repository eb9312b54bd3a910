"""The sync: one metric's series for one grain and partition range into PostgreSQL.

- `service`: `SemanticSyncService`, the units of work the `SyncWorkflow`'s activities run;
- `plan`: FULL or INCREMENTAL, and the window, of each component (pure);
- `status`: the components' sync status and history rows.

`from semsync.sync import SemanticSyncService` is kept: resolved on first use, so importing
`semsync.sync.plan` alone does not load the service (SQLAlchemy, the sources).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from semsync.sync.service import SemanticSyncRequest, SemanticSyncService

__all__ = ["SemanticSyncRequest", "SemanticSyncService"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from semsync.sync import service

        return getattr(service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
