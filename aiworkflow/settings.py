"""Settings, read from the environment (and from `.env` when present) through django-environ.

Every variable is listed with its meaning in `.env.example`.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
import xstatic.pkg.chartnew_js

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=True):
    # Variables already in the environment win over the file.
    env.read_env(BASE_DIR / ".env")

SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "axes",
    "integrations",
    "github_app",
    "workflows",
    "triggers",
    "operations",
]

MIDDLEWARE = [
    # First, so that every line logged while answering carries the request's id.
    "aiworkflow.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a lockout flagged during the view into its answer.
    "axes.middleware.AxesMiddleware",
]
# The part of MIDDLEWARE GitHub's deliveries go through (github_app/webhooks/wsgi.py): a signed
# machine request has no session, user, CSRF token, message or static file, but its answers carry
# the same headers as every other answer (request id, security headers, X-Frame-Options, Content-Length).
WEBHOOK_MIDDLEWARE = [
    "aiworkflow.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "aiworkflow.urls"
WSGI_APPLICATION = "aiworkflow.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file in development: WAL lets readers run beside
    # the writer, and a transaction takes the write lock when it begins (IMMEDIATE), waiting up
    # to `timeout` seconds for it, instead of failing with "database is locked" when it writes
    # after reading (SQLite does not wait to turn a read into a write). bench/embedded.py finds
    # no such error in any process under a burst of deliveries.
    # https://docs.djangoproject.com/en/5.2/ref/databases/#database-is-locked-errors
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
    # Off by default: the check is a round trip at the start of every request, a third of webhook
    # intake's cost; intake reconnects once by itself, and Django drops a broken connection
    # after the request that found it.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DJANGO_CONN_HEALTH_CHECKS", default=False)
    # Parameters travel apart from the SQL text, so a 1 MB payload is not escaped into a query.
    # https://docs.djangoproject.com/en/5.2/ref/databases/#server-side-parameters-binding
    DATABASES["default"]["OPTIONS"] = {"server_side_binding": True}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="aiworkflow"),
            # Webhook intake reads a counter here for every delivery: an unreachable Redis must
            # fail fast (intake then goes on without it), not hold GitHub's answer.
            "OPTIONS": {"socket_connect_timeout": 2},
        }
    }
else:
    # A file cache is shared by the web and worker processes, unlike the in-memory one.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": VAR_DIR / "cache",
        }
    }

# Failed logins (admin and API tokens alike) are counted per username and address; past
# LOGIN_FAILURE_LIMIT that pair is refused, right password or not, until LOGIN_COOLOFF_MINUTES
# pass without another failure. Per pair, so that guessing from one address cannot lock a user
# out everywhere. https://django-axes.readthedocs.io/en/latest/4_configuration.html
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# A login forgets the failures before it (admin logins: the token endpoint sends no login signal).
AXES_RESET_ON_SUCCESS = True
# The address the throttles and the webhook allowlist use (TRUSTED_PROXY_COUNT), not a header
# the client chooses.
AXES_CLIENT_IP_CALLABLE = "aiworkflow.net.client_ip"

# The session login of the pages for users (/connect/); the admin and the staff dashboard keep
# the admin's own login, which admits staff only.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "connect"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# The dashboard's chart library, from its PyPI package (XStatic-ChartNew.js), under static/chartnew/.
STATICFILES_DIRS = [("chartnew", xstatic.pkg.chartnew_js.BASE_DIR)]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Behind a TLS-terminating proxy, set DJANGO_SECURE_PROXY_SSL_HEADER=true.
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-proxy-ssl-header
if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# How many proxies in front of us append to X-Forwarded-For; 0 trusts only the socket's address,
# so a client cannot choose its own address (and dodge a throttle) by sending the header.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["aiworkflow.parsers.NulFreeJSONParser"],
    "EXCEPTION_HANDLER": "aiworkflow.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every request counts against its user's rate (its address's, without a token); the
    # endpoints of API_THROTTLE_SCOPES count against their own, tighter rate as well. The token
    # endpoints set their own throttle, `auth`. Counters live in the cache.
    # https://www.django-rest-framework.org/api-guide/throttling/
    "DEFAULT_THROTTLE_CLASSES": [
        "aiworkflow.throttling.ApiRateThrottle",
        "aiworkflow.throttling.UrlNameRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "auth": env("AUTH_THROTTLE_RATE", default="30/minute"),
        "user": env("API_THROTTLE_RATE", default="500/minute"),
        # Each starts work in a worker (a run, a delivery's processing) or evaluates a whole payload.
        "workflow-test": env("WORKFLOW_TEST_THROTTLE_RATE", default="30/minute"),
        "run-rerun": env("RUN_RERUN_THROTTLE_RATE", default="30/minute"),
        "delivery-replay": env("DELIVERY_REPLAY_THROTTLE_RATE", default="30/minute"),
        "trigger-test": env("TRIGGER_TEST_THROTTLE_RATE", default="30/minute"),
    },
    # https://www.django-rest-framework.org/api-guide/throttling/#how-clients-are-identified
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}

# URL name -> throttle scope (its rate is in DEFAULT_THROTTLE_RATES), for
# aiworkflow.throttling.UrlNameRateThrottle.
API_THROTTLE_SCOPES = {
    "workflow-test": "workflow-test",
    "run-rerun": "run-rerun",
    "delivery-replay": "delivery-replay",
    "trigger-test": "trigger-test",
}

# https://django-rest-framework-simplejwt.readthedocs.io/en/latest/settings.html
SIMPLE_JWT = {
    "SIGNING_KEY": env("JWT_SIGNING_KEY"),
    "ALGORITHM": "HS256",
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_TOKEN_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_TOKEN_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "TOKEN_OBTAIN_SERIALIZER": "aiworkflow.throttling.LockoutAwareTokenObtainPairSerializer",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "AI Workflow Teams: GitHub App backend",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# Fernet keys, comma separated: the first encrypts, every one decrypts, so a new key is put
# first and the old one kept until `manage.py rotate_encryption_keys` has re-encrypted the data.
# https://cryptography.io/en/latest/fernet/#cryptography.fernet.MultiFernet
ENCRYPTION_KEY = env.list("ENCRYPTION_KEY")

GITHUB_APP_ID = env("GITHUB_APP_ID", default="")
GITHUB_APP_SLUG = env("GITHUB_APP_SLUG", default="")
# The App's bot account (`<slug>[bot]`) id, from GET /users/<slug>[bot]: deliveries it sent
# never start a run, even after the App is renamed. The login alone is checked without it.
GITHUB_APP_BOT_USER_ID = env.int("GITHUB_APP_BOT_USER_ID", default=0)
# The PEM may be given with literal "\n" sequences, as many secret stores keep one line.
GITHUB_APP_PRIVATE_KEY = env("GITHUB_APP_PRIVATE_KEY", default="")
GITHUB_APP_PRIVATE_KEY_PATH = env("GITHUB_APP_PRIVATE_KEY_PATH", default="")
GITHUB_CLIENT_ID = env("GITHUB_CLIENT_ID", default="")
GITHUB_CLIENT_SECRET = env("GITHUB_CLIENT_SECRET", default="")
GITHUB_API_BASE_URL = env("GITHUB_API_BASE_URL", default="https://api.github.com").rstrip("/")
GITHUB_BASE_URL = env("GITHUB_BASE_URL", default="https://github.com").rstrip("/")
GITHUB_HTTP_TIMEOUT_SECONDS = env.int("GITHUB_HTTP_TIMEOUT_SECONDS", default=10)
# Retries of idempotent GitHub requests on 5xx and connection errors, and the longest a process
# may wait on a rate limit before the work is retried later instead (a worker never sleeps for
# an hour-long reset). A secondary limit without Retry-After waits at least a minute.
GITHUB_HTTP_RETRIES = env.int("GITHUB_HTTP_RETRIES", default=3)
GITHUB_RETRY_WAIT_BUDGET_SECONDS = env.int("GITHUB_RETRY_WAIT_BUDGET_SECONDS", default=10)
GITHUB_SECONDARY_RATE_LIMIT_WAIT_SECONDS = env.int("GITHUB_SECONDARY_RATE_LIMIT_WAIT_SECONDS", default=60)
# Larger files are returned without their content, flagged as truncated.
GITHUB_FILE_CONTENT_MAX_BYTES = env.int("GITHUB_FILE_CONTENT_MAX_BYTES", default=1024 * 1024)
GITHUB_INSTALL_STATE_MAX_AGE_SECONDS = env.int("GITHUB_INSTALL_STATE_MAX_AGE_SECONDS", default=3600)
# A verified install waits this long for its user to complete it (POST .../github/complete).
GITHUB_INSTALL_COMPLETION_MAX_AGE_SECONDS = env.int("GITHUB_INSTALL_COMPLETION_MAX_AGE_SECONDS", default=600)
# Install callbacks per client address: each spends a code exchange and calls to GitHub.
GITHUB_INSTALL_CALLBACK_THROTTLE_RATE = env("GITHUB_INSTALL_CALLBACK_THROTTLE_RATE", default="30/minute")
# A connection's repository access (what the user's own token sees in the installation) is
# re-read from GitHub when older than this; beat looks for such connections every
# GITHUB_REPOSITORY_ACCESS_SYNC_INTERVAL_SECONDS.
GITHUB_REPOSITORY_ACCESS_MAX_AGE_SECONDS = env.int("GITHUB_REPOSITORY_ACCESS_MAX_AGE_SECONDS", default=3600)
GITHUB_REPOSITORY_ACCESS_SYNC_INTERVAL_SECONDS = env.int("GITHUB_REPOSITORY_ACCESS_SYNC_INTERVAL_SECONDS", default=300)
FRONTEND_URL = env("FRONTEND_URL", default="").rstrip("/")
# In development, the credentials of an App registered at /setup/github-app/ are also written to
# this file, so they outlive the database; they are always kept (encrypted) in the database, and
# the environment's values win over the database's (github_app/credentials.py). Empty: no file.
GITHUB_APP_REGISTRATION_DOTENV = env(
    "GITHUB_APP_REGISTRATION_DOTENV",
    default=str(BASE_DIR / ".env") if DEBUG and env.bool("DJANGO_READ_DOT_ENV_FILE", default=True) else "",
)

# Webhook intake. Both secrets are accepted, so the secret rotates without downtime: set the new
# one as GITHUB_WEBHOOK_SECRET and the old one as ..._PREVIOUS, change it on GitHub, then drop
# the old. With neither set, every delivery is refused (fail closed).
# https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
GITHUB_WEBHOOK_SECRET = env("GITHUB_WEBHOOK_SECRET", default="")
GITHUB_WEBHOOK_SECRET_PREVIOUS = env("GITHUB_WEBHOOK_SECRET_PREVIOUS", default="")
# Optional source allowlist, e.g. GitHub's `hooks` ranges from GET /meta. Empty: any source.
GITHUB_WEBHOOK_ALLOWED_CIDRS = env.list("GITHUB_WEBHOOK_ALLOWED_CIDRS", default=[])
# Requests failing verification from one address per minute before it is answered 429.
WEBHOOK_VERIFICATION_FAILURES_PER_MINUTE = env.int("WEBHOOK_VERIFICATION_FAILURES_PER_MINUTE", default=60)
# Processing attempts before a delivery is `failed`; the wait between them doubles up to a cap.
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_RETRY_BASE_SECONDS = env.int("WEBHOOK_RETRY_BASE_SECONDS", default=15)
WEBHOOK_RETRY_MAX_SECONDS = env.int("WEBHOOK_RETRY_MAX_SECONDS", default=3600)
# The relay re-enqueues a delivery left `queued` this long (its message was lost) or left
# `processing` this long (its worker died); the latter must exceed the task's hard time limit.
WEBHOOK_QUEUED_STALE_SECONDS = env.int("WEBHOOK_QUEUED_STALE_SECONDS", default=600)
# Stored deliveries reach the broker from a background thread of the web process, up to this many
# a message; one still `received` this long after arrival is the relay's to enqueue.
WEBHOOK_ENQUEUE_IN_BACKGROUND = env.bool("WEBHOOK_ENQUEUE_IN_BACKGROUND", default=True)
WEBHOOK_ENQUEUE_BATCH_SIZE = env.int("WEBHOOK_ENQUEUE_BATCH_SIZE", default=10)
WEBHOOK_ENQUEUE_GRACE_SECONDS = env.int("WEBHOOK_ENQUEUE_GRACE_SECONDS", default=10)
WEBHOOK_RELAY_INTERVAL_SECONDS = env.int("WEBHOOK_RELAY_INTERVAL_SECONDS", default=30)
WEBHOOK_PAYLOAD_RETENTION_DAYS = env.int("WEBHOOK_PAYLOAD_RETENTION_DAYS", default=30)

# The LLM behind `ai.prompt`: any OpenAI-compatible /chat/completions endpoint.
AI_BASE_URL = env("AI_BASE_URL", default="").rstrip("/")
AI_API_KEY = env("AI_API_KEY", default="")
AI_MODEL = env("AI_MODEL", default="")
AI_TIMEOUT_SECONDS = env.int("AI_TIMEOUT_SECONDS", default=120)
# Longer prompts (a large diff) are clipped, with a note saying so.
AI_MAX_PROMPT_CHARS = env.int("AI_MAX_PROMPT_CHARS", default=100_000)
# LLM tokens (prompt and completion) that all ai.prompt steps of one run may use together, unless
# the definition sets its own `max_tokens_per_run`.
AI_MAX_TOKENS_PER_RUN = env.int("AI_MAX_TOKENS_PER_RUN", default=200_000)
# Runs: attempts of a step that failed for a passing reason, the wait between them (doubling,
# with jitter, up to the cap), the longest a run may take, and the most a step output may store.
WORKFLOW_STEP_MAX_ATTEMPTS = env.int("WORKFLOW_STEP_MAX_ATTEMPTS", default=4)
WORKFLOW_STEP_RETRY_BASE_SECONDS = env.int("WORKFLOW_STEP_RETRY_BASE_SECONDS", default=5)
WORKFLOW_STEP_RETRY_MAX_SECONDS = env.int("WORKFLOW_STEP_RETRY_MAX_SECONDS", default=300)
WORKFLOW_RUN_TIMEOUT_SECONDS = env.int("WORKFLOW_RUN_TIMEOUT_SECONDS", default=1800)
WORKFLOW_STEP_OUTPUT_MAX_BYTES = env.int("WORKFLOW_STEP_OUTPUT_MAX_BYTES", default=1024 * 1024)
# A run whose message a worker took up this many times without finishing (each time the worker
# was killed: out of memory, a time limit) ends `failure` instead of killing another.
WORKFLOW_RUN_MAX_DELIVERIES = env.int("WORKFLOW_RUN_MAX_DELIVERIES", default=3)
# The most characters one template value may build or print (the render is cut off there).
WORKFLOW_TEMPLATE_MAX_CHARS = env.int("WORKFLOW_TEMPLATE_MAX_CHARS", default=1024 * 1024)
# Every delivery to a repository evaluates its triggers: a workflow holds at most this many.
WORKFLOW_MAX_TRIGGERS = env.int("WORKFLOW_MAX_TRIGGERS", default=20)

CELERY_FILESYSTEM_BROKER_DIR = Path(env("CELERY_FILESYSTEM_BROKER_DIR", default=str(VAR_DIR / "broker")))
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # Unacknowledged tasks return to the queue after this long; it must exceed the hard time
    # limit or a slow task would run twice. https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html#visibility-timeout
    # A broker that cannot be reached must fail fast: intake answers GitHub meanwhile and the
    # relay enqueues later.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600, "socket_connect_timeout": 2}
else:
    # Development without a broker server: kombu's filesystem transport, one folder a queue, with
    # messages that appear whole (aiworkflow/broker.py says why).
    # https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-transport
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT = "aiworkflow.broker:FilesystemTransport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FILESYSTEM_BROKER_DIR / "messages"),
        "data_folder_out": str(CELERY_FILESYSTEM_BROKER_DIR / "messages"),
        "control_folder": str(CELERY_FILESYSTEM_BROKER_DIR / "control"),
        # How long the worker sleeps when it finds no message, or has no slot free for one.
        # kombu's default, a second, let a burst of 329 deliveries take two minutes to process and
        # added a second to every hop of a workflow; looking every 50 ms costs an idle worker
        # about 0.6% of a core.
        # https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.transport.virtual.html#kombu.transport.virtual.Transport.polling_interval
        "polling_interval": 0.05,
    }
    # kombu expects the folders to exist; whichever process starts first makes them.
    for _folder in ("messages", "control"):
        (CELERY_FILESYSTEM_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="aiworkflow")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# The database is the record of every task's outcome; results are never read back.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time per pool process over Redis, so that a long run never holds messages
# another worker could take. The filesystem broker is looked at only once a polling_interval: there
# the worker takes enough messages at each look to keep its processes busy until the next (most
# deliveries take under 10 ms to process), at worst delaying another worker on the same machine.
# https://docs.celeryq.dev/en/stable/userguide/optimizing.html#prefetch-limits
CELERY_WORKER_PREFETCH_MULTIPLIER = 1 if REDIS_URL else 8
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=330)
# KiB. A pool process that has grown past this (a 25 MiB payload, a large diff held in memory) is
# replaced once its task ends, so that the memory goes back instead of staying with the process.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#worker-max-memory-per-child
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env.int("CELERY_WORKER_MAX_MEMORY_PER_CHILD", default=512000)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
WEBHOOK_PROCESSING_STALE_SECONDS = env.int("WEBHOOK_PROCESSING_STALE_SECONDS", default=CELERY_TASK_TIME_LIMIT + 60)
# A run not finished this long after it was last enqueued or taken up has lost its message or its
# worker (no execution lasts past the hard time limit): the run relay enqueues it again.
WORKFLOW_RUN_STALE_SECONDS = env.int("WORKFLOW_RUN_STALE_SECONDS", default=CELERY_TASK_TIME_LIMIT + 60)
WORKFLOW_RUN_RELAY_INTERVAL_SECONDS = env.int("WORKFLOW_RUN_RELAY_INTERVAL_SECONDS", default=30)
# GitHub never redelivers a failed delivery by itself: every this many seconds, the App's
# delivery log is read from where the last pass stopped (the first pass looks back
# WEBHOOK_REDELIVER_LOOKBACK_HOURS) and each failed delivery we never stored is asked again.
# https://docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries
WEBHOOK_REDELIVER_INTERVAL_SECONDS = env.int("WEBHOOK_REDELIVER_INTERVAL_SECONDS", default=300)
WEBHOOK_REDELIVER_LOOKBACK_HOURS = env.int("WEBHOOK_REDELIVER_LOOKBACK_HOURS", default=24)
# Publishing gives up quickly so that a broker outage never holds a webhook answer for long.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
# Celery's default scheduler, leaving a heartbeat for the health checks (aiworkflow/beat.py).
CELERY_BEAT_SCHEDULER = "aiworkflow.beat:HeartbeatScheduler"
CELERY_BEAT_SCHEDULE = {
    name: {"task": task, "schedule": timedelta(seconds=seconds)}
    for name, task, seconds in [
        ("relay-webhook-deliveries", "github_app.tasks.deliveries_relay", WEBHOOK_RELAY_INTERVAL_SECONDS),
        ("purge-webhook-payloads", "github_app.tasks.delivery_payloads_purge", 6 * 3600),
        ("purge-used-install-states", "github_app.tasks.install_states_purge", 3600),
        ("relay-workflow-runs", "workflows.tasks.runs_relay", WORKFLOW_RUN_RELAY_INTERVAL_SECONDS),
        ("purge-run-payloads", "workflows.tasks.run_payloads_purge", 6 * 3600),
        (
            "redeliver-missed-deliveries",
            "github_app.tasks.deliveries_redeliver_missed",
            WEBHOOK_REDELIVER_INTERVAL_SECONDS,
        ),
        (
            "sync-repository-access",
            "github_app.tasks.repository_access_sync_due",
            GITHUB_REPOSITORY_ACCESS_SYNC_INTERVAL_SECONDS,
        ),
    ]
}

# Where each process writes its metrics for GET /metrics to merge (aiworkflow/metrics.py); the
# directory is shared by the processes of a host, or by containers through a volume.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "metrics"))
# GET /metrics answers only requests bearing this token, when it is set; otherwise keep /metrics
# off the public network (it names installations and events, though no secret).
METRICS_BEARER_TOKEN = env("METRICS_BEARER_TOKEN", default="")
# Beat's heartbeat (a cache key written every BEAT_HEARTBEAT_INTERVAL_SECONDS): /health/ready reports
# beat dead when the heartbeat is older than BEAT_HEARTBEAT_MAX_AGE_SECONDS.
BEAT_HEARTBEAT_INTERVAL_SECONDS = env.int("BEAT_HEARTBEAT_INTERVAL_SECONDS", default=30)
BEAT_HEARTBEAT_MAX_AGE_SECONDS = env.int("BEAT_HEARTBEAT_MAX_AGE_SECONDS", default=180)
# GET /health/ready?full=1 asks GitHub (GET /app, as the App) at most once per this many seconds.
HEALTH_GITHUB_CHECK_CACHE_SECONDS = env.int("HEALTH_GITHUB_CHECK_CACHE_SECONDS", default=60)

LOG_FORMAT = env("LOG_FORMAT", default="text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"()": "aiworkflow.logging.TextFormatter"},
        "json": {"()": "aiworkflow.logging.JsonFormatter"},
    },
    # Every line carries the request_id, delivery_id, installation_id and run_id bound to its unit of work.
    "filters": {"context": {"()": "aiworkflow.logcontext.ContextFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    from aiworkflow.redaction import sentry_event_redact

    # Tokens and payloads must not leave for Sentry: no request bodies, no personal data, and no
    # local variables in stack traces (a frame may hold a token or a payload); what is sent
    # (messages, exception texts, request, breadcrumbs) is redacted as the logs are.
    # https://docs.sentry.io/platforms/python/configuration/options/
    sentry_sdk.init(
        dsn=SENTRY_DSN,
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        before_send=sentry_event_redact,
        before_send_transaction=sentry_event_redact,
        # Beat's schedule becomes Sentry cron monitors: a periodic task that stops running is reported.
        # https://docs.sentry.io/platforms/python/integrations/celery/crons/
        integrations=[DjangoIntegration(), CeleryIntegration(monitor_beat_tasks=True)],
        environment=env("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production"),
        # Unset: the SDK finds one itself (the git commit, where there is one).
        release=env("SENTRY_RELEASE", default=None),
    )
