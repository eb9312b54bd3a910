"""The one way semsync connects to Temporal: `connect_temporal(settings)`.

Every client (the worker, the CLI) gets the pydantic data converter, TLS (mTLS with a client
certificate, or the system's roots for Temporal Cloud) and an API key when one is set; the worker's
client runs on `worker_runtime`, whose Prometheus endpoint (`SEMSYNC_WORKER__METRICS_PORT`) serves the
SDK's metrics and the ones semsync records through `activity.metric_meter()`.
"""

from __future__ import annotations

import logging

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.service import TLSConfig

from semsync.config import Settings, TemporalSettings, WorkerSettings


def tls_config(settings: TemporalSettings) -> TLSConfig | bool:
    """The client's TLS: False (plain gRPC, the dev server), or a `TLSConfig` from the mounted PEM files."""
    if not settings.uses_tls:
        return False

    def read(path) -> bytes | None:
        return path.read_bytes() if path is not None else None

    return TLSConfig(
        server_root_ca_cert=read(settings.tls_server_ca),
        client_cert=read(settings.tls_client_cert),
        client_private_key=read(settings.tls_client_key),
        domain=settings.tls_server_name,
    )


def worker_runtime(settings: WorkerSettings) -> Runtime:
    """The worker's runtime: the SDK core's own log lines forwarded into Python logging (so they get the
    worker's format, JSON included) and, with `metrics_port`, a Prometheus endpoint on
    http://metrics_host:metrics_port/metrics serving the SDK's metrics and every `metric_meter()` instrument."""
    metrics = None
    if settings.metrics_port:
        metrics = PrometheusConfig(bind_address=f"{settings.metrics_host}:{settings.metrics_port}")
    return Runtime(telemetry=TelemetryConfig(
        logging=LoggingConfig(filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                              forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core"))),
        metrics=metrics,
    ))


async def connect_temporal(settings: Settings, *, for_worker: bool = False, runtime: Runtime | None = None) -> Client:
    """A client of `settings.temporal`. `for_worker`: on a new `worker_runtime` (once per process: the
    metrics port is bound once); the CLI connects on the SDK's default runtime. `runtime` overrides both."""
    temporal = settings.temporal
    if runtime is None and for_worker:
        runtime = worker_runtime(settings.worker)
    return await Client.connect(
        temporal.address,
        namespace=temporal.namespace,
        data_converter=pydantic_data_converter,
        tls=tls_config(temporal),
        api_key=temporal.api_key.get_secret_value() if temporal.api_key else None,
        runtime=runtime,
    )
