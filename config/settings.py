"""Settings, read from the environment in this one place (see README's table)."""

import re
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp import constants as csp_constants
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
    env_choice,
    env_emails,
    env_float,
    env_header,
    env_hosts,
    env_int,
    env_list,
    env_match,
    env_str,
    env_url,
    load_env_file,
    url_without_password,
)
from config.private import PRIVATE_DIR, PRIVATE_FILE, make_private
from retry_admin.channels.registry import CHANNELS
from retry_admin.queues.registry import BACKENDS

BASE_DIR = Path(__file__).resolve().parent.parent
# A .env file fills in what the environment does not set (RETRY_ADMIN_ENV_FILE,
# default .env beside manage.py); read before any other setting.
ENV_FILE = load_env_file(BASE_DIR / ".env")
VAR_DIR = Path(env_str("RETRY_ADMIN_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
make_private(VAR_DIR, PRIVATE_DIR)


def _secret_key() -> str:
    """DJANGO_SECRET_KEY, or one generated once and kept in var/ (never a shared default)."""
    key = env_str("DJANGO_SECRET_KEY")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.touch(mode=PRIVATE_FILE)
        path.write_text(secrets.token_urlsafe(50))
    make_private(path)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_hosts("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served locally, never from a CDN
    "django_q",
    "axes",  # sign-in throttle
    "csp",
    "retry_admin",
]

MIDDLEWARE = [
    # First, so every response (errors too) carries X-Request-ID; answers 503
    # while the database is unreachable (retry_admin/errors.py).
    "retry_admin.errors.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, with request.user and request.htmx set, and before any view
    # (and so before the CSRF check) reads the form.
    "retry_admin.web.middleware.FormTooLargeMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a lockout into the sign-in page saying so
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database

_env = environ.Env()
try:
    DATABASES = {
        "default": _env.db_url(
            "DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'retry_admin.sqlite3'}"
        )
    }
except Exception as exc:  # django-environ raises several types for a bad URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from exc
# django-environ only warns about a scheme it does not know (no ENGINE, or the
# scheme itself as ENGINE), and Django would then fail without naming the variable.
if DATABASES["default"].get("ENGINE") not in set(environ.Env.DB_SCHEMES.values()):
    raise ImproperlyConfigured(
        "DATABASE_URL has no known database scheme (postgres://, sqlite:///, mysql://, ...)"
    )

# The web server keeps a connection between requests (0: a new one per
# request): connecting, SQLite's schema read and a cold page cache were about
# 2 ms of a 5-10 ms console page (bench/http_load.py). Checked before reuse.
DATABASES["default"]["CONN_MAX_AGE"] = env_int(
    "DATABASE_CONN_MAX_AGE_SECONDS", 600, minimum=0, maximum=86400
)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The WAL is copied into the database file every this many pages. SQLite's
    # default, 1,000, makes a long drain copy the same hot pages again and
    # again and wait for each copy's fsync: a 100,000-message drain spent
    # 0.15-0.4 s blocked and 3.9-4.4 s of CPU at 10,000, against 0.9 s and
    # 4.1-4.9 s at 1,000. The WAL file then grows to ~40 MB between checkpoints
    # (a reader holding an old snapshot delays a checkpoint either way).
    SQLITE_WAL_AUTOCHECKPOINT_PAGES = env_int(
        "SQLITE_WAL_AUTOCHECKPOINT_PAGES", 10_000, minimum=100, maximum=1_000_000
    )
    # WAL lets pages read while the worker writes; IMMEDIATE takes the write lock
    # at BEGIN so two writers queue up instead of failing on lock upgrade.
    DATABASES["default"]["OPTIONS"] = {
        # How long a writer waits for another's lock before it counts as an outage.
        "timeout": env_float("DATABASE_BUSY_TIMEOUT_SECONDS", 20, minimum=0.1, maximum=600),
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
            f" PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES};"
        ),
    }
    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(VAR_DIR / "test.sqlite3")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# JSON under /api/ (retry_admin/errors.py), Django's page elsewhere.
CSRF_FAILURE_VIEW = "retry_admin.errors.csrf_failure"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# Sign-in throttle (django-axes): LOGIN_FAILURE_LIMIT wrong passwords for one
# username from one address lock that pair out for LOGIN_COOLOFF_MINUTES, even
# with the right password. API tokens never sign in, so they are not affected.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=1000)
LOGIN_COOLOFF_MINUTES = env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1, maximum=7 * 24 * 60)
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "retry_admin.web.login.locked_out"
AXES_VERBOSE = False

# Behind HTTPS (all off by default: `make run` serves plain HTTP on 127.0.0.1).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", False)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz(/live)?$"]  # load balancers probe over plain HTTP
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0, minimum=0, maximum=2 * 365 * 86400)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
# The header a TLS-terminating proxy sets, e.g. "X-Forwarded-Proto: https".
SECURE_PROXY_SSL_HEADER = env_header("DJANGO_SECURE_PROXY_SSL_HEADER")
# Content-Security-Policy (django-csp): our own files only, no inline scripts.
# Inline style attributes stay allowed: progress bars set their widths in them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.SELF],
        "style-src": [csp_constants.SELF],
        "style-src-attr": [csp_constants.UNSAFE_INLINE],
        "img-src": [csp_constants.SELF, "data:"],
        "connect-src": [csp_constants.SELF],
        "object-src": [csp_constants.NONE],
        "base-uri": [csp_constants.SELF],
        "form-action": [csp_constants.SELF],
        "frame-ancestors": [csp_constants.NONE],
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Retry Admin: the public contract of docs/design.md

