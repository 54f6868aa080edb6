import time

from retry_admin.queues.base import RateLimit


def test_it_spaces_items_to_the_rate():
    pace = RateLimit(100)
    started = time.monotonic()
    pace.wait(10)  # the first batch goes at once
    assert time.monotonic() - started < 0.05
    pace.wait(10)  # the second waits for the first's 0.1 s
    assert 0.08 <= time.monotonic() - started < 0.5


def test_zero_means_no_limit():
    pace = RateLimit(0)
    started = time.monotonic()
    for _ in range(1000):
        pace.wait(100)
    assert time.monotonic() - started < 0.1
