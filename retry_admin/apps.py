from django.apps import AppConfig
from django.db.backends.signals import connection_created

from config.private import make_private


def _private_sqlite_files(sender, connection, **kwargs) -> None:
    """SQLite creates its database (and -wal, -shm) with the umask's mode:
    0644 as a rule, readable by every user of the machine."""
    if connection.vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        if not name.startswith(":memory:") and "mode=memory" not in name:
            for path in (name, f"{name}-wal", f"{name}-shm"):
                make_private(path)


def _worker_spawned(sender, proc_name, **kwargs) -> None:
    """django-q2 started a worker process: it beats ``worker`` while it lives."""
    from retry_admin.tasks import worker_started

    worker_started()


class RetryAdminConfig(AppConfig):
    name = "retry_admin"
    verbose_name = "Retry Admin"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        connection_created.connect(_private_sqlite_files, dispatch_uid="retry_admin.private_sqlite")
        from django_q.signals import post_spawn  # imports django_q's models

        post_spawn.connect(_worker_spawned, dispatch_uid="retry_admin.worker_heartbeat")
        from retry_admin.logevents import log_service_start

        log_service_start()  # qcluster, run_sender: start and stop in the log
