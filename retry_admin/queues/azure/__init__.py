"""Azure Storage Queue: the only module that imports azure-storage-queue, and
only when first used, so the embedded default needs no Azure libraries.

Where: ``AZURE_STORAGE_CONNECTION_STRING`` (``UseDevelopmentStorage=true`` for
Azurite on its default ports), queue ``QUEUE_NAME`` and its poison queue
``<QUEUE_NAME>-poison``, the Azure Functions convention, so existing tooling
recognises it. A poison message is the original message, unchanged, as
Functions leaves it: no reason or receive count travels with it (the message
log has both), and ``DeadLetter.dead_at`` is when it entered the poison queue.

Limits Azure sets, checked here before anything is sent: 64 KiB per message
after encoding (``AZURE_QUEUE_ENCODING``: base64, what Functions and the older
SDKs use, or XML text), 32 messages per receive and per peek, a visibility
timeout of at most 7 days. There is no batch send, so a list is sent over a
small thread pool; there is no long polling either.

Received bodies are decoded leniently: content that is not base64 (put there
by another tool as plain text) is taken as it is, and the sender dead-letters
it if it is not our envelope, instead of one bad message failing the receive.

A receipt handle here carries the message id, the pop receipt, the raw
content and the dequeue count, so ``dead_letter`` can copy the message to the
poison queue exactly as it was.
"""

from retry_admin.queues.azure.queue import AzureStorageQueue

__all__ = ["AzureStorageQueue"]
