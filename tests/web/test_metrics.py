"""/metrics: parsed with prometheus_client's own parser, checked against the
data it is computed from, and refused without the token or a console user."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from retry_admin.models import DeliveryAttempt, HourlyCount, MessageLog, RetryRun, Status
from retry_admin.selectors.figures import status_counts
from retry_admin.services.cleanup import cleanup_run
from retry_admin.services.sender import sender_drain
from tests.processes import start_django

TOKEN = "m3trics-token-for-tests-0123456789"


@pytest.fixture(autouse=True)
def _token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client: Client | None = None, **headers) -> dict:
    """{(sample name, frozenset(labels)): value} of one scrape with the token."""
    client = client or Client()
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples[(name, frozenset(labels.items()))]


# Access


@pytest.mark.django_db
def test_it_needs_the_token_or_a_console_user(viewer, django_user_model):
    anonymous = Client().get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"retry_admin_" not in anonymous.content
    wrong = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 401
    basic = Client().get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}")
    assert basic.status_code == 401
    for odd in ("Bearer", "Bearer  ", f"Bearer {TOKEN}x", "Bearer é\u2028", "\x00", TOKEN):
        assert Client().get("/metrics", HTTP_AUTHORIZATION=odd).status_code == 401, odd
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    console = Client()
    console.force_login(viewer)
    assert console.get("/metrics").status_code == 200
    outsider = Client()
    outsider.force_login(django_user_model.objects.create_user("outsider", is_staff=False))
    assert outsider.get("/metrics").status_code == 403


@pytest.mark.django_db
def test_without_a_token_setting_only_console_users_may_read_it(settings, viewer):
    settings.METRICS_TOKEN = ""
    refused = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert refused.status_code == 401
    assert b"METRICS_TOKEN is not set" in refused.content
    console = Client()
    console.force_login(viewer)
    assert console.get("/metrics").status_code == 200


@pytest.mark.django_db
def test_it_answers_get_only(viewer):
    client = Client()
    client.force_login(viewer)
    assert client.post("/metrics").status_code == 405
    assert client.head("/metrics").status_code == 405


# Values


@pytest.mark.django_db
def test_counts_depths_and_outcomes_match_the_data(make_batch, settings):
    settings.SIMULATED_TRANSIENT_RATE, settings.SIMULATED_PERMANENT_RATE = 0.3, 0.2
    make_batch(40, channel="simulated")
    make_batch(3, name="Still queued")  # 3 more visible on the queue after the drain
    before = scrape()
    assert value(before, "retry_admin_queue_messages", state="visible") == 43
    report = sender_drain(until_empty=True, poll_seconds=0)
    assert report.sent > 0 and report.failed > 0 and report.permanently_failed > 0
    make_batch(2, name="Arrived later")
    samples = scrape()
    by_status = {s: MessageLog.objects.filter(status=s).count() for s in Status.values}
    assert sum(by_status.values()) == 45
    for status, count in by_status.items():
        assert value(samples, "retry_admin_messages", status=status) == count
    assert value(samples, "retry_admin_queue_messages", state="visible") == 2
    assert value(samples, "retry_admin_queue_up") == 1
    assert value(samples, "retry_admin_dlq_messages") == 0
    assert value(samples, "retry_admin_outcomes_total", outcome="sent") == report.sent
    figures = status_counts()
    assert value(samples, "retry_admin_recovered_messages") == figures["recovered"]
    assert ("retry_admin_retry_success_ratio", frozenset()) not in samples  # none retried yet
    assert value(samples, "retry_admin_outcomes_total", outcome="failed") == report.failed
    assert (
        value(samples, "retry_admin_outcomes_total", outcome="permanently_failed")
        == report.permanently_failed
    )


@pytest.mark.django_db
def test_the_attempt_histogram_is_the_stored_durations(make_batch):
    make_batch(6)
    sender_drain(until_empty=True, poll_seconds=0)
    durations_ms = [3.0, 40.0, 40.0, 700.0, 2_000.0, 45_000.0]
    for attempt, ms in zip(DeliveryAttempt.objects.order_by("id"), durations_ms, strict=True):
        attempt.duration_ms = ms
        attempt.save(update_fields=["duration_ms"])
    samples = scrape()
    name = "retry_admin_attempt_duration_seconds"
    expected = {"0.005": 1, "0.01": 1, "0.05": 3, "0.5": 3, "1.0": 4, "2.5": 5, "30.0": 5}
    for le, count in expected.items():
        assert value(samples, f"{name}_bucket", le=le) == count
    assert value(samples, f"{name}_bucket", le="+Inf") == 6
    assert value(samples, f"{name}_gcount") == 6
    assert value(samples, f"{name}_gsum") == pytest.approx(sum(durations_ms) / 1000)


@pytest.mark.django_db
def test_retry_cycles_are_counted_and_timed(batch_with_failures):
    now = timezone.now()
    RetryRun.objects.create(
        trigger="schedule",
        started_at=now - timedelta(seconds=30),
        finished_at=now - timedelta(seconds=28),
        selected=4,
        requeued=3,
        still_failed=1,
    )
    RetryRun.objects.create(
        trigger="api",
        started_at=now - timedelta(seconds=20),
        finished_at=now,
        selected=2,
        skipped=2,
        error="Queue unavailable: down",
    )
    RetryRun.objects.create(trigger="console", started_at=now, dry_run=True, selected=9)
    RetryRun.objects.create(trigger="command", started_at=now)  # still running
    samples = scrape()
    name = "retry_admin_retry_cycle_duration_seconds"
    assert value(samples, f"{name}_count") == 2
    assert value(samples, f"{name}_sum") == pytest.approx(22, abs=0.01)
    assert value(samples, f"{name}_bucket", le="1.0") == 0
    assert value(samples, f"{name}_bucket", le="5.0") == 1
    assert value(samples, f"{name}_bucket", le="30.0") == 2
    cycles = "retry_admin_retry_cycles_total"
    assert value(samples, cycles, trigger="schedule", result="ok") == 1
    assert value(samples, cycles, trigger="api", result="error") == 1
    assert value(samples, cycles, trigger="console", result="ok") == 0  # dry runs do not count
    moved = "retry_admin_retry_cycle_messages_total"
    assert value(samples, moved, outcome="selected") == 6
    assert value(samples, moved, outcome="requeued") == 3
    assert value(samples, moved, outcome="skipped") == 2
    last = value(samples, "retry_admin_retry_cycle_last_finished_timestamp_seconds")
    assert last == pytest.approx(now.timestamp(), abs=0.01)


@pytest.mark.django_db
def test_the_outcome_counters_survive_retention(settings):
    old = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(days=40)
    HourlyCount.objects.create(hour=old, sent=7, failed=2)
    HourlyCount.objects.create(hour=old + timedelta(hours=1), sent=5, dead_lettered=1)
    HourlyCount.add(sent=3)
    before = scrape()
    assert value(before, "retry_admin_outcomes_total", outcome="sent") == 15
    cleanup_run(days=30)
    assert HourlyCount.objects.filter(hour__lt=timezone.now() - timedelta(days=30)).count() == 1
    cleanup_run(days=30)  # a second run folds nothing twice
    after = scrape()
    for outcome in ("sent", "failed", "permanently_failed", "dead_lettered"):
        assert value(after, "retry_admin_outcomes_total", outcome=outcome) == value(
            before, "retry_admin_outcomes_total", outcome=outcome
        )


@pytest.mark.django_db
def test_an_unreachable_queue_is_a_metric_not_an_error(monkeypatch, caplog):
    class Down:
        def depth(self):
            raise ConnectionError("queue is down")

    monkeypatch.setattr("retry_admin.selectors.metrics.get_backend", lambda: Down())
    samples = scrape()
    assert value(samples, "retry_admin_queue_up") == 0
    assert not any(name == "retry_admin_queue_messages" for name, _ in samples)
    assert value(samples, "retry_admin_messages", status="sent") == 0
    assert "could not read the queue depth" in caplog.text


@pytest.mark.django_db
def test_nothing_is_kept_in_process_memory(make_batch):
    """Every figure is read from the database at the scrape, so a registry
    built before another process's sender ran already sees its work."""
    from retry_admin.selectors.metrics import metrics_registry

    make_batch(4)
    registry = metrics_registry()
    assert registry.get_sample_value("retry_admin_outcomes_total", {"outcome": "sent"}) == 0
    sender_drain(until_empty=True, poll_seconds=0)
    assert registry.get_sample_value("retry_admin_outcomes_total", {"outcome": "sent"}) == 4


@pytest.mark.django_db
def test_the_retry_figures_are_the_overviews(batch_with_failures):
    from retry_admin.models import Source

    logs = list(MessageLog.objects.filter(batch=batch_with_failures))
    MessageLog.objects.filter(pk__in=[logs[0].pk, logs[1].pk, logs[2].pk]).update(
        status=Status.SENT, enqueue_source=Source.RETRY
    )
    MessageLog.objects.filter(pk=logs[3].pk).update(
        status=Status.PERMANENTLY_FAILED, enqueue_source=Source.MANUAL
    )
    samples = scrape()
    assert value(samples, "retry_admin_recovered_messages") == 3
    assert value(samples, "retry_admin_retry_success_ratio") == 0.75


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("metrics-settings")


def test_a_short_token_stops_start_up_without_echoing_it(var_dir):
    result = start_django(var_dir, METRICS_TOKEN="short-secret")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: METRICS_TOKEN")
    assert "at least 16 characters" in last
    assert "short-secret" not in result.stderr


def test_an_unknown_envelope_form_stops_start_up(var_dir):
    result = start_django(var_dir, QUEUE_ENVELOPE="everything")
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode != 0
    assert "QUEUE_ENVELOPE must be one of full, pointer" in last