QUEUE_BACKEND = env_choice("QUEUE_BACKEND", "db", BACKENDS)
QUEUE_NAME = env_str("QUEUE_NAME", "batch-messages")
SQS_QUEUE_URL = env_url("SQS_QUEUE_URL", schemes=["http", "https"])
SQS_DLQ_URL = env_url("SQS_DLQ_URL", schemes=["http", "https"])
AWS_ENDPOINT_URL = env_url("AWS_ENDPOINT_URL", schemes=["http", "https"])
AZURE_STORAGE_CONNECTION_STRING = env_str("AZURE_STORAGE_CONNECTION_STRING")
AZURE_TABLES_MIRROR = env_bool("AZURE_TABLES_MIRROR", False)
RABBITMQ_URL = env_url("RABBITMQ_URL", schemes=["amqp", "amqps"])
# The RabbitMQ transport's topology (docs/backends.md); names default from
# QUEUE_NAME so it can also sit on an existing exchange/queue of this shape.
RABBITMQ_EXCHANGE = env_str("RABBITMQ_EXCHANGE", "retry-admin")
RABBITMQ_ROUTING_KEY = env_str("RABBITMQ_ROUTING_KEY")  # default: QUEUE_NAME
RABBITMQ_BINDING_KEY = env_str("RABBITMQ_BINDING_KEY")  # default: the routing key
RABBITMQ_RETRY_EXCHANGE = env_str("RABBITMQ_RETRY_EXCHANGE")  # default: <exchange>.retry
RABBITMQ_RETRY_QUEUE = env_str("RABBITMQ_RETRY_QUEUE")  # default: <queue>.retry
RABBITMQ_PARKING_QUEUE = env_str("RABBITMQ_PARKING_QUEUE")  # default: <queue>.parking
RABBITMQ_QUEUE_TYPE = env_choice("RABBITMQ_QUEUE_TYPE", "quorum", ["quorum", "classic"])
# The seed used 50; 500 (one sender chunk) doubles throughput here.
RABBITMQ_PREFETCH = env_int("RABBITMQ_PREFETCH", 500, minimum=1, maximum=65535)
RABBITMQ_RETRY_DELAY_SECONDS = env_float(
    "RABBITMQ_RETRY_DELAY_SECONDS", 5, minimum=0.1, maximum=86400
)
# What each queue message carries (docs/envelope.md): "pointer" (ids; the
# database row is the truth) or "full" (also the rendered message, recipient
# columns, batch and template, for consumers outside this product).
QUEUE_ENVELOPE = env_choice("QUEUE_ENVELOPE", "pointer", ["pointer", "full"])
REDIS_URL = env_url("REDIS_URL", schemes=["redis", "rediss"], path_schemes=["unix"])
_redis_db = urlsplit(REDIS_URL).path if REDIS_URL.startswith("redis") else ""
if not re.fullmatch(r"/?\d*", _redis_db):
    raise ImproperlyConfigured(
        "REDIS_URL's path must be a database number (redis://host:6379/0): "
        f"{url_without_password(REDIS_URL)!r}"
    )
