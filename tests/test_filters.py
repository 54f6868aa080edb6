import datetime

import pytest
from django.core.exceptions import ValidationError

from retry_admin.filters import MessageFilter


def test_it_parses_every_filter():
    parsed = MessageFilter.from_params(
        {
            "status": "failed",
            "batch": "12",
            "recipient": " ada@",
            "error": "Timeout <n>",
            "created_from": "2026-11-01",
            "created_to": "2026-11-24",
        }
    )
    assert parsed == MessageFilter(
        status="failed",
        batch=12,
        recipient="ada@",
        error="Timeout <n>",
        created_from=datetime.date(2026, 11, 1),
        created_to=datetime.date(2026, 11, 24),
    )
    assert MessageFilter.from_params(parsed.as_params()) == parsed


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"batch": "abc"}, "batch"),
        ({"batch": "²"}, "batch"),
        ({"batch": "1" * 40}, "batch"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"created_from": "2026-11-24", "created_to": "2026-11-01"}, "created_to"),
    ],
)
def test_it_refuses_bad_values_naming_the_field(params, field):
    with pytest.raises(ValidationError) as caught:
        MessageFilter.from_params(params)
    assert field in caught.value.message_dict


def test_empty_params_mean_no_filter():
    assert MessageFilter.from_params({}).is_empty
