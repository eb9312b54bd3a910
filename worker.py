"""The semsync worker: `python worker.py [--queue sync|patterns|all]`.

- queue ``semsync-sync``: SyncWorkflow, BackfillWorkflow, ScheduledRunWorkflow, DiscoveryWorkflow,
  AlertWorkflow, DigestWorkflow, ResendWorkflow, CacheWorkflow; the sync, planning, ledger, discovery, delivery
  and cache activities;
- queue ``semsync-patterns``: PatternWorkflow, StoryWorkflow and their activities, whose analysis and
  telling run in a process pool sized to the cores, so one worker uses every core (and AlertWorkflow,
  for a story run started without a sync queue to send from).

Both by default; one by flag, so they scale apart. Dependencies come from the composition root
(`semsync.services`), built once inside the worker's event loop and closed on shutdown. SIGTERM or
SIGINT stops polling, lets running activities finish (`SEMSYNC_WORKER__GRACEFUL_SHUTDOWN_S`) and exits.
`SEMSYNC_WORKER__METRICS_PORT` serves Prometheus metrics (the SDK's and semsync's, `activities.telemetry`;
the counters the alert rules watch start at 0);
`SEMSYNC_LOG_FORMAT=json` writes JSON lines carrying tenant, metric, grain and partition (`semsync.observability`).
"""

from __future__ import annotations

from semsync.services import pin_blas_threads

pin_blas_threads()  # before numpy loads

import asyncio  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402
from contextlib import AsyncExitStack, asynccontextmanager  # noqa: E402
from datetime import timedelta  # noqa: E402
from enum import StrEnum  # noqa: E402

import typer  # noqa: E402
from temporalio import activity, workflow  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from activities.backfill import LedgerActivities, backfill_activities  # noqa: E402
from activities.cache import CacheActivities  # noqa: E402
from activities.deliveries import DeliveryActivities  # noqa: E402
from activities.discovery import DiscoveryActivities  # noqa: E402
from activities.heartbeat import KeepAliveInterceptor  # noqa: E402
from activities.patterns import PatternActivities  # noqa: E402
from activities.stories import StoryActivities  # noqa: E402
from activities.sync import SyncActivities  # noqa: E402
from activities.telemetry import initialise_counters  # noqa: E402
from semsync.config import Settings, get_settings  # noqa: E402
from semsync.errors import ConfigurationError  # noqa: E402
from semsync.observability import configure_logging  # noqa: E402
from semsync.services import Services, open_services, pattern_process_pool  # noqa: E402
from semsync.temporal_client import connect_temporal  # noqa: E402
from workflows.backfill import BackfillWorkflow  # noqa: E402
from workflows.cache import CacheWorkflow  # noqa: E402
from workflows.deliveries import AlertWorkflow, DigestWorkflow, ResendWorkflow  # noqa: E402
from workflows.discovery import DiscoveryWorkflow  # noqa: E402
from workflows.patterns import PatternWorkflow  # noqa: E402
from workflows.scheduled import ScheduledRunWorkflow  # noqa: E402
from workflows.stories import StoryWorkflow  # noqa: E402
from workflows.sync import SyncWorkflow  # noqa: E402

QUEUES = ("sync", "patterns")


class QueueChoice(StrEnum):
    """`--queue`: one task queue (they scale apart) or both."""

    SYNC = "sync"
    PATTERNS = "patterns"
    ALL = "all"


