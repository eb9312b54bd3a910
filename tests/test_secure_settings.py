"""Secure connections: Temporal over TLS or with an API key, PostgreSQL over TLS, secrets from mounted files."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import struct
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.service import TLSConfig

from semsync.config import DatabaseSettings, Settings, TemporalSettings
from semsync.db.session import Database, ssl_connect_args
from semsync.services import open_services
from semsync.temporal_client import connect_temporal, tls_config


@pytest.fixture
def clean_env(monkeypatch):
    """No SEMSYNC_ or DATABASE_URL variable of the machine leaks into these settings."""
    import os

    for name in list(os.environ):
        if name.startswith("SEMSYNC_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def pem_files(tmp_path):
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "client", "client-key")}
    for name, path in files.items():
        path.write_bytes(f"-----BEGIN {name}-----\n".encode())
    return files


def test_tls_files_and_an_api_key_from_a_mounted_file(clean_env, pem_files, tmp_path):
    (tmp_path / "api_key").write_text("tc-key-123\n")
    (tmp_path / "db_url").write_text("postgresql+asyncpg://app:pw@db:5432/semsync\n")
    clean_env.setenv("SEMSYNC_TEMPORAL__ADDRESS", "acme.a1b2c.tmprl.cloud:7233")
    clean_env.setenv("SEMSYNC_TEMPORAL__TLS_SERVER_CA", str(pem_files["ca"]))
    clean_env.setenv("SEMSYNC_TEMPORAL__TLS_CLIENT_CERT", str(pem_files["client"]))
    clean_env.setenv("SEMSYNC_TEMPORAL__TLS_CLIENT_KEY", str(pem_files["client-key"]))
    clean_env.setenv("SEMSYNC_TEMPORAL__TLS_SERVER_NAME", "temporal.internal")
    clean_env.setenv("SEMSYNC_TEMPORAL__API_KEY_FILE", str(tmp_path / "api_key"))
    clean_env.setenv("SEMSYNC_DATABASE__URL_FILE", str(tmp_path / "db_url"))
    clean_env.setenv("SEMSYNC_DATABASE__SSLMODE", "verify-full")
    clean_env.setenv("SEMSYNC_DATABASE__SSLROOTCERT", str(pem_files["ca"]))
    clean_env.setenv("DATABASE_URL", "postgresql+asyncpg://ignored@elsewhere/x")  # the _FILE form wins

    settings = Settings()

    temporal = settings.temporal
    assert temporal.tls_client_cert == pem_files["client"] and temporal.tls_client_key == pem_files["client-key"]
    assert temporal.api_key.get_secret_value() == "tc-key-123"  # the file's newline stripped
    assert "tc-key-123" not in repr(settings)
    assert settings.database.url.get_secret_value() == "postgresql+asyncpg://app:pw@db:5432/semsync"
    assert settings.database.sslmode == "verify-full" and settings.database.sslrootcert == pem_files["ca"]


def test_a_secret_and_its_file_together_are_refused(clean_env, tmp_path):
    (tmp_path / "api_key").write_text("one")
    clean_env.setenv("SEMSYNC_TEMPORAL__API_KEY", "two")
    clean_env.setenv("SEMSYNC_TEMPORAL__API_KEY_FILE", str(tmp_path / "api_key"))
    with pytest.raises(ValueError, match="SEMSYNC_TEMPORAL__API_KEY or SEMSYNC_TEMPORAL__API_KEY_FILE"):
        Settings()


def test_a_missing_secret_file_names_the_variable(clean_env, tmp_path):
    clean_env.setenv("SEMSYNC_DATABASE__ADMIN_URL_FILE", str(tmp_path / "absent"))
    with pytest.raises(ValueError, match="SEMSYNC_DATABASE__ADMIN_URL_FILE: cannot read"):
        Settings()


def test_only_secret_settings_take_a_file(clean_env, tmp_path):
    (tmp_path / "address").write_text("evil:1")
    clean_env.setenv("SEMSYNC_TEMPORAL__ADDRESS_FILE", str(tmp_path / "address"))
    assert Settings().temporal.address == TemporalSettings().address


def test_a_client_certificate_needs_its_key():
    with pytest.raises(ValidationError, match="tls_client_cert and tls_client_key go together"):
        TemporalSettings(tls_client_cert="/run/secrets/client.pem")


def test_a_bad_sslmode_is_refused():
    with pytest.raises(ValidationError, match="sslmode"):
        DatabaseSettings(sslmode="required")


def test_the_dev_server_gets_plain_grpc():
    assert tls_config(TemporalSettings()) is False


def test_mtls_reads_the_mounted_pem_files(pem_files):
    config = tls_config(TemporalSettings(tls_server_ca=pem_files["ca"], tls_client_cert=pem_files["client"],
                                         tls_client_key=pem_files["client-key"], tls_server_name="temporal.internal"))
    assert config == TLSConfig(server_root_ca_cert=b"-----BEGIN ca-----\n", client_cert=b"-----BEGIN client-----\n",
                               client_private_key=b"-----BEGIN client-key-----\n", domain="temporal.internal")


def test_an_api_key_turns_tls_on_with_the_system_roots():
    assert tls_config(TemporalSettings(api_key="k")) == TLSConfig()
    assert tls_config(TemporalSettings(tls=True)) == TLSConfig()


async def test_connect_temporal_passes_tls_api_key_and_the_pydantic_converter(monkeypatch, pem_files):
    seen = {}

    async def fake_connect(target, **kwargs):
        seen.update(kwargs, target=target)
        return "client"

    monkeypatch.setattr(Client, "connect", fake_connect)
    settings = Settings(temporal=TemporalSettings(address="acme.a1b2c.tmprl.cloud:7233", namespace="acme.a1b2c",
                                                  api_key="tc-key", tls_server_ca=pem_files["ca"]))
    assert await connect_temporal(settings) == "client"
    from temporalio.contrib.pydantic import pydantic_data_converter

    assert seen["target"] == "acme.a1b2c.tmprl.cloud:7233" and seen["namespace"] == "acme.a1b2c"
    assert seen["api_key"] == "tc-key" and seen["data_converter"] is pydantic_data_converter
    assert seen["tls"] == TLSConfig(server_root_ca_cert=b"-----BEGIN ca-----\n")
    assert seen["runtime"] is None  # the CLI never binds the metrics port


def test_sslmode_require_encrypts_without_verifying():
    context = ssl_connect_args(DatabaseSettings(sslmode="require"))["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname


def test_sslmode_verify_full_checks_the_ca_and_the_host(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text(_SELF_SIGNED_CA)
    context = ssl_connect_args(DatabaseSettings(sslmode="verify-full", sslrootcert=ca))["ssl"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.get_ca_certs()[0]["subject"] == ((("commonName", "semsync-test-ca"),),)
    verify_ca = ssl_connect_args(DatabaseSettings(sslmode="verify-ca", sslrootcert=ca))["ssl"]
    assert verify_ca.verify_mode == ssl.CERT_REQUIRED and not verify_ca.check_hostname


def test_no_sslmode_leaves_asyncpg_its_default():
    assert ssl_connect_args(DatabaseSettings()) == {}
    assert ssl_connect_args(DatabaseSettings(sslmode="disable")) == {"ssl": False}
    assert ssl_connect_args(DatabaseSettings(sslmode="prefer")) == {"ssl": "prefer"}


async def test_the_engine_connects_with_the_ssl_context(test_database):
    """The embedded PostgreSQL has no TLS: `require` must fail there (the context reached asyncpg),
    `prefer` falls back to plain TCP."""
    settings = Settings(database=DatabaseSettings(url=test_database.app_url, sslmode="require"))
    with pytest.raises(ConnectionError, match="SSL"):  # at the start: the role check is its first query
        async with open_services(settings) as services, services.database.engine.connect():
            pass
    prefer = Database.connect(test_database.app_url, connect_args=ssl_connect_args(DatabaseSettings(sslmode="prefer")))
    try:
        async with prefer.engine.connect() as conn:
            assert (await conn.exec_driver_sql("SELECT 1")).scalar() == 1
    finally:
        await prefer.dispose()




def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> Path:
    """A CA, a server certificate it signed for 127.0.0.1, and an unrelated CA."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed (it makes the test CA and certificate)")
    certs = tmp_path_factory.mktemp("certs")
    for name in ("ca", "other-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                 "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=certs)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
             "-out", "server.csr", cwd=certs)
    (certs / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "san.ext", "-out", "server.crt", cwd=certs)
    return certs


