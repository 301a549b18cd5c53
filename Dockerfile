# The venv's interpreter is a symlink into the base image, so both stages must use the same one.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv

# Requirements on their own layer, so a code change does not reinstall every dependency.
# The runtime lock only, so no test or dev tool reaches the image; --require-hashes fails the build
# on any file that is not the one that was locked.
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --require-hashes -r /tmp/requirements.txt


FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH="/opt/venv/bin:${PATH}" \
    DJANGO_SETTINGS_MODULE=aiworkflow.settings

# Configuration comes from the container's environment only, never from a file in the image.
ENV DJANGO_READ_DOT_ENV_FILE=false

# gunicorn reads its worker count from here, so it can be tuned per host without replacing CMD.
ENV WEB_CONCURRENCY=3

# A fixed uid keeps volume ownership stable across rebuilds and lets orchestrators verify non-root.
# The home directory is where gunicorn puts its control socket.
RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid 10001 --no-log-init --create-home --shell /usr/sbin/nologin app

WORKDIR /app

COPY --from=builder /opt/venv /opt/venv
COPY manage.py gunicorn.conf.py ./
COPY aiworkflow ./aiworkflow
COPY integrations ./integrations
COPY github_app ./github_app
COPY workflows ./workflows
COPY triggers ./triggers
COPY operations ./operations
COPY templates ./templates

# Settings refuse to load without these secrets; the values here exist only for this command and
# are not kept in the image. ENCRYPTION_KEY is a well-formed Fernet key (32 zero bytes).
# Code and collected static files stay root-owned, so the app cannot rewrite what it serves;
# var/ itself belongs to the app user for the SQLite database, file cache and broker fallbacks.
RUN DJANGO_SECRET_KEY=build-only \
    JWT_SIGNING_KEY=build-only \
    ENCRYPTION_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    python manage.py collectstatic --noinput \
 && chown 10001:10001 /app/var

USER 10001:10001

EXPOSE 8000

# The web role's probe. Django checks the Host header: when DJANGO_ALLOWED_HOSTS is set, it must
# still include 127.0.0.1. /health/ready answers 503 only when the database is down (urlopen raises
# on it): intake keeps storing deliveries while the broker is down. The worker and beat roles
# override this probe (docker-compose.yml: manage.py probe worker|beat).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=8)"]

# gunicorn also reads ./gunicorn.conf.py (metrics files, JSON access log).
# The heartbeat file goes to tmpfs: on the overlay filesystem its writes can stall and workers
# get killed as unresponsive.
CMD ["gunicorn", "aiworkflow.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--timeout", "60", \
     "--graceful-timeout", "30", \
     "--access-logfile", "-", \
     "--worker-tmp-dir", "/dev/shm"]
