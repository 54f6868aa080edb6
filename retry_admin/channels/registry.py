"""Delivery channels by name (``DEFAULT_CHANNEL`` and ``Batch.channel``).

Pure data, no imports, so settings and model choices can use it.
"""

CHANNELS: dict[str, tuple[str, str]] = {
    "log": (
        "Log (records each delivery in the delivery log)",
        "retry_admin.channels.log.LogChannel",
    ),
    "simulated": (
        "Simulated (configurable latency and failure rates)",
        "retry_admin.channels.simulated.SimulatedChannel",
    ),
    "webhook": (
        "Webhook (HTTP POST to WEBHOOK_URL)",
        "retry_admin.channels.webhook.WebhookChannel",
    ),
    "whatsapp": (
        "WhatsApp (Business Cloud API template messages)",
        "retry_admin.channels.whatsapp.WhatsAppChannel",
    ),
}

CHANNEL_CHOICES: list[tuple[str, str]] = [(name, label) for name, (label, _) in CHANNELS.items()]
