"""Amazon SQS: the only module that imports boto3, and only when first used,
so the embedded default needs no AWS libraries or credentials.

Where: ``SQS_QUEUE_URL`` (or the queue named ``QUEUE_NAME`` in the account and
region of the credentials) and ``SQS_DLQ_URL`` (or ``<main queue name>-dlq``);
``AWS_ENDPOINT_URL`` for a local endpoint; credentials from the standard AWS
chain. Standard queues only: FIFO queues need group ids we do not assign.

Limits SQS sets, checked here before anything is sent: 10 entries and 256 KiB
per SendMessageBatch, XML-safe characters only, 10 messages per receive, a
delay of at most 900 s and a visibility timeout of at most 12 h.

The dead-letter queue: the sender itself dead-letters a message received more
than ``QUEUE_MAX_RECEIVES`` times (``dead_letter`` sends it to the DLQ with the
reason as message attributes, then deletes it from the main queue). The redrive
policy that ``ensure`` sets, ``maxReceiveCount = QUEUE_MAX_RECEIVES + 1``, is
the safety net for a message no sender got to dead-letter; its log still says
pending, and ``services.dlq.dlq_reconcile`` catches up with it (``redrives``).

SQS cannot read a message without receiving it, so the DLQ operations scan:
receive with a short visibility timeout, keep what was asked for, and at once
make the rest visible again. ``DeadLetter.id`` is the SQS MessageId, which
survives any number of scans. A move sends to the main queue first and deletes
from the DLQ only what was sent, paced by ``DLQ_REPLAY_RATE``.

A receipt handle here carries the SQS receipt handle, the message id, the
receive count and the body, so ``dead_letter`` can copy a message to the DLQ
without receiving it again.
"""

from retry_admin.queues.sqs.queue import SQSQueue

__all__ = ["SQSQueue"]
