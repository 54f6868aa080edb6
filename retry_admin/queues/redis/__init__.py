"""Redis: the only package that imports ``redis``, and only when first used,
so the embedded default needs no Redis client or server.

Where: ``REDIS_URL`` (``redis://127.0.0.1:6379/0`` when unset); every key is
under ``<REDIS_KEY_PREFIX>:<QUEUE_NAME>:`` (``queue.KEY_NAMES``), so two
deployments, or two test runs, can share one Redis. A single server (or a
primary with replicas): the scripts name keys Redis Cluster would spread
over slots.

A move-to-processing design, every operation one Lua script
(``scripts.py``): entries (an id from a counter, the body in a hash) wait on
a ready list; a receive pops them into an in-flight sorted set scored by
their visibility deadline, counts the receive and sets a fresh receipt. An
entry whose deadline passes goes back to the ready list at the next receive,
so a consumer that dies loses nothing; ack, release, extend and
dead-letter act only on an entry still in flight under the handle's receipt,
so a stale handle does nothing.

The retry queue is a sorted set scored by due time: a delayed send or
release puts the entry there, and each receive first moves the due ones
back to the ready list (atomically, inside the receive script, so never
twice). While an entry waits there, another with the same de-duplication key
(the ``message_id`` of a JSON object body, else the body's SHA-1) is not
added: the same message pushed twice is delivered once. Receive counts
survive release, so ``QUEUE_MAX_RECEIVES`` bounds attempts.

The dead-letter queue is a sorted set scored by the time of dead-lettering,
the reason in a hash; DLQ ids are the entry ids. A move puts the entry back
on the ready list with its counts reset; the DLQ shows each entry's receive
count, how often it went through the retry queue and its last due time.
"""

from retry_admin.queues.redis.queue import RedisQueue

__all__ = ["RedisQueue"]
