"""The Prometheus metrics of ``/metrics``, read from the database (and the
queue) at each scrape by one custom collector: every web process answers the
same figures whichever worker process did the work, and nothing is kept in
process memory between scrapes. docs/metrics.md lists each metric."""

import logging
from collections.abc import Iterator, Sequence

from django.db.models import Sum
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from retry_admin.models import DeliveryAttempt, HourlyCount, RetryRun, Status
from retry_admin.models.operations import COUNTED_ORDER
from retry_admin.queues import get_backend
from retry_admin.selectors.figures import DURATION_SAMPLE, status_counts

logger = logging.getLogger(__name__)

PREFIX = "retry_admin"
ATTEMPT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
CYCLE_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)
RUN_OUTCOMES = ("selected", "requeued", "still_failed", "permanently_failed", "skipped")


def buckets(values: Sequence[float], bounds: Sequence[float]) -> list[tuple[str, int]]:
    """Cumulative ``(le, count)`` pairs for ``values``, ending with ``+Inf``."""
    counts = [sum(1 for v in values if v <= bound) for bound in bounds]
    return [(_le(bound), n) for bound, n in zip(bounds, counts, strict=True)] + [
        ("+Inf", len(values))
    ]


def _le(bound: float) -> str:
    return repr(float(bound))


class DatabaseCollector(Collector):
    """Everything ``/metrics`` shows, computed when Prometheus asks."""

    def collect(self) -> Iterator[Metric]:
        yield from self._queue()
        yield from self._messages()
        yield from self._attempts()
        yield from self._cycles()

    def _queue(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            f"{PREFIX}_queue_up", "1 when the queue answered this scrape's depth reads, else 0."
        )
        depth = GaugeMetricFamily(
            f"{PREFIX}_queue_messages",
            "Messages on the main queue by state (visible, in_flight, delayed).",
            labels=["state"],
        )
        dlq = GaugeMetricFamily(f"{PREFIX}_dlq_messages", "Messages in the dead-letter queue.")
        try:
            backend = get_backend()
            now = backend.depth()
            dead = backend.dlq_depth()
        except Exception:  # an unreachable queue is a metric, not a failed scrape
            logger.exception("metrics: could not read the queue depth")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for state in ("visible", "in_flight", "delayed"):
            depth.add_metric([state], getattr(now, state))
        dlq.add_metric([], dead)
        yield from (up, depth, dlq)

    def _messages(self) -> Iterator[Metric]:
        by_status = GaugeMetricFamily(
            f"{PREFIX}_messages", "Message logs by status now.", labels=["status"]
        )
        figures = status_counts()
        for status in Status.values:
            by_status.add_metric([status], figures["counts"].get(status, 0))
        yield by_status
        yield GaugeMetricFamily(
            f"{PREFIX}_recovered_messages",
            "Messages sent now whose successful attempt was a retry (any route).",
            value=figures["recovered"],
        )
        if figures["retry_success_rate"] is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_retry_success_ratio",
                "Of the retried messages that finished (sent or permanently failed), the "
                "share sent (absent while none has finished).",
                value=figures["retry_success_rate"],
            )
        outcomes = CounterMetricFamily(
            f"{PREFIX}_outcomes",
            'Messages that reached each outcome, all time (rate() of outcome="sent" is '
            "sends per second); kept through retention.",
            labels=["outcome"],
        )
        totals = HourlyCount.objects.aggregate(**{name: Sum(name) for name in COUNTED_ORDER})
        for name in COUNTED_ORDER:
            outcomes.add_metric([name], totals[name] or 0)
        yield outcomes

    def _attempts(self) -> Iterator[Metric]:
        durations = [
            ms / 1000
            for ms in DeliveryAttempt.objects.order_by("-id").values_list("duration_ms", flat=True)[
                :DURATION_SAMPLE
            ]
        ]
        yield GaugeHistogramMetricFamily(
            f"{PREFIX}_attempt_duration_seconds",
            f"Channel send time of the last {DURATION_SAMPLE} delivery attempts (a gauge "
            "histogram: read it with histogram_quantile() directly, without rate()).",
            buckets=buckets(durations, ATTEMPT_BUCKETS),
            gsum_value=sum(durations),
        )

    def _cycles(self) -> Iterator[Metric]:
        runs = list(
            RetryRun.objects.filter(dry_run=False).values_list(
                "trigger", "started_at", "finished_at", "error", *RUN_OUTCOMES
            )
        )
        finished = [run for run in runs if run[2] is not None]
        seconds = [(run[2] - run[1]).total_seconds() for run in finished]
        yield HistogramMetricFamily(
            f"{PREFIX}_retry_cycle_duration_seconds",
            "How long each finished retry cycle took.",
            buckets=buckets(seconds, CYCLE_BUCKETS),
            sum_value=sum(seconds),
        )
        cycles = CounterMetricFamily(
            f"{PREFIX}_retry_cycles",
            "Finished retry cycles by trigger and result (error: the queue was unavailable).",
            labels=["trigger", "result"],
        )
        tally: dict[tuple[str, str], int] = {}
        for trigger, _, _, error, *_ in finished:
            key = (trigger, "error" if error else "ok")
            tally[key] = tally.get(key, 0) + 1
        for trigger in RetryRun.Trigger.values:
            for result in ("ok", "error"):
                cycles.add_metric([trigger, result], tally.get((trigger, result), 0))
        yield cycles
        messages = CounterMetricFamily(
            f"{PREFIX}_retry_cycle_messages",
            "What retry cycles did with the messages they selected, all cycles.",
            labels=["outcome"],
        )
        for i, outcome in enumerate(RUN_OUTCOMES):
            messages.add_metric([outcome], sum(run[4 + i] for run in runs))
        yield messages
        last = GaugeMetricFamily(
            f"{PREFIX}_retry_cycle_last_finished_timestamp_seconds",
            "When the last retry cycle finished (Unix time; absent before the first).",
        )
        if finished:
            last.add_metric([], max(run[2] for run in finished).timestamp())
            yield last


def metrics_registry() -> CollectorRegistry:
    """A registry holding only the database collector (no process metrics:
    they would differ between the processes behind one address)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    return registry