def make_workers(client: Client, services: Services, queues: tuple[str, ...] = QUEUES) -> list[Worker]:
    """The Temporal workers of `queues` over already-built services."""
    settings = services.settings
    ledger = LedgerActivities(services.ledger)
    delivery = DeliveryActivities(services.deliveries)
    deliveries = [delivery.plan_alerts, delivery.plan_digest, delivery.send_delivery, delivery.give_up_delivery]
    workers = []
    if "sync" in queues:
        sync = SyncActivities(services.sync)
        workers.append(Worker(
            client, task_queue=settings.temporal.sync_task_queue,
            workflows=[SyncWorkflow, BackfillWorkflow, ScheduledRunWorkflow, DiscoveryWorkflow, AlertWorkflow,
                       DigestWorkflow, ResendWorkflow, CacheWorkflow],
            activities=[sync.plan_sync, sync.sync_component, sync.record_component_failure, ledger.record_ledger,
                        ledger.note_missing_days, CacheActivities(services.cache).write_cache,
                        *backfill_activities(services.planner),
                        DiscoveryActivities(services.discovery).discover, *deliveries],
            max_concurrent_activities=settings.worker.sync_concurrency,
            graceful_shutdown_timeout=timedelta(seconds=settings.worker.graceful_shutdown_s),
            interceptors=[KeepAliveInterceptor()], max_cached_workflows=settings.worker.max_cached_workflows,
            disable_eager_activity_execution=not settings.worker.eager_activities,
        ))
    if "patterns" in queues:
        patterns = PatternActivities(services.patterns)
        processes = settings.worker.pattern_processes or os.cpu_count() or 1
        workers.append(Worker(
            client, task_queue=settings.temporal.pattern_task_queue,
            workflows=[PatternWorkflow, StoryWorkflow, AlertWorkflow],
            activities=[patterns.active_patterns, patterns.run_pattern, patterns.run_patterns, ledger.record_ledger,
                        StoryActivities(services.stories).tell_stories, *deliveries],
            max_concurrent_activities=settings.worker.pattern_concurrency or processes * 2,
            graceful_shutdown_timeout=timedelta(seconds=settings.worker.graceful_shutdown_s),
            interceptors=[KeepAliveInterceptor()], max_cached_workflows=settings.worker.max_cached_workflows,
            disable_eager_activity_execution=not settings.worker.eager_activities,
        ))
    return workers


@asynccontextmanager
async def running_services(settings: Settings, queues: tuple[str, ...] = QUEUES) -> AsyncIterator[Services]:
    """The services with a pattern process pool when the patterns queue is served; closed on exit."""
    async with AsyncExitStack() as stack:
        executor = None
        if "patterns" in queues:
            executor = pattern_process_pool(settings.worker.pattern_processes or None, settings.worker.pattern_nice)
            stack.callback(executor.shutdown, wait=True, cancel_futures=True)
        yield await stack.enter_async_context(open_services(settings, pattern_executor=executor))


async def main(queues: tuple[str, ...]) -> None:
    settings = get_settings()
    configure_logging(settings.log_format)
    if settings.log_format == "json":  # the ids are fields of each JSON line: not repeated in the message
        activity.logger.activity_info_on_message = False
        workflow.logger.workflow_info_on_message = False
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # the services first: a database role that row-level security does not hold stops the worker
    # before it connects to Temporal
    async with running_services(settings, queues) as services:
        client = await connect_temporal(settings, for_worker=True)
        if settings.worker.metrics_port:
            logging.info("metrics on http://%s:%s/metrics", settings.worker.metrics_host,
                         settings.worker.metrics_port)
        workers = make_workers(client, services, queues)
        initialise_counters(client.service_client.config.runtime.metric_meter, namespace=settings.temporal.namespace,
                            sync_queue=settings.temporal.sync_task_queue if "sync" in queues else None,
                            delivery_queues=[w.task_queue for w in workers])
        async with AsyncExitStack() as stack:
            for worker in workers:
                await stack.enter_async_context(worker)  # leaving shuts down gracefully
            logging.info("semsync worker polling %s", ", ".join(w.task_queue for w in workers))
            await stop.wait()
            logging.info("stopping: waiting up to %ss for running activities", settings.worker.graceful_shutdown_s)
    logging.info("semsync worker stopped")


app = typer.Typer(add_completion=False, pretty_exceptions_show_locals=False)


@app.command()
def run(
    queue: QueueChoice = typer.Option(QueueChoice.ALL, "--queue",
                                      help="serve one task queue (they scale apart) or both (default)"),
) -> None:
    """The semsync Temporal worker."""
    try:
        asyncio.run(main(QUEUES if queue is QueueChoice.ALL else (queue.value,)))
    except ConfigurationError as exc:  # a setting to fix (e.g. a privileged database role): one line
        typer.echo(f"semsync worker: error: {exc}", err=True)
        raise typer.Exit(2) from None


if __name__ == "__main__":
    app(prog_name="python worker.py")
