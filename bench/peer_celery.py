"""The Celery app of the peer benchmark (bench/peers.py): one task per
message on the local Redis (``BENCH_CELERY_BROKER``), doing
``bench.peers.deliver_one``. Workers: ``celery -A bench.peer_celery worker``."""

import os

import django
from django.apps import apps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if not apps.ready:
    django.setup()

from celery import Celery

from bench.peers import deliver_one

app = Celery(
    "bench_peers", broker=os.environ.get("BENCH_CELERY_BROKER", "redis://127.0.0.1:6379/15")
)
app.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=True)


@app.task(name="bench.peers.deliver_one")
def deliver(message_id: str) -> None:
    deliver_one(message_id)
