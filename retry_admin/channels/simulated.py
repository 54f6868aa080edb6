import hashlib
import time

from django.conf import settings

from retry_admin.channels.base import Channel, OutgoingMessage, PermanentError, TransientError

_TRANSIENT = [
    "Upstream gateway timeout after {n} ms",
    "Rate limited by provider: retry after {n} s",
    "Connection reset by peer 10.0.{o}.{m}:443",
]
_PERMANENT = [
    "Recipient {recipient} is not reachable (code 4{n})",
    "Message rejected: recipient {recipient} opted out",
]


class SimulatedChannel(Channel):
    """A stand-in provider with real latency and failure rates, for demos and
    benchmarks. The outcome of a message is a pure function of the seed, the
    message id and the attempt number: runs are reproducible, and a retried
    message gets a fresh draw."""

    name = "simulated"

    def __init__(
        self,
        *,
        latency_ms: float | None = None,
        transient_rate: float | None = None,
        permanent_rate: float | None = None,
        seed: int | None = None,
    ) -> None:
        self.latency = (settings.SIMULATED_LATENCY_MS if latency_ms is None else latency_ms) / 1000
        self.transient_rate = (
            settings.SIMULATED_TRANSIENT_RATE if transient_rate is None else transient_rate
        )
        self.permanent_rate = (
            settings.SIMULATED_PERMANENT_RATE if permanent_rate is None else permanent_rate
        )
        self.seed = settings.SIMULATED_SEED if seed is None else seed

    def draw(self, message: OutgoingMessage) -> float:
        digest = hashlib.sha256(f"{self.seed}:{message.message_id}:{message.attempt}".encode())
        return int.from_bytes(digest.digest()[:8], "big") / 2**64

    def send(self, message: OutgoingMessage) -> None:
        if self.latency:
            time.sleep(self.latency)
        draw = self.draw(message)
        n = int(draw * 1e6)
        if draw < self.permanent_rate:
            text = _PERMANENT[n % len(_PERMANENT)]
            raise PermanentError(text.format(recipient=message.recipient, n=n % 100))
        if draw < self.permanent_rate + self.transient_rate:
            text = _TRANSIENT[n % len(_TRANSIENT)]
            raise TransientError(text.format(n=n % 5000, o=n // 250 % 256, m=n % 250))