# The Redis transport (QUEUE_BACKEND=redis) keeps every key under
# "<REDIS_KEY_PREFIX>:<QUEUE_NAME>:"; it connects to REDIS_URL, or to
# redis://127.0.0.1:6379/0 when that is unset (django-q2 keeps the ORM broker then).
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "retry-admin")
if not re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", REDIS_KEY_PREFIX):
    raise ImproperlyConfigured(
        "REDIS_KEY_PREFIX must be 1-64 letters, digits, '.', '_', ':' or '-', "
        f"not {REDIS_KEY_PREFIX!r}"
    )

MAX_MESSAGE_RETRY_COUNT = env_int("MAX_MESSAGE_RETRY_COUNT", 3, minimum=0, maximum=100)
HOURS_IN_A_YEAR = 24 * 365
MESSAGE_RETRY_AFTER_HOURS = env_float(
    "MESSAGE_RETRY_AFTER_HOURS", 2, minimum=0, maximum=HOURS_IN_A_YEAR
)
MESSAGE_RETRY_INTERVAL_HOURS = env_float(
    "MESSAGE_RETRY_INTERVAL_HOURS", 6, minimum=1 / 60, maximum=HOURS_IN_A_YEAR
)
RETRY_BACKOFF = env_choice("RETRY_BACKOFF", "fixed", ["fixed", "exponential"])
# The seed's 100 messages per cycle; 0: no limit.
RETRY_CYCLE_LIMIT = env_int("RETRY_CYCLE_LIMIT", 100, minimum=0)
# /healthz calls the retry cycle overdue when no run started within its
# interval plus this grace (services/health.py).
RETRY_CYCLE_GRACE_MINUTES = env_float("RETRY_CYCLE_GRACE_MINUTES", 15, minimum=1, maximum=10080)
QUEUE_MAX_RECEIVES = env_int("QUEUE_MAX_RECEIVES", 5, minimum=1, maximum=1000)
QUEUE_VISIBILITY_TIMEOUT = env_int("QUEUE_VISIBILITY_TIMEOUT", 60, minimum=1, maximum=43200)
SENDER_POLL_SECONDS = env_float("SENDER_POLL_SECONDS", 5, minimum=0.05, maximum=3600)
# How often the long-running sender (run_sender) looks for new work on the db
# queue when it cannot be woken by NOTIFY (SQLite; PostgreSQL while LISTEN is down).
SENDER_IDLE_POLL_SECONDS = env_float("SENDER_IDLE_POLL_SECONDS", 0.2, minimum=0.01, maximum=60)
# How long a job lock outlives a holder that died (renewed every third of it).
LOCK_LEASE_SECONDS = env_float("LOCK_LEASE_SECONDS", 30, minimum=1, maximum=3600)
SENDER_CONCURRENCY = env_int("SENDER_CONCURRENCY", 32, minimum=1, maximum=512)
SENDER_BATCH_SIZE = env_int("SENDER_BATCH_SIZE", 500, minimum=1, maximum=5000)
DEFAULT_CHANNEL = env_choice("DEFAULT_CHANNEL", "log", CHANNELS)
WEBHOOK_URL = env_url("WEBHOOK_URL", schemes=["http", "https"])
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=0.1, maximum=600)
# Alerts (services/alerts.py, docs/alerts.md): where they go, and each rule's
# threshold until someone sets another in the console (/alerts/).
ALERT_EMAIL_TO = env_emails("ALERT_EMAIL_TO")
ALERT_EMAIL_FROM = env_emails("ALERT_EMAIL_FROM") or ["retry-admin@localhost"]
ALERT_WEBHOOK_URL = env_url("ALERT_WEBHOOK_URL", schemes=["http", "https"])
ALERT_WEBHOOK_TIMEOUT_SECONDS = env_float(
    "ALERT_WEBHOOK_TIMEOUT_SECONDS", 10, minimum=0.1, maximum=120
)
ALERT_DLQ_DEPTH = env_int("ALERT_DLQ_DEPTH", 1, minimum=1, maximum=10**9)
ALERT_PERMANENT_FAILURES_PER_HOUR = env_int(
    "ALERT_PERMANENT_FAILURES_PER_HOUR", 100, minimum=1, maximum=10**9
)
ALERT_RETRY_SUCCESS_RATE = env_float("ALERT_RETRY_SUCCESS_RATE", 50, minimum=0, maximum=100)
ALERT_SENDER_SILENT_MINUTES = env_float(
    "ALERT_SENDER_SILENT_MINUTES", 10, minimum=1, maximum=7 * 24 * 60
)
ALERT_CYCLE_OVERDUE_MINUTES = env_float(
    "ALERT_CYCLE_OVERDUE_MINUTES", 30, minimum=0, maximum=7 * 24 * 60
)
# Outgoing mail (alerts): smtp://user:password@host:587 (+tls), or consolemail://.
try:
    vars().update(_env.email_url("EMAIL_URL", default="smtp://localhost:25"))
