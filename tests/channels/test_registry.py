import logging
import uuid

import pytest

from retry_admin.channels import OutgoingMessage, UnknownChannel, get_channel
from retry_admin.channels.log import LogChannel
from retry_admin.channels.registry import CHANNEL_CHOICES, CHANNELS
from retry_admin.channels.simulated import SimulatedChannel
from retry_admin.channels.webhook import WebhookChannel


def test_it_refuses_an_unknown_channel_naming_the_known_ones():
    with pytest.raises(UnknownChannel) as info:
        get_channel("carrier-pigeon")
    text = str(info.value)
    assert "carrier-pigeon" in text
    for name in ("log", "simulated", "webhook"):
        assert name in text


def test_it_builds_each_registered_channel_once():
    assert isinstance(get_channel("log"), LogChannel)
    assert isinstance(get_channel("simulated"), SimulatedChannel)
    assert isinstance(get_channel("webhook"), WebhookChannel)
    assert get_channel("log") is get_channel("log")
    for name in CHANNELS:
        assert get_channel(name).name == name


def test_the_model_choices_come_from_the_registry():
    assert [name for name, _ in CHANNEL_CHOICES] == list(CHANNELS)


@pytest.fixture
def deliveries(caplog):
    # The delivery logger does not propagate to the root logger (it has its own
    # file), so caplog's handler is attached to it directly.
    logger = logging.getLogger("retry_admin.deliveries")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


def test_the_log_channel_writes_a_line_to_the_delivery_log(deliveries):
    message = OutgoingMessage(
        message_id=uuid.UUID(int=99), recipient="ada@example.com", body="Hello Ada!", attempt=3
    )
    channel = get_channel("log")
    channel.send(message)
    channel.flush()  # the sender flushes after each window of sends
    [record] = [r for r in deliveries.records if r.name == "retry_admin.deliveries"]
    assert record.levelno == logging.INFO
    line = record.getMessage()
    assert str(message.message_id) in line
    assert "attempt=3" in line
    assert "'ada@example.com'" in line
    assert "'Hello Ada!'" in line


def test_the_log_channel_writes_a_window_in_one_call_one_line_per_message(tmp_path):
    from retry_admin.channels.log import DeliveryLogHandler

    handler = DeliveryLogHandler(tmp_path / "d.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("retry_admin.deliveries")
    logger.addHandler(handler)
    records = []
    handler.addFilter(lambda record: records.append(record) or True)
    channel = LogChannel()
    try:
        for i in range(3):
            channel.send(
                OutgoingMessage(
                    message_id=uuid.UUID(int=i), recipient=f"r{i}", body="two\nlines", attempt=1
                )
            )
        assert records == []  # nothing written before the flush
        channel.flush()
        channel.flush()  # nothing left: no second record
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert len(records) == 1
    lines = (tmp_path / "d.log").read_text().splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines):
        assert " INFO retry_admin.deliveries: delivered message_id=" in line
        assert f"{uuid.UUID(int=i)} attempt=1 to='r{i}' body='two\\nlines'" in line


def test_the_delivery_log_rotates_once_past_its_size(tmp_path):
    import logging

    from retry_admin.channels.log import DeliveryLogHandler

    handler = DeliveryLogHandler(tmp_path / "d.log", maxBytes=100, backupCount=2)
    record = logging.LogRecord("d", logging.INFO, __file__, 1, "x" * 60, None, None)
    for _ in range(3):
        handler.emit(record)
    handler.close()
    assert (tmp_path / "d.log.1").exists()
    assert (tmp_path / "d.log").stat().st_size < 100
