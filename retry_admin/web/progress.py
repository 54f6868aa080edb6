"""Progress of a set of messages (a batch, the messages of a bulk retry):
counts by status, what is done, and the stacked bar's segments
(the ``progress_bar`` tag of ``retry_admin/templatetags/rows.py`` draws them)."""

from dataclasses import dataclass

from retry_admin.models import Status

_SEGMENTS = [
    (Status.SENT, "sent", "seg-sent"),
    (Status.FAILED, "failed, will retry", "seg-failed"),
    (Status.PERMANENTLY_FAILED, "permanently failed", "seg-permanent"),
    (Status.DEAD_LETTERED, "dead-lettered", "seg-dead"),
    (Status.PENDING, "pending", "seg-pending"),
]


@dataclass
class Progress:
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def pending(self) -> int:
        return self.counts.get(Status.PENDING, 0)

    @property
    def waiting(self) -> int:
        """Failed for now: the retry cycle will send them again."""
        return self.counts.get(Status.FAILED, 0)

    @property
    def failed(self) -> int:
        """Not sent and not pending: failed, permanently failed or dead-lettered."""
        return self.total - self.pending - self.counts.get(Status.SENT, 0)

    @property
    def done(self) -> int:
        return self.total - self.pending

    @property
    def percent_done(self) -> int:
        return 100 if not self.total else int(100 * self.done / self.total)

    @property
    def segments(self) -> list[dict]:
        total = self.total or 1
        return [
            {
                "status": status,
                "label": label,
                "css": css,
                "count": self.counts.get(status, 0),
                "percent": round(100 * self.counts.get(status, 0) / total, 3),
            }
            for status, label, css in _SEGMENTS
        ]