except ImproperlyConfigured:
    raise ImproperlyConfigured(
        "EMAIL_URL must be an smtp://, smtp+tls://, smtp+ssl:// or consolemail:// URL, not "
        f"{url_without_password(env_str('EMAIL_URL'))!r}"
    ) from None
# The WhatsApp channel (retry_admin/channels/whatsapp.py, docs/channels.md).
WHATSAPP_PHONE_NUMBER_ID = env_match(
    "WHATSAPP_PHONE_NUMBER_ID", "", r"\d{1,30}", expected="the numeric id from WhatsApp Manager"
)
WHATSAPP_ACCESS_TOKEN = env_match(
    "WHATSAPP_ACCESS_TOKEN", "", r"[\x21-\x7e]{1,4096}", expected="one word", secret=True
)
WHATSAPP_API_BASE_URL = (
    env_url("WHATSAPP_API_BASE_URL", schemes=["http", "https"]) or "https://graph.facebook.com"
)
WHATSAPP_API_VERSION = env_match(
    "WHATSAPP_API_VERSION", "v23.0", r"v\d+\.\d+", expected="a Graph API version such as v23.0"
)
WHATSAPP_LANGUAGE = env_match(
    "WHATSAPP_LANGUAGE", "en_US", r"[a-z]{2,3}(_[A-Za-z]{2,4})?", expected="a language code (en_US)"
)
WHATSAPP_PARAMETER_FORMAT = env_choice(
    "WHATSAPP_PARAMETER_FORMAT", "named", ["named", "positional"]
)
WHATSAPP_TIMEOUT_SECONDS = env_float("WHATSAPP_TIMEOUT_SECONDS", 10, minimum=0.1, maximum=600)
# A request sent but not answered (read timeout, connection lost) may have
# been delivered: retry it (transient) or give it up (permanent).
WHATSAPP_NO_ANSWER_OUTCOME = env_choice(
    "WHATSAPP_NO_ANSWER_OUTCOME", "transient", ["transient", "permanent"]
)
SIMULATED_LATENCY_MS = env_float("SIMULATED_LATENCY_MS", 50, minimum=0, maximum=600_000)
SIMULATED_TRANSIENT_RATE = env_float("SIMULATED_TRANSIENT_RATE", 0.15, minimum=0, maximum=1)
SIMULATED_PERMANENT_RATE = env_float("SIMULATED_PERMANENT_RATE", 0.03, minimum=0, maximum=1)
if SIMULATED_TRANSIENT_RATE + SIMULATED_PERMANENT_RATE > 1:
    raise ImproperlyConfigured(
        "SIMULATED_TRANSIENT_RATE + SIMULATED_PERMANENT_RATE must not exceed 1"
    )
SIMULATED_SEED = env_int("SIMULATED_SEED", 0)
RETENTION_DAYS = env_int("RETENTION_DAYS", 30, minimum=1)
# Which failed logs retention deletes: "invalid" (data the retry cycle can
# never send, so it skips them every cycle) or "all" (the design's rule; it
# also deletes valid failures a capped cycle has not reached yet).
RETENTION_FAILED = env_choice("RETENTION_FAILED", "invalid", ["invalid", "all"])
MAX_BATCH_RECIPIENTS = env_int("MAX_BATCH_RECIPIENTS", 200_000, minimum=1)
# The overview's figures are shared by every viewer and recomputed at most this
# often (seconds): exact counts over a million logs cost ~150 ms.
CONSOLE_FIGURES_FRESH_SECONDS = env_float(
    "CONSOLE_FIGURES_FRESH_SECONDS", 2, minimum=0, maximum=3600
)

