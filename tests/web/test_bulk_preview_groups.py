"""A bulk retry's preview breaks the selection down by status and error
group, and leaves out the permanent ones (opt-outs, 4xx, dead letters)
unless the admin ticks them; what runs is exactly what was previewed."""

import json
import re

import pytest

from retry_admin.models import MessageLog, Status

pytestmark = pytest.mark.django_db

TIMEOUT = "Upstream gateway timeout after <n> ms"
OPTED_OUT = "Message rejected: recipient <email> opted out"
REFUSED = "Webhook answered HTTP <4xx>: bad request"


@pytest.fixture
def mixed(make_batch):
    logs = list(MessageLog.objects.filter(batch=make_batch(12)).order_by("id"))

    def put(part, status, signature, retry_count=0):
        MessageLog.objects.filter(pk__in=[m.pk for m in part]).update(
            status=status, error_signature=signature, last_error=signature, retry_count=retry_count
        )

    put(logs[0:4], Status.FAILED, TIMEOUT, 1)  # waiting for the cycle
    put(logs[4:6], Status.PERMANENTLY_FAILED, TIMEOUT, 3)  # out of retries
    put(logs[6:9], Status.PERMANENTLY_FAILED, OPTED_OUT)  # a permanent error
    put(logs[9:10], Status.PERMANENTLY_FAILED, REFUSED)  # a 4xx
    put(logs[10:12], Status.DEAD_LETTERED, "Received more than QUEUE_MAX_RECEIVES=5 times")
    return logs


def _groups(html: str) -> list[tuple[bool, str, str, str]]:
    """(ticked, status label, error group, count) per row of the breakdown."""
    rows = re.findall(
        r'<input type="checkbox" name="group" value="[^"]*"( checked)?.*?'
        r'<span class="badge[^>]*>([^<]+)</span></td>\s*<td class="error-cell">([^<]+?)'
        r'(?: <span|</td>).*?<td class="num">(\d+)</td>',
        html,
        re.S,
    )
    return [
        (bool(t), label, group.replace("&lt;", "<").replace("&gt;", ">"), n)
        for t, label, group, n in rows
    ]


def test_everything_matching_leaves_out_the_permanent_groups(super_client, mixed):
    html = super_client.post("/failures/bulk/preview/", {}).content.decode()

    assert sorted(_groups(html)) == sorted(
        [
            (True, "Failed", TIMEOUT, "4"),
            (True, "Out of retries", TIMEOUT, "2"),
            (False, "Permanent error", OPTED_OUT, "3"),
            (False, "Permanent error", REFUSED, "1"),
            (False, "Dead-lettered", "Received more than QUEUE_MAX_RECEIVES=5 times", "2"),
        ]
    )
    assert 'data-testid="preview-count">6<' in html
    assert "6 messages in unticked groups are left out." in html


def test_ticking_a_group_takes_it_and_the_run_retries_exactly_that(super_client, mixed):
    opted_out = json.dumps([Status.PERMANENTLY_FAILED, OPTED_OUT, False])
    failed = json.dumps([Status.FAILED, TIMEOUT, False])
    html = super_client.post(
        "/failures/bulk/preview/", {"choose": "1", "group": [opted_out, failed]}
    ).content.decode()
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)

    super_client.post("/failures/bulk/run/", {"token": token})

    assert 'data-testid="preview-count">7<' in html
    requeued = MessageLog.objects.filter(status=Status.PENDING)
    assert sorted(set(requeued.values_list("error_signature", flat=True))) == sorted(
        [OPTED_OUT, TIMEOUT]
    )
    assert requeued.count() == 7
    assert MessageLog.objects.filter(status=Status.PERMANENTLY_FAILED, retry_count=3).count() == 2


def test_retry_group_on_a_permanent_group_takes_it_the_admin_chose_it(super_client, mixed):
    html = super_client.post(
        "/failures/bulk/preview/", {"status": Status.PERMANENTLY_FAILED, "error": OPTED_OUT}
    ).content.decode()

    assert _groups(html) == [(True, "Permanent error", OPTED_OUT, "3")]
    assert 'data-testid="preview-count">3<' in html


def test_a_forged_group_value_is_ignored(super_client, mixed):
    html = super_client.post(
        "/failures/bulk/preview/", {"choose": "1", "group": ["nonsense", '["sent", "x", 0]']}
    ).content.decode()

    assert 'data-testid="preview-count">0<' in html
