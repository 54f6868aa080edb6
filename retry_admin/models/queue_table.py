"""The embedded queue's table (the ``db`` transport)."""

from django.db import models
from django.utils import timezone


class QueueMessage(models.Model):
    """One message of the ``db`` queue backend. ``dead`` is its DLQ."""

    queue = models.CharField(max_length=100)
    body = models.TextField()
    dead = models.BooleanField(default=False)
    priority = models.SmallIntegerField(default=0)
    visible_at = models.DateTimeField()
    receive_count = models.PositiveIntegerField(default=0)
    receipt = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001 (NULL: not received)
    created_at = models.DateTimeField(default=timezone.now)
    dead_at = models.DateTimeField(null=True, blank=True)
    dead_reason = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            models.Index(
                fields=["queue", "dead", "-priority", "visible_at", "id"], name="queue_claim"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.queue} #{self.pk}{' (dead)' if self.dead else ''}"