# django-q2: the ORM broker by default (nothing else to run); Redis when REDIS_URL is set.
Q_CLUSTER = {
    "name": "retry_admin",
    "workers": env_int("Q_WORKERS", 2, minimum=1, maximum=64),
    "timeout": 300,
    "retry": 360,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 500,
    "ack_failures": True,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "retry_admin.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "retry_admin.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Retry Admin API",
    "DESCRIPTION": "Message batches, delivery with retry, and the dead-letter queue.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["retry_admin.api.permissions.CanReadDocs"],
    "PREPROCESSING_HOOKS": ["retry_admin.api.urls.schema_endpoints"],
    # Several fields are named "status": the message statuses get one name.
    "ENUM_NAME_OVERRIDES": {"MessageStatusEnum": "retry_admin.api.representations.STATUS_VALUES"},
}
# The bearer token a Prometheus scraper sends for /metrics; unset, only
# signed-in console users may read it (docs/metrics.md).
METRICS_TOKEN = env_match(
    "METRICS_TOKEN",
    "",
    r"[\x21-\x7e]{16,4096}",
    expected="at least 16 characters without spaces",
    secret=True,
)
# /api/schema/ and /api/docs/ without signing in (they list every endpoint).
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", False)

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"])
# One line per event with its fields (retry_admin/logevents.py): logfmt
# key=value pairs (text) or one JSON object (json); tracebacks stay on the line.
LOG_FORMAT = env_choice("LOG_FORMAT", "text", ["text", "json"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "text": {
            "()": "logfmter.Logfmter",
            "keys": ["time", "level", "logger"],
            "mapping": {"time": "asctime", "level": "levelname", "logger": "name"},
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "{levelname}{name}{message}",
            "style": "{",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
        },
    },
    "handlers": {
        # stderr; unhandled request errors go here with their traceback and
        # request id (logger retry_admin.errors).
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "stream": "ext://sys.stderr",
        },
        "deliveries": {
            "class": "retry_admin.channels.log.DeliveryLogHandler",
            "filename": str(VAR_DIR / "deliveries.log"),
            "maxBytes": 50 * 1024 * 1024,
            "backupCount": 3,
            "formatter": "plain",
            "delay": True,
        },
    },
    "loggers": {
        "retry_admin": {"handlers": ["console"], "level": LOG_LEVEL},
        "retry_admin.deliveries": {"handlers": ["deliveries"], "level": "INFO", "propagate": False},
    },
}

# Cloud transports and the Table Storage mirror (docs/backends.md)

# Region for SQS when the queue URL does not name one (a local endpoint).
AWS_REGION = env_str("AWS_REGION", env_str("AWS_DEFAULT_REGION"))
# Long polling: how long one receive waits for a first message (0-20 s, SQS's range).
SQS_WAIT_SECONDS = env_int("SQS_WAIT_SECONDS", 5, minimum=0, maximum=20)
# DLQ replay pace on SQS and Azure, messages per second (0: no limit).
DLQ_REPLAY_RATE = env_float("DLQ_REPLAY_RATE", 50, minimum=0, maximum=100_000)
# Automatic DLQ reprocessing (services/dlq_auto.py): off by default. When on, a
# schedule replays each entry after a wait that doubles per automatic replay,
# up to a number of tries, then leaves it for an admin.
DLQ_AUTO_REPLAY = env_bool("DLQ_AUTO_REPLAY", False)
DLQ_AUTO_REPLAY_INTERVAL_MINUTES = env_int(
    "DLQ_AUTO_REPLAY_INTERVAL_MINUTES", 5, minimum=1, maximum=24 * 60
)
DLQ_AUTO_REPLAY_BACKOFF_MINUTES = env_float(
    "DLQ_AUTO_REPLAY_BACKOFF_MINUTES", 15, minimum=0, maximum=7 * 24 * 60
)
DLQ_AUTO_REPLAY_MAX_ATTEMPTS = env_int("DLQ_AUTO_REPLAY_MAX_ATTEMPTS", 3, minimum=1, maximum=20)
# base64 is what Azure Functions and the older SDKs read and write; text is raw XML text.
AZURE_QUEUE_ENCODING = env_choice("AZURE_QUEUE_ENCODING", "base64", ["base64", "text"])
if QUEUE_BACKEND == "sqs":
    from retry_admin.queues.sqs.wire import region_from_url as _region_from_url

    # boto3 may still find a region in an AWS config file; without one, the
    # first receive would fail with NoRegionError long after start-up.
    _aws_config = Path(env_str("AWS_CONFIG_FILE", str(Path.home() / ".aws" / "config")))
    if not (
        AWS_REGION or AWS_ENDPOINT_URL or _region_from_url(SQS_QUEUE_URL) or _aws_config.exists()
    ):
        raise ImproperlyConfigured(
            "QUEUE_BACKEND=sqs cannot find its queue: set SQS_QUEUE_URL (e.g. "
            "https://sqs.eu-west-1.amazonaws.com/123456789012/batch-messages), or AWS_REGION "
            f"to look up the queue named {QUEUE_NAME!r} (QUEUE_NAME), or AWS_ENDPOINT_URL "
            "for a local endpoint"
        )
