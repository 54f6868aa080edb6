"""The overview: figures, the 24-hour chart, live refresh, the cycle button."""

import pytest
from django_q.models import OrmQ

from retry_admin.models import RetryRun
from retry_admin.services.retry import retry_cycle_run
from retry_admin.services.sender import sender_drain
from retry_admin.web.charts import axis_top, hourly_chart

pytestmark = pytest.mark.django_db


def test_it_shows_counts_depths_and_the_last_cycle(super_client, batch_with_failures, make_batch):
    make_batch(3)  # pending, on the queue
    retry_cycle_run(trigger=RetryRun.Trigger.COMMAND)

    html = super_client.get("/").content.decode()

    assert 'data-testid="queue-depth">7<' in html  # 3 new + 4 requeued by the cycle
    assert 'data-testid="count-pending">7<' in html
    assert "4 requeued" in html
    assert "Command" in html
    assert 'hx-trigger="every 3s, console:visible from:body"' in html


def test_the_chart_is_server_side_svg_of_the_last_24_hours(super_client, make_batch, settings):
    settings.SIMULATED_PERMANENT_RATE = 0.5
    settings.SIMULATED_TRANSIENT_RATE = 0.0
    make_batch(20, channel="simulated")
    sender_drain(until_empty=True)

    html = super_client.get("/").content.decode()

    assert '<svg class="chart"' in html
    assert html.count('<g class="bar">') == 24
    assert 'class="seg-sent"' in html and 'class="seg-permanent"' in html
    assert "<script" not in html.split('<svg class="chart"')[1].split("</svg>")[0]


def test_the_live_fragment_is_only_the_figures(super_client):
    response = super_client.get("/", HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="stats"')
    assert "<html" not in html


def test_an_empty_system_reads_clearly(super_client):
    html = super_client.get("/").content.decode()

    assert "Nothing sent in the last 24 hours" in html
    assert "No retry cycle has run yet." in html


def test_run_retry_cycle_now_queues_it_for_the_worker(super_client, super_admin, live_worker):
    response = super_client.post("/retry-cycle/", {"next": "/health/"})

    assert response.status_code == 302
    assert response["Location"] == "/health/"
    assert OrmQ.objects.count() == 1
    page = super_client.get("/health/").content.decode()
    assert "Retry cycle queued" in page


def test_run_retry_cycle_now_never_redirects_off_site(super_client):
    response = super_client.post("/retry-cycle/", {"next": "https://evil.example/"})

    assert response["Location"] == "/"


def test_chart_axis_labels_are_round_numbers():
    assert axis_top(0) == (5, 1)
    assert axis_top(244) == (250, 50)
    assert axis_top(1234) == (1250, 250)
    chart = hourly_chart([])
    assert chart["empty"]
