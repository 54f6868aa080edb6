"""Settings for the peer benchmark (bench/peers.py): the product's own, with
django-q2 on its ORM broker and two workers, under a name of its own."""

from config.settings import *  # noqa: F403
from config.settings import Q_CLUSTER as _PRODUCT_CLUSTER

Q_CLUSTER = {
    **_PRODUCT_CLUSTER,
    "name": "bench_peers",
    "workers": 2,
    "orm": "default",
    "log_level": "WARNING",  # not a line per task in the output
}
Q_CLUSTER.pop("redis", None)
