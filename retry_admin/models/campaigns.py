"""Templates and the batches sent with them."""

from django.conf import settings
from django.db import models

from retry_admin.channels.registry import CHANNEL_CHOICES
from retry_admin.models.templating import render_template, validate_template_body


class Template(models.Model):
    name = models.CharField(max_length=200, unique=True)
    body = models.TextField(validators=[validate_template_body])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def render(self, context: dict, recipient: str) -> str:
        return render_template(self.body, context, recipient)


class Batch(models.Model):
    name = models.CharField(max_length=200)
    # SET_NULL, not CASCADE: a deleted template must leave its failed messages
    # visible so the retry cycle can mark them permanently failed (seed rule).
    template = models.ForeignKey(Template, null=True, blank=True, on_delete=models.SET_NULL)
    channel = models.CharField(max_length=40, choices=CHANNEL_CHOICES)
    priority = models.SmallIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    # What the idempotency key was first used for, so a reuse with other input
    # is refused instead of answered with this batch (empty: created without a key).
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"
