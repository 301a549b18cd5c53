"""Test settings: fixed throwaway secrets, eager Celery, and no `.env` file.

DATABASE_URL and REDIS_URL are still honoured, so CI runs the suite on PostgreSQL and Redis.
"""

import os

os.environ["DJANGO_READ_DOT_ENV_FILE"] = "false"
for name, value in {
    "DJANGO_SECRET_KEY": "test-secret-key-not-for-production-0123456789abcdef",
    "JWT_SIGNING_KEY": "test-jwt-signing-key-not-for-production-0123456789",
    "ENCRYPTION_KEY": "w-yW31NkLzB_tE_4TnzwLwpLnZtbitpJZIrm6A83Ayo=",
    "CELERY_TASK_DEFAULT_QUEUE": "aiworkflow-test",
    "LOG_FORMAT": "text",
    # A worker process started by a test is pointed at the GitHub double served over HTTP through these.
    "GITHUB_API_BASE_URL": "https://api.github.com",
    "GITHUB_BASE_URL": "https://github.com",
}.items():
    os.environ.setdefault(name, value)
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "test-metrics")
)
os.environ.setdefault(
    "CELERY_FILESYSTEM_BROKER_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "test-broker")
)

from aiworkflow.settings import *  # noqa: E402,F403

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory, so that a worker process started by a test shares the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}  # noqa: F405

# Per process, so that clearing it between tests touches no shared Redis database.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)  # noqa: F405
GITHUB_APP_ID = "123456"
GITHUB_APP_SLUG = "ai-workflow-teams-test"
GITHUB_CLIENT_ID = "Iv1.testclientid"
GITHUB_CLIENT_SECRET = "test-client-secret"
# Hand deliveries over in the request, so that eager tests see them processed on return.
WEBHOOK_ENQUEUE_IN_BACKGROUND = env.bool("WEBHOOK_ENQUEUE_IN_BACKGROUND", default=False)  # noqa: F405
GITHUB_WEBHOOK_SECRET = "test-webhook-secret"
GITHUB_WEBHOOK_SECRET_PREVIOUS = ""
FRONTEND_URL = ""
GITHUB_APP_REGISTRATION_DOTENV = ""  # tests name a file of their own
SENTRY_DSN = ""


def _throwaway_app_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


GITHUB_APP_PRIVATE_KEY = _throwaway_app_key()
