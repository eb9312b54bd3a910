"""The one way semsync connects to Temporal: `connect_temporal(settings)`.

Every client (the worker, the CLI) gets the pydantic data converter, TLS (mTLS with a client certificate,
or the system's roots for Temporal Cloud), an API key when one is set, and, for a worker with
`SEMSYNC_WORKER__METRICS_PORT`, a runtime whose Prometheus endpoint serves the SDK's metrics and
the ones semsync records through `activity.metric_meter()`.
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import TLSConfig

from semsync.config import Settings, TemporalSettings


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


def metrics_runtime(host: str, port: int) -> Runtime:
    """A runtime exporting the SDK's metrics (and every `metric_meter()` instrument) on http://host:port/metrics."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"{host}:{port}")))


async def connect_temporal(settings: Settings, *, metrics: bool = False, runtime: Runtime | None = None) -> Client:
    """A client of `settings.temporal`. With `metrics` (the worker) and `SEMSYNC_WORKER__METRICS_PORT` set,
    on a new runtime with the Prometheus endpoint (once per process: the port is bound once); `runtime`
    overrides. The CLI connects without metrics."""
    temporal = settings.temporal
    if runtime is None and metrics and settings.worker.metrics_port:
        runtime = metrics_runtime(settings.worker.metrics_host, settings.worker.metrics_port)
    return await Client.connect(
        temporal.address,
        namespace=temporal.namespace,
        data_converter=pydantic_data_converter,
        tls=tls_config(temporal),
        api_key=temporal.api_key.get_secret_value() if temporal.api_key else None,
        runtime=runtime,
    )
