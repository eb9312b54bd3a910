"""The cache in Snowflake, through its official connector: the rows bulk-loaded (`write_pandas`)
into a temporary table, then one ``MERGE INTO … USING`` that upserts them and deletes the windows' rows semsync no
longer has (matched rows marked gone), atomically as every single statement is.

The connector is blocking: a write runs on a thread. Its errors are sorted by whose they are: a
refused login (wrong password or key, locked user), a missing warehouse, database, schema or role
or a missing privilege is the user's (`CacheTargetError`, one line, not retried); a network failure
or a timeout may pass (`CacheTargetUnavailableError`, retried).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from semsync.cache.rows import Row, Scope, scope_condition
from semsync.catalog.models import SnowflakeCacheTarget
from semsync.errors import CacheTargetError, CacheTargetUnavailableError

#: rows per Parquet file loaded into the stage
STAGE_BATCH = 100_000
#: Snowflake error numbers that only the user can fix: 3901xx/3902xx a refused login (390100
#: incorrect username or password, 390144 invalid JWT, 390189 role not granted, 390201 no such
#: database, 390202 no such schema, 390203 no such warehouse), 000606 no active warehouse, 002003
#: no such object or not authorised, 003001 insufficient privileges
USER_ERRNOS = frozenset({606, 2003, 2043, 3001})
#: the connector's own errnos for a connection that failed or timed out
NETWORK_ERRNOS = frozenset({250001, 250003, 251005, 251006})

_STAGE = ("CREATE OR REPLACE TEMPORARY TABLE SEMSYNC_CACHE_STAGE (date DATE NOT NULL, dimension VARCHAR NOT NULL, "
          "slice VARCHAR NOT NULL, value DOUBLE NOT NULL)")


def _table_ddl(table: str) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {table} (tenant VARCHAR NOT NULL, metric VARCHAR NOT NULL, "
            "grain VARCHAR NOT NULL, date DATE NOT NULL, dimension VARCHAR NOT NULL, slice VARCHAR NOT NULL, "
            "value DOUBLE NOT NULL, synced_at TIMESTAMP_TZ, "
            "PRIMARY KEY (tenant, metric, grain, date, dimension, slice))")


def _merge(table: str, scope: str) -> str:
    """One MERGE: the staged rows upserted, and the target's rows of the windows that the stage lacks
    (semsync no longer has them) deleted, atomically; its answer is (inserted, updated, deleted)."""
    return (f"MERGE INTO {table} t USING ("
            "  SELECT date, dimension, slice, value, FALSE AS gone FROM SEMSYNC_CACHE_STAGE"
            "  UNION ALL"
            f"  SELECT c.date, c.dimension, c.slice, c.value, TRUE AS gone FROM {table} c"
            f"  WHERE c.tenant = %s AND c.metric = %s AND c.grain = %s AND ({scope})"
            "    AND NOT EXISTS (SELECT 1 FROM SEMSYNC_CACHE_STAGE x"
            "                    WHERE x.date = c.date AND x.dimension = c.dimension AND x.slice = c.slice)"
            ") s ON t.tenant = %s AND t.metric = %s AND t.grain = %s AND t.date = s.date "
            "AND t.dimension = s.dimension AND t.slice = s.slice "
            "WHEN MATCHED AND s.gone THEN DELETE "
            "WHEN MATCHED AND t.value IS DISTINCT FROM s.value THEN "
            "UPDATE SET value = s.value, synced_at = CURRENT_TIMESTAMP() "
            "WHEN NOT MATCHED AND NOT s.gone THEN INSERT (tenant, metric, grain, date, dimension, slice, value, "
            "synced_at) VALUES (%s, %s, %s, s.date, s.dimension, s.slice, s.value, CURRENT_TIMESTAMP())")


#: the connector's errno of a login that did not succeed: raised as a plain DatabaseError (or a
#: ForbiddenError, HTTP 403: an unknown account) when Snowflake answered and refused the login (its
#: message follows: "Incorrect username or password was specified."), as an OperationalError when
#: Snowflake could not be reached
LOGIN_FAILED = 250001


def user_error(exc: BaseException) -> bool:
    """Whether a connector error is the user's to fix (see `USER_ERRNOS` and `LOGIN_FAILED`)."""
    errno = getattr(exc, "errno", None)
    if not isinstance(errno, int):
        return False
    if errno == LOGIN_FAILED:
        return type(exc).__name__ in ("DatabaseError", "ForbiddenError")
    return errno in USER_ERRNOS or 390100 <= errno < 390300


