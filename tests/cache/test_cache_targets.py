"""Cache writes into real targets: Snowflake's (fakesnow behind the official connector) and a
PostgreSQL database. A re-run changes nothing, a restated value is updated, a slice semsync no
longer has is deleted; only the windows written are touched. A Snowflake login refused for bad
credentials is the user's error: one line, not retried."""

from __future__ import annotations

import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.cache import CacheActivities
from semsync.cache import CacheService
from semsync.contracts import CacheRequest, CacheWindow
from semsync.errors import CacheTargetError, CacheTargetUnavailableError
from tests.cache.conftest import SNOWFLAKE, load, pg_rows, scratch_target, seed, snowflake_rows, tenant

D1, D2, D3 = date(2025, 7, 1), date(2025, 7, 2), date(2025, 7, 3)
BASE = {D1: 10.0, D2: 20.0, D3: 30.0}
SLICES = {(D1, "eu"): 4.0, (D1, "us"): 6.0, (D2, "eu"): 8.0, (D2, "us"): 12.0, (D3, "eu"): 30.0}
WHOLE = CacheRequest(tenant="acme", metric_id="revenue", grain="day", start_partition="2025-07-01",
                     end_partition="2025-07-03")


def expected(base: dict, slices: dict) -> dict[tuple, float]:
    rows = {("acme", "revenue", "day", d, "", ""): v for d, v in base.items()}
    rows.update({("acme", "revenue", "day", d, "region", s): v for (d, s), v in slices.items()})
    return rows


@pytest.fixture(params=["snowflake", "postgresql"])
async def target(request, db, pg_server):
    """(a function reading the target's cache table, the catalog's target)."""
    if request.param == "snowflake":
        request.getfixturevalue("fake_snowflake")
        yield snowflake_rows, SNOWFLAKE
        return
    async with scratch_target(pg_server) as url:
        async def read():
            return await pg_rows(url)
        yield read, {"type": "sql", "url": url}


async def rows_of(read):
    result = read()
    return await result if hasattr(result, "__await__") else result


async def test_a_merge_is_idempotent_updates_restated_values_and_removes_gone_slices(db, target):
    read, cache = target
    await load(db, tenant("acme", cache))
    await seed(db, "acme", BASE, SLICES)
    service = CacheService(db.session_factory)
    first = await service.write(WHOLE)
    assert (first.rows_read, first.rows_inserted, first.rows_updated, first.rows_deleted) == (8, 8, 0, 0)
    assert await rows_of(read) == expected(BASE, SLICES)

    again = await service.write(WHOLE)
    assert (again.rows_inserted, again.rows_updated, again.rows_deleted) == (0, 0, 0)
    assert await rows_of(read) == expected(BASE, SLICES)

    restated = {**BASE, D2: 21.5}
    slices = {k: v for k, v in SLICES.items() if k != (D1, "us")}
    await seed(db, "acme", restated, slices)
    third = await service.write(WHOLE)
    assert (third.rows_inserted, third.rows_updated, third.rows_deleted) == (0, 1, 1)
    assert await rows_of(read) == expected(restated, slices)


async def test_a_sync_window_touches_only_its_components_and_dates(db, target):
    read, cache = target
    await load(db, tenant("acme", cache))
    await seed(db, "acme", BASE, SLICES)
    service = CacheService(db.session_factory)
    await service.write(WHOLE)
    # semsync loses D1's base value and restates D3's eu slice; the sync changed only the dimension on D3
    await seed(db, "acme", {D2: 20.0, D3: 30.0}, {**SLICES, (D3, "eu"): 31.0})
    window = WHOLE.model_copy(update={"windows": [CacheWindow(dimension="region", start=D3, end=D3)]})
    result = await service.write(window)
    assert (result.rows_read, result.rows_updated, result.rows_deleted) == (1, 1, 0)
    assert await rows_of(read) == expected(BASE, {**SLICES, (D3, "eu"): 31.0})  # D1's base kept: not in the window


async def test_a_tenant_without_a_target_writes_nothing(db):
    await load(db, tenant("acme", None))
    assert (await CacheService(db.session_factory).write(WHOLE)).written is False


class _RefusingLogin(BaseHTTPRequestHandler):
    """Snowflake's login endpoint answering as it does to a wrong password."""

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"data": {"nextAction": "RETRY_LOGIN", "authnMethod": "USERNAME_PASSWORD"},
                           "code": "390100", "message": "Incorrect username or password was specified.",
                           "success": False, "headers": None}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


async def test_bad_snowflake_credentials_are_a_one_line_error_that_is_not_retried(db):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RefusingLogin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        await load(db, tenant("acme", {**SNOWFLAKE, "password": "wrong-password"}))
        service = CacheService(db.session_factory, snowflake_connect_args={
            "host": "127.0.0.1", "port": server.server_address[1], "protocol": "http"})
        with pytest.raises(CacheTargetError) as caught:
            await service.write(WHOLE)
        assert "\n" not in str(caught.value) and "wrong-password" not in str(caught.value)
        assert "Incorrect username or password" in str(caught.value), caught.value
        with pytest.raises(ApplicationError) as failed:
            await ActivityEnvironment().run(CacheActivities(service).write_cache, WHOLE)
        assert failed.value.non_retryable and failed.value.type == "CacheTargetError"
        assert failed.value.message == str(caught.value)
    finally:
        server.shutdown()


@pytest.mark.parametrize("kind, message, errno, expected", [
    ("ProgrammingError", "No active warehouse selected in the current session.", 606, CacheTargetError),
    ("ProgrammingError", "Object 'ANALYTICS.SEMSYNC' does not exist or not authorized.", 2003, CacheTargetError),
    ("DatabaseError", "Failed to connect to DB: x. Role 'R' specified in the connect string is not granted", 250001,
     CacheTargetError),
    ("OperationalError", "Could not connect to Snowflake backend after 2 attempt(s).", 250001,
     CacheTargetUnavailableError),
])
def test_snowflake_errors_are_sorted_by_whose_they_are(kind, message, errno, expected):
    from snowflake.connector import errors

    from semsync.cache.snowflake import SnowflakeCacheWriter
    from semsync.catalog.models import SnowflakeCacheTarget

    writer = SnowflakeCacheWriter(SnowflakeCacheTarget.model_validate(SNOWFLAKE))
    sorted_ = writer._sorted(getattr(errors, kind)(msg=message, errno=errno))
    assert type(sorted_) is expected and "\n" not in str(sorted_) and message in str(sorted_), sorted_


def test_key_pair_auth_hands_the_connector_the_key_in_der():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from semsync.cache.snowflake import SnowflakeCacheWriter
    from semsync.catalog.models import SnowflakeCacheTarget

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(b"phrase")).decode()
    target = SnowflakeCacheTarget.model_validate({**SNOWFLAKE, "password": None, "private_key": pem,
                                                  "private_key_passphrase": "phrase"})
    seen = {}
    SnowflakeCacheWriter(target, connect=lambda **kwargs: seen.update(kwargs))._connection()
    assert "password" not in seen and seen["warehouse"] == "WH" and seen["schema"] == "SEMSYNC"
    loaded = serialization.load_der_private_key(seen["private_key"], None)
    assert loaded.private_numbers() == key.private_numbers()
    wrong = target.model_copy(update={"private_key_passphrase": None})
    with pytest.raises(CacheTargetError, match="cannot read private_key"):
        SnowflakeCacheWriter(wrong, connect=lambda **kwargs: None)._connection()