if QUEUE_BACKEND == "azure":
    if not AZURE_STORAGE_CONNECTION_STRING:
        raise ImproperlyConfigured(
            "QUEUE_BACKEND=azure needs AZURE_STORAGE_CONNECTION_STRING "
            "(UseDevelopmentStorage=true for Azurite)"
        )
    _parts = [p for p in AZURE_STORAGE_CONNECTION_STRING.split(";") if p.strip()]
    _keys = {p.partition("=")[0].strip().lower() for p in _parts}
    if not all("=" in p for p in _parts) or not _keys & {
        "accountname",
        "usedevelopmentstorage",
        "queueendpoint",
    }:
        # Never echo it: it holds the account key.
        raise ImproperlyConfigured(
            "AZURE_STORAGE_CONNECTION_STRING must be Key=value pairs separated by ';' with "
            "AccountName (or QueueEndpoint), e.g. DefaultEndpointsProtocol=https;"
            "AccountName=...;AccountKey=...; or UseDevelopmentStorage=true for Azurite"
        )
    if not re.fullmatch(r"[a-z0-9](?!.*--)[a-z0-9-]{1,54}[a-z0-9]", QUEUE_NAME):
        raise ImproperlyConfigured(
            "QUEUE_NAME must be 3-56 lowercase letters, digits and single hyphens for "
            f"QUEUE_BACKEND=azure (its poison queue adds '-poison'), not {QUEUE_NAME!r}"
        )
# The mirror's storage account: its own connection string, or the queue's.
AZURE_TABLES_CONNECTION_STRING = env_str("AZURE_TABLES_CONNECTION_STRING")
# Prepended to the table names Batches and MessageLogs (letters and digits).
AZURE_TABLES_PREFIX = env_str("AZURE_TABLES_PREFIX")
if not re.fullmatch(r"([A-Za-z][A-Za-z0-9]{0,40})?", AZURE_TABLES_PREFIX):
    raise ImproperlyConfigured(
        f"AZURE_TABLES_PREFIX must be letters and digits, starting with a letter, "
        f"not {AZURE_TABLES_PREFIX!r}"
    )
if AZURE_TABLES_MIRROR and not (AZURE_TABLES_CONNECTION_STRING or AZURE_STORAGE_CONNECTION_STRING):
    raise ImproperlyConfigured(
        "AZURE_TABLES_MIRROR=true needs AZURE_TABLES_CONNECTION_STRING or "
        "AZURE_STORAGE_CONNECTION_STRING"
    )
# Rows changed this long before the watermark are mirrored again, to catch
# transactions that committed after a later one was already mirrored.
MIRROR_SAFETY_LAG_SECONDS = env_int("MIRROR_SAFETY_LAG_SECONDS", 120, minimum=0, maximum=86400)
MIRROR_CHUNK_SIZE = env_int("MIRROR_CHUNK_SIZE", 1000, minimum=1, maximum=20000)
