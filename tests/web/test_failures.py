"""Failures grouped by error; bulk retry with a frozen preview, then progress."""

import re

import pytest
from django.core import signing

from retry_admin.models import AuditEvent, MessageLog, Status
from retry_admin.services.sender import sender_drain

pytestmark = pytest.mark.django_db

TIMEOUT = "Upstream gateway timeout after <n> ms"
OPTED_OUT = "Message rejected: recipient <email> opted out"


@pytest.fixture
def permanent_failures(make_batch):
    """Two error groups of permanently failed messages (3 + 2)."""
    batch = make_batch(5)
    ids = list(MessageLog.objects.filter(batch=batch).order_by("id").values_list("id", flat=True))
    MessageLog.objects.filter(id__in=ids[:3]).update(
        status=Status.PERMANENTLY_FAILED,
        last_error="Upstream gateway timeout after 30 ms",
        error_signature=TIMEOUT,
        retry_count=3,  # out of retries
    )
    MessageLog.objects.filter(id__in=ids[3:]).update(
        status=Status.PERMANENTLY_FAILED,
        last_error="Message rejected: recipient x@example.com opted out",
        error_signature=OPTED_OUT,
    )
    return batch


def _token(html: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', html).group(1)


def test_it_groups_permanent_failures_by_signature(super_client, permanent_failures):
    response = super_client.get("/failures/")

    groups = response.context["groups"]
    assert [(g["error_signature"], g["count"]) for g in groups] == [(TIMEOUT, 3), (OPTED_OUT, 2)]
    html = response.content.decode()
    assert "Retry group…" in html
    assert html.count('data-testid="retry-one"') == 5


def test_a_group_link_filters_the_messages_below(super_client, permanent_failures):
    response = super_client.get("/failures/", {"status": "permanently_failed", "error": OPTED_OUT})

    assert len(response.context["page"].items) == 2
    assert 'class="selected"' in response.content.decode()


def test_each_tab_has_its_own_empty_state(super_client):
    for status, text in [
        ("permanently_failed", "No message has run out of retries."),
        ("failed", "No message is waiting for the retry cycle."),
        ("dead_lettered", "The dead-letter queue is empty."),
    ]:
        assert text in super_client.get(f"/failures/?status={status}").content.decode()


def test_bulk_retry_of_a_group_previews_exactly_what_it_runs(
    super_client, permanent_failures, make_batch
):
    preview = super_client.post(
        "/failures/bulk/preview/",
        {"status": "permanently_failed", "error": TIMEOUT},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert 'data-testid="preview-count">3<' in preview
    assert "Messages that fail after this preview are not included." in preview

    # A message that fails the same way after the preview is not swept in.
    late = MessageLog.objects.get(pk=make_batch(1, name="Late").messagelog_set.get().pk)
    MessageLog.objects.filter(pk=late.pk).update(
        status=Status.PERMANENTLY_FAILED, error_signature=TIMEOUT
    )
    run = super_client.post(
        "/failures/bulk/run/", {"token": _token(preview)}, HTTP_HX_REQUEST="true"
    )

    html = run.content.decode()
    assert "Retry: 3 requeued." in html
    assert run["HX-Trigger"] == "messages-changed"
    assert MessageLog.objects.filter(status=Status.PENDING).count() == 3
    late.refresh_from_db()
    assert late.status == Status.PERMANENTLY_FAILED
    assert AuditEvent.objects.filter(action="message_retry", count=3).exists()
    assert "waiting for the sender" in html and 'hx-trigger="every 2s' in html


def test_bulk_progress_follows_the_retried_messages_until_done(super_client, permanent_failures):
    groups = [
        f'["permanently_failed", "{TIMEOUT}", true]',
        f'["permanently_failed", "{OPTED_OUT}", false]',
    ]
    preview = super_client.post(
        "/failures/bulk/preview/", {"status": "permanently_failed", "choose": "1", "group": groups}
    )
    run = super_client.post("/failures/bulk/run/", {"token": _token(preview.content.decode())})
    url = re.search(r'hx-get="(/failures/bulk/progress/[^"]+)"', run.content.decode()).group(1)
    url = url.replace("&amp;", "&")

    sender_drain(until_empty=True)
    progress = super_client.get(url, HTTP_HX_REQUEST="true").content.decode()

    assert "<strong>5 sent</strong>" in progress
    assert "<strong>done</strong>" in progress
    assert "hx-trigger" not in progress  # stops polling


def test_bulk_retry_of_everything_matching_a_filter(super_client, permanent_failures, make_batch):
    other = make_batch(2, name="Other")
    MessageLog.objects.filter(batch=other).update(status=Status.PERMANENTLY_FAILED, retry_count=3)

    preview = super_client.post(
        "/failures/bulk/preview/", {"status": "permanently_failed", "batch": other.pk}
    ).content.decode()

    assert 'data-testid="preview-count">2<' in preview


def test_a_tampered_or_expired_preview_runs_nothing(super_client, permanent_failures):
    forged = signing.dumps({"filters": {}, "as_of": "2999-01-01T00:00:00+00:00"}, salt="other")

    response = super_client.post("/failures/bulk/run/", {"token": forged}, HTTP_HX_REQUEST="true")

    assert "expired or is invalid" in response.content.decode()
    assert not MessageLog.objects.filter(status=Status.PENDING).exists()


def test_a_bad_filter_in_a_preview_is_explained(super_client):
    response = super_client.post("/failures/bulk/preview/", {"status": "lost"})

    assert "Unknown status" in response.content.decode()


def test_an_empty_preview_offers_nothing_to_run(super_client, permanent_failures):
    html = super_client.post(
        "/failures/bulk/preview/", {"status": "permanently_failed", "error": "nothing like it"}
    ).content.decode()

    assert "Nothing to retry." in html
    assert "bulk-confirm" not in html


def test_bulk_progress_needs_its_parameters(super_client):
    assert super_client.get("/failures/bulk/progress/").status_code == 400
