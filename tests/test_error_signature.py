"""Error signatures: failures that differ only by addresses, ids and numbers
land in one group on the failures page."""

import pytest

from retry_admin.models import error_signature
from retry_admin.models.signatures import NO_ERROR_TEXT


@pytest.mark.parametrize(
    "a, b",
    [
        (
            "Connection reset by peer 10.0.2338.88:443",
            "Connection reset by peer 10.0.23.88:443",
        ),
        ("Connection reset by peer 10.0.23.88:443", "Connection reset by peer [::1]:8443"),
        (
            "Connection refused: smtp-7.mail.example.net:25",
            "Connection refused: mx1.example.org:587",
        ),
        ("Timeout after 3000 ms", "Timeout after 12.5 ms"),
        ("HTTP 503 from gateway v2", "HTTP 502 from gateway v3"),
        ("Rate limited, retry after 30s", "Rate limited, retry after 120s"),
        (
            "Bad id 7f3a9c2e-1d4b-4e8f-9a6b-0c2d3e4f5a6b",
            "Bad id 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        ),
        ("to ada@example.com failed", "to grace@example.org failed"),
        ("queue shard-12 overloaded", "queue shard-7 overloaded"),
    ],
)
def test_it_groups_errors_that_differ_only_by_addresses_and_numbers(a, b):
    assert error_signature(a) == error_signature(b)


@pytest.mark.parametrize(
    "a, b",
    [
        ("Connection reset by peer 10.0.23.88:443", "Recipient opted out"),
        ("HTTP 503 from gateway", "HTTP 404 from gateway"),
    ],
)
def test_it_keeps_different_errors_apart(a, b):
    assert error_signature(a) != error_signature(b)


def test_it_keeps_the_words_readable():
    assert error_signature("Connection reset by peer 10.0.2338.88:443") == (
        "Connection reset by peer <host>"
    )


@pytest.mark.parametrize("error", ["", "   ", "\n"])
def test_an_error_with_no_text_still_has_a_signature(error):
    # The failure indexes hold only signed logs: an unsigned failure would
    # vanish from the failures page.
    assert error_signature(error) == NO_ERROR_TEXT