def _private_key_der(target: SnowflakeCacheTarget) -> bytes:
    from cryptography.hazmat.primitives import serialization

    assert target.private_key is not None
    passphrase = target.private_key_passphrase.get_secret_value().encode() if target.private_key_passphrase else None
    try:
        key = serialization.load_pem_private_key(target.private_key.get_secret_value().encode(), passphrase)
    except (ValueError, TypeError) as exc:
        raise CacheTargetError(f"snowflake account {target.account!r}: cannot read private_key: {exc}") from None
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class SnowflakeCacheWriter:
    """Writes into ``database.schema.table`` of the tenant's Snowflake account. `connect` (default the
    connector's) and `connect_args` (e.g. a host, port and protocol) are for tests and private links."""

    def __init__(self, target: SnowflakeCacheTarget, *, connect: Callable[..., Any] | None = None,
                 connect_args: dict[str, Any] | None = None, timeout_s: float = 60.0) -> None:
        self.target = target
        self.connect = connect
        self.connect_args = connect_args or {}
        self.timeout_s = timeout_s
        self.where = f"snowflake account {target.account!r}"

    def _connection(self) -> Any:
        target = self.target
        connect = self.connect
        if connect is None:
            import snowflake.connector

            connect = snowflake.connector.connect
        kwargs: dict[str, Any] = {
            "account": target.account, "user": target.user, "warehouse": target.warehouse,
            "database": target.database, "schema": target.schema_, "login_timeout": self.timeout_s,
            "network_timeout": self.timeout_s, "application": "semsync", "session_parameters": {
                "QUERY_TAG": "semsync-cache"},
        }
        if target.role:
            kwargs["role"] = target.role
        if target.password is not None:
            kwargs["password"] = target.password.get_secret_value()
        else:
            kwargs["private_key"] = _private_key_der(target)
        return connect(**kwargs, **self.connect_args)

    async def write(self, tenant: str, metric: str, grain: str, scopes: list[Scope], rows: list[Row]
                    ) -> tuple[int, int, int]:
        """(inserted, updated, deleted)."""
        return await asyncio.to_thread(self._write, tenant, metric, grain, scopes, rows)

    def _write(self, tenant: str, metric: str, grain: str, scopes: list[Scope], rows: list[Row]
               ) -> tuple[int, int, int]:
        try:
            conn = self._connection()
        except CacheTargetError:
            raise
        except Exception as exc:
            raise self._sorted(exc) from None
        table = self.target.table
        try:
            cur = conn.cursor()
            cur.execute(_table_ddl(table))
            cur.execute(_STAGE)
            if rows:
                self._stage(conn, rows)
            keys = (tenant, metric, grain)
            condition, window = scope_condition(scopes, lambda i: "%s", alias="c")
            cur.execute(_merge(table, condition), (*keys, *window, *keys, *keys))
            counts = dict(zip((d[0].lower() for d in cur.description), cur.fetchone(), strict=True))
            inserted = counts.get("number of rows inserted", 0)
            updated = counts.get("number of rows updated", 0)
            deleted = counts.get("number of rows deleted", 0)
            return int(inserted), int(updated), int(deleted)
        except Exception as exc:
            raise self._sorted(exc) from None
        finally:
            conn.close()

    @staticmethod
    def _stage(conn: Any, rows: list[Row]) -> None:
        """The rows bulk-loaded into the stage the connector's way (`write_pandas`: Parquet files PUT to
        a temporary stage, then one COPY INTO), not a round trip per row."""
        import pandas as pd
        from snowflake.connector import pandas_tools

        frame = pd.DataFrame([(r[2], r[3], r[4], r[5]) for r in rows], columns=["DATE", "DIMENSION", "SLICE", "VALUE"])
        ok, _, loaded, _ = pandas_tools.write_pandas(conn, frame, "SEMSYNC_CACHE_STAGE", quote_identifiers=False,
                                                     chunk_size=STAGE_BATCH)
        if not ok or loaded != len(rows):
            raise CacheTargetUnavailableError(f"staging loaded {loaded} of {len(rows)} rows")

    def _sorted(self, exc: Exception) -> Exception:
        """The connector's error as a typed semsync error of one line, or as it is (a bug: retried)."""
        text = (getattr(exc, "raw_msg", None) or str(exc)).strip()
        message = text.splitlines()[0] if text else type(exc).__name__
        errno = getattr(exc, "errno", None)
        code = f" ({errno})" if isinstance(errno, int) else ""
        if user_error(exc):
            return CacheTargetError(f"{self.where} refused the cache write{code}: {message}")
        if errno in NETWORK_ERRNOS or isinstance(exc, OSError | TimeoutError) or type(exc).__name__ in (
                "OperationalError", "InterfaceError"):
            return CacheTargetUnavailableError(f"{self.where} unavailable{code}: {message}")
        return exc

    async def aclose(self) -> None:
        return None
