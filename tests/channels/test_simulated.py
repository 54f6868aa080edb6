import ipaddress
import re
import time
import uuid
from collections import Counter

import pytest

from retry_admin.channels import OutgoingMessage, PermanentError, TransientError
from retry_admin.channels.simulated import SimulatedChannel


def _message(n: int = 1, *, attempt: int = 1) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=uuid.UUID(int=n), recipient=f"r{n}@example.com", body="hi", attempt=attempt
    )


def _outcome(channel: SimulatedChannel, message: OutgoingMessage) -> str:
    try:
        channel.send(message)
    except PermanentError:
        return "permanent"
    except TransientError:
        return "transient"
    return "sent"


def _channel(**kwargs) -> SimulatedChannel:
    return SimulatedChannel(
        **{"latency_ms": 0, "transient_rate": 0.3, "permanent_rate": 0.1, "seed": 7, **kwargs}
    )


def test_it_gives_the_same_outcome_for_the_same_seed_message_and_attempt():
    first, second = _channel(), _channel()
    for n in range(200):
        message = _message(n)
        assert first.draw(message) == second.draw(message)
        assert _outcome(first, message) == _outcome(second, message)


def test_it_gives_a_retried_message_a_fresh_draw():
    channel = _channel()
    draws = {channel.draw(_message(1, attempt=a)) for a in range(1, 6)}
    assert len(draws) == 5
    outcomes = {_outcome(channel, _message(n, attempt=a)) for n in range(20) for a in (1, 2)}
    assert "sent" in outcomes and "transient" in outcomes


def test_a_different_seed_gives_different_draws():
    message = _message(1)
    assert _channel(seed=1).draw(message) != _channel(seed=2).draw(message)


def test_the_rates_roughly_hold_over_2000_draws():
    channel = _channel(transient_rate=0.2, permanent_rate=0.1)
    counts = Counter(_outcome(channel, _message(n)) for n in range(2000))
    # Expected 400 transient and 200 permanent; 60 is over three standard deviations.
    assert abs(counts["transient"] - 400) < 60
    assert abs(counts["permanent"] - 200) < 60
    assert counts["sent"] == 2000 - counts["transient"] - counts["permanent"]


def test_it_always_sends_with_zero_rates():
    channel = _channel(transient_rate=0, permanent_rate=0)
    assert {_outcome(channel, _message(n)) for n in range(300)} == {"sent"}


def test_it_applies_the_latency():
    channel = _channel(latency_ms=30, transient_rate=0, permanent_rate=0)
    started = time.perf_counter()
    channel.send(_message())
    assert time.perf_counter() - started >= 0.03


def test_transient_errors_carry_text():
    channel = _channel(transient_rate=1.0, permanent_rate=0.0)
    for n in range(20):
        with pytest.raises(TransientError) as info:
            channel.send(_message(n))
        text = str(info.value)
        assert any(word in text for word in ("timeout", "Rate limited", "Connection reset"))


def test_a_connection_reset_names_a_valid_address():
    """The demo's failures read like a provider's: no 10.0.2145.145."""
    channel = _channel(transient_rate=1.0, permanent_rate=0.0)
    addresses = []
    for n in range(300):
        with pytest.raises(TransientError) as info:
            channel.send(_message(n))
        if found := re.search(r"peer (\S+):443", str(info.value)):
            addresses.append(found.group(1))
    assert len(addresses) > 50
    for address in addresses:
        ipaddress.IPv4Address(address)  # raises on an octet over 255


def test_permanent_errors_carry_text_naming_the_recipient():
    channel = _channel(transient_rate=0.0, permanent_rate=1.0)
    for n in range(20):
        with pytest.raises(PermanentError) as info:
            channel.send(_message(n))
        assert f"r{n}@example.com" in str(info.value)


def test_it_reads_its_defaults_from_settings(settings):
    settings.SIMULATED_LATENCY_MS = 12
    settings.SIMULATED_TRANSIENT_RATE = 0.25
    settings.SIMULATED_PERMANENT_RATE = 0.05
    settings.SIMULATED_SEED = 42
    channel = SimulatedChannel()
    assert (channel.latency, channel.transient_rate, channel.permanent_rate, channel.seed) == (
        0.012,
        0.25,
        0.05,
        42,
    )