SSL_REQUEST = struct.pack("!ii", 8, 80877103)


async def relay_to(host: str, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes both ways between a client's stream and a new connection to host:port until both end."""
    up_reader, up_writer = await asyncio.open_connection(host, port)

    async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.close()

    await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))


@pytest.fixture
async def tls_postgres(test_database, certificates):
    """PostgreSQL's TLS front door, for the test database (the embedded build has no TLS): answers the
    protocol's SSLRequest, completes the TLS handshake with the server certificate, then relays to the
    real server; a client that does not ask for TLS is turned away. Yields (app URL, handshakes)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates / "server.crt", certificates / "server.key")
    upstream = make_url(test_database.app_url)
    handshakes: list[str] = []

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ssl.SSLError):
            if await reader.readexactly(8) != SSL_REQUEST:
                return  # no TLS, no entry (as `hostssl` only in pg_hba.conf)
            writer.write(b"S")
            await writer.drain()
            await writer.start_tls(context)
            handshakes.append(writer.get_extra_info("ssl_object").version())
            await relay_to(upstream.host, upstream.port, reader, writer)
        writer.close()

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield upstream.set(port=port).render_as_string(hide_password=False), handshakes
    server.close()


async def _select_one(url: str, database: DatabaseSettings) -> int:
    db = Database.connect(url, pool_size=1, connect_args=ssl_connect_args(database))
    try:
        async with db.engine.connect() as conn:
            return (await conn.exec_driver_sql("SELECT 1")).scalar()
    finally:
        await db.dispose()


async def test_verify_full_connects_over_tls_to_a_server_signed_by_the_ca(tls_postgres, certificates):
    url, handshakes = tls_postgres
    assert await _select_one(url, DatabaseSettings(sslmode="verify-full", sslrootcert=certificates / "ca.pem")) == 1
    assert await _select_one(url, DatabaseSettings(sslmode="require")) == 1  # encrypted, not verified
    assert len(handshakes) == 2 and all(version.startswith("TLS") for version in handshakes)


async def test_a_server_signed_by_another_ca_is_refused(tls_postgres, certificates):
    url, handshakes = tls_postgres
    with pytest.raises(ssl.SSLCertVerificationError):
        await _select_one(url, DatabaseSettings(sslmode="verify-ca", sslrootcert=certificates / "other-ca.pem"))
    assert handshakes == []


async def test_the_settings_reach_the_engine_of_the_services(tls_postgres, certificates, test_database):
    url, handshakes = tls_postgres
    settings = Settings(database=DatabaseSettings(url=url, sslmode="verify-full",
                                                  sslrootcert=certificates / "ca.pem"))
    async with open_services(settings) as services, services.database.engine.connect() as conn:
        assert (await conn.exec_driver_sql("SELECT current_user")).scalar() == "semsync_app"
    assert len(handshakes) == 1



@pytest.fixture
async def tls_temporal(temporal_env, certificates):
    """The dev server behind a TLS front door (start-dev has no TLS) that requires a client certificate
    signed by the test CA (mTLS), as a self-hosted cluster would; yields (address, handshakes)."""
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=semsync-worker", "-keyout", "client.key",
             "-out", "client.csr", cwd=certificates)
    (certificates / "client.ext").write_text("extendedKeyUsage=clientAuth\n")  # a v3 certificate, as rustls wants
    _openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "client.ext", "-out", "client.crt", cwd=certificates)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=certificates / "ca.pem")
    context.load_cert_chain(certificates / "server.crt", certificates / "server.key")
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])
    host, port = temporal_env.client.service_client.config.target_host.rsplit(":", 1)
    handshakes: list[str] = []

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            handshakes.append(writer.get_extra_info("ssl_object").getpeercert()["subject"][0][0][1])
            await relay_to(host, int(port), reader, writer)
        writer.close()

    server = await asyncio.start_server(relay, "127.0.0.1", 0, ssl=context)
    yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}", handshakes
    server.close()


async def test_connect_temporal_over_mtls(tls_temporal, certificates, temporal_env):
    address, handshakes = tls_temporal
    settings = Settings(temporal=TemporalSettings(
        address=address, namespace=temporal_env.client.namespace, tls_server_ca=certificates / "ca.pem",
        tls_client_cert=certificates / "client.crt", tls_client_key=certificates / "client.key"))
    client = await connect_temporal(settings)
    assert (await client.workflow_service.get_system_info(GetSystemInfoRequest())).server_version
    assert handshakes and set(handshakes) == {"semsync-worker"}  # the front door saw our certificate


async def test_connect_temporal_without_the_client_certificate_is_refused(tls_temporal, certificates, temporal_env):
    address, handshakes = tls_temporal
    settings = Settings(temporal=TemporalSettings(address=address, namespace=temporal_env.client.namespace,
                                                  tls_server_ca=certificates / "ca.pem"))
    with pytest.raises(RuntimeError, match="connect"):
        await asyncio.wait_for(connect_temporal(settings), 60)
    assert handshakes == []


# `openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=semsync-test-ca -days 36500` (the certificate only;
# its key was thrown away)
_SELF_SIGNED_CA = """-----BEGIN CERTIFICATE-----
MIIDFzCCAf+gAwIBAgIUa68/4HZqSC0OZXvRd8yX4wHWFNUwDQYJKoZIhvcNAQEL
BQAwGjEYMBYGA1UEAwwPc2Vtc3luYy10ZXN0LWNhMCAXDTI2MTEyNjA3MTMxMVoY
DzIxMjYxMTAyMDcxMzExWjAaMRgwFgYDVQQDDA9zZW1zeW5jLXRlc3QtY2EwggEi
MA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCrRLWQFky8zsNUTfy96gOhIbkR
ArMrYsm9pmvNaxAJevBtP+mT+sxcplDewu3nbFSxLE6qH5FeN5HN4HsLLD9uqi7J
KVyqmXd22BXxDWwHepppyEss5Nc/WBXl2z0vbEShicOeg/3fzDgdhGSi1CzetS7r
eLyDMFgdBD8jMB6so52G9VBU1QzFEHDBZVTNabgA5CWpcsKcm74kR4/k8kJtM8PG
3yfNgti4REqfcDLCvqytM/U6y8s74wGGbSkqD7UgTCtuqrfFzYfTo8g3bniH3rvq
Siw6TBiF7sewpxcgce7gHWd8oGFE0oXnPiVxj8Uq3vTZHC22C0vEEc9ovq+lAgMB
AAGjUzBRMB0GA1UdDgQWBBQbYtwxkAOrv/rWBNs7UL/SaEs1yDAfBgNVHSMEGDAW
gBQbYtwxkAOrv/rWBNs7UL/SaEs1yDAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3
DQEBCwUAA4IBAQCTjjRCfZgKik2dpGuvFU8XTuJjKOZFQ7jd+54HIKnk2Y9ytoPM
uBNJerZGYgHpWpy5vGix93p+TXKb6ChSuhqCsam5APsyxRGhAKZ8iLP4dmuoCYR4
X+NmD1jIdYN+CEUW3MMh8JwogJc2+5B7W2VCDNoH7Mr0OBEUEiZBtqkXhbK3IDaZ
gm2+BSjwGmhIvxXmyR0tGOnDw5Jo+vjw1PtNW5Un2ys4pvsB/WZzYOyeeDJITAzO
62aTYqyHBnVgCXxwmQW1qGPGMDIHb5r/j4YMqIVXogx7M+aP1l+8PKvJAqxzP95R
F/bxZuTdP1slll14uUMb/zRYREsgLnJ6kSK2
-----END CERTIFICATE-----
"""
