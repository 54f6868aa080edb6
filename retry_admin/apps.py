from django.apps import AppConfig


class RetryAdminConfig(AppConfig):
    name = "retry_admin"
    verbose_name = "Retry Admin"
    default_auto_field = "django.db.models.BigAutoField"
