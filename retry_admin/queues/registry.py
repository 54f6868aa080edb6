"""Queue backends by name (the ``QUEUE_BACKEND`` setting).

Pure data, no imports: settings validate the name against it before Django
starts, and ``retry_admin.queues.get_backend`` loads the class lazily, so the
embedded default runs without any cloud SDK configured.
"""

BACKENDS: dict[str, str] = {
    "db": "retry_admin.queues.db.DatabaseQueue",
    "sqs": "retry_admin.queues.sqs.SQSQueue",
    "azure": "retry_admin.queues.azure.AzureStorageQueue",
    "rabbitmq": "retry_admin.queues.rabbitmq.RabbitMQQueue",
    "redis": "retry_admin.queues.redis.RedisQueue",
}
